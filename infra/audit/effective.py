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
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.access import AccessModel, Grant
from infra.audit.graph import Bucket, LfPermission, MeshGraph, Role, Table
from infra.audit.iameval import (
    Caller,
    Decision,
    Evaluation,
    Request,
    StatementHit,
    decide,
    evaluate,
)

PROBE_OBJECT = "data/audit-probe"  # an object key under the table location
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


@dataclass
class Effective:
    principal: str
    product: str
    access: str
    columns: tuple[str, ...]
    pii: bool
    s3_direct: bool
    via: tuple[str, ...]
    paths: list[Path]


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
    grants: list[Effective]
    uncertain: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # unmapped resources, unusable grants


def _account_region(arn: str) -> tuple[str, str, str]:
    parts = arn.split(":")
    return parts[1], parts[3], parts[4]  # partition, region, account


class _Evaluator:
    def __init__(self, graph: MeshGraph) -> None:
        self.g = graph
        self.uncertain: list[str] = []

    def _identity(self, role: Role | None, request: Request) -> list[Evaluation]:
        if role is None:
            return []
        return [evaluate(d.document, d.id, request) for d in self.g.identity_documents(role)]

    def _record(self, decision: Decision) -> Decision:
        self.uncertain.extend(u for u in decision.uncertain if u not in self.uncertain)
        return decision

    def s3(self, role: Role | None, caller: Caller, bucket: Bucket, action: str) -> Decision:
        request = Request(
            action,
            f"{bucket.arn}/{PROBE_OBJECT}",
            {"aws:SecureTransport": "true", "aws:PrincipalArn": caller.arn},
        )
        if caller.account:
            request.context["aws:PrincipalAccount"] = caller.account
        resource = [
            evaluate(d.document, d.id, request, caller) for d in self.g.bucket_policies(bucket.name)
        ]
        return self._record(decide(self._identity(role, request), resource, False))

    def kms(
        self,
        role: Role | None,
        caller: Caller,
        key_arn: str,
        action: str,
        via_s3: bool,
        identity_unknown: bool = False,
    ) -> Decision:
        _, region, _ = _account_region(key_arn)
        context: dict = {"aws:SecureTransport": "true", "aws:PrincipalArn": caller.arn}
        if caller.account:
            context["aws:PrincipalAccount"] = caller.account
            context["kms:CallerAccount"] = caller.account
        if via_s3:
            context["kms:ViaService"] = f"s3.{region}.amazonaws.com"
        request = Request(action, key_arn, context)
        resource = [
            evaluate(d.document, d.id, request, caller) for d in self.g.key_policies(key_arn)
        ]
        identity = self._identity(role, request)
        if identity_unknown:  # an AWS-managed role: its identity side is assumed to allow
            identity = [
                Evaluation(allows=[StatementHit("(AWS-managed role policy)", None, "Allow")])
            ]
        return self._record(decide(identity, resource, True))

    def iam_allows(self, role: Role, action: str, resource: str) -> Decision:
        request = Request(action, resource, {"aws:PrincipalArn": role.arn})
        return self._record(decide(self._identity(role, request), [], False))


