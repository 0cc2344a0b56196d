"""`mesh diff BASE HEAD`: the access a blueprint change adds, removes or changes, and the schema
changes that break existing consumers. A pure comparison of two declared access models — no
Pulumi, no AWS — so it runs in milliseconds on every pull request.

Classification (key: principal + product):

- **new_access** — anything that lets a principal read *more* than before: a new consumer, a
  new product that is already shared, an expired grant renewed, more columns (including columns
  added to the schema of a product shared without a column list), PII now included, a longer
  expiry or none at all, write instead of read, direct S3 read instead of Lake Formation only.
  Widening an existing grant is new access, not a change: it needs the same review as a new
  grant (exit 3), and the entry says what it was before.
- **removed_access** — a grant gone: consumer removed, grant expired, product removed or
  decommissioned.
- **changed** — the same principal keeps access to the same product, with *less* (fewer columns,
  no PII, shorter expiry, an expiry added, no direct S3 read) or with a new approver.
- Not reported: description or justification edits, reordering of files, products, consumers
  or columns (columns are compared as sets), the owning producer's columns (they follow the
  schema), anything that does not change access.

A product's owning producer has write on every product of its domain by construction (its Lake
Formation grant is a database wildcard), so a new product's producer grant is listed under
`new_products`, not as new access; a removed product's under `removed_products`.

Declared renames (`previous_names` of a product or a column) are followed: a renamed product
is the same product, a renamed column the same column. A renamed, removed or retyped column (or
partition key) that an existing consumer reads is reported in `breaking_schema`. Renames this
change makes are listed as such: `renamed_products` and `renamed_columns`.

A change that would lose data (a product removed without being properly decommissioned, a
domain's blueprint removed, a physical name changed: `infra.governance.change_safety`) is listed under `errors`
with the base or head file and line, and the exit code is 1: it blocks the merge whether or not
it also adds access.

Why one module (~370 lines): the classification (every field of a grant decides new, removed
or changed access) and its JSON change together and are tested field by field as a whole
(tests/test_diff_fields.py). Apart from it: the text and the Markdown of the PR comment
(`infra.diff.render`), who must approve (`infra.diff.approvals`), a consumer's account move
(`infra.diff.account_moves`), declared renames (`infra.diff.renames`) and the breaking schema
changes and added partition keys (`infra.diff.schema_changes`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from infra.diff.account_moves import moved_grants
from infra.diff.entries import (  # noqa: F401 (REASONS and Entry: re-exported)
    REASONS,
    Entry,
    _compare,
    _is_widening,
    _phrase,
)
from infra.diff.renames import (
    column_renames_of,
    product_renames,
    products_by_id,
    renamed_columns,
    renamed_grant,
)
from infra.diff.schema_changes import Breaking, breaking_changes, new_partition_keys
from infra.diff.tag_diff import TagDiff, named_only, retags, tag_entries
from infra.errors import Problem
from infra.governance.approvals import RequiredApproval
from infra.governance.change_safety import change_problems
from infra.governance.review import ReviewItem, review_changes
from infra.model.access import AccessModel, DeclaredGrant, declared_access, is_decommissioned
from infra.model.lftags import enabled
from infra.model.mesh import Mesh
from infra.model.spec import Product
from infra.util.gcpause import gc_paused


@dataclass
class DiffResult:
    new_access: list[Entry] = field(default_factory=list)
    removed_access: list[Entry] = field(default_factory=list)
    changed: list[Entry] = field(default_factory=list)
    breaking_schema: list[Breaking] = field(default_factory=list)
    new_products: list[DeclaredGrant] = field(default_factory=list)
    removed_products: list[DeclaredGrant] = field(default_factory=list)
    renamed_products: dict[str, str] = field(default_factory=dict)
    # head product id -> {old column name: new name}, for renames made by this change
    renamed_columns: dict[str, dict[str, str]] = field(default_factory=dict)
    # what the change may not do (`infra.governance.change_safety`): a removal that loses data, ...
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    # what needs a reviewer although it adds no access (`infra.governance.review`)
    review_required: list[ReviewItem] = field(default_factory=list)
    # who must approve the change (`infra.governance.approvals`), and, when the approvals the
    # change has were given (`mesh diff --approvals`), those of them nobody gave (else None)
    required_approvals: list[RequiredApproval] = field(default_factory=list)
    missing_approvals: list[RequiredApproval] | None = None
    # HEAD files byte-identical in BASE (as problems name them): their warnings are not this
    # change's, and the PR comment only counts them
    untouched: frozenset[str] = frozenset()
    # a platform file names the approvers (BASE's or HEAD's): `approved_by` is then verified as
    # a required approval; without one it is free text, and the comment says so
    approvers_known: bool = True
    # the platform file (`_mesh.yaml`) changed: (its file, why), a change to review (who
    # approves what) although it grants nothing
    platform_change: tuple[str, str] | None = None
    # LF-tags an approver group assigns, changed (`infra.diff.tag_diff.Retag`): that group
    # approves each, and it is a change to review whatever access it adds
    lf_tag_changes: list[Any] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1 when the change is unsafe (it blocks the merge, new access or not) or a required
        approval is missing; when the approvals were given and all are there, 0 (the change is
        approved); else 3 when it adds access or needs review for another reason (a change to
        the platform file among them), 0 otherwise."""
        if self.errors or self.missing_approvals:
            return 1
        if self.missing_approvals is not None:
            return 0
        review = self.review_required or self.platform_change or self.lf_tag_changes
        return 3 if self.new_access or review else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "new_access": [e.as_json() for e in self.new_access],
            "removed_access": [e.as_json() for e in self.removed_access],
            "changed": [e.as_json() for e in self.changed],
            "breaking_schema": [b.as_json() for b in self.breaking_schema],
            "new_products": [g.product for g in self.new_products],
            "removed_products": [g.product for g in self.removed_products],
            "renamed_products": dict(self.renamed_products),
            "renamed_columns": {k: dict(v) for k, v in self.renamed_columns.items()},
            "errors": [p.as_json() for p in self.errors],
            "warnings": [p.as_json() for p in self.warnings],
            "review_required": [r.as_json() for r in self.review_required],
            "platform_file_change": (
                None
                if self.platform_change is None
                else {"file": self.platform_change[0], "reason": self.platform_change[1]}
            ),
            "lf_tag_changes": [c.as_json() for c in self.lf_tag_changes],
            "required_approvals": [a.as_json() for a in self.required_approvals],
            "missing_approvals": (
                None
                if self.missing_approvals is None
                else [a.as_json() for a in self.missing_approvals]
            ),
        }


