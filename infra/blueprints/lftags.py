"""Checks of tag-based access (`infra.model.lftags`) with file and line: the ontology of
`_mesh.yaml`, the LF-tags of products and columns, the tag grants, who assigned what, and Lake
Formation's LF-tag quotas budgeted before anything is deployed.

- E100 a key the ontology does not have (also: a tag grant in a mesh whose `_mesh.yaml` declares
  no `lf_tags`, where tag-based access is off); E101 a value outside the key's values (or repeated in
  the ontology); E102 a derived key (domain, classification, pii) declared or set;
- E103 a key an approver group assigns (`assigned_by: privacy`), set on a product or a column
  whose `lf_tags_approved_by` does not name that group (or one of its members); E109 an
  `assigned_by` that is neither `owners` nor an approver group of `_mesh.yaml`;
- E104 a tag grant to a domain that does not exist, or a domain's tag grant to itself; E105 a
  domain's tag grant whose expression names other domains (it grants over its own products
  only: the expression is ANDed with `domain: [<itself>]`); E106 a mesh-wide tag grant without
  the platform group's approval (`approved_by: platform`, or privacy when it shares PII); E107 a
  tag grant sharing PII (`include_pii`) without `approved_by` (naming privacy, with
  `_mesh.yaml`); E108 `lf_tags` on a partition key (partition values are readable by every
  grant, they follow the table);
- quotas (AWS Lake Formation, `infra.model.lftags`): E110 more than 1,000 values of one LF-tag
  in an account; E111 more than 50 LF-tags on one resource (a table: the derived keys and the
  product's; a column: what it overrides); E112 more than 1,000 LF-tag keys per account;
- W040 a tag grant that reaches no product today; W001/W002 a tag grant that expires soon or has
  expired, as for a named grant.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator

from infra.blueprints.checks import EXPIRY_WARNING_DAYS
from infra.errors import Problem, first_of, quote
from infra.model import lftags
from infra.model.lftag_names import DERIVED_KEYS, DOMAIN_KEY
from infra.model.mesh import Mesh
from infra.model.platform import MESH_FILE, PLATFORM, PRIVACY
from infra.model.source import Loc, SourceFile
from infra.model.spec import Blueprint

STACK_ACCOUNT = "(the stack's account)"  # the account of domains whose blueprint names none


def lftag_problems(mesh: Mesh, today: dt.date) -> list[Problem]:
    """Every problem of the mesh's tag-based access (see the module docstring)."""
    out: list[Problem] = []
    out += _ontology(mesh)
    for bp in mesh.blueprints:
        out += _assignments(mesh, bp)
    if lftags.enabled(mesh):
        for ref in lftags.tag_grant_refs(mesh):
            out += _tag_grant(mesh, ref, today)
    else:
        out += _off(mesh)
    if lftags.enabled(mesh):
        out += _quotas(mesh)
    return sorted(out, key=Problem.sort_key)


def _off(mesh: Mesh) -> Iterator[Problem]:
    """E100 for each tag grant of a mesh whose `_mesh.yaml` declares no ontology."""
    why = (
        f"tag-based access is off in this mesh: {MESH_FILE} declares no lf_tags (the "
        "ontology; lf_tags: {} for the derived keys domain, classification and pii only)"
    )
    if mesh.platform is not None:
        for i, _grant in enumerate(mesh.platform.spec.tag_grants):
            yield mesh.platform.source.problem(("tag_grants", i), "E100", why)
    for bp in mesh.blueprints:
        for i, _grant in enumerate(bp.tag_grants):
            yield mesh.source(bp.domain).problem(("tag_grants", i), "E100", why)


def _keys(mesh: Mesh) -> dict[str, lftags.LfTagKey]:
    return dict((mesh.platform.spec.lf_tags if mesh.platform is not None else None) or {})


