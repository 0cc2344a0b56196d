"""Declared renames in `mesh diff`: a product or a column that lists its old name in
`previous_names` is the same product or column, not a removal and an addition.

`infra.diff.access_diff` carries BASE's grants over to HEAD's names with these before comparing
them (a rename alone is neither new nor removed access), and lists the renames the change
makes (`renamed_products`, `renamed_columns`). Renames stay inside a domain.
"""

from __future__ import annotations

from infra.model.access import DeclaredGrant
from infra.model.mesh import Mesh
from infra.model.spec import Product


def products_by_id(mesh: Mesh) -> dict[str, Product]:
    return {f"{bp.domain}.{p.name}": p for bp, p in mesh.products()}


def product_renames(base: dict[str, Product], head: dict[str, Product]) -> dict[str, str]:
    """base product id -> head product id, for declared renames."""
    out = {}
    for pid, product in head.items():
        domain = pid.split(".", 1)[0]
        for old in product.previous_names:
            old_id = f"{domain}.{old}"
            if old_id in base and old_id not in head:
                out[old_id] = pid
    return out


def column_renames_of(product: Product) -> dict[str, str]:
    """old column name -> current name, for declared renames."""
    out = {}
    for col in [*product.columns, *product.partition_keys]:
        for old in col.previous_names:
            out[old] = col.name
    return out


def renamed_columns(
    base: dict[str, Product], head: dict[str, Product], renames: dict[str, str]
) -> dict[str, dict[str, str]]:
    """head product id -> {old: new} for the columns (and partition keys) this change renames:
    the old name was a column in BASE, the new one was not."""
    out: dict[str, dict[str, str]] = {}
    for old_pid, before in base.items():
        pid = renames.get(old_pid, old_pid)
        after = head.get(pid)
        if after is None:
            continue
        names = {c.name for c in [*before.columns, *before.partition_keys]}
        for col in [*after.columns, *after.partition_keys]:
            if col.name in names:
                continue
            for old in col.previous_names:
                if old in names:
                    out.setdefault(pid, {})[old] = col.name
                    break
    return out


def renamed_grant(g: DeclaredGrant, product_id: str, columns: dict[str, str]) -> DeclaredGrant:
    return DeclaredGrant(
        principal=g.principal,
        product=product_id,
        access=g.access,
        columns=tuple(sorted({columns.get(c, c) for c in g.columns})),
        pii=g.pii,
        expires=g.expires,
        s3_direct=g.s3_direct,
        via=g.via,
        justification=g.justification,
        approved_by=g.approved_by,
        whole_table=g.whole_table,
        row_filter=g.row_filter,
        engines=g.engines,
    )