# ------------------------------------------------------------------ comparison


def _changed_domains(base: Mesh, head: Mesh) -> tuple[Mesh, Mesh]:
    """BASE and HEAD reduced to the domains whose blueprint file is not byte-identical.

    Everything the diff compares is per domain: a product's grants (declared access) depend on
    its own blueprint only, and renames (`previous_names`) stay inside a domain. A blueprint is a
    pure function of its file's text, so a domain whose text is the same on both sides yields the
    same grants and schemas on both sides and contributes nothing. When a side no longer keeps
    the text (the loader drops it once a line was looked up), the domain is compared in full."""
    same = set()
    for domain, src in base.sources.items():
        other = head.sources.get(domain)
        if src.text is not None and other is not None and other.text == src.text:
            same.add(domain)
    if not same:
        return base, head

    def keep(mesh: Mesh) -> Mesh:
        return Mesh(
            tuple(bp for bp in mesh.blueprints if bp.domain not in same),
            revoked=frozenset(r for r in mesh.revoked if r[0] not in same),
        )

    return keep(base), keep(head)


@gc_paused
def diff_meshes(base: Mesh, head: Mesh, today: dt.date) -> DiffResult:
    """Linear in the size of the change: domains whose blueprint text is unchanged are skipped;
    in the others each side's declared access is computed once, per-product facts (column
    renames, schema changes) once per product, and unchanged grants cost one equality test.

    The cyclic garbage collector is paused meanwhile, as the loader does: grants and entries
    are many young objects without cycles, and with two loaded meshes in memory its repeated
    full scans cost a third of a large diff."""
    return _diff_meshes(base, head, today)


