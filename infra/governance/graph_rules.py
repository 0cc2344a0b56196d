"""Graph rules: the generated resource graph's resources related to one another, and to the
blueprints (every bucket has a public access block; a Lake Formation grant of PII columns
matches an approved grant in the blueprints). Those that need the blueprints get the Mesh; with
none (CrossGuard without blueprints) they are skipped. `Graph`
(`infra.governance.graph_index`) is the index they share, built once so that every rule stays
linear in the size of the mesh.

The resource rules (one resource alone) and the value helpers both kinds use are in
`infra.governance.resource_rules`; `mesh plan` and the CrossGuard pack run both.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from infra.governance import catalogue as cat
from infra.governance.graph_index import Graph, product_of
from infra.governance.resource_rules import (
    BUCKET_POLICY,
    BUCKET_TYPES,
    GRANT_COMPONENT,
    KEY,
    LF_PERMISSIONS,
    LIFECYCLE,
    OWNERSHIP,
    PUBLIC_ACCESS_BLOCK,
    ROLE_POLICY,
    SSE,
    UNKNOWN,
    Res,
    as_list,
    bucket_of_arn,
    classification_of,
    expiration_days,
    known,
    parse_document,
    statements,
    tags_of,
)
from infra.model import access
from infra.model import tags as tag_keys
from infra.model.mesh import Mesh
from infra.provision.graph import LfTarget, lf_target
from infra.provision.names import ROLE_KINDS, parse_logical

_S3_READ = re.compile(r"^s3:(\*|get\*|getobject(version)?)$", re.IGNORECASE)


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


def _object_reads(policy: Any) -> Iterator[tuple[dict, list[str]]]:
    """Each Allow statement of a policy with an S3 object-read action, with the buckets whose
    objects its resources name."""
    doc = parse_document(policy)
    if not isinstance(doc, dict):
        return
    for s in statements(doc):
        if s.get("Effect") != "Allow":
            continue
        if not any(isinstance(a, str) and _S3_READ.match(a) for a in as_list(s.get("Action"))):
            continue
        refs = [bucket_of_arn(r) for r in as_list(s.get("Resource"))]
        yield s, [ref[0] for ref in refs if ref and ref[1]]


def _s3_reads(policy: Any) -> set[str]:
    """Buckets whose objects an IAM policy lets its role read."""
    return {b for _, buckets in _object_reads(policy) for b in buckets}


def _bucket_policy_readers(policy: Any, bucket: str) -> set[str]:
    """Principal ARNs an S3 bucket policy lets read the objects of `bucket` (Allow statements
    with an object-read action on one of its objects; their conditions are not evaluated, so a
    reader that only a condition limits still counts: a rule must over-report)."""
    readers: set[str] = set()
    for s, buckets in _object_reads(policy):
        if bucket not in buckets:
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
            for days in expiration_days(lc) or ():
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


# The rules that relate a bucket to what configures it (its lifecycle, encryption, public
# access block, ownership controls, policy) and to the key of its domain; the types that only
# they read. The mesh declares a bucket, its configuration and its domain's key in one stack:
# the whole-mesh plan runs these rules on each stack's slice (`infra.engines.stackplan`).
BUCKET_RULES = ("GOV-006", "GOV-008", "GOV-009", "GOV-010")
BUCKET_RULES_READ = frozenset({*LIFECYCLE, *SSE, PUBLIC_ACCESS_BLOCK, OWNERSHIP, KEY})


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
