"""`mesh diff` for grants by tag expression (`infra.model.lftags`): every expression expanded
against BASE and HEAD, the difference per principal and product.

A principal's tag-derived access to a product is the union of what its tag grants reach there
(a named grant of the same product is compared on its own, by `infra.diff.access_diff`). It is
new access when HEAD reaches more than BASE, and the entry says what caused it:

- `tag_new_product`: a new product matches;
- `tag_product_retagged`: the product's LF-tags changed (`sensitivity: high -> low`);
- `tag_column_retagged`: a column's LF-tags changed, and the expression now reaches it;
- `tag_grant_added` / `tag_expression_widened`: the grant is new, or its expression (values
  added, a key dropped) reaches more;
- and what a named grant's widening says (more columns, PII now included, longer expiry, ...).

Each entry's JSON carries `via_tags` (the expression of the grant that reaches most, `{key:
[values]}`); its `why` names every expression that reaches the product and where it is declared
(`sales.yaml:12 tag_grants[0]`), so the PR comment says which expression caused it. The
approvals are a named grant's (`infra.diff.approvals`): the producer's owners, privacy for PII,
security for restricted data.

Cost: without a change to the ontology or the mesh-wide grants (`_mesh.yaml`), only the
products of the domains whose blueprint changed are expanded (a domain's grants reach its own
products only), so the check stays linear in the size of the change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from infra.diff.entries import Entry, _compare, _is_widening, _phrase
from infra.model import lftags
from infra.model.access import AccessModel, DeclaredGrant, tag_grant
from infra.model.lftags import expression_text
from infra.model.mesh import Mesh
from infra.model.spec import Product


@dataclass
class TagSide:
    """One side's tag-derived access: (principal, product) -> the grants reaching it."""

    active: dict[tuple[str, str], list[DeclaredGrant]] = field(default_factory=dict)
    expired: dict[tuple[str, str], list[DeclaredGrant]] = field(default_factory=dict)
    refs: dict[tuple[str, int], lftags.TagGrantRef] = field(default_factory=dict)


def tag_side(mesh: Mesh, today: dt.date, domains: set[str] | None) -> TagSide:
    """The tag-derived access of `mesh` on the products of `domains` (None: every domain)."""
    side = TagSide()
    if not lftags.enabled(mesh):
        return side
    producers = [bp for bp in mesh.blueprints if domains is None or bp.domain in domains]
    for ref in lftags.tag_grant_refs(mesh):
        side.refs[(ref.scope, ref.index)] = ref
        if ref.grant.domain not in mesh.all_domains:
            continue
        dead = lftags.is_expired(ref.grant, today) or mesh.is_retired(ref.grant.domain, today)
        target = side.expired if dead else side.active
        for bp in producers:
            for match in lftags.expand(mesh, ref, today, only=bp):
                g = tag_grant(match)
                target.setdefault((g.principal, g.product), []).append(g)
    return side


def merged(grants: list[DeclaredGrant]) -> DeclaredGrant:
    """What several tag grants of one principal on one product give together: the union of
    their columns, the latest expiry (none if any has none); the grant reaching most columns
    names the expression (`via_tags`)."""
    first = max(grants, key=lambda g: (len(g.columns), g.tag_grant or ("", 0)))
    if len(grants) == 1:
        return first
    columns = tuple(sorted({c for g in grants for c in g.columns}))
    expiries = [g.expires for g in grants]
    return replace(
        first,
        columns=columns,
        pii=any(g.pii for g in grants),
        expires=None if None in expiries else max(e for e in expiries if e is not None),
        whole_table=any(g.whole_table for g in grants),
    )


def where(mesh: Mesh, ref: lftags.TagGrantRef) -> str:
    """`blueprints/sales.yaml:12 tag_grants[0]`: where a tag grant is declared."""
    if ref.scope == lftags.MESH_SCOPE:
        src = mesh.platform.source if mesh.platform is not None else None
    else:
        src = mesh.source(ref.scope)
    if src is None:
        return ref.label
    line = src.line_of(ref.loc)
    return f"{src.path}:{line} tag_grants[{ref.index}]" if line else f"{src.path} {ref.label[-13:]}"