def _governed(mesh: Mesh, today: dt.date) -> Mesh:
    """`mesh` with its governance revocations (grants an expired exception allowed), as
    `with_governance` gives them, so both sides of a diff are compared as deployed: a lapsed
    exception is not this change's doing. Only a mesh with exceptions can have any."""
    if mesh.revoked or not any(bp.exceptions for bp in mesh.blueprints):
        return mesh
    from infra.governance.evaluate import govern_blueprints, revocations

    revoked = revocations(mesh, govern_blueprints(mesh, today).findings)
    return dataclasses.replace(mesh, revoked=revoked) if revoked else mesh


def _diff_meshes(base: Mesh, head: Mesh, today: dt.date) -> DiffResult:
    base, head = _governed(base, today), _governed(head, today)
    safety = change_problems(base, head, today)  # the whole trees: locations need the sources
    review = review_changes(base, head)
    moved = moved_grants(base, head, today)  # the whole trees: a consumer's grants are elsewhere
    whole = (base, head)  # the tag grants' expressions reach across domains (`tag_diff`)
    base, head = _changed_domains(base, head)
    base_products, head_products = products_by_id(base), products_by_id(head)
    renames = product_renames(base_products, head_products)
    # the tag grants are compared by `infra.diff.tag_diff`
    base_model = named_only(declared_access(base, today))
    head_model = named_only(declared_access(head, today))
    column_renames: dict[str, dict[str, str]] = {}  # head product id -> its column renames

    def renames_of(pid: str) -> dict[str, str]:
        cols = column_renames.get(pid)
        if cols is None:
            cols = column_renames_of(head_products[pid]) if pid in head_products else {}
            column_renames[pid] = cols
        return cols

    def mapped(model: AccessModel) -> tuple[dict, dict]:
        active, expired = {}, {}
        for target, grants in ((active, model.grants), (expired, model.expired)):
            for g in grants:
                pid = renames.get(g.product, g.product)
                cols = renames_of(pid)
                # columns of a declared grant are sorted and unique already: nothing to rename
                same = pid == g.product and not cols
                target[(g.principal, pid)] = g if same else renamed_grant(g, pid, cols)
        return active, expired

    before, before_expired = mapped(base_model)
    after = {(g.principal, g.product): g for g in head_model.grants}
    after_expired = {(g.principal, g.product): g for g in head_model.expired}
    mapped_base_ids = {renames.get(p, p) for p in base_products}
    old_ids: dict[str, str] = {}  # head id -> base id of a renamed product (first rename wins)
    for old, new in renames.items():
        old_ids.setdefault(new, old)
    result = DiffResult(renamed_products=renames, review_required=review)
    result.renamed_columns = renamed_columns(base_products, head_products, renames)
    result.errors, result.warnings = safety

    new_keys = new_partition_keys(base_products, head_products, renames, renames_of)
    for key in sorted(set(before) | set(after), key=lambda k: (k[1], k[0])):
        pid = key[1]
        b, a = before.get(key), after.get(key)
        if b is not None and a is not None:
            if b.access == a.access == "write":
                continue  # the owner's columns follow its schema: not a decision
            if b == a and not new_keys.get(pid):
                continue  # unchanged
            pii = head_products[pid].pii_columns if pid in head_products else frozenset()
            reasons, details = _compare(b, a, pii)
            if new_keys.get(pid):  # every grant reads the partition keys
                reasons.insert(0, "more_partition_keys")
                details.insert(0, _phrase("more_partition_keys", "+" + ", +".join(new_keys[pid])))
            if not reasons:
                continue
            entry = Entry(a, reasons, details, before=b)
            (result.new_access if _is_widening(reasons) else result.changed).append(entry)
        elif a is not None:  # access only in head
            if a.access == "write" and pid not in mapped_base_ids:
                result.new_products.append(a)
                continue
            if pid not in mapped_base_ids:
                code, detail = "new_product_shared", None
            elif key in before_expired and _lapsed_on(before_expired[key], today) is not None:
                code, detail = "renewed", f"expired on {_lapsed_on(before_expired[key], today)}"
            elif _base_decommissioned(base_products, old_ids, pid, today):
                code, detail = "recommissioned", None
            elif key in before_expired:  # no date: revoked, its exception had lapsed
                code, detail = "renewed", "revoked while the exception allowing it had lapsed"
            else:
                code, detail = "new_consumer", None
            reasons, details = [code], [_phrase(code, detail)]
            if a.pii:
                reasons.append("pii_now_included")
                pii = head_products[pid].pii_columns
                details.append(
                    _phrase("pii_now_included", ", ".join(c for c in a.columns if c in pii))
                )
            if a.access == "write":
                reasons.append("write_instead_of_read")
                details.append(_phrase("write_instead_of_read"))
            result.new_access.append(Entry(a, reasons, details, before=before_expired.get(key)))
        elif b is not None:  # access only in base
            if b.access == "write" and pid not in head_products:
                result.removed_products.append(b)
                continue
            if pid not in head_products:
                code = "product_removed"
            elif is_decommissioned(head_products[pid], today):
                code = "product_decommissioned"
            elif key in after_expired:
                code = "grant_expired"
            else:
                code = "consumer_removed"
            result.removed_access.append(Entry(b, [code], [_phrase(code)]))

    tagged = _add_tag_entries(result, *whole, today, base, head)
    _account_moves(result, moved)
    reads = [*base_model.grants, *(tagged.base_reads if tagged else ())]
    after_reads = {**(tagged.head_reads if tagged else {}), **after}
    result.breaking_schema = breaking_changes(
        base_products, head_products, renames, reads, after_reads, renames_of
    )
    return result