def _object_path(
    ev: _Evaluator, role: Role | None, caller: Caller, bucket: Bucket, write: bool
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
    kms = ev.kms(role, caller, key, kms_action, True)
    if not kms.allowed:
        return None, (
            f"{action} on {bucket.name} is allowed ({', '.join(s3.evidence)}) but {kms_action} "
            f"on its key is not: only the key policy stops this access"
        )
    return tuple(s3.evidence + kms.evidence), None


def _glue_arns(table: Table) -> list[str]:
    prefix = table.arn.partition(":table/")[0]
    return [f"{prefix}:catalog", f"{prefix}:database/{table.database}", table.arn]


def _lf_usable(ev: _Evaluator, role: Role, table: Table, bucket: Bucket | None) -> list[str]:
    """Why an LF permission of `role` on `table` cannot be used (empty: it can)."""
    why = []
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
    vending = ev.g.role_by_arn(vending_arn) if vending_arn else None
    if vending_arn and vending is None:
        why.append(f"bucket {bucket.name} is registered with {vending_arn}, not a mesh role")
        return why
    if vending is not None:  # the location's own data-access role: both IAM and key policy count
        if not ev.iam_allows(vending, "s3:GetObject", f"{bucket.arn}/{PROBE_OBJECT}").allowed:
            why.append(f"{vending.name} (Lake Formation data access) cannot read {bucket.name}")
        if (
            key is not None
            and not ev.kms(vending, Caller(vending.arn), key, "kms:Decrypt", True).allowed
        ):
            why.append(f"{vending.name} (Lake Formation data access) cannot decrypt with {key}")
    elif key is not None:  # the service-linked role: its IAM side is AWS-managed
        partition, _, account = _account_region(key)
        lf_role = Caller(f"arn:{partition}:iam::{account}:{LF_DATA_ACCESS_ROLE}")
        if not ev.kms(None, lf_role, key, "kms:Decrypt", False, identity_unknown=True).allowed:
            why.append(f"key policy of {key} does not let Lake Formation decrypt")
    return why


def _lf_tables(graph: MeshGraph, perm: LfPermission) -> list[Table]:
    if perm.table is None:
        return graph.tables_of(perm.database)
    table = graph.tables.get((perm.database, perm.table))
    return [table] if table else []


def compute(graph: MeshGraph) -> EffectiveAccess:
    ev = _Evaluator(graph)
    problems: list[str] = list(graph.unsupported)
    table_of_bucket: dict[str, Table] = {}
    for table in graph.tables.values():
        if table.bucket:
            table_of_bucket[table.bucket] = table
    paths: dict[tuple[str, str], list[Path]] = {}
    tables_by_product: dict[str, Table | None] = {}

    for bucket in graph.buckets.values():
        if bucket.product is None:
            problems.append(f"bucket {bucket.name} has no mesh:domain/mesh:product tags")
            continue
        table = table_of_bucket.get(bucket.name)
        tables_by_product[bucket.product] = table
        all_columns = tuple(sorted(c.name for c in table.columns)) if table else ()
        callers: list[tuple[str, Role | None, Caller]] = [
            (role.principal, role, Caller(role.arn))
            for role in graph.roles.values()
            if role.service is None  # service roles act only for their service (see _lf_usable)
        ]
        callers.append((ANONYMOUS, None, Caller(ANONYMOUS)))
        for principal, role, caller in callers:
            for write in (False, True):
                evidence, latent = _object_path(ev, role, caller, bucket, write)
                if latent:
                    problems.append(f"{principal}: {latent}")
                if evidence is not None:
                    channel = "s3-write" if write else "s3-read"
                    paths.setdefault((principal, bucket.product), []).append(
                        Path(channel, evidence, all_columns)
                    )

    for perm in graph.lf_permissions:
        role = graph.role_by_arn(perm.principal_arn)
        if role is None:
            problems.append(
                f"Lake Formation permission {perm.logical} names {perm.principal_arn}, "
                "which is not a mesh role"
            )
            continue
        granted = set(perm.permissions)
        for table in _lf_tables(graph, perm):
            bucket = graph.buckets.get(table.bucket or "")
            product = bucket.product if bucket else None
            if product is None:
                problems.append(f"table {table.database}.{table.name} maps to no product")
                continue
            tables_by_product.setdefault(product, table)
            names = [c.name for c in table.columns]
            cols = names if perm.columns is None else [c for c in names if c in perm.columns]
            cols = [c for c in cols if c not in perm.excluded_columns]
            unknown = sorted(set(perm.columns or ()) - set(names))
            if unknown:
                problems.append(
                    f"{perm.logical} grants columns {unknown} that {table.name} does not have"
                )
            blocked = _lf_usable(ev, role, table, bucket)
            if blocked:
                problems.append(
                    f"{perm.logical}: Lake Formation grant to {role.principal} on {product} "
                    f"cannot be used: {'; '.join(blocked)}"
                )
                continue
            evidence = (f"lakeformation/{perm.logical}",)
            if granted & LF_READ:
                paths.setdefault((role.principal, product), []).append(
                    Path("lakeformation-read", evidence, tuple(sorted(cols)))
                )
            if granted & LF_WRITE:
                paths.setdefault((role.principal, product), []).append(
                    Path("lakeformation-write", evidence, tuple(sorted(cols)))
                )

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
        grants.append(
            Effective(
                principal=principal,
                product=product,
                access="write" if write else "read",
                columns=tuple(sorted(readable)),
                pii=bool(readable & pii_names),
                s3_direct=s3_read,
                via=via,
                paths=found,
            )
        )
    return EffectiveAccess(grants, ev.uncertain, problems)


# ------------------------------------------------------------------ comparison

_COMPARED = ("access", "columns", "pii", "s3_direct", "via")


def annotate(effective: EffectiveAccess, declared: AccessModel) -> list[Grant]:
    """Effective grants as `infra.access.Grant`s, with expiry/justification/approver copied
    from the declared grant they correspond to (active first, then expired)."""
    active = {(g.principal, g.product): g for g in declared.grants}
    expired = {(g.principal, g.product): g for g in declared.expired}
    out = []
    for e in effective.grants:
        match = active.get((e.principal, e.product)) or expired.get((e.principal, e.product))
        out.append(
            Grant(
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
            )
        )
    return out


def compare(effective: list[Grant], declared: AccessModel) -> list[Difference]:
    """Every difference between the effective and the declared access, sorted."""
    want = {(g.principal, g.product): g for g in declared.grants}
    expired = {(g.principal, g.product): g for g in declared.expired}
    have = {(g.principal, g.product): g for g in effective}
    out: list[Difference] = []
    for key in sorted(set(want) | set(have)):
        d, e = want.get(key), have.get(key)
        if d is not None and e is not None:
            dj, ej = d.as_json(), e.as_json()
            fields = tuple(f for f in _COMPARED if dj[f] != ej[f])
            if fields:
                detail = "; ".join(f"{f}: declared {dj[f]!r}, effective {ej[f]!r}" for f in fields)
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
