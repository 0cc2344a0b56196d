"""Tag-based access (Lake Formation LF-TBAC): the ontology, grants by tag expression, and what
each grant reaches.

The ontology is `_mesh.yaml`'s `lf_tags:` (keys with their allowed values, who may assign each);
products and columns carry `lf_tags:` (`infra.model.spec`); a grant by expression is a
`tag_grants:` entry of `_mesh.yaml` (mesh-wide) or of a domain's blueprint (over that domain's
own products). Everything here is pure: the program provisions what it says
(`infra.provision.lftags`), the PR check and the audit compare it.

Semantics, as Lake Formation evaluates a tag policy
(https://docs.aws.amazon.com/lake-formation/latest/dg/TBAC-assigning-tags.html,
https://docs.aws.amazon.com/lake-formation/latest/dg/tag-based-access-control.html):

- a resource's LF-tags are inherited database -> table -> column; a column's own value of a key
  overrides the inherited one. The mesh tags tables (never databases: a decommissioned product's
  table loses its tags, so no expression matches it any more) and columns where they override;
- an expression is AND across keys, OR within one key's values: it matches a resource that has
  every key of the expression with one of its values;
- a TABLE tag policy grants the columns whose tags match: a matching table's columns whose own
  override does not match are left out, and a column whose override matches is granted even
  when its table does not;
- every product carries the derived keys (`lftag_names.DERIVED_KEYS`): `domain`,
  `classification`, and `pii` (false on the table, true on PII columns). A grant without
  approved PII (`include_pii` and `approved_by`) is provisioned ANDed with `pii: [false]`, so
  PII columns stay out exactly as with a named grant; a domain's grant is ANDed with
  `domain: [<that domain>]` (it grants over its own products only).

Sensitivity order: a key's `values` are listed from the least to the most sensitive (the first is
the least). The governance rule GOV-015 keeps a PII column from being tagged below its product.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from infra.model.lftag_names import (  # noqa: F401 (the models, re-exported)
    CLASSIFICATION_KEY,
    CLASSIFICATION_VALUES,
    DOMAIN_KEY,
    MAX_KEYS_PER_ACCOUNT,
    MAX_TAGS_PER_RESOURCE,
    MAX_VALUES_PER_KEY,
    OWNERS,
    PII_KEY,
    PII_VALUES,
    LfTagKey,
    TagGrant,
)
from infra.model.mesh import Mesh
from infra.model.spec import Blueprint, Column, Product

MESH_SCOPE = "_mesh"  # TagGrantRef.scope of a mesh-wide grant (`_mesh.yaml`)

# An expression as the program provisions it: (key, values) pairs, sorted by key, values sorted
Expression = tuple[tuple[str, tuple[str, ...]], ...]


def _expression(terms: dict[str, list[str] | tuple[str, ...]]) -> Expression:
    return tuple((k, tuple(sorted(set(v)))) for k, v in sorted(terms.items()))


def expression_text(via: dict[str, list[str]]) -> str:
    """`{classification: [internal], sensitivity: [low]}`: an expression in messages (the
    `via_tags` of a grant, `TagGrantRef.via_tags`)."""
    return "{" + ", ".join(f"{k}: [{', '.join(v)}]" for k, v in via.items()) + "}"


def matches(expression: Expression, tags: dict[str, str]) -> bool:
    """Lake Formation's match: every key of the expression is on the resource with one of the
    expression's values (AND across keys, OR within a key)."""
    return all(tags.get(key) in values for key, values in expression)


