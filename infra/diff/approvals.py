"""Who must approve a change from BASE to HEAD (`mesh diff`, every mode: `required_approvals`).

- a new or widened grant: the producing domain's owners (`owner.github`, else the owners entry
  of `_mesh.yaml`, else `platform`); PII also `privacy`; restricted data also `security`; a
  grant an exception allows (`waived_grants`) also the group that waives its policy: an
  exception covers what it was approved for, a later grant needs its own approval; a grant
  naming `approved_by` (with `_mesh.yaml`) also that approver, whether the grant needs one or
  not: what the comment shows as approved is approved;
- each grant of a consumer that moves accounts, as a new grant (`infra.diff.account_moves`);
- an exception added or renewed: the domain's owners and the group its policy names in the
  catalogue (`Policy.waived_by`, `security` unless said otherwise);
- any other change to review (decommission, retention, classification, owner, ...:
  `infra.governance.review`): the domain's owners and `platform` (a PII flag removed or a PII
  column dropped also `privacy`);
- a stack config changed (`Pulumi.<stack>.yaml`: `infra.governance.stack_configs`): `platform`
  and `security`;
- a new domain, and any change to `_mesh.yaml` itself: `platform`;
- an LF-tag whose key an approver group assigns (`assigned_by: privacy` in the ontology),
  changed on a product or a column: that group (`infra.diff.tag_diff.retags`).

Who counts as whom is decided by BASE, the tree already merged: its platform file's groups and
its domains' owners. A pull request cannot approve itself by adding its author to a group or by
naming itself the owner (HEAD's file is used only for what BASE does not have: the first
`_mesh.yaml`, a new domain). Whether the approvals a pull request has cover them is
`infra.governance.approvals.missing_approvals`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from infra.blueprints.load import blueprint_files
from infra.blueprints.yaml_safe import read_bytes
from infra.errors import Problem, first_of
from infra.governance.approvals import RequiredApproval
from infra.governance.catalogue import waiver_group
from infra.governance.review import ReviewItem
from infra.model.mesh import Mesh
from infra.model.platform import MESH_FILE, PLATFORM, PRIVACY, SECURITY
from infra.model.spec import Classification

if TYPE_CHECKING:
    from infra.diff.access_diff import DiffResult


class _Approvers:
    """Who is who for a change: BASE's platform file and owners first, HEAD's for the rest."""

    def __init__(self, base: Mesh, head: Mesh) -> None:
        self.base, self.head = base, head
        self.platform = base.platform or head.platform

    def group(self, name: str) -> tuple[str, tuple[str, ...]]:
        return name, self.platform.members(name) if self.platform is not None else ()

    def named(self, approved_by: str) -> list[tuple[str, tuple[str, ...]]]:
        """The approvers an `approved_by` names, as a PII grant's is verified: the group it
        names or whose member it names (members as BASE knows them); a name no group knows
        (E056), itself."""
        groups = self.platform.groups_of(approved_by) if self.platform is not None else ()
        if groups:
            return [self.group(g) for g in sorted(groups)]
        return [(approved_by, (approved_by,) if approved_by.startswith("@") else ())]

    def owners(self, domain: str) -> tuple[str, tuple[str, ...], str]:
        """(approver, handles, note) of a domain's owners; platform when it names none."""
        known = domain in self.base.all_domains
        handle = (self.base if known else self.head).owner_handle(domain)
        if handle is not None:
            return handle, (handle,), ""
        approver, handles = self.group(PLATFORM)
        return approver, handles, f" (domain {domain} names no owner.github: platform approves)"


def waived_grants(head: Mesh, today: dt.date) -> dict[tuple[str, str], frozenset[str]]:
    """(principal, product) -> the policies an active exception of HEAD waives for that grant
    (its findings located in the grant: GOV-004 restricted data shared, GOV-005 no expiry, ...),
    unless the exception names the grant's consumer (`consumers`): then it was approved for it."""
    if not any(bp.exceptions for bp in head.blueprints):
        return {}
    from infra.governance.evaluate import govern_blueprints

    by_file = {head.source(bp.domain).path: bp for bp in head.blueprints}
    report = govern_blueprints(head, today)
    # an exception that names its consumers was approved for each of them
    named = {f"{s.file} {s.path}" for s in report.exceptions if s.exception.consumers is not None}
    out: dict[tuple[str, str], frozenset[str]] = {}
    for f in report.waived:
        loc, bp = f.loc, by_file.get(str(f.file))
        if bp is None or len(loc) < 4 or loc[0] != "products" or loc[2] != "consumers":
            continue
        if f.waived_by in named:
            continue
        product = bp.products[loc[1]]
        key = (f"{product.consumers[loc[3]].domain}:consumer", f"{bp.domain}.{product.name}")
        out[key] = out.get(key, frozenset()) | {f.policy}
    return out


