"""EFFECTIVE access: who can read or write which columns of which product, computed from the
generated resources alone — IAM role policies, bucket policies, key policies, Lake Formation
permissions and registrations — and compared with the access the blueprints declare.

The rules (same-account AWS semantics; see `iameval.decide`):

- **S3 direct read** of a product: `s3:GetObject` on an object of its bucket is allowed (identity
  policy, or bucket policy naming the role) and no Deny applies; and, since objects are encrypted
  with the bucket's default KMS key, `kms:Decrypt` through S3 is allowed by the key policy
  (directly, or by delegating to the account *and* an identity statement allowing it).
  A direct read exposes every column.
- **S3 write**: the same with `s3:PutObject` and `kms:GenerateDataKey`.
- **Lake Formation read**: a `SELECT` permission (whole table: every column of the Glue table's
  `storageDescriptor.columns`; `tableWithColumns`: the listed ones) that can actually be used:
  the role's IAM allows `glue:GetTable` on the catalog, database and table and
  `lakeformation:GetDataAccess`, the bucket is registered with Lake Formation, and the key policy
  lets Lake Formation's data-access role decrypt. `INSERT`/`DELETE` count as write.
- PII: a readable column whose Glue parameters carry `mesh:pii = true`.
- Products are identified by the bucket's `mesh:domain`/`mesh:product` tags; tables by their
  S3 location; principals by the role's `mesh:domain` tag and logical name.

Expiry is not a property of AWS resources (an expired grant is simply no longer declared, so no
longer provisioned): an effective grant carries the expiry, justification and approver of the
declared grant it matches, or none when it matches nothing — which is itself a difference.

One computation (who can reach what) over one view of the graph: its steps (identity, resource
policies, keys, Lake Formation) share the candidate principals and the evaluator's answers and
are only correct together, so they stay here; the evaluator's requests and memos are
`infra.audit.evaluator`, what a document may apply to (to skip what cannot matter) is
`infra.audit.docindex`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from infra.audit import lftags
from infra.audit.docindex import PrefixIndex, document_keys, named_principals
from infra.audit.evaluator import PROBE_OBJECT, Evaluator, account_region, same_account
from infra.audit.iameval import Caller
from infra.audit.querypath import query_blockers
from infra.audit.view import Bucket, LfPermission, MeshGraph, Role, Table
from infra.model.access import AccessModel, DeclaredGrant, engines_of

LF_DATA_ACCESS_ROLE = (
    "role/aws-service-role/lakeformation.amazonaws.com/AWSServiceRoleForLakeFormationDataAccess"
)
LF_READ = {"SELECT", "ALL"}
LF_WRITE = {"INSERT", "DELETE", "ALL"}
GLUE_READ = "glue:GetTable"
LF_GET_DATA_ACCESS = "lakeformation:GetDataAccess"
ANONYMOUS = "*"

ASSUMPTIONS = (
    (
        "Requests use TLS (aws:SecureTransport=true) and objects are written with the bucket's "
        "default encryption (no SSE headers)."
    ),
    (
        "Each domain's Lake Formation data-access role (a service role only Lake Formation can "
        "assume) is not a principal of its own: Lake Formation vends its credentials only for "
        "the tables and columns a principal was granted, so it counts as the path that makes "
        "those grants usable, checked for S3 read and KMS decrypt."
    ),
    "Conditions the evaluator cannot decide count as allowing (an audit over-reports).",
    (
        "Expiry, justification and approver are not AWS properties: they are copied from the "
        "matching declared grant."
    ),
)


@dataclass(frozen=True)
class Path:
    """One way a principal reaches a product, with the statements that make it work."""

    channel: str  # "s3-read" | "s3-write" | "lakeformation-read" | "lakeformation-write"
    evidence: tuple[str, ...]
    columns: tuple[str, ...]
    row_filter: str | None = None  # a Lake Formation path through a data cells filter's rows
    via_tags: lftags.Expression | None = None  # granted on an LF-tag expression: which


@dataclass
class EffectiveGrant:
    principal: str
    product: str
    access: str
    columns: tuple[str, ...]
    pii: bool
    s3_direct: bool
    via: tuple[str, ...]
    paths: list[Path]
    row_filter: str | None = None
    engines: tuple[str, ...] = ()  # what can query it (`infra.audit.querypath`)
    via_tags: lftags.Expression | None = None  # read only through an LF-tag expression


@dataclass
class Difference:
    kind: str  # "unexpected" (effective, not declared) | "missing" | "mismatch"
    principal: str
    product: str
    declared: dict | None
    effective: dict | None
    fields: tuple[str, ...]
    message: str

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "principal": self.principal,
            "product": self.product,
            "fields": list(self.fields),
            "declared": self.declared,
            "effective": self.effective,
            "message": self.message,
        }


@dataclass
class EffectiveAccess:
    grants: list[EffectiveGrant]
    uncertain: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # unmapped resources, unusable grants


class _Reachers:
    """Which callers a bucket's object probes can allow, so each bucket is probed with those
    alone, not with every principal of the mesh (products x principals probes): linear in the
    grants.

    S3 allows a request (`iameval.decide`) only through an identity statement or a bucket-policy
    statement naming the caller directly. A caller none of whose identity documents may apply to
    the probe (`Candidates`, keyed over every role at once here) and that no Allow statement
    of the bucket's policies names by its ARN gets no path and no note: its probes are skipped.
    A bucket is probed with every caller, as before, when one of its policies' statements could
    apply to callers it does not name (`Principal: "*"` on an Allow, `NotPrincipal`, a
    principal not understood) in a way that matters: an Allow, or a condition the evaluator may
    leave undecided (whose note would then be recorded in another order)."""

    def __init__(self, ev: Evaluator, callers: list[tuple[str, Role | None, Caller]]) -> None:
        self.ev = ev
        self.every = list(range(len(callers)))
        self.always: set[int] = set()
        self.index = PrefixIndex()
        self.by_arn: dict[str, list[int]] = {}
        for i, (_, role, caller) in enumerate(callers):
            self.by_arn.setdefault(caller.arn, []).append(i)
            if role is None:
                self.always.add(i)  # the anonymous caller: one per bucket
                continue
            for d in ev.inline.get(role.name, []):
                if not same_account(d.account, role):
                    continue
                keys = document_keys(d.document)
                if keys is None:
                    self.always.add(i)
                else:
                    self.index.add(i, keys)

    def of(self, bucket: Bucket, actions: tuple[str, ...]) -> list[int]:
        """Positions (in the callers' order) of the callers to probe `bucket` with."""
        hits = set(self.always)
        for d in self.ev.resource_docs.get(("bucket", bucket.name), ()):
            named = named_principals(d.document)
            if named is None:
                return self.every
            for arn in named:
                hits.update(self.by_arn.get(arn, ()))
        resource = f"{bucket.arn}/{PROBE_OBJECT}"
        for action in actions:
            hits |= self.index.lookup(action, resource)
        return sorted(hits)


def _object_path(
    ev: Evaluator, role: Role | None, caller: Caller, bucket: Bucket, write: bool
) -> tuple[tuple[str, ...] | None, str | None]:
    """(evidence that `caller` can read/write the bucket's objects or None, and a note when S3
    allows it but the key policy stops it — one control failing, the other holding)."""
    action = "s3:PutObject" if write else "s3:GetObject"
    s3 = ev.s3(role, caller, bucket, action)
    if not s3.allowed:
        return None, None
    key = ev.g.bucket_keys.get(bucket.name)
    if key is None:
        return tuple(s3.evidence), None
    kms_action = "kms:GenerateDataKey" if write else "kms:Decrypt"
    kms = ev.kms(role, caller, key, kms_action, bucket.arn)
    if not kms.allowed:
        return None, (
            f"{action} on {bucket.name} is allowed ({', '.join(s3.evidence)}) but {kms_action} "
            f"on its key is not: only the key policy stops this access"
        )
    return tuple(s3.evidence + kms.evidence), None


def _glue_arns(table: Table) -> list[str]:
    prefix = table.arn.partition(":table/")[0]
    return [f"{prefix}:catalog", f"{prefix}:database/{table.database}", table.arn]


def _cross_account(ev: Evaluator, perm: LfPermission, role: Role, table: Table) -> list[str]:
    """Why a grant cannot be used across accounts (empty: it can, or it is not across).

    A permission is on the catalog it names (its own account's when it names none): it must be
    the catalog holding the table. A principal of another account finds a shared table only
    through a resource link in its own account's catalog that targets the table's database,
    with DESCRIBE on that link and IAM `glue:GetTable` on it."""
    if not table.account:
        return []
    if perm.catalog and perm.catalog != table.account:
        return [f"the permission is on catalog {perm.catalog}, the table is in {table.account}"]
    if perm.account and perm.account != table.account:
        why = (
            f"the permission is granted in account {perm.account}; only {table.account}, "
            "whose catalog holds the table, can grant it"
        )
        return [why]
    if not role.account or role.account == table.account:
        return []
    links = ev.links_to(role.account, table.account, table.database)
    if not links:
        return [f"no resource link in account {role.account} to {table.database}"]
    why = []
    if not any((role.account, name, role.arn) in ev.g.describes for name in links):
        why.append(f"no DESCRIBE on the resource link to {table.database} in {role.account}")
    partition, region, _ = account_region(table.arn)
    link_arns = [f"arn:{partition}:glue:{region}:{role.account}:database/{n}" for n in links]
    if not any(ev.iam_allows(role, GLUE_READ, arn).allowed for arn in link_arns):
        why.append(f"IAM does not allow {GLUE_READ} on {link_arns[0]}")
    return why


def _lf_usable(
    ev: Evaluator, perm: LfPermission, role: Role, table: Table, bucket: Bucket | None
) -> list[str]:
    """Why an LF permission of `role` on `table` cannot be used (empty: it can)."""
    why = _cross_account(ev, perm, role, table)
    if perm.via_tags is not None:  # what sharing by tag needs besides
        why += lftags.cross_account_blockers(ev.g.lf_tags, role.account, table.account)
    for arn in _glue_arns(table):
        if not ev.iam_allows(role, GLUE_READ, arn).allowed:
            why.append(f"IAM does not allow {GLUE_READ} on {arn}")
    if not ev.iam_allows(role, LF_GET_DATA_ACCESS, "*").allowed:
        why.append(f"IAM does not allow {LF_GET_DATA_ACCESS}")
    if bucket is None:
        why.append(f"table location of {table.database}.{table.name} is not a mesh bucket")
        return why
    if bucket.arn not in ev.g.lf_locations:
        why.append(f"bucket {bucket.name} is not registered with Lake Formation")
    key = ev.g.bucket_keys.get(bucket.name)
    vending_arn = ev.g.lf_locations.get(bucket.arn)
    vending = ev.role_by_arn(vending_arn) if vending_arn else None
    if vending_arn and vending is None:
        why.append(f"bucket {bucket.name} is registered with {vending_arn}, not a mesh role")
        return why
    if vending is not None:  # the location's own data-access role: both IAM and key policy count
        if not ev.iam_allows(vending, "s3:GetObject", f"{bucket.arn}/{PROBE_OBJECT}").allowed:
            why.append(f"{vending.name} (Lake Formation data access) cannot read {bucket.name}")
        if (
            key is not None
            and not ev.kms(vending, Caller(vending.arn), key, "kms:Decrypt", bucket.arn).allowed
        ):
            why.append(f"{vending.name} (Lake Formation data access) cannot decrypt with {key}")
    elif key is not None:  # the service-linked role: its IAM side is AWS-managed
        partition, _, account = account_region(key)
        lf_role = Caller(f"arn:{partition}:iam::{account}:{LF_DATA_ACCESS_ROLE}")
        if not ev.kms(None, lf_role, key, "kms:Decrypt", None, identity_unknown=True).allowed:
            why.append(f"key policy of {key} does not let Lake Formation decrypt")
    return why


def _lf_tables(ev: Evaluator, perm: LfPermission) -> list[Table]:
    if perm.table is None:
        return ev.tables_of(perm.database)
    table = ev.g.tables.get((perm.database, perm.table))
    return [table] if table else []


def compute(graph: MeshGraph, today: dt.date) -> EffectiveAccess:
    """Who reaches which product on `today` (noon UTC is the request time: statements that
    end with a grant's expiry, `DateLessThan aws:CurrentTime`, still hold on its last day)."""
    ev = Evaluator(graph, f"{today.isoformat()}T12:00:00Z")
    problems: list[str] = [*graph.unsupported, *graph.lf_tags.problems]
    table_of_bucket: dict[str, Table] = {}
    for table in graph.tables.values():
        if table.bucket:
            table_of_bucket[table.bucket] = table
    paths: dict[tuple[str, str], list[Path]] = {}
    roles_reading: dict[str, Role] = {}
    tables_by_product: dict[str, Table | None] = {}
    callers: list[tuple[str, Role | None, Caller]] = [
        (role.principal, role, Caller(role.arn))
        for role in graph.roles.values()
        if role.service is None  # service roles act only for their service (see _lf_usable)
    ]
    callers.append((ANONYMOUS, None, Caller(ANONYMOUS)))
    reachers = _Reachers(ev, callers)

    for bucket in graph.buckets.values():
        if bucket.product is None:
            problems.append(f"bucket {bucket.name} has no mesh:domain/mesh:product tags")
            continue
        table = table_of_bucket.get(bucket.name)
        tables_by_product[bucket.product] = table
        all_columns = tuple(sorted(c.name for c in table.columns)) if table else ()
        for position in reachers.of(bucket, ("s3:GetObject", "s3:PutObject")):
            principal, role, caller = callers[position]
            for write in (False, True):
                evidence, latent = _object_path(ev, role, caller, bucket, write)
                if latent:
                    problems.append(f"{principal}: {latent}")
                if evidence is not None:
                    channel = "s3-write" if write else "s3-read"
                    paths.setdefault((principal, bucket.product), []).append(
                        Path(channel, evidence, all_columns)
                    )

    for doc in graph.documents:
        owner = graph.roles.get(doc.attached_to) if doc.kind == "inline" else None
        if owner is not None and not same_account(doc.account, owner):
            problems.append(
                f"{doc.id} is created in account {doc.account} but role {owner.name} lives in "
                f"{owner.account}: it grants nothing"
            )

    for perm in graph.lf_permissions:
        role = ev.role_by_arn(perm.principal_arn)
        if role is None:
            problems.append(
                f"Lake Formation permission {perm.logical} names {perm.principal_arn}, "
                "which is not a mesh role"
            )
            continue
        granted = set(perm.permissions)
        for table in _lf_tables(ev, perm):
            bucket = graph.buckets.get(table.bucket or "")
            product = bucket.product if bucket else None
            if product is None:
                problems.append(f"table {table.database}.{table.name} maps to no product")
                continue
            tables_by_product.setdefault(product, table)
            if not perm.filter_found:
                problems.append(
                    f"{perm.logical}: Lake Formation grant to {role.principal} on {product} "
                    f"names data cells filter {perm.data_filter}, which does not exist: it "
                    "grants nothing"
                )
                continue
            names = [c.name for c in table.columns]
            cols = names if perm.columns is None else [c for c in names if c in perm.columns]
            cols = [c for c in cols if c not in perm.excluded_columns]
            # partition keys: readable with every grant, listed in a data cells filter
            known = set(names) | {k.name for k in table.partition_keys}
            unknown = sorted(set(perm.columns or ()) - known)
            if unknown:
                problems.append(
                    f"{perm.logical} grants columns {unknown} that {table.name} does not have"
                )
            blocked = _lf_usable(ev, perm, role, table, bucket)
            if blocked:
                problems.append(
                    f"{perm.logical}: Lake Formation grant to {role.principal} on {product} "
                    f"cannot be used: {'; '.join(blocked)}"
                )
                continue
            evidence = (f"lakeformation/{perm.logical}",)
            if granted & LF_READ:
                paths.setdefault((role.principal, product), []).append(
                    Path(
                        "lakeformation-read",
                        evidence,
                        tuple(sorted(cols)),
                        perm.row_filter,
                        perm.via_tags,
                    )
                )
                roles_reading[role.principal] = role
            if granted & LF_WRITE:
                paths.setdefault((role.principal, product), []).append(
                    Path("lakeformation-write", evidence, tuple(sorted(cols)))
                )

    # the query path of each role that reads through Lake Formation: Athena needs it all
    athena_blocked = {p: query_blockers(ev, graph, role) for p, role in roles_reading.items()}
    grants = []
    for (principal, product), found in sorted(paths.items()):
        table = tables_by_product.get(product)
        pii_names = {c.name for c in table.columns if c.pii} if table else set()
        s3_read = any(p.channel == "s3-read" for p in found)
        lf_read = any(p.channel == "lakeformation-read" for p in found)
        write = any(p.channel.endswith("-write") for p in found)
        readable: set[str] = set()
        for p in found:
            if p.channel in ("s3-read", "lakeformation-read"):
                readable.update(p.columns)
        via = tuple(v for v, on in (("lakeformation", lf_read), ("s3", s3_read)) if on)
        # rows: a whole path (S3, a permission without a filter) reads every row
        lf_rows = {p.row_filter for p in found if p.channel == "lakeformation-read"}
        whole = s3_read or None in lf_rows
        row_filter = None if whole or len(lf_rows) != 1 else next(iter(lf_rows))
        engines = engines_of(via)
        blocked = athena_blocked.get(principal, [])
        if lf_read and blocked:
            engines = tuple(e for e in engines if e != "athena")
            problems.append(f"{principal} cannot query {product} with Athena: {'; '.join(blocked)}")
        grants.append(
            EffectiveGrant(
                principal=principal,
                product=product,
                access="write" if write else "read",
                columns=tuple(sorted(readable)),
                pii=bool(readable & pii_names),
                s3_direct=s3_read,
                via=via,
                paths=found,
                row_filter=row_filter,
                engines=engines,
                via_tags=lftags.read_expression(
                    [p.via_tags for p in found if p.channel == "lakeformation-read"]
                ),
            )
        )
    return EffectiveAccess(grants, ev.uncertain, problems)


# ------------------------------------------------------------------ comparison

_COMPARED = ("access", "columns", "pii", "s3_direct", "via", "row_filter", "engines", "via_tags")


def annotate(effective: EffectiveAccess, declared: AccessModel) -> list[DeclaredGrant]:
    """Effective grants as `infra.model.access.Grant`s, with expiry/justification/approver copied
    from the declared grant they correspond to (active first, then expired)."""
    active = {(g.principal, g.product): g for g in declared.grants}
    expired = {(g.principal, g.product): g for g in declared.expired}
    out = []
    for e in effective.grants:
        match = active.get((e.principal, e.product)) or expired.get((e.principal, e.product))
        out.append(
            DeclaredGrant(
                principal=e.principal,
                product=e.product,
                access=e.access,  # type: ignore[arg-type]
                columns=e.columns,
                pii=e.pii,
                expires=match.expires if match else None,
                s3_direct=e.s3_direct,
                via=e.via,
                justification=match.justification if match else None,
                approved_by=match.approved_by if match else None,
                row_filter=e.row_filter,
                engines=e.engines,
                via_tags=e.via_tags,
                tag_grant=match.tag_grant if match and e.via_tags is not None else None,
            )
        )
    return out


def compare(effective: list[DeclaredGrant], declared: AccessModel) -> list[Difference]:
    """Every difference between the effective and the declared access, sorted."""
    want = {(g.principal, g.product): g for g in declared.grants}
    expired = {(g.principal, g.product): g for g in declared.expired}
    have = {(g.principal, g.product): g for g in effective}
    out: list[Difference] = []
    for key in sorted(set(want) | set(have)):
        d, e = want.get(key), have.get(key)
        if d is not None and e is not None:
            dj, ej = d.as_json(), e.as_json()
            # `via_tags` is only in a tag grant's JSON
            fields = tuple(f for f in _COMPARED if dj.get(f) != ej.get(f))
            if fields:
                detail = "; ".join(
                    f"{f}: declared {dj.get(f)!r}, effective {ej.get(f)!r}" for f in fields
                )
                out.append(Difference("mismatch", *key, dj, ej, fields, detail))
        elif e is not None:
            if key in expired:
                why = f"expired on {expired[key].expires} but still effective"
            elif e.principal == ANONYMOUS:
                why = "PUBLIC: anyone can reach this product"
            else:
                why = "effective but not declared by any blueprint"
            out.append(Difference("unexpected", *key, None, e.as_json(), (), why))
        elif d is not None:
            out.append(
                Difference(
                    "missing",
                    *key,
                    d.as_json(),
                    None,
                    (),
                    "declared but the generated resources give no effective access",
                )
            )
    return out