def _ontology(mesh: Mesh) -> Iterator[Problem]:
    if mesh.platform is None:
        return
    src, groups = mesh.platform.source, mesh.platform.groups
    for key, spec in (mesh.platform.spec.lf_tags or {}).items():
        if key in DERIVED_KEYS:
            yield src.problem(
                ("lf_tags", key),
                "E102",
                f"LF-tag key {key!r} is derived by the mesh (domain: the owning domain, "
                "classification: the product's, pii: the column's pii mark) and cannot be "
                f"declared; remove it from {MESH_FILE} (expressions may use it as it is)",
            )
        seen: set[str] = set()
        for vi, value in enumerate(spec.values):
            if value in seen:
                yield src.problem(
                    ("lf_tags", key, "values", vi),
                    "E101",
                    f"value {value!r} of LF-tag {key!r} is listed twice (the order of the "
                    "values is their sensitivity, least sensitive first)",
                )
            seen.add(value)
        if spec.assigned_by != lftags.OWNERS and spec.assigned_by not in groups:
            yield src.problem(
                ("lf_tags", key, "assigned_by"),
                "E109",
                f"assigned_by {spec.assigned_by!r} of LF-tag {key!r} is neither 'owners' (the "
                f"owning domain) nor an approver group of {MESH_FILE} ({', '.join(groups)})",
            )


def _unknown_key(src: SourceFile, loc: Loc, key: str, keys: dict) -> Problem:
    declared = first_of(sorted(keys), len(keys)) or f"none: {MESH_FILE} declares no lf_tags"
    return src.problem(
        loc,
        "E100",
        f"LF-tag key {key!r} is not in the ontology (lf_tags of {MESH_FILE}: {declared}; "
        f"derived: {', '.join(DERIVED_KEYS)})",
    )


def _value_problem(
    src: SourceFile, loc: Loc, key: str, value: str, keys: dict
) -> Iterator[Problem]:
    """E100/E101/E102 of one `key: value` set on a product or a column."""
    if key in DERIVED_KEYS:
        yield src.problem(
            loc,
            "E102",
            f"LF-tag {key!r} is derived by the mesh and cannot be set: domain and "
            "classification come from the blueprint, pii from the column's pii mark",
        )
    elif key not in keys:
        yield _unknown_key(src, loc, key, keys)
    elif value not in keys[key].values:
        yield src.problem(
            loc,
            "E101",
            f"{quote(value)} is not a value of LF-tag {key!r}; expected one of: "
            f"{first_of(keys[key].values, len(keys[key].values))}",
        )


def _assignments(mesh: Mesh, bp: Blueprint) -> Iterator[Problem]:
    src, keys, platform = mesh.source(bp.domain), _keys(mesh), mesh.platform
    for pi, product in enumerate(bp.products):
        at: Loc = ("products", pi)
        needs: dict[str, list[Loc]] = defaultdict(list)  # group -> where its keys are set
        for key, value in product.lf_tags.items():
            loc = at + ("lf_tags", key)
            yield from _value_problem(src, loc, key, value, keys)
            if key in keys and keys[key].assigned_by != lftags.OWNERS:
                needs[keys[key].assigned_by].append(loc)
        for ci, column in enumerate(product.columns):
            for key, value in column.lf_tags.items():
                loc = at + ("schema", ci, "lf_tags", key)
                yield from _value_problem(src, loc, key, value, keys)
                if key in keys and keys[key].assigned_by != lftags.OWNERS:
                    needs[keys[key].assigned_by].append(loc)
        for ki, part in enumerate(product.partition_keys):
            if part.lf_tags:
                yield src.problem(
                    at + ("partition_keys", ki, "lf_tags"),
                    "E108",
                    f"partition key {part.name!r} cannot carry lf_tags: partition values are "
                    "readable by every grant of the product, so a partition key has its "
                    "table's LF-tags",
                )
        approved = product.lf_tags_approved_by
        for group, locs in needs.items():
            groups = platform.groups_of(approved) if platform and approved else frozenset()
            if group in groups:
                continue
            members = ", ".join(platform.members(group)) if platform else ""
            have = (
                "no lf_tags_approved_by"
                if approved is None
                else f"lf_tags_approved_by {quote(approved)}, which is not {group}"
            )
            for loc in locs:
                yield src.problem(
                    loc,
                    "E103",
                    f"LF-tag {loc[-1]!r} is assigned by {group} only ({MESH_FILE}: "
                    f"assigned_by: {group}); {bp.domain}.{product.name} has {have}: set "
                    f"lf_tags_approved_by: {group} once {group} ({members}) approves",
                )