def required_approvals(
    base: Mesh,
    head: Mesh,
    result: DiffResult,
    mesh_file_change: str | None = None,
    waived: dict[tuple[str, str], frozenset[str]] | None = None,
) -> list[RequiredApproval]:
    """Every approval the change from `base` to `head` needs (see the module docstring), in
    the order of the diff: new access, then reviewed changes, new domains, the platform file.
    `mesh_file_change`: why the platform file changed, if it did (`platform_file_change`);
    `waived`: the grants of HEAD an exception allows (`waived_grants`)."""
    who = _Approvers(base, head)
    waived = waived or {}
    approved_now = {  # exceptions this change adds or renews: approved with what they cover
        (r.product, r.policy)
        for r in result.review_required
        if r.change in ("exception_added", "exception_renewed")
    }
    out: list[RequiredApproval] = []

    def need(approver_handles: tuple[str, tuple[str, ...]], reason: str, **at) -> None:
        approver, handles = approver_handles
        item = RequiredApproval(approver, reason, handles=handles, **at)
        if item not in out:
            out.append(item)

    products = {f"{bp.domain}.{p.name}": p for bp, p in head.products()}
    for entry in result.new_access:
        g = entry.grant
        domain = g.product.split(".", 1)[0]
        at = {"domain": domain, "product": g.product, "principal": g.principal}
        what = f"{g.principal} -> {g.product}: {entry.why}"
        approver, handles, note = who.owners(domain)
        need((approver, handles), f"new access for {what}{note}", **at)
        if g.pii:
            pii = products[g.product].pii_columns.intersection(g.columns)
            cols = first_of(sorted(pii), len(pii))
            need(who.group(PRIVACY), f"PII ({cols}) for {g.principal} on {g.product}", **at)
        product = products.get(g.product)
        if product is not None and product.classification is Classification.restricted:
            need(who.group(SECURITY), f"restricted data for {g.principal} on {g.product}", **at)
        for policy in sorted(waived.get((g.principal, g.product), ())):
            group = waiver_group(policy)
            if (g.product, policy) in approved_now or any(
                a.approver == group and a.principal == g.principal for a in out
            ):
                continue  # the exception is approved with this grant, or the group approves it
            need(
                who.group(group),
                f"{g.principal} -> {g.product} is allowed only by the exception waiving {policy}, "
                "approved for the grants it had then: a grant added or widened under it needs "
                f"{group}'s approval too",
                **at,
            )
        for named in who.named(g.approved_by) if g.approved_by and who.platform else ():
            if not any(a.approver == named[0] and a.principal == g.principal for a in out):
                need(named, f"{g.principal} -> {g.product} names approved_by {g.approved_by}: "
                     "the approver it names approves it", **at)  # fmt: skip
    for r in result.review_required:
        at = {"domain": r.domain, "product": r.product, "principal": None}
        if r.domain is not None:
            approver, handles, note = who.owners(r.domain)
            need((approver, handles), f"{r.change}: {r.reason}{note}", **at)
        if r.change in ("exception_added", "exception_renewed"):
            group = waiver_group(r.policy or "")
            need(who.group(group), f"{r.change}: {r.reason}", **at)
        else:
            need(who.group(PLATFORM), f"{r.change}: {r.reason}", **at)
        if r.change in ("pii_removed", "pii_column_dropped"):
            need(who.group(PRIVACY), f"{r.change}: {r.reason}", **at)
        if r.change == "stack_config_changed":
            need(who.group(SECURITY), f"{r.change}: {r.reason}", **at)
    for change in result.lf_tag_changes:  # `infra.diff.tag_diff.Retag`
        domain = change.product.split(".", 1)[0]
        at = {"domain": domain, "product": change.product, "principal": None}
        need(who.group(change.assigned_by), change.why, **at)
    for domain in sorted(set(head.domains) - base.all_domains):
        at = {"domain": domain, "product": None, "principal": None}
        need(who.group(PLATFORM), f"new domain {domain}", **at)
    if mesh_file_change is not None:
        need(who.group(PLATFORM), mesh_file_change, domain=None, product=None, principal=None)
    return out


def platform_file_change(base_dir: Path, head_dir: Path) -> tuple[str, str] | None:
    """(file, why) when the platform file changed from BASE to HEAD (added, removed, edited):
    HEAD's file, or BASE's when HEAD has none. None when its bytes are the same."""

    def read(directory: Path) -> bytes | None:  # absent or refused (its load reports which)
        return read_bytes(directory / MESH_FILE)

    before, after = read(base_dir), read(head_dir)
    if before == after:
        return None
    if before is None:
        return str(head_dir / MESH_FILE), f"{MESH_FILE} is added: it decides who approves what"
    if after is None:
        return (
            str(base_dir / MESH_FILE),
            f"{MESH_FILE} is removed: approvals would no longer be checked",
        )
    return str(head_dir / MESH_FILE), f"{MESH_FILE} changes: approver groups or domain owners"


def bootstrap_problems(
    base_dir: Path, head_dir: Path, stack_changes: list[ReviewItem]
) -> list[Problem]:
    """E071 for each other change of a pull request that adds the first `_mesh.yaml`.

    Who is who comes from BASE; a tree without a platform file has no groups, so the change
    that adds the first one is approved by the groups it names itself. It may therefore change
    nothing else: no blueprint added, edited or removed, no stack config changed. Its groups
    then decide nothing before a second pull request, which BASE's file (the merged one)
    judges."""
    if (base_dir / MESH_FILE).is_file() or not (head_dir / MESH_FILE).is_file():
        return []
    why = (
        f"this change adds the first {MESH_FILE}, whose groups would approve it: it must come "
        f"alone; make this change in another pull request once {MESH_FILE} is merged"
    )
    out = []
    head = {p.name: p for p in blueprint_files(head_dir)}
    base = {p.name: p for p in blueprint_files(base_dir)}
    for name in sorted(set(head) | set(base)):
        a, b = base.get(name), head.get(name)
        if (
            a is not None
            and b is not None
            and (same := read_bytes(a)) is not None
            and (same == read_bytes(b))
        ):
            continue
        what = "added" if a is None else "removed" if b is None else "changed"
        shown = str(b if b is not None else a)
        out.append(Problem(shown, None, "", "E071", f"{name} is {what}: {why}"))
    for item in stack_changes:
        out.append(Problem(item.file, item.line, "", "E071", f"{item.reason}: {why}"))
    return out
