"""Resource-level rules: the generated resource graph against the catalogue.

Two kinds, both over plain data (`Res`: type, logical name, camelCase input properties):

- *resource rules* look at one resource alone (a bucket policy is TLS-only, a role is tagged).
  `mesh plan` runs them on the recorded graph; the CrossGuard pack runs the very same functions
  as `ResourceValidationPolicy`s on what `pulumi preview` sends.
- *graph rules* relate resources (every bucket has a public access block; a Lake Formation grant
  of PII columns matches an approved grant in the blueprints). Those that need the blueprints get
  the Mesh; with none (CrossGuard without blueprints) they are skipped.

A value that is not known yet (CrossGuard during preview) is `UNKNOWN`: rules skip what they
cannot see rather than guess.

Why one module (~900 lines): the rules are a catalogue read top to bottom by auditors, one
section per policy; the graph index they share is `Graph` below. Splitting per policy would
hide rules that relate the same resources (PII grants, direct readers, restricted data).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.governance import catalogue as cat
from infra.governance.blueprint_rules import description_problem
from infra.model import access
from infra.model import tags as tag_keys
from infra.model.mesh import Mesh
from infra.model.spec import Classification
from infra.provision import types as T
from infra.provision.graph import LfTarget, ResourceIndex, lf_target
from infra.provision.names import ROLE_KINDS, parse_logical


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
_S3_READ = re.compile(r"^s3:(\*|get\*|getobject(version)?)$", re.IGNORECASE)


@dataclass(frozen=True)
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


def _bucket_of_arn(arn: Any) -> tuple[str, bool] | None:
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


def _expiration_days(res: Res) -> list[int] | None:
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
    days = _expiration_days(res)
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
    refs = [_bucket_of_arn(r) for r in as_list(s.get("Resource"))]
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


# ------------------------------------------------------------------------------ the graph


class Graph(ResourceIndex[Res]):
    """The rules' view of the resource graph (`infra.provision.graph.ResourceIndex`) with the
    look-ups they need: buckets and what configures them, roles, tables, databases and keys
    (built once: look-ups are O(1), so the rules stay linear in the size of the mesh)."""

    def __init__(self, resources: Iterable[Res]) -> None:
        super().__init__(resources)
        self._buckets: dict[str, Res] = {}
        for b in self.of_type(*BUCKET_TYPES):
            if (name := self.bucket_name(b)) is not None:
                self._buckets.setdefault(name, b)
        self._configuring: dict[tuple[str, object], list[Res]] = {}  # (type, bucket|parent)
        for type_, items in self._by_type.items():
            for r in items:
                if r.type in BUCKET_TYPES or "bucket" not in r.props:
                    continue
                ref = r.get("bucket")
                key = ref if known(ref) else ("parent", r.parent)
                self._configuring.setdefault((type_, key), []).append(r)
        self._roles = {r.get("name"): r for r in self.of_type(ROLE) if known(r.get("name"))}
        self._tables: dict[object, dict[object, Res]] = {}
        for t in self.of_type(TABLE):
            self._tables.setdefault(t.get("databaseName"), {}).setdefault(t.get("name"), t)
        self._databases = {d.get("name"): d for d in self.of_type(DATABASE) if known(d.get("name"))}
        # data cells filters by (database, table, name): what a permission on one lets through
        self._filters: dict[tuple, Res] = {}
        for f in self.of_type(LF_DATA_FILTER):
            data = f.get("tableData")
            if known(data) and isinstance(data, Mapping):
                key = (data.get("databaseName"), data.get("tableName"), data.get("name"))
                self._filters.setdefault(key, f)
        self._keys: dict[str, Res] = {}
        for k in self.of_type(KEY):
            if (domain := (tags_of(k) or {}).get(tag_keys.DOMAIN)) is not None:
                self._keys.setdefault(domain, k)

    def bucket(self, name: str) -> Res | None:
        return self._buckets.get(name)

    @staticmethod
    def bucket_name(res: Res) -> str | None:
        name = res.get("bucket")
        return name if known(name) and isinstance(name, str) else None

    def companions(self, bucket: Res, *types: str) -> list[Res]:
        """Resources of `types` configuring `bucket`: by bucket name, or (name not known yet)
        as its siblings under the same parent."""
        name = self.bucket_name(bucket)
        out: list[Res] = []
        for type_ in types:
            if name is not None:
                out += self._configuring.get((type_, name), [])
            out += self._configuring.get((type_, ("parent", bucket.parent)), [])
        return out

    def role_names(self) -> Iterable[str]:
        return self._roles.keys()

    def role(self, name_or_arn: Any) -> Res | None:
        if not isinstance(name_or_arn, str):
            return None
        name = name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        return self._roles.get(name)

    def table(self, database: Any, name: Any) -> Res | None:
        return self._tables.get(database, {}).get(name)

    def tables(self, database: Any) -> list[Res]:
        return list(self._tables.get(database, {}).values())

    def database_domain(self, database: Any) -> str | None:
        d = self._databases.get(database)
        return (tags_of(d) or {}).get(tag_keys.DOMAIN) if d is not None else None

    def domain_key(self, domain: str) -> Res | None:
        return self._keys.get(domain)

    def resolve(self, target: LfTarget) -> LfTarget:
        """A permission's target with a data cells filter's columns (its list, or every column
        but those its wildcard excludes); a filter not in the graph counts as every column."""
        if target.kind != "filter":
            return target
        f = self._filters.get((target.database, target.table, target.filter))
        data = f.get("tableData") if f is not None else None
        names = data.get("columnNames") if isinstance(data, Mapping) else None
        if isinstance(names, (list, tuple)):
            return LfTarget("columns", target.database, target.table, tuple(names))
        wildcard = data.get("columnWildcard") if isinstance(data, Mapping) else None
        excluded = wildcard.get("excludedColumnNames") if isinstance(wildcard, Mapping) else None
        return LfTarget(
            "columns",
            target.database,
            target.table,
            None,
            tuple(excluded) if isinstance(excluded, (list, tuple)) else (),
        )


def product_of(res: Res, graph: Graph | None = None) -> str | None:
    """`<domain>.<product>` a resource belongs to: its tags, else its component ancestors."""
    tags = tags_of(res) or {}
    domain, product = tags.get(tag_keys.DOMAIN), tags.get(tag_keys.PRODUCT)
    if domain and product and product != tag_keys.NO_PRODUCT:
        return f"{domain}.{product}"
    name, type_ = res.name, res.type
    parent: Res | None = res
    while True:
        if type_ == PRODUCT_COMPONENT:
            return name
        if type_ == GRANT_COMPONENT:
            return parse_logical(name).product_id
        if graph is not None and parent is not None:
            parent = graph.parent(parent)
            if parent is None:
                return None
            name, type_ = parent.name, parent.type
        elif parent is res and res.parent is not None:  # no graph: the direct parent only
            name, type_, parent = res.parent, res.parent_type or "", None
        else:
            return None


# ------------------------------------------------------------------------------ graph rules

# A graph rule yields (resource, message), or (resource, message, product id) when the finding
# belongs to a product the resource's place in the graph does not tell (a consumer policy holds
# the grants of several products): exceptions are per product.
GraphRule = Callable[
    [Graph, "Mesh | None", dt.date], Iterator[tuple[Res, str] | tuple[Res, str, str]]
]
GRAPH_RULES: dict[str, list[GraphRule]] = {}


def graph_rule(policy: str) -> Callable[[GraphRule], GraphRule]:
    def register(fn: GraphRule) -> GraphRule:
        GRAPH_RULES.setdefault(policy, []).append(fn)
        return fn

    return register


def _lf_target(perm: Res) -> LfTarget | None:
    """The table (or every table: `table` None) a LF permission grants, None for others."""
    target = lf_target(perm.props)
    return target if target is not None and target.kind != "database" else None


def _s3_reads(policy: Any) -> set[str]:
    """Buckets whose objects an IAM policy lets its role read."""
    doc = parse_document(policy)
    buckets: set[str] = set()
    if not isinstance(doc, dict):
        return buckets
    for s in statements(doc):
        if s.get("Effect") != "Allow":
            continue
        if not any(isinstance(a, str) and _S3_READ.match(a) for a in as_list(s.get("Action"))):
            continue
        for r in as_list(s.get("Resource")):
            ref = _bucket_of_arn(r)
            if ref and ref[1]:
                buckets.add(ref[0])
    return buckets


def _bucket_policy_readers(policy: Any, bucket: str) -> set[str]:
    """Principal ARNs an S3 bucket policy lets read the objects of `bucket` (Allow statements
    with an object-read action on one of its objects; their conditions are not evaluated, so a
    reader that only a condition limits still counts: a rule must over-report)."""
    doc = parse_document(policy)
    readers: set[str] = set()
    if not isinstance(doc, dict):
        return readers
    for s in statements(doc):
        if s.get("Effect") != "Allow":
            continue
        if not any(isinstance(a, str) and _S3_READ.match(a) for a in as_list(s.get("Action"))):
            continue
        if not any(
            (ref := _bucket_of_arn(r)) and ref[0] == bucket and ref[1]
            for r in as_list(s.get("Resource"))
        ):
            continue
        principal = s.get("Principal")
        values = principal.get("AWS") if isinstance(principal, Mapping) else principal
        readers.update(v for v in as_list(values) if isinstance(v, str))
    return readers


def direct_readers(graph: Graph) -> Iterator[tuple[Res, str | None, str, str]]:
    """(granting resource, reader's domain or None, reader, bucket) for every way a principal
    may read a bucket's objects directly from S3: an identity policy of a mesh role, or the
    bucket's own policy naming a principal. `reader` is the role name or principal ARN; the
    domain is the role's mesh:domain tag (None: not a mesh role)."""
    for res in graph.of_type(ROLE_POLICY):
        role = graph.role(res.get("role"))
        domain = (tags_of(role) or {}).get(tag_keys.DOMAIN) if role else None
        for name in sorted(_s3_reads(res.get("policy"))):
            yield res, domain, str(res.get("role")), name
    for res in graph.of_type(BUCKET_POLICY):
        bucket = res.get("bucket")
        if not (known(bucket) and isinstance(bucket, str)):
            continue
        for arn in sorted(_bucket_policy_readers(res.get("policy"), bucket)):
            role = graph.role(arn) if arn.startswith("arn:") else None
            domain = (tags_of(role) or {}).get(tag_keys.DOMAIN) if role else None
            yield res, domain, arn, bucket


def _owner_of_bucket(graph: Graph, name: str) -> tuple[str | None, str | None, Mapping]:
    bucket = graph.bucket(name)
    tags = (tags_of(bucket) or {}) if bucket is not None else {}
    return tags.get(tag_keys.DOMAIN), tags.get(tag_keys.PRODUCT), tags


def _grant_of(graph: Graph, res: Res) -> tuple[str, str] | None:
    grant = res if res.type == GRANT_COMPONENT else graph.ancestor(res, GRANT_COMPONENT)
    if grant is None:
        return None
    return _product_and_consumer(grant)


def _declared(mesh: Mesh, pid: str, consumer: str):
    try:
        bp, product = mesh.product(pid)
    except KeyError:
        return None, None, None
    for c in product.consumers:
        if c.domain == consumer:
            return bp, product, c
    return bp, product, None


@graph_rule("GOV-003")
def pii_grants(graph: Graph, mesh: Mesh | None, today: dt.date) -> Iterator[tuple[Res, str]]:
    """PII readable by another domain without an approved include_pii grant: through a Lake
    Formation permission (its columns) or through an IAM policy reading the product's bucket
    (every column), whichever component the policy sits in."""
    if mesh is None:
        return
    for res in graph.of_type(LF_PERMISSIONS):
        grant = _grant_of(graph, res)
        if grant is None:
            continue
        pid, consumer = grant
        _, product, declared = _declared(mesh, pid, consumer)
        if product is None or not product.pii_columns:
            continue
        target = _lf_target(res)
        if target is not None:
            target = graph.resolve(target)
        if target is not None and target.columns is not None:
            readable = set(target.columns)
        else:  # every column (of a wildcard: but those it excludes)
            excluded = set(target.excluded) if target is not None else set()
            readable = {c.name for c in product.columns} - excluded
        yield from _unapproved_pii(
            res, "Lake Formation", pid, product, declared, consumer, readable
        )
    for res, consumer, _, name in direct_readers(graph):
        owner, product_name, _ = _owner_of_bucket(graph, name)
        if consumer is None or not owner or not product_name or owner == consumer:
            continue
        pid = f"{owner}.{product_name}"
        _, product, declared = _declared(mesh, pid, consumer)
        if product is None or not product.pii_columns:
            continue
        readable = {c.name for c in product.columns}
        for found in _unapproved_pii(
            res, "direct S3 read", pid, product, declared, consumer, readable
        ):
            yield (*found, pid)


def _unapproved_pii(
    res: Res, via: str, pid: str, product, declared, consumer: str, readable: set[str]
) -> Iterator[tuple[Res, str]]:
    pii = product.pii_columns & readable
    if pii and not (declared and declared.include_pii and declared.approved_by):
        yield (
            res,
            (
                f"{via} gives {consumer} PII of {pid} ({', '.join(sorted(pii))}) without an "
                "approved include_pii grant in the blueprint"
            ),
        )


@graph_rule("GOV-004")
def restricted_in_domain(
    graph: Graph, mesh: Mesh | None, today: dt.date
) -> Iterator[tuple[Res, str]]:
    for perm in graph.of_type(LF_PERMISSIONS):
        target = _lf_target(perm)
        role = graph.role(perm.get("principal"))
        if target is None or role is None:
            continue
        database, table = target.database, target.table
        owner = graph.database_domain(database)
        grantee = (tags_of(role) or {}).get(tag_keys.DOMAIN)
        if owner is None or grantee is None or owner == grantee:
            continue
        tables = [graph.table(database, table)] if table is not None else graph.tables(database)
        for t in tables:
            params = (t.get("parameters") or {}) if t is not None else {}
            if known(params) and params.get("mesh:classification") == "restricted":
                yield (
                    perm,
                    (
                        f"restricted table {database}.{t.get('name')} of domain {owner} is granted "
                        f"to domain {grantee}"
                    ),
                )
    for res, grantee, _, name in direct_readers(graph):
        owner, product_name, tags = _owner_of_bucket(graph, name)
        if grantee is None or not owner or owner == grantee:
            continue
        if tags.get("mesh:classification") == "restricted":
            yield (
                res,
                f"restricted bucket {name} of domain {owner} is readable by domain {grantee}",
                f"{owner}.{product_name}",
            )


@graph_rule("GOV-005")
def no_expired_grants(graph: Graph, mesh: Mesh | None, today: dt.date) -> Iterator[tuple[Res, str]]:
    if mesh is None:
        return
    for grant in graph.of_type(GRANT_COMPONENT):
        pid, consumer = _product_and_consumer(grant)
        bp, product, declared = _declared(mesh, pid, consumer)
        if declared is None:
            continue  # GOV-013
        if declared in access.active_grants(mesh, bp, product, today):
            continue
        if access.is_decommissioned(product, today):
            why = f"{pid} was decommissioned on {product.decommission.date.isoformat()}"
        elif consumer in mesh.revoked_of(bp.domain, product.name):
            why = "the exception that allowed it has expired (revoked)"
        else:
            why = f"it expired on {declared.expires.isoformat()}"
        yield grant, f"grant of {pid} to {consumer} is still provisioned but {why}"


@graph_rule("GOV-006")
def lifecycle_retention(
    graph: Graph, mesh: Mesh | None, today: dt.date
) -> Iterator[tuple[Res, str]]:
    for bucket in graph.of_type(*BUCKET_TYPES):
        lifecycles = graph.companions(bucket, *LIFECYCLE)
        if not lifecycles:
            yield bucket, "no lifecycle configuration: objects never expire"
            continue
        cls = classification_of((tags_of(bucket) or {}).get("mesh:classification"))
        if cls is None:
            continue
        lo, hi = cat.RETENTION_BOUNDS[cls]
        for lc in lifecycles:
            for days in _expiration_days(lc) or ():
                if not lo <= days <= hi:
                    yield (
                        lc,
                        (
                            f"objects expire after {days} days, outside {lo}..{hi} days for "
                            f"{cls.value} data"
                        ),
                    )


@graph_rule("GOV-008")
def buckets_encrypted(graph: Graph, mesh: Mesh | None, today: dt.date) -> Iterator[tuple[Res, str]]:
    for bucket in graph.of_type(*BUCKET_TYPES):
        configs = graph.companions(bucket, *SSE)
        if not configs:
            yield bucket, "no default encryption configuration (SSE-KMS with the domain key)"
            continue
        domain = (tags_of(bucket) or {}).get(tag_keys.DOMAIN)
        key = graph.domain_key(domain) if domain else None
        if key is None:
            yield bucket, f"no KMS key of domain {domain} in the stack to encrypt with"
            continue
        arn = key.outputs.get("arn", UNKNOWN)
        if not known(arn) or not arn:
            continue
        for cfg in configs:
            for rule in as_list(cfg.get("rules")):
                default = (rule or {}).get("applyServerSideEncryptionByDefault") or {}
                key_id = default.get("kmsMasterKeyId") if known(default) else UNKNOWN
                if known(key_id) and key_id and key_id != arn:
                    yield cfg, f"encrypts with {key_id}, not the key of domain {domain} ({arn})"


@graph_rule("GOV-009")
def buckets_private(graph: Graph, mesh: Mesh | None, today: dt.date) -> Iterator[tuple[Res, str]]:
    for bucket in graph.of_type(*BUCKET_TYPES):
        if not graph.companions(bucket, PUBLIC_ACCESS_BLOCK):
            yield bucket, "no public access block"
        if not graph.companions(bucket, OWNERSHIP):
            yield bucket, "no ownership controls: ACLs are not disabled (BucketOwnerEnforced)"


@graph_rule("GOV-010")
def buckets_tls_only(graph: Graph, mesh: Mesh | None, today: dt.date) -> Iterator[tuple[Res, str]]:
    for bucket in graph.of_type(*BUCKET_TYPES):
        if not graph.companions(bucket, BUCKET_POLICY):
            yield bucket, "no bucket policy: requests without TLS are not denied"


def _other_stacks_roles(graph: Graph, mesh: Mesh | None) -> Callable[[str], str | None]:
    """The domain of a role (name or ARN) that the graph's stack does not declare, or None: a
    per-domain stack (`mesh plan --stack sales`) names the consumer roles of other domains by
    their deterministic names (`<prefix>-<domain>-consumer`), and their own stacks create
    them. The prefix is the stack's own, as its roles show it."""
    others = mesh.other_domains if mesh is not None else frozenset()
    prefixes = set()
    for domain in mesh.domains if others else ():
        for name in graph.role_names():
            if name.endswith(suffix := f"-{domain}-producer"):
                prefixes.add(name[: -len(suffix)])

    def domain_of_role(name_or_arn: str) -> str | None:
        name = name_or_arn.rsplit("/", 1)[-1]
        for prefix in prefixes:
            domain, _, kind = name.removeprefix(f"{prefix}-").rpartition("-")
            if name.startswith(f"{prefix}-") and kind in ROLE_KINDS and domain in others:
                return domain
        return None

    return domain_of_role


@graph_rule("GOV-013")
def grants_to_mesh_roles(
    graph: Graph, mesh: Mesh | None, today: dt.date
) -> Iterator[tuple[Res, str]]:
    elsewhere = _other_stacks_roles(graph, mesh)
    for perm in graph.of_type(LF_PERMISSIONS):
        principal = perm.get("principal")
        if (
            known(principal)
            and isinstance(principal, str)
            and graph.role(principal) is None
            and elsewhere(principal) is None
        ):
            yield perm, f"grants to {principal}, which is not a role of the mesh"
    for policy in graph.of_type(ROLE_POLICY):
        role = policy.get("role")
        if known(role) and isinstance(role, str) and graph.role(role) is None:
            yield policy, f"attached to role {role!r}, which is not a role of the mesh"
    for res, domain, reader, name in direct_readers(graph):
        owner, product_name, _ = _owner_of_bucket(graph, name)
        if domain is None and res.type == BUCKET_POLICY:
            domain = elsewhere(reader)
        if domain is None and res.type == BUCKET_POLICY:
            yield (
                res,
                f"bucket policy of {name} lets {reader}, which is not a role of the mesh, read its objects",
            )
            continue
        if domain is None or not owner or domain == owner:
            continue  # a domain's own roles read its own buckets
        pid = f"{owner}.{product_name}"
        if res.type != BUCKET_POLICY:
            yield (
                res,
                (
                    f"identity policy of {reader} reads {name} ({pid}): direct S3 read is granted by "
                    "the product's bucket policy only, for grants that opt into it"
                ),
                pid,
            )
            continue
        if mesh is None:
            continue
        bp, product, declared = _declared(mesh, pid, domain)
        live = declared is not None and declared in access.active_grants(mesh, bp, product, today)
        if not (live and declared.s3_direct):
            yield (
                res,
                (
                    f"bucket policy of {name} lets {reader} read {pid} directly, but {domain} has no "
                    "active grant of it with s3_direct"
                ),
                pid,
            )
    if mesh is None:
        return
    domains = mesh.all_domains
    for grant in graph.of_type(GRANT_COMPONENT):
        pid, consumer = _product_and_consumer(grant)
        if consumer not in domains:
            yield grant, f"grant of {pid} to {consumer!r}, which is not a domain of the mesh"
        elif _declared(mesh, pid, consumer)[2] is None:
            yield grant, f"grant of {pid} to {consumer} is not declared in the blueprints"


def check_graph(
    graph: Graph, mesh: Mesh | None, today: dt.date, policies: Iterable[str] | None = None
) -> Iterator[tuple[str, Res, str, str | None]]:
    """(policy id, resource, message, product id or None) for every graph rule violated; the
    product is the rule's own attribution, else the resource's (`product_of`)."""
    for policy in policies if policies is not None else GRAPH_RULES:
        for rule in GRAPH_RULES.get(policy, ()):
            for res, message, *attributed in rule(graph, mesh, today):
                product = attributed[0] if attributed else product_of(res, graph)
                yield policy, res, message, product


def _product_and_consumer(grant: Res) -> tuple[str, str]:
    """(product id, consumer domain) of a grant component, from its logical name."""
    logical = parse_logical(grant.name)
    return str(logical.product_id), str(logical.consumer)