def _tag_grant(mesh: Mesh, ref: lftags.TagGrantRef, today: dt.date) -> Iterator[Problem]:
    grant, keys = ref.grant, _keys(mesh)
    mesh_wide = ref.scope == lftags.MESH_SCOPE
    if mesh_wide:
        assert mesh.platform is not None  # a mesh-wide grant is read from the platform file
        src = mesh.platform.source
    else:
        src = mesh.source(ref.scope)
    at = ref.loc
    what = f"tag grant to {grant.domain}"
    if grant.domain not in mesh.all_domains:
        known = sorted(mesh.all_domains)
        yield src.problem(
            at + ("domain",),
            "E104",
            f"{what}: {grant.domain!r} is not a domain of the mesh (domains: "
            f"{first_of(known, len(known))})",
        )
    elif grant.domain == ref.scope:
        yield src.problem(
            at + ("domain",),
            "E104",
            f"domain {ref.scope!r} grants to itself by tag; its producer role already reads "
            "and writes its own products",
        )
    for key, values in grant.lf_tags.items():
        loc = at + ("lf_tags", key)
        if key == DOMAIN_KEY:
            others = [v for v in values if v != ref.scope]
            if not mesh_wide and others:
                yield src.problem(
                    loc,
                    "E105",
                    f"{what}: the expression names other domains ({', '.join(others)}); a "
                    f"domain grants over its own products only (the expression is ANDed with "
                    f"domain: [{ref.scope}]); a grant across domains goes in {MESH_FILE}",
                )
            unknown = [v for v in values if v not in mesh.all_domains]
            if mesh_wide and unknown:
                yield src.problem(
                    loc,
                    "E101",
                    f"{what}: {', '.join(unknown)} is not a domain of the mesh",
                )
            continue
        allowed = _values_of(mesh, key, keys)
        if allowed is None:
            yield _unknown_key(src, loc, key, keys)
            continue
        for vi, value in enumerate(values):
            if value not in allowed:
                yield src.problem(
                    loc + (vi,),
                    "E101",
                    f"{quote(value)} is not a value of LF-tag {key!r}; expected one of: "
                    f"{first_of(allowed, len(allowed))}",
                )
    yield from _approval(mesh, ref, src)
    if grant.expires is not None:
        days = (grant.expires - today).days
        if days < 0:
            yield src.problem(
                at + ("expires",),
                "W002",
                f"{ref.label}, {what}, expired on {grant.expires.isoformat()} and grants "
                "nothing; remove it or renew it",
            )
            return
        if days <= EXPIRY_WARNING_DAYS:
            yield src.problem(
                at + ("expires",),
                "W001",
                f"{ref.label}, {what}, expires in {days} day(s), on {grant.expires.isoformat()}",
            )
    # W040 only when every blueprint is loaded (a per-domain stack's load sees its own only)
    whole = not mesh.other_domains
    if (
        whole
        and grant.domain in mesh.all_domains
        and next(lftags.expand(mesh, ref, today), None) is None
    ):
        yield src.problem(
            at + ("lf_tags",),
            "W040",
            f"{ref.label}, {what}, reaches no product today: no product's (or column's) "
            f"LF-tags match {_shown(ref.via_tags)}",
        )


def _values_of(mesh: Mesh, key: str, keys: dict) -> tuple[str, ...] | None:
    if key in DERIVED_KEYS:  # declaring one is E102: the derived values hold
        return _derived(mesh)[key]
    return tuple(keys[key].values) if key in keys else None


_DERIVED: dict[int, tuple[Mesh, dict[str, tuple[str, ...]]]] = {}


def _derived(mesh: Mesh) -> dict[str, tuple[str, ...]]:
    """The derived keys' values of `mesh`, computed once per mesh (one check asks per tag
    grant; `domain` sorts every domain of the mesh)."""
    found = _DERIVED.get(id(mesh))
    if found is None or found[0] is not mesh:
        _DERIVED.clear()  # one mesh at a time: no growth
        values = {k: v.values for k, v in lftags.ontology(mesh).items() if k in DERIVED_KEYS}
        found = _DERIVED[id(mesh)] = (mesh, values)
    return found[1]