@dataclass(frozen=True)
class TagGrantRef:
    """One tag grant of the mesh, where it is declared, and the expression the program
    provisions for it.

    `scope`: MESH_SCOPE for `_mesh.yaml`'s, else the declaring domain; `index`: its position in
    that file's `tag_grants`; `expression`: the declared one, ANDed with `domain: [scope]` for a
    domain's grant and with `pii: [false]` unless it shares PII with approval."""

    scope: str
    index: int
    grant: TagGrant
    expression: Expression

    @property
    def loc(self) -> tuple[str | int, ...]:
        """Where in its file: `tag_grants[index]` (for `SourceFile.line_of`)."""
        return ("tag_grants", self.index)

    @property
    def via_tags(self) -> dict[str, list[str]]:
        """The expression as it grants, without the PII term: the declared keys and, for a
        domain's grant, `domain: [<domain>]`."""
        return {k: list(v) for k, v in self.expression if k != PII_KEY}

    @property
    def label(self) -> str:
        """`_mesh.yaml tag_grants[0]` or `sales.yaml tag_grants[1]`: for messages."""
        file = "_mesh.yaml" if self.scope == MESH_SCOPE else f"{self.scope}.yaml"
        return f"{file} tag_grants[{self.index}]"


def grant_ref(scope: str, index: int, grant: TagGrant) -> TagGrantRef:
    terms: dict[str, list[str] | tuple[str, ...]] = dict(grant.lf_tags)
    if scope != MESH_SCOPE:
        terms[DOMAIN_KEY] = [scope]  # a domain grants over its own products only
    if not (grant.include_pii and grant.approved_by is not None):
        terms[PII_KEY] = [PII_VALUES[0]]
    return TagGrantRef(scope, index, grant, _expression(terms))


def enabled(mesh: Mesh) -> bool:
    """Tag-based access is on: `_mesh.yaml` declares the ontology (`lf_tags:`, maybe `{}`).
    Off, the program creates no LF-tag and the declared access has no tag grant (a tag grant
    or an LF-tag in a blueprint is then an error, `infra.blueprints.lftags`)."""
    return mesh.platform is not None and mesh.platform.spec.lf_tags is not None


def tag_grant_refs(mesh: Mesh) -> list[TagGrantRef]:
    """Every tag grant of the mesh: `_mesh.yaml`'s first, then each domain's, in file order
    (none when tag-based access is off)."""
    if not enabled(mesh):
        return []
    out = []
    if mesh.platform is not None:
        out += [grant_ref(MESH_SCOPE, i, g) for i, g in enumerate(mesh.platform.spec.tag_grants)]
    for bp in mesh.blueprints:
        out += [grant_ref(bp.domain, i, g) for i, g in enumerate(bp.tag_grants)]
    return out


# ------------------------------------------------------------------ effective tags


def product_tags(domain: str, product: Product) -> dict[str, str]:
    """The product's table's LF-tags: the derived keys, then the product's own."""
    return {
        DOMAIN_KEY: domain,
        CLASSIFICATION_KEY: product.classification.value,
        PII_KEY: PII_VALUES[0],
        **product.lf_tags,
    }


def column_tags(table: dict[str, str], column: Column) -> dict[str, str]:
    """A column's effective LF-tags: its table's, overridden by its own (`pii` is derived)."""
    if not column.lf_tags and not column.pii:
        return table
    return {**table, **column.lf_tags, PII_KEY: PII_VALUES[1] if column.pii else PII_VALUES[0]}


def overrides(table: dict[str, str], column: Column) -> dict[str, str]:
    """The LF-tags the program assigns on the column itself: those differing from the table's."""
    tags = column_tags(table, column)
    return {k: v for k, v in tags.items() if table.get(k) != v}


def matched_columns(expression: Expression, domain: str, product: Product) -> tuple[str, ...]:
    """The product's schema columns (sorted) a tag policy with `expression` grants."""
    table = product_tags(domain, product)
    return tuple(
        sorted(c.name for c in product.columns if matches(expression, column_tags(table, c)))
    )


# ------------------------------------------------------------------ the ontology


@dataclass(frozen=True)
class OntologyKey:
    """One key as the program creates it in an account: its values, least sensitive first."""

    key: str
    values: tuple[str, ...]