def _tag_platform(mesh: Mesh) -> tuple:
    """What of `_mesh.yaml` every product's tag access depends on: the ontology and the
    mesh-wide tag grants."""
    spec = mesh.platform.spec if mesh.platform is not None else None
    return (spec.lf_tags, spec.tag_grants) if spec is not None else (None, None)


def _add_tag_entries(
    result: DiffResult, base: Mesh, head: Mesh, today: dt.date, base_part: Mesh, head_part: Mesh
) -> TagDiff | None:
    """The tag grants' entries (`infra.diff.tag_diff`), on the products of the changed domains
    unless the ontology or the mesh-wide grants changed (then on every product)."""
    if not (enabled(base) or enabled(head)):
        return None
    platform_same = _tag_platform(base) == _tag_platform(head)
    domains = (set(base_part.domains) | set(head_part.domains)) if platform_same else None
    tagged = tag_entries(base, head, today, domains)
    result.new_access = sorted(
        [*result.new_access, *tagged.new], key=lambda e: (e.grant.product, e.grant.principal)
    )
    result.removed_access += tagged.removed
    result.changed += tagged.changed
    result.lf_tag_changes = retags(base, head, domains)
    return tagged


def _account_moves(result: DiffResult, moved: list) -> None:
    """Each grant of a consumer that moves accounts (`infra.diff.account_moves`) is new access:
    the reason is added to its entry (a narrowing entry becomes new access), or it gets one."""
    if not moved:
        return
    code = "consumer_account_moved"
    entries = {(e.grant.principal, e.grant.product): e for e in result.new_access}
    narrower = {(e.grant.principal, e.grant.product): e for e in result.changed}
    for grant, before, why in moved:
        key = (grant.principal, grant.product)
        entry = entries.get(key)
        if entry is None and key in narrower:
            entry = narrower.pop(key)
            result.changed.remove(entry)
            result.new_access.append(entry)
        if entry is None:
            entry = Entry(grant, [], [], before=before)
            result.new_access.append(entry)
        if code not in entry.reasons:
            entry.reasons.append(code)
            entry.details.append(_phrase(code, why))
        entries[key] = entry
    result.new_access.sort(key=lambda e: (e.grant.product, e.grant.principal))


def _lapsed_on(grant: DeclaredGrant, today: dt.date) -> str | None:
    """The date a grant expired on, when its own expiry ended it (not a revocation)."""
    return grant.expires.isoformat() if grant.expires and grant.expires < today else None


def _base_decommissioned(
    base_products: dict[str, Product], old_ids: dict[str, str], pid: str, today: dt.date
) -> bool:
    product = base_products.get(old_ids.get(pid, pid))
    return product is not None and is_decommissioned(product, today)