def via_text(mesh: Mesh, side: TagSide, grants: list[DeclaredGrant]) -> str:
    """`via tags {classification: [internal]} (blueprints/logistics.yaml:6 tag_grants[0])`,
    for each grant reaching the product."""
    parts = []
    for g in grants:
        ref = side.refs.get(g.tag_grant) if g.tag_grant else None
        if ref is None:
            continue
        text = f"via tags {expression_text(ref.via_tags)} ({where(mesh, ref)})"
        if text not in parts:
            parts.append(text)
    return "; ".join(parts)


def causes(
    base: Mesh,
    head: Mesh,
    base_side: TagSide,
    head_side: TagSide,
    grants: list[DeclaredGrant],
    before: DeclaredGrant | None,
    products: tuple[dict[str, Product], dict[str, Product]],
) -> list[tuple[str, str | None]]:
    """(reason code, detail) of what makes the tag grants `grants` (HEAD) reach more than
    `before` (BASE's, if any)."""
    base_products, head_products = products
    pid = grants[0].product
    out: list[tuple[str, str | None]] = []
    if pid not in base_products:
        return [("tag_new_product", None)]
    old, new = base_products[pid], head_products[pid]
    domain = pid.split(".", 1)[0]
    old_tags, new_tags = lftags.product_tags(domain, old), lftags.product_tags(domain, new)
    changed = sorted(k for k in set(old_tags) | set(new_tags) if old_tags.get(k) != new_tags.get(k))
    for g in grants:
        ref = head_side.refs.get(g.tag_grant) if g.tag_grant else None
        if ref is None:
            continue
        same = [
            r
            for r in base_side.refs.values()
            if r.scope == ref.scope and r.grant.domain == ref.grant.domain
        ]
        if not any(r.expression == ref.expression for r in same):
            code = "tag_expression_widened" if same else "tag_grant_added"
            detail = (
                f"{expression_text(same[0].via_tags)} -> {expression_text(ref.via_tags)}"
                if same
                else expression_text(ref.via_tags)
            )
            if (code, detail) not in out:
                out.append((code, detail))
    if changed:
        out.append(
            (
                "tag_product_retagged",
                ", ".join(
                    f"{k}: {old_tags.get(k, '-')} -> {new_tags.get(k, '-')}" for k in changed
                ),
            )
        )
    added = set(grants[0].columns if len(grants) == 1 else merged(grants).columns) - set(
        before.columns if before is not None else ()
    )
    old_cols = {c.name: c for c in old.columns}
    retagged = []
    for column in new.columns:
        was = old_cols.get(column.name)
        if column.name in added and was is not None and was.lf_tags != column.lf_tags:
            before_tags = ", ".join(f"{k}: {v}" for k, v in sorted(was.lf_tags.items())) or "-"
            after_tags = ", ".join(f"{k}: {v}" for k, v in sorted(column.lf_tags.items())) or "-"
            retagged.append(f"{column.name} {before_tags} -> {after_tags}")
    if retagged:
        out.append(("tag_column_retagged", "; ".join(retagged)))
    return out


@dataclass
class TagDiff:
    """The tag grants' entries of a diff, and what they read on each side (merged per
    principal and product): the breaking schema changes of their grantees are found with the
    named grants' (`infra.diff.schema_changes.breaking_changes`)."""

    new: list[Entry]
    removed: list[Entry]
    changed: list[Entry]
    base_reads: list[DeclaredGrant]
    head_reads: dict[tuple[str, str], DeclaredGrant]