def _approval(mesh: Mesh, ref: lftags.TagGrantRef, src: SourceFile) -> Iterator[Problem]:
    grant, platform, at = ref.grant, mesh.platform, ref.loc
    what = f"{ref.label} (to {grant.domain})"
    if grant.include_pii and grant.approved_by is None:
        yield src.problem(
            at + ("include_pii",),
            "E107",
            f"{what} shares PII (include_pii) without approved_by"
            + (f": privacy ({', '.join(platform.members(PRIVACY))}) approves" if platform else ""),
        )
    if platform is None:
        return
    wanted = PRIVACY if grant.include_pii else PLATFORM if ref.scope == lftags.MESH_SCOPE else None
    if grant.approved_by is None:
        if ref.scope == lftags.MESH_SCOPE and not grant.include_pii:
            yield src.problem(
                at,
                "E106",
                f"{what} is mesh-wide and needs the platform group's approval: approved_by: "
                f"platform ({', '.join(platform.members(PLATFORM))})",
            )
        return
    groups = platform.groups_of(grant.approved_by)
    if not groups:
        yield src.problem(
            at + ("approved_by",),
            "E056",
            f"approved_by {quote(grant.approved_by)} is not an approver of {MESH_FILE}",
        )
    elif wanted is not None and wanted not in groups:
        code = "E107" if wanted == PRIVACY else "E106"
        need = "shares PII" if wanted == PRIVACY else "is mesh-wide"
        yield src.problem(
            at + ("approved_by",),
            code,
            f"{what} {need} and needs the approval of {wanted} "
            f"({', '.join(platform.members(wanted))}); {quote(grant.approved_by)} is "
            f"{', '.join(sorted(groups))}",
        )


def _shown(expression: dict[str, list[str]]) -> str:
    return "{" + ", ".join(f"{k}: [{', '.join(v)}]" for k, v in expression.items()) + "}"


# ------------------------------------------------------------------ quotas


def _account_of(mesh: Mesh):
    return lambda domain: mesh.account_of(domain) or STACK_ACCOUNT


def _quotas(mesh: Mesh) -> Iterator[Problem]:
    platform = mesh.platform
    keys = _keys(mesh)
    if platform is not None:
        for key, spec in keys.items():
            if len(spec.values) > lftags.MAX_VALUES_PER_KEY:
                yield platform.source.problem(
                    ("lf_tags", key, "values"),
                    "E110",
                    f"LF-tag {key!r} has {len(spec.values):,} values; Lake Formation allows "
                    f"{lftags.MAX_VALUES_PER_KEY:,} per LF-tag",
                )
        total = len(set(keys) | set(DERIVED_KEYS))
        if total > lftags.MAX_KEYS_PER_ACCOUNT:
            yield platform.source.problem(
                ("lf_tags",),
                "E112",
                f"the ontology has {total:,} LF-tag keys ({len(DERIVED_KEYS)} derived: "
                f"{', '.join(DERIVED_KEYS)}), all created in every account of the mesh; "
                f"Lake Formation allows {lftags.MAX_KEYS_PER_ACCOUNT:,} per account",
            )
    for account, per_key in lftags.account_values(mesh, _account_of(mesh)).items():
        n = len(per_key[DOMAIN_KEY])
        if n > lftags.MAX_VALUES_PER_KEY:
            first = next(bp for bp in mesh.blueprints if (bp.account or STACK_ACCOUNT) == account)
            yield mesh.source(first.domain).problem(
                ("account",) if first.account else ("domain",),
                "E110",
                f"account {account} would hold {n:,} values of the derived LF-tag 'domain' "
                "(its domains and the domains mesh-wide tag grants name); Lake "
                f"Formation allows {lftags.MAX_VALUES_PER_KEY:,} per LF-tag: spread the "
                "domains over more accounts",
            )
    for bp in mesh.blueprints:
        src = mesh.source(bp.domain)
        for pi, product in enumerate(bp.products):
            table = lftags.product_tags(bp.domain, product)
            if len(table) > lftags.MAX_TAGS_PER_RESOURCE:
                yield src.problem(
                    ("products", pi, "lf_tags"),
                    "E111",
                    f"the table of {bp.domain}.{product.name} would carry {len(table)} LF-tags "
                    f"({len(product.lf_tags)} of its own and the derived "
                    f"{', '.join(DERIVED_KEYS)}); Lake Formation allows "
                    f"{lftags.MAX_TAGS_PER_RESOURCE} per resource",
                )
            for ci, column in enumerate(product.columns):
                own = lftags.overrides(table, column)
                if len(own) > lftags.MAX_TAGS_PER_RESOURCE:
                    yield src.problem(
                        ("products", pi, "schema", ci, "lf_tags"),
                        "E111",
                        f"column {column.name!r} of {bp.domain}.{product.name} would carry "
                        f"{len(own)} LF-tags of its own; Lake Formation allows "
                        f"{lftags.MAX_TAGS_PER_RESOURCE} per resource",
                    )
