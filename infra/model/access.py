"""The access model: who may read or write which columns of which product, as declared.

This is the contract of ../shared/DESIGN.md ("Access model") turned into data. The components
provision it, the local engine checks the emulator against it, and the audit compares the access
computed from the generated resources with it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from infra.model import lftags
from infra.model.mesh import Mesh
from infra.model.spec import Blueprint, Consumer, Product
from infra.util.gcpause import gc_paused


def producer(domain: str) -> str:
    return f"{domain}:producer"


def consumer(domain: str) -> str:
    return f"{domain}:consumer"


def product_id(domain: str, product: str) -> str:
    return f"{domain}.{product}"


@dataclass(frozen=True, slots=True)
class DeclaredGrant:
    principal: str
    product: str
    access: Literal["read", "write"]
    columns: tuple[str, ...]  # sorted readable schema columns (partition keys not listed)
    pii: bool
    expires: dt.date | None
    s3_direct: bool
    via: tuple[str, ...]
    justification: str | None = None
    approved_by: str | None = None
    # every schema column and every row: a whole-table Lake Formation grant (not in the
    # matrix: it is `columns` == the product's columns and no `row_filter`)
    whole_table: bool = False
    row_filter: str | None = None  # the grant's `rows:` (None: every row)
    # what can run queries on it: the engines honouring its Lake Formation permission, and
    # direct S3 readers when it opts in (`engines_of`)
    engines: tuple[str, ...] = ()
    # a grant by LF-tag expression (`infra.model.lftags`): the expression, as (key, values)
    # pairs sorted by key; None for a named grant
    via_tags: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    # where it is declared: `_mesh.yaml` or the domain whose blueprint holds it, and its index
    # in that file's tag_grants (None for a named grant)
    tag_grant: tuple[str, int] | None = None

    @property
    def via_tags_json(self) -> dict[str, list[str]] | None:
        """`via_tags` as `mesh diff --format json` and the access matrix show it."""
        return None if self.via_tags is None else {k: list(v) for k, v in self.via_tags}

    def as_json(self) -> dict:
        out = self._json()
        if self.via_tags is not None:  # only on tag grants: named grants' JSON is unchanged
            out["via_tags"] = self.via_tags_json
        return out

    def _json(self) -> dict:
        return {
            "principal": self.principal,
            "product": self.product,
            "access": self.access,
            "columns": list(self.columns),
            "pii": self.pii,
            "expires": self.expires.isoformat() if self.expires else None,
            "s3_direct": self.s3_direct,
            "via": list(self.via),
            "row_filter": self.row_filter,
            "engines": list(self.engines),
        }


@dataclass(frozen=True)
class AccessModel:
    grants: tuple[DeclaredGrant, ...]  # active: producers' write + unexpired consumer reads
    expired: tuple[
        DeclaredGrant, ...
    ]  # consumer grants past their expiry (or revoked by decommission)

    @gc_paused
    def matrix_json(self, generated_at: str) -> dict:
        return {
            "generated_at": generated_at,
            "grants": [g.as_json() for g in self.grants],
            "expired": [g.as_json() for g in self.expired],
        }


def readable_columns(product: Product, grant: Consumer) -> tuple[str, ...]:
    if grant.columns is not None:
        return tuple(sorted(set(grant.columns)))
    return tuple(sorted(c.name for c in product.columns if grant.include_pii or not c.pii))


def readable_pii(product: Product, grant: Consumer) -> frozenset[str]:
    """The PII columns among `readable_columns(product, grant)`, without sorting anything."""
    if grant.columns is not None:
        return product.pii_columns.intersection(grant.columns)
    return product.pii_columns if grant.include_pii else frozenset()


def is_expired(grant: Consumer, today: dt.date) -> bool:
    """`expires` is the last day of access."""
    return grant.expires is not None and grant.expires < today


def is_decommissioned(product: Product, today: dt.date) -> bool:
    return product.decommission is not None and product.decommission.date <= today


# Engines that honour a Lake Formation grant given as a whole-table permission or a data cells
# filter, which is how the program gives every grant (`infra.provision.query`); an
# opted-in direct S3 read adds "s3" (any engine reading the files with the consumer role).
LF_ENGINES = ("athena", "glue-etl", "redshift-spectrum")
S3_ENGINE = "s3"
# What each engine needs to run a consumer's queries (`mesh policies`, README "Access model").
ENGINES: dict[str, str] = {
    "athena": "the consumer role itself, in its domain's workgroup <prefix>-<domain> "
    "(configuration enforced, results SSE-KMS in <prefix>-<domain>-athena/results/, "
    "expiring after 7 days); generated: the workgroup, the results bucket, the role's "
    "mesh-query-path policy, DESCRIBE on `default`; Lake Formation enforces columns and rows",
    "redshift-spectrum": "an external schema over the product's database (through its "
    "resource link across accounts) in a cluster or workgroup whose IAM role holds the "
    "grant: the generated consumer role trusts only the domain's principals, so the platform "
    "grants the same Lake Formation permission to the cluster's role (not generated); Lake "
    "Formation enforces columns and rows (data cells filters)",
    "glue-etl": "a Glue job whose role holds the grant (the job role must be granted like "
    "the consumer role: not generated); column limits are data cells filters, the only form "
    "Glue ETL honours (a job fails on a simple column list)",
    "s3": "direct S3 read of the files with the consumer role: only for a grant of every "
    "column and row with s3_direct: true (bucket and key policy name the role); nothing "
    "enforces columns or rows, which is why only such grants may opt in",
}


def engines_of(via: tuple[str, ...]) -> tuple[str, ...]:
    """The engines a read grant serves through `via` (lakeformation, s3)."""
    return (LF_ENGINES if "lakeformation" in via else ()) + ((S3_ENGINE,) if "s3" in via else ())


def covers_every_column(product: Product, grants: list[Consumer]) -> list[bool]:
    """For each grant of `product`: does it cover every schema column and every row (then it is
    a whole-table Lake Formation grant, and may opt into direct S3 read, DESIGN)? Computed
    once per product."""
    pii = product.pii_columns
    every: set[str] | None = None
    out = []
    for grant in grants:
        if grant.rows is not None:  # a row filter: never the whole table
            out.append(False)
        elif grant.columns is None:
            out.append(grant.include_pii or not pii)
        else:
            if every is None:
                every = {c.name for c in product.columns}
            out.append(set(grant.columns) == every)
    return out


def consumer_grant(bp: Blueprint, product: Product, grant: Consumer) -> DeclaredGrant:
    [one] = consumer_grants(bp, product, [grant])
    return one


def consumer_grants(bp: Blueprint, product: Product, grants: list[Consumer]) -> list[DeclaredGrant]:
    """The declared access of each of `grants` (consumers of `product`); what every grant of a
    product shares (its id, its sorted columns with or without PII) is computed once."""
    pid = product_id(bp.domain, product.name)
    pii = product.pii_columns
    every: tuple[str, ...] | None = None
    non_pii: tuple[str, ...] | None = None
    out = []
    for grant, full in zip(grants, covers_every_column(product, grants)):
        if grant.columns is not None:
            columns = tuple(sorted(set(grant.columns)))
        elif grant.include_pii:
            if every is None:
                every = readable_columns(product, grant)
            columns = every
        else:
            if non_pii is None:
                non_pii = readable_columns(product, grant)
            columns = non_pii
        # direct S3 read only when opted in *and* every column and row is granted: a grant
        # limited to some columns or rows never gets a path to the objects (refused as E037)
        via = ("lakeformation", "s3") if grant.s3_direct and full else ("lakeformation",)
        out.append(
            DeclaredGrant(
                principal=consumer(grant.domain),
                product=pid,
                access="read",
                columns=columns,
                pii=not pii.isdisjoint(columns),
                expires=grant.expires,
                s3_direct=grant.s3_direct and full,
                via=via,
                justification=grant.justification,
                approved_by=grant.approved_by,
                whole_table=full,
                row_filter=grant.rows,
                engines=engines_of(via),
            )
        )
    return out


def producer_grant(bp: Blueprint, product: Product) -> DeclaredGrant:
    return DeclaredGrant(
        principal=producer(bp.domain),
        product=product_id(bp.domain, product.name),
        access="write",
        columns=tuple(sorted(c.name for c in product.columns)),
        pii=bool(product.pii_columns),
        expires=None,
        s3_direct=True,
        via=("lakeformation", "s3"),
        whole_table=True,
        engines=engines_of(("lakeformation", "s3")),
    )


def active_consumers(
    product: Product, today: dt.date, revoked: frozenset[str] = frozenset()
) -> list[Consumer]:
    """The consumer grants of a product that give access today: not expired, the product not
    decommissioned, and not `revoked` (consumer domains whose grant an exception allowed until
    it expired: `Mesh.revoked_of`)."""
    if is_decommissioned(product, today):
        return []
    return [g for g in product.consumers if not is_expired(g, today) and g.domain not in revoked]


def active_grants(mesh: Mesh, bp: Blueprint, product: Product, today: dt.date) -> list[Consumer]:
    """`active_consumers` of a product of the mesh, its governance revocations applied; none
    from a retired domain (its domain-level decommission date has come), none to one."""
    if mesh.is_retired(bp.domain, today):
        return []
    active = active_consumers(product, today, mesh.revoked_of(bp.domain, product.name))
    return [g for g in active if not mesh.is_retired(g.domain, today)]


def tag_grant(match: lftags.TagMatch) -> DeclaredGrant:
    """The declared access of one product a tag grant reaches (`lftags.expand`)."""
    ref, grant, product = match.ref, match.ref.grant, match.spec
    every = len(match.columns) == len(product.columns)
    return DeclaredGrant(
        principal=consumer(grant.domain),
        product=product_id(match.domain, match.product),
        access="read",
        columns=match.columns,
        pii=not product.pii_columns.isdisjoint(match.columns),
        expires=grant.expires,
        s3_direct=False,
        via=("lakeformation",),
        justification=grant.justification,
        approved_by=grant.approved_by,
        whole_table=every,
        engines=engines_of(("lakeformation",)),
        via_tags=tuple((k, tuple(v)) for k, v in sorted(ref.via_tags.items())),
        tag_grant=(ref.scope, ref.index),
    )


def tag_access(mesh: Mesh, today: dt.date) -> tuple[list[DeclaredGrant], list[DeclaredGrant]]:
    """(active, expired) declared grants of every tag grant of the mesh, one per product each
    reaches. A grant to a retired domain gives nothing (it is listed as expired, as a named
    grant to it is)."""
    active: list[DeclaredGrant] = []
    expired: list[DeclaredGrant] = []
    for ref in lftags.tag_grant_refs(mesh):
        if ref.grant.domain not in mesh.all_domains:
            continue  # E10x: reported by validation, grants nothing
        dead = lftags.is_expired(ref.grant, today) or mesh.is_retired(ref.grant.domain, today)
        for match in lftags.expand(mesh, ref, today):
            (expired if dead else active).append(tag_grant(match))
    return active, expired


@gc_paused
def declared_access(mesh: Mesh, today: dt.date) -> AccessModel:
    grants: list[DeclaredGrant] = []
    expired: list[DeclaredGrant] = []
    for bp, product in mesh.products():
        if not mesh.is_retired(bp.domain, today):  # a retired domain has no producer role
            grants.append(producer_grant(bp, product))
        live = {id(g) for g in active_grants(mesh, bp, product, today)}  # by identity: O(1)
        for g, declared in zip(product.consumers, consumer_grants(bp, product, product.consumers)):
            (grants if id(g) in live else expired).append(declared)
    tag_active, tag_expired = tag_access(mesh, today)
    grants += tag_active
    expired += tag_expired
    key = lambda g: (g.principal, g.product)
    return AccessModel(tuple(sorted(grants, key=key)), tuple(sorted(expired, key=key)))
