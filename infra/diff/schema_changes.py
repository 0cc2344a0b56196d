"""What a change does to the schema of the products existing consumers read, in `mesh diff`:
the columns and partition keys it removes, renames or retypes that a consumer reads
(`breaking_schema`, `Breaking`), and the partition keys it adds, which every grant of the
product then reads (the reason `more_partition_keys` of `infra.diff.access_diff`).

Both compare each product once, after declared renames (`infra.diff.renames`); the grants they
weigh are the named grants' and the tag grants' (`infra.diff.tag_diff`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from infra.model.access import DeclaredGrant
from infra.model.spec import Product


@dataclass
class Breaking:
    product: str
    column: str
    change: str  # "removed" | "retyped" | "renamed"
    before_type: str
    after_type: str | None
    after_name: str | None
    consumers: list[str]
    partition_key: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "column": self.column,
            "change": self.change,
            "partition_key": self.partition_key,
            "before_type": self.before_type,
            "after_type": self.after_type,
            "after_name": self.after_name,
            "consumers": self.consumers,
        }

    @property
    def why(self) -> str:
        what = "partition key" if self.partition_key else "column"
        if self.change == "retyped":
            tail = f"retyped {self.before_type} -> {self.after_type}"
        elif self.change == "renamed":
            tail = f"renamed to {self.after_name}"
        else:
            tail = "removed"
        return f"{what} {self.column} of {self.product} {tail}"


def new_partition_keys(
    base_products: dict[str, Product],
    head_products: dict[str, Product],
    renames: dict[str, str],
    renames_of,
) -> dict[str, list[str]]:
    """head product id -> partition keys it did not have in BASE (after declared renames):
    every grant of the product reads them, their values being in the object keys."""
    out: dict[str, list[str]] = {}
    for old_pid, old in base_products.items():
        pid = renames.get(old_pid, old_pid)
        new = head_products.get(pid)
        if new is None:
            continue
        cols = renames_of(pid)
        had = {cols.get(k.name, k.name) for k in old.partition_keys}
        added = sorted(k.name for k in new.partition_keys if k.name not in had)
        if added:
            out[pid] = added
    return out


_Change = tuple[str, str, str | None, str | None]  # change, before_type, after_type, after_name


def _schema_changes(old: Product, new: Product, col_renames: dict[str, str]) -> dict[str, _Change]:
    """Every column (or partition key) name of OLD that is removed, renamed or retyped in NEW."""
    new_types = {c.name: c.type for c in [*new.columns, *new.partition_keys]}
    changes: dict[str, _Change] = {}
    for c in [*old.columns, *old.partition_keys]:
        change = _change(c.name, c.type, new_types, col_renames)
        if change is not None:
            changes[c.name] = change
    return changes


def _change(
    column: str, old_type: str, new_types: dict[str, str], col_renames: dict[str, str]
) -> _Change | None:
    now = col_renames.get(column, column)
    if now not in new_types:
        return "removed", old_type, None, None
    if now != column:
        return "renamed", old_type, new_types[now], now
    if new_types[now] != old_type:
        return "retyped", old_type, new_types[now], None
    return None


def breaking_changes(
    base_products: dict[str, Product],
    head_products: dict[str, Product],
    renames: dict[str, str],
    base_grants: tuple[DeclaredGrant, ...],
    after: dict[tuple[str, str], DeclaredGrant],
    renames_of,
) -> list[Breaking]:
    """Columns (and partition keys) an existing consumer reads that were removed, renamed or
    retyped. "Existing" = a read grant in BASE that still gives access in HEAD.

    The schema changes are computed once per product; a grant of a product whose schema did not
    change costs a dictionary look-up."""
    by_key: dict[tuple[str, str], DeclaredGrant] = {}
    for g in base_grants:  # a named and a tag grant of one product: what both read
        had = by_key.get((g.principal, g.product))
        by_key[(g.principal, g.product)] = (
            g
            if had is None
            else dataclasses.replace(had, columns=tuple(sorted({*had.columns, *g.columns})))
        )
    per_product: dict[str, dict[str, _Change]] = {}
    found: dict[tuple[str, str, bool], Breaking] = {}
    for (principal, old_pid), grant in sorted(by_key.items()):
        if grant.access != "read":
            continue
        pid = renames.get(old_pid, old_pid)
        if (principal, pid) not in after or pid not in head_products:
            continue
        old = base_products[old_pid]
        changes = per_product.get(old_pid)
        if changes is None:
            changes = _schema_changes(old, head_products[pid], renames_of(pid))
            per_product[old_pid] = changes
        if not changes:
            continue
        read = [(c, False) for c in grant.columns] + [(k.name, True) for k in old.partition_keys]
        for column, is_key in read:
            change = changes.get(column)
            if change is None:
                continue
            kind, before_type, after_type, after_name = change
            item = found.setdefault(
                (pid, column, is_key),
                Breaking(pid, column, kind, before_type, after_type, after_name, [], is_key),
            )
            if principal not in item.consumers:
                item.consumers.append(principal)
    return sorted(found.values(), key=lambda b: (b.product, b.partition_key, b.column))