def tag_entries(base: Mesh, head: Mesh, today: dt.date, domains: set[str] | None) -> TagDiff:
    """New access, removed access and changes of the tag grants from `base` to `head`, on the
    products of `domains` (None: every product: the ontology or a mesh-wide grant changed)."""
    base_side, head_side = tag_side(base, today, domains), tag_side(head, today, domains)
    products = (
        {f"{bp.domain}.{p.name}": p for bp, p in base.products()},
        {f"{bp.domain}.{p.name}": p for bp, p in head.products()},
    )
    new: list[Entry] = []
    removed: list[Entry] = []
    changed: list[Entry] = []
    keys = sorted(set(base_side.active) | set(head_side.active), key=lambda k: (k[1], k[0]))
    for key in keys:
        b_all, a_all = base_side.active.get(key), head_side.active.get(key)
        b = merged(b_all) if b_all else None
        a = merged(a_all) if a_all else None
        if a is not None and a_all is not None:
            via = via_text(head, head_side, a_all)
            if b is not None:
                pii = products[1][key[1]].pii_columns
                reasons, details = _compare(b, a, pii)
                tagged = [
                    (c, d)
                    for c, d in causes(base, head, base_side, head_side, a_all, b, products)
                    if c != "tag_new_product"
                ]
                if not _is_widening(reasons):
                    if reasons:
                        changed.append(Entry(a, reasons, [*details, via], before=b))
                    continue
            else:
                reasons, details = [], []
                old = base_side.expired.get(key)
                if old:
                    reasons.append("renewed")
                    details.append(_phrase("renewed"))
                tagged = causes(base, head, base_side, head_side, a_all, None, products)
                if a.pii:
                    reasons.append("pii_now_included")
                    pii = products[1][key[1]].pii_columns
                    details.append(
                        _phrase("pii_now_included", ", ".join(c for c in a.columns if c in pii))
                    )
            for code, detail in tagged:
                reasons.insert(0, code)
                details.insert(0, _phrase(code, detail))
            new.append(Entry(a, reasons, [*details, via], before=b))
        elif b is not None and b_all is not None:
            pid = key[1]
            if pid not in products[1]:
                code = "product_removed"
            elif key in head_side.expired:
                code = "grant_expired"
            else:
                code = "tag_no_longer_matches"
            removed.append(Entry(b, [code], [_phrase(code), via_text(base, base_side, b_all)]))
    base_reads = [merged(gs) for gs in base_side.active.values()]
    head_reads = {k: merged(gs) for k, gs in head_side.active.items()}
    return TagDiff(new, removed, changed, base_reads, head_reads)


@dataclass(frozen=True)
class Retag:
    """An LF-tag of a key an approver group assigns (`assigned_by: privacy`), changed on a
    product or a column: that group approves it, whatever access it adds or removes."""

    product: str
    column: str | None
    key: str
    before: str | None
    after: str | None
    assigned_by: str

    def as_json(self) -> dict:
        return {
            "product": self.product,
            "column": self.column,
            "key": self.key,
            "before": self.before,
            "after": self.after,
            "assigned_by": self.assigned_by,
        }

    @property
    def why(self) -> str:
        where = self.product + (f".{self.column}" if self.column else "")
        return (
            f"LF-tag {self.key} of {where}: {self.before or '-'} -> {self.after or '-'} "
            f"(assigned by {self.assigned_by})"
        )


def retags(base: Mesh, head: Mesh, domains: set[str] | None) -> list[Retag]:
    """Every change of a group-assigned LF-tag from BASE to HEAD (HEAD's ontology says which
    keys a group assigns; a product new in HEAD is compared with no tags)."""
    spec = head.platform.spec.lf_tags if head.platform is not None else None
    groups = {k: v.assigned_by for k, v in (spec or {}).items() if v.assigned_by != lftags.OWNERS}
    if not groups:
        return []
    old = {f"{bp.domain}.{p.name}": p for bp, p in base.products()}
    out = []
    for bp, product in head.products():
        if domains is not None and bp.domain not in domains:
            continue
        pid = f"{bp.domain}.{product.name}"
        was = old.get(pid)
        pairs = [(None, was.lf_tags if was else {}, product.lf_tags)]
        before_cols = {c.name: c.lf_tags for c in (was.columns if was else [])}
        pairs += [(c.name, before_cols.get(c.name, {}), c.lf_tags) for c in product.columns]
        for column, before, after in pairs:
            for key in sorted((set(before) | set(after)) & set(groups)):
                if before.get(key) != after.get(key):
                    out.append(
                        Retag(pid, column, key, before.get(key), after.get(key), groups[key])
                    )
    return out


def named_only(model: AccessModel) -> AccessModel:
    """The named grants of `model`: the tag grants are compared by `infra.diff.tag_diff`."""
    if not any(g.via_tags is not None for g in (*model.grants, *model.expired)):
        return model
    return AccessModel(
        tuple(g for g in model.grants if g.via_tags is None),
        tuple(g for g in model.expired if g.via_tags is None),
    )