def ontology(mesh: Mesh) -> dict[str, OntologyKey]:
    """Every LF-tag key of the mesh: the derived ones (`domain` with every domain of the mesh,
    `classification` with the four classifications, `pii`) and `_mesh.yaml`'s."""
    out = {
        DOMAIN_KEY: OntologyKey(DOMAIN_KEY, tuple(sorted(mesh.all_domains))),
        CLASSIFICATION_KEY: OntologyKey(CLASSIFICATION_KEY, CLASSIFICATION_VALUES),
        PII_KEY: OntologyKey(PII_KEY, PII_VALUES),
    }
    if mesh.platform is not None:
        for key, spec in (mesh.platform.spec.lf_tags or {}).items():
            out.setdefault(key, OntologyKey(key, tuple(spec.values)))
    return out


# ------------------------------------------------------------------ expansion


@dataclass(frozen=True)
class TagMatch:
    """One product a tag grant reaches, and the schema columns it reads (sorted)."""

    ref: TagGrantRef
    domain: str
    product: str
    columns: tuple[str, ...]
    spec: Product = field(compare=False, repr=False)


def expand(
    mesh: Mesh, ref: TagGrantRef, today: dt.date, only: Blueprint | None = None
) -> Iterator[TagMatch]:
    """The products (and columns) `ref` reaches in `mesh` today, as Lake Formation would grant
    them: every live product with at least one matching column. A decommissioned product or a
    retired domain's carries no LF-tags (the program removes them), so nothing matches it.
    Expiry is not applied here (`tag_access` sorts expired grants apart). `only`: the
    products of that domain only."""
    for bp in _producers(mesh, ref) if only is None else [only]:
        if ref.scope not in (MESH_SCOPE, bp.domain):
            continue
        wanted = dict(ref.expression).get(DOMAIN_KEY)
        if (wanted is not None and bp.domain not in wanted) or mesh.is_retired(bp.domain, today):
            continue
        for product in bp.products:
            if product.decommission is not None and product.decommission.date <= today:
                continue  # decommissioned (`access.is_decommissioned`)
            columns = matched_columns(ref.expression, bp.domain, product)
            if columns:
                yield TagMatch(ref, bp.domain, product.name, columns, product)


def _producers(mesh: Mesh, ref: TagGrantRef) -> list[Blueprint]:
    if ref.scope != MESH_SCOPE:
        try:
            return [mesh.blueprint(ref.scope)]
        except KeyError:
            return []
    wanted = dict(ref.expression).get(DOMAIN_KEY)
    return [bp for bp in mesh.blueprints if wanted is None or bp.domain in wanted]


def account_values(
    mesh: Mesh, account_of: Callable[[str], str]
) -> dict[str, dict[str, tuple[str, ...]]]:
    """account -> LF-tag key -> the values the program creates there (`infra.provision.lftags`,
    budgeted by `mesh validate`): in every account of the mesh (each domain's, loaded or not:
    a per-domain stack knows them too), every key of the ontology with its values; `domain`
    with the domains living in the account and the domains mesh-wide expressions name (an
    expression's values must be values of the tag)."""
    base = ontology(mesh)
    named: set[str] = set()
    for ref in tag_grant_refs(mesh):
        if ref.scope == MESH_SCOPE:
            named.update(ref.grant.lf_tags.get(DOMAIN_KEY, ()))
    homes: dict[str, set[str]] = {}
    for domain in mesh.all_domains:
        homes.setdefault(account_of(domain), set()).add(domain)
    out = {}
    for account, domains in sorted(homes.items()):
        keys = {k: v.values for k, v in base.items()}
        keys[DOMAIN_KEY] = tuple(sorted(domains | (named & mesh.all_domains)))
        out[account] = keys
    return out


def is_expired(grant: TagGrant, today: dt.date) -> bool:
    """`expires` is the last day of access, as for a named grant."""
    return grant.expires is not None and grant.expires < today
