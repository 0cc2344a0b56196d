"""Resource-level rules: the generated resource graph against the catalogue.

Two kinds, both over plain data (`Res`: type, logical name, camelCase input properties):

- *resource rules* look at one resource alone (a bucket policy is TLS-only, a role is tagged).
  `mesh plan` runs them on the recorded graph; the CrossGuard pack runs the very same functions
  as `ResourceValidationPolicy`s on what `pulumi preview` sends.
- *graph rules* relate resources (every bucket has a public access block; a Lake Formation grant
  of PII columns matches an approved grant in the blueprints): `infra.governance.graph_rules`,
  over the index `Graph` there. Those that need the blueprints get the Mesh; with none
  (CrossGuard without blueprints) they are skipped.

A value that is not known yet (CrossGuard during preview) is `UNKNOWN`: rules skip what they
cannot see rather than guess.

This module holds the value helpers both kinds use and the resource rules, one section per
policy, read top to bottom by auditors. The rules are split by kind, not per policy: splitting
per policy would hide rules that relate the same resources (PII grants, direct readers,
restricted data).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.governance import catalogue as cat
from infra.governance.blueprint_rules import description_problem
from infra.model.spec import Classification
from infra.provision import types as T


class _Unknown:
    """A property value not known until the resource is created (preview). One instance."""

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()

BUCKET = T.BUCKET
BUCKET_TYPES = frozenset({T.BUCKET, T.BUCKET_V2})
PUBLIC_ACCESS_BLOCK = T.PUBLIC_ACCESS_BLOCK
OWNERSHIP = T.OWNERSHIP
SSE = (T.ENCRYPTION, T.ENCRYPTION_V2)
BUCKET_POLICY = T.BUCKET_POLICY
LIFECYCLE = (T.LIFECYCLE, T.LIFECYCLE_V2)
BUCKET_ACL = (T.BUCKET_ACL, T.BUCKET_ACL_V2)
KEY = T.KEY
ROLE = T.ROLE
ROLE_POLICY = T.ROLE_POLICY
IAM_POLICY = T.IAM_POLICY
DATABASE = T.DATABASE
TABLE = T.TABLE
LF_PERMISSIONS = T.LF_PERMISSIONS
LF_DATA_FILTER = T.LF_DATA_FILTER
DOMAIN_COMPONENT = T.DOMAIN
PRODUCT_COMPONENT = T.PRODUCT
GRANT_COMPONENT = T.GRANT

PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
_S3_ARN = re.compile(r"^arn:[^:]+:s3:::([^/]+)(/.*)?$")
_ALL_RESOURCES_ARN = re.compile(r"^arn:[^:]+:[^:]+:[^:]*:[^:]*:\*$")


@dataclass(frozen=True, slots=True)
class Res:
    """One resource as rules see it: the same shape from the recording engine and CrossGuard."""

    type: str
    name: str
    props: Mapping[str, Any]
    parent: str | None = None  # logical name of the parent resource (None: the stack)
    parent_type: str | None = None
    outputs: Mapping[str, Any] = field(default_factory=dict)  # e.g. a key's arn, when known

    def get(self, key: str, default: Any = None) -> Any:
        return self.props.get(key, default)


# ------------------------------------------------------------------------------ value helpers


def known(value: Any) -> bool:
    return value is not UNKNOWN


def as_list(value: Any) -> list:
    if value is None or value is UNKNOWN:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def tags_of(res: Res) -> Mapping[str, Any] | None:
    tags = res.get("tags")
    if tags is UNKNOWN:
        return None
    return tags if isinstance(tags, Mapping) else {}


def parse_document(value: Any) -> dict | None | str:
    """A policy document from a resource property: dict, None (unknown / absent) or an error."""
    if value is None or value is UNKNOWN:
        return None
    if isinstance(value, Mapping):
        return dict(value)
    try:
        doc = json.loads(value)
    except (TypeError, ValueError):
        return "the policy is not valid JSON"
    return doc if isinstance(doc, dict) else "the policy is not a JSON object"


def statements(doc: dict) -> list[dict]:
    return [s for s in as_list(doc.get("Statement")) if isinstance(s, Mapping)]


def _principal_is_public(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return any("*" in as_list(v) for v in principal.values())
    return False


def bucket_of_arn(arn: Any) -> tuple[str, bool] | None:
    """(bucket name, objects?) of an S3 ARN."""
    if not isinstance(arn, str):
        return None
    m = _S3_ARN.match(arn)
    return (m.group(1), bool(m.group(2))) if m else None


def classification_of(value: Any) -> Classification | None:
    try:
        return Classification(value)
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number == int(number) else None


# ------------------------------------------------------------------------------ resource rules

ResourceRule = Callable[[Res], Iterator[str]]
RESOURCE_RULES: dict[str, list[tuple[frozenset[str], ResourceRule]]] = {}


def resource_rule(policy: str, *types: str) -> Callable[[ResourceRule], ResourceRule]:
    def register(fn: ResourceRule) -> ResourceRule:
        RESOURCE_RULES.setdefault(policy, []).append((frozenset(types), fn))
        return fn

    return register


_TAGGED = tuple(cat.TAGGED_TYPES)


@resource_rule("GOV-001", *_TAGGED)
def owner_tag(res: Res) -> Iterator[str]:
    tags = tags_of(res)
    if tags is not None and not tags.get(cat.OWNER_TAG):
        yield f"no {cat.OWNER_TAG} tag: the owning team must be findable from the resource"


@resource_rule("GOV-001", TABLE)
def owner_parameter(res: Res) -> Iterator[str]:
    params = res.get("parameters")
    if known(params) and not (params or {}).get(cat.OWNER_TAG):
        yield f"table has no {cat.OWNER_TAG} parameter"


@resource_rule("GOV-002", KEY, ROLE, DATABASE, TABLE)
def has_description(res: Res) -> Iterator[str]:
    text = res.get("description")
    if not known(text):
        return
    if not text:
        yield "no description"
    elif problem := description_problem(str(text)):
        yield problem


@resource_rule("GOV-006", TABLE)
def table_retention(res: Res) -> Iterator[str]:
    params = res.get("parameters")
    if not known(params):
        return
    params = params or {}
    cls = classification_of(params.get("mesh:classification"))
    days = _int(params.get("mesh:retention_days"))
    if cls is None:
        yield "table has no valid mesh:classification parameter: retention cannot be checked"
    elif days is None:
        yield "table has no mesh:retention_days parameter"
    else:
        lo, hi = cat.RETENTION_BOUNDS[cls]
        if not lo <= days <= hi:
            yield f"retention of {days} days is outside {lo}..{hi} days for {cls.value} data"


def expiration_days(res: Res) -> list[int] | None:
    """Expiration days of the enabled lifecycle rules (None if not known yet)."""
    rules = res.get("rules")
    if not known(rules):
        return None
    days = []
    for rule in as_list(rules):
        if not isinstance(rule, Mapping) or rule.get("status") not in ("Enabled", UNKNOWN):
            continue
        expiration = rule.get("expiration") or {}
        if not known(expiration) or not known(expiration.get("days")):
            return None
        d = _int(expiration.get("days"))
        if d is not None and d > 0:
            days.append(d)
    return days


@resource_rule("GOV-006", *LIFECYCLE)
def lifecycle_expires(res: Res) -> Iterator[str]:
    days = expiration_days(res)
    if days is not None and not days:
        yield "no enabled lifecycle rule expires objects: data would be kept forever"


@resource_rule("GOV-007", TABLE)
def table_freshness(res: Res) -> Iterator[str]:
    params = res.get("parameters")
    if not known(params):
        return
    params = params or {}
    cls = classification_of(params.get("mesh:classification"))
    if cls is None or cls.rank < cat.FRESHNESS_SLO_FROM.rank:
        return
    hours = _int(params.get("mesh:freshness_slo_hours"))
    if hours is None or hours <= 0:
        yield f"{cls.value} table has no mesh:freshness_slo_hours parameter"


@resource_rule("GOV-008", *SSE)
def sse_kms(res: Res) -> Iterator[str]:
    rules = res.get("rules")
    if not known(rules):
        return
    if not as_list(rules):
        yield "no default encryption rule"
    for rule in as_list(rules):
        default = (rule or {}).get("applyServerSideEncryptionByDefault") or {}
        if not known(default):
            continue
        algorithm = default.get("sseAlgorithm")
        if known(algorithm) and algorithm not in KMS_ALGORITHMS:
            yield f"default encryption is {algorithm!r}, not SSE-KMS (aws:kms) with the domain key"
        elif known(default.get("kmsMasterKeyId")) and not default.get("kmsMasterKeyId"):
            yield "SSE-KMS names no key (kmsMasterKeyId): the AWS-managed key is not the domain key"


@resource_rule("GOV-008", T.WORKGROUP)
def workgroup_results_encrypted(res: Res) -> Iterator[str]:
    """Athena query results hold the data they select: a workgroup writes them SSE-KMS with a
    key, and enforces that configuration (otherwise a client sends them anywhere, unencrypted)."""
    config = res.get("configuration")
    if not known(config):
        return
    config = config or {}
    if known(config.get("enforceWorkgroupConfiguration")) and (
        config.get("enforceWorkgroupConfiguration") is not True
    ):
        yield "the workgroup does not enforce its configuration: clients can redirect results"
    result = config.get("resultConfiguration") or {}
    encryption = (result.get("encryptionConfiguration") or {}) if known(result) else {}
    if not known(encryption):
        return
    option, key = encryption.get("encryptionOption"), encryption.get("kmsKeyArn")
    if known(option) and option != "SSE_KMS":
        yield f"query results are encrypted with {option!r}, not SSE_KMS with the domain key"
    elif known(key) and not key:
        yield "query results name no KMS key (kmsKeyArn): not the domain key"


@resource_rule("GOV-008", KEY)
def key_rotation(res: Res) -> Iterator[str]:
    rotation = res.get("enableKeyRotation")
    if known(rotation) and rotation is not True:
        yield "key rotation is not enabled (enableKeyRotation)"


@resource_rule("GOV-009", PUBLIC_ACCESS_BLOCK)
def public_access_block(res: Res) -> Iterator[str]:
    off = [flag for flag in PAB_FLAGS if known(res.get(flag)) and res.get(flag) is not True]
    if off:
        yield f"public access block is not complete: {', '.join(off)} not true"


@resource_rule("GOV-009", *BUCKET_TYPES, *BUCKET_ACL)
def no_public_acl(res: Res) -> Iterator[str]:
    acl = res.get("acl")
    if known(acl) and acl in PUBLIC_ACLS:
        yield f"canned ACL {acl!r} makes the bucket public"


@resource_rule("GOV-009", OWNERSHIP)
def acls_disabled(res: Res) -> Iterator[str]:
    rule = res.get("rule")
    if not known(rule):
        return
    ownership = (rule or {}).get("objectOwnership")
    if known(ownership) and ownership != "BucketOwnerEnforced":
        yield f"object ownership {ownership!r} keeps ACLs enabled (expected BucketOwnerEnforced)"


def _public_statements(value: Any) -> Iterator[str]:
    doc = parse_document(value)
    if not isinstance(doc, dict):
        return
    for i, s in enumerate(statements(doc)):
        if s.get("Effect") == "Allow" and _principal_is_public(s.get("Principal")):
            yield f'statement {s.get("Sid") or i} allows Principal "*"'


@resource_rule("GOV-009", BUCKET_POLICY, KEY)
def no_public_policy(res: Res) -> Iterator[str]:
    yield from _public_statements(res.get("policy"))


@resource_rule("GOV-009", ROLE)
def no_public_trust(res: Res) -> Iterator[str]:
    for message in _public_statements(res.get("assumeRolePolicy")):
        yield f"trust policy: {message}"


def _denies_insecure_transport(s: Mapping, bucket: Any) -> bool:
    if s.get("Effect") != "Deny" or not _principal_is_public(s.get("Principal")):
        return False
    if not {"s3:*", "*"}.intersection(as_list(s.get("Action"))):
        return False
    condition = (s.get("Condition") or {}).get("Bool") or {}
    if str(condition.get("aws:SecureTransport")).lower() != "false":
        return False
    refs = [bucket_of_arn(r) for r in as_list(s.get("Resource"))]
    names = {ref[0] for ref in refs if ref} if not known(bucket) else {bucket}
    return any((name, False) in refs and (name, True) in refs for name in names) or "*" in as_list(
        s.get("Resource")
    )


@resource_rule("GOV-010", BUCKET_POLICY)
def tls_only(res: Res) -> Iterator[str]:
    doc = parse_document(res.get("policy"))
    if doc is None:
        return
    if isinstance(doc, str):
        yield f"{doc}: TLS-only cannot be verified"
    elif not any(_denies_insecure_transport(s, res.get("bucket")) for s in statements(doc)):
        yield (
            'no statement denies s3:* to Principal "*" on the bucket and its objects when '
            "aws:SecureTransport is false"
        )


@resource_rule("GOV-011", *_TAGGED)
def tagged(res: Res) -> Iterator[str]:
    tags = tags_of(res)
    if tags is None:
        return
    missing = [k for k in cat.TAG_KEYS if not tags.get(k)]
    if missing:
        yield f"missing tag(s): {', '.join(missing)}"


_GLUE_DATABASE = re.compile(r"^arn:[^:]+:glue:[^:]*:[^:]*:(?:database|table)/([^/]*)")


def _wild(text: str) -> bool:
    return "*" in text or "?" in text


def _data_wildcards(actions: list[str], resources: list[str]) -> list[str]:
    """Resources named by wildcard where GOV-012 wants them literal: the bucket of an S3 action
    (the object key after it may be a pattern), the key of a KMS action, the database of a
    Glue action other than the catalog reads Lake Formation gates (a table pattern inside a
    literal database, a domain's own tables, is fine)."""
    out = []
    lowered = [a.lower() for a in actions]
    if any(a.startswith("s3:") for a in lowered):
        out += [r for r in resources if (m := _S3_ARN.match(r)) and _wild(m.group(1))]
    if any(a.startswith("kms:") for a in lowered):
        out += [r for r in resources if r.startswith("arn:") and _wild(r)]
    if {a for a in actions if a.lower().startswith("glue:")} - cat.CATALOG_READ_ACTIONS:
        out += [r for r in resources if (m := _GLUE_DATABASE.match(r)) and _wild(m.group(1))]
    return out


def _wildcards(value: Any, what: str, resource_star_ok: bool) -> Iterator[str]:
    doc = parse_document(value)
    if doc is None:
        return
    if isinstance(doc, str):
        yield f"{what}: {doc}"
        return
    for i, s in enumerate(statements(doc)):
        if s.get("Effect") != "Allow":
            continue
        sid = s.get("Sid") or f"#{i}"
        for key in ("NotAction", "NotResource"):
            if key in s:
                yield f"{what} statement {sid} uses {key} in an Allow: it grants everything else"
        actions = [a for a in as_list(s.get("Action")) if isinstance(a, str)]
        wild = [a for a in actions if "*" in a]
        if wild:
            yield f"{what} statement {sid} allows wildcard action(s) {', '.join(wild)}"
        if resource_star_ok:
            continue
        resources = [r for r in as_list(s.get("Resource")) if isinstance(r, str)]
        star = [r for r in resources if r == "*" or _ALL_RESOURCES_ARN.match(r)]
        named = cat.STAR_ONLY_ACTIONS | cat.CATALOG_READ_ACTIONS
        if star and not (actions and set(actions) <= named):
            others = sorted(set(actions) - named)
            yield (
                f"{what} statement {sid} allows {', '.join(others) or 'its actions'} on "
                f"resource {star[0]!r}"
            )
        if wild_data := _data_wildcards(actions, resources):
            yield (
                f"{what} statement {sid} names by wildcard what must be literal (the bucket of "
                "an S3 action, the key of a KMS action, the database of a Glue action other "
                f"than a catalog read): {', '.join(map(repr, wild_data))}"
            )


@resource_rule("GOV-012", ROLE_POLICY, IAM_POLICY, BUCKET_POLICY)
def no_wildcard_policy(res: Res) -> Iterator[str]:
    yield from _wildcards(res.get("policy"), "policy", resource_star_ok=False)


@resource_rule("GOV-012", KEY)
def no_wildcard_key_policy(res: Res) -> Iterator[str]:
    # In a key policy, Resource "*" means "this key": only actions are checked.
    yield from _wildcards(res.get("policy"), "key policy", resource_star_ok=True)


@resource_rule("GOV-012", ROLE)
def no_wildcard_inline(res: Res) -> Iterator[str]:
    for inline in as_list(res.get("inlinePolicies")):
        if isinstance(inline, Mapping):
            name = inline.get("name") or "inline policy"
            yield from _wildcards(inline.get("policy"), f"inline policy {name}", False)


# The bootstrap stack's deploy roles manage the mesh's resources and read no data: the data
# rules (literal buckets, keys and databases of GOV-012; the product tags of GOV-001/GOV-011) are
# not theirs. Their one document is `infra.provision.deploy_role.deploy_policy`: prefix patterns
# because they create what the blueprints will name, `*` only where AWS has no resource-level
# permission (kms:CreateKey, Lake Formation, AWS RAM's cross-account sharing).
CONTROL_PLANE = frozenset({T.BOOTSTRAP})


def check_resource(res: Res, policies: Iterable[str] | None = None) -> Iterator[tuple[str, str]]:
    """(policy id, message) for every resource rule `res` violates."""
    if res.parent_type in CONTROL_PLANE:
        return
    for policy in policies if policies is not None else RESOURCE_RULES:
        for types, rule in RESOURCE_RULES.get(policy, ()):
            if res.type in types:
                for message in rule(res):
                    yield policy, message
