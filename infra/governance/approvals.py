"""Approvals that mean something: who may approve what, and who must approve a change.

With a platform file (`_mesh.yaml`, `infra.model.platform`) the `approved_by` of a grant or an
exception names an approver group of that file (`privacy`) or one of its members
(`@acme/privacy-office`), not free text the requesting domain writes itself:

- `approver_problems` (part of `mesh validate`): a name no group knows is E056; a PII grant
  needs a privacy approver and an exception the group its policy names in the catalogue
  (`Policy.waived_by`, security unless said otherwise), else E057; an exception without
  `approved_by` is E058. Without the file, nothing here applies.
- `required_approvals` (part of `mesh diff`): who must approve a change from BASE to HEAD. A
  new or widened grant needs the producing domain's owners; PII also `privacy`; restricted data
  `security`; an exception its policy's group; a change to review (decommission, retention,
  classification, owner, ...: `infra.governance.review`) the domain's owners and `platform`; a
  new domain and any change to `_mesh.yaml` `platform`.
- `missing_approvals`: the required approvals that the handles a pull request has (its
  approving reviewers and their teams: `read_approvals`) do not cover.

Who counts as whom is decided by BASE, the tree already merged: its platform file's groups and
its domains' owners. A pull request cannot approve itself by adding its author to a group or by
naming itself the owner (HEAD's file is used only for what BASE does not have: the first
`_mesh.yaml`, a new domain).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from infra.errors import Problem, UsageError, first_of, quote
from infra.governance.catalogue import waiver_group
from infra.model.access import readable_pii
from infra.model.mesh import Mesh
from infra.model.platform import MESH_FILE, PLATFORM, PRIVACY, SECURITY, Platform, handle_key
from infra.model.spec import Classification

if TYPE_CHECKING:
    from infra.diff.access_diff import DiffResult


# ------------------------------------------------------------------ validate: who may approve


def _named(platform: Platform) -> str:
    """The groups of a platform file and their members, for a message (bounded)."""
    parts = [f"{g} ({', '.join(platform.members(g))})" for g in platform.groups]
    return first_of(parts, len(parts))


def approver_problems(mesh: Mesh) -> list[Problem]:
    """E056-E058 and W009/W010 of a tree with a platform file (none without one)."""
    platform = mesh.platform
    if platform is None:
        return []
    out: list[Problem] = []
    for bp in mesh.blueprints:
        src = mesh.source(bp.domain)

        def check(
            value: str, loc: tuple, wanted: str | None, what: str, src=src
        ) -> Iterator[Problem]:
            groups = platform.groups_of(value)
            if not groups:
                yield src.problem(
                    loc,
                    "E056",
                    f"approved_by {quote(value)} is not an approver of {MESH_FILE}: name a group "
                    f"or one of its members: {_named(platform)}",
                )
            elif wanted is not None and wanted not in groups:
                members = ", ".join(platform.members(wanted)) or "(no members)"
                yield src.problem(
                    loc,
                    "E057",
                    f"{what} needs the approval of {wanted} ({members}); {quote(value)} is "
                    f"{', '.join(sorted(groups))}",
                )

        for pi, product in enumerate(bp.products):
            for gi, consumer in enumerate(product.consumers):
                if consumer.approved_by is None:
                    continue  # E028 when it shares PII
                pii = readable_pii(product, consumer)
                wanted = PRIVACY if pii else None
                what = (
                    f"sharing PII ({first_of(sorted(pii), len(pii))}) of {bp.domain}."
                    f"{product.name} with {consumer.domain}"
                )
                loc = ("products", pi, "consumers", gi, "approved_by")
                out += check(consumer.approved_by, loc, wanted, what)
        for ei, exc in enumerate(bp.exceptions):
            loc = ("exceptions", ei, "approved_by")
            group = waiver_group(exc.policy)
            if exc.approved_by is None:
                members = ", ".join(platform.members(group)) or "(no members)"
                out.append(
                    src.problem(
                        loc,
                        "E058",
                        f"an exception needs approved_by: waiving {exc.policy} needs the approval "
                        f"of {group} ({members})",
                    )
                )
            else:
                what = f"an exception waiving {exc.policy} for {bp.domain}.{exc.product}"
                out += check(exc.approved_by, loc, group, what)
        if bp.owner.github is None and bp.domain not in platform.spec.owners:
            out.append(
                src.problem(
                    ("owner",),
                    "W010",
                    f"domain {bp.domain} names no GitHub owner: set owner.github (@org/team) or "
                    f"an owners entry in {MESH_FILE}; until then the platform group approves its "
                    "changes and owns its file in CODEOWNERS",
                )
            )
    psrc = platform.source
    domains = {bp.domain: bp for bp in mesh.blueprints}
    for domain, handle in platform.spec.owners.items():
        bp = domains.get(domain)
        if bp is None and domain not in mesh.other_domains:
            out.append(
                psrc.problem(
                    ("owners", domain),
                    "W009",
                    f"owners names domain {domain!r}, which has no blueprint: the entry is ignored",
                )
            )
        elif (
            bp is not None and bp.owner.github and handle_key(bp.owner.github) != handle_key(handle)
        ):
            out.append(
                psrc.problem(
                    ("owners", domain),
                    "W009",
                    f"owners gives {domain} to {handle}, but its blueprint names owner.github "
                    f"{bp.owner.github}, which wins: remove one of the two",
                )
            )
    return sorted(out, key=Problem.sort_key)


# ------------------------------------------------------------------ diff: who must approve


@dataclass(frozen=True)
class RequiredApproval:
    """One approval a change needs: `approver` is an approver group (`privacy`, `platform`) or
    a domain's owning team (`@acme/sales-data`); `handles` are who may give it."""

    approver: str
    reason: str
    domain: str | None
    product: str | None  # <domain>.<product>
    principal: str | None  # <domain>:consumer of a grant
    handles: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {
            "approver": self.approver,
            "reason": self.reason,
            "domain": self.domain,
            "product": self.product,
            "principal": self.principal,
        }

    def given(self, approved: frozenset[str]) -> bool:
        """Whether one of the handles a pull request has (`handle_key`ed) may give it."""
        return any(handle_key(h) in approved for h in self.handles)


class _Approvers:
    """Who is who for a change: BASE's platform file and owners first, HEAD's for the rest."""

    def __init__(self, base: Mesh, head: Mesh) -> None:
        self.base, self.head = base, head
        self.platform = base.platform or head.platform

    def group(self, name: str) -> tuple[str, tuple[str, ...]]:
        return name, self.platform.members(name) if self.platform is not None else ()

    def owners(self, domain: str) -> tuple[str, tuple[str, ...], str]:
        """(approver, handles, note) of a domain's owners; platform when it names none."""
        known = domain in self.base.all_domains
        handle = (self.base if known else self.head).owner_handle(domain)
        if handle is not None:
            return handle, (handle,), ""
        approver, handles = self.group(PLATFORM)
        return approver, handles, f" (domain {domain} names no owner.github: platform approves)"


def required_approvals(
    base: Mesh, head: Mesh, result: DiffResult, mesh_file_change: str | None = None
) -> list[RequiredApproval]:
    """Every approval the change from `base` to `head` needs (see the module docstring), in
    the order of the diff: new access, then reviewed changes, new domains, the platform file.
    `mesh_file_change`: why the platform file changed, if it did (`platform_file_change`)."""
    who = _Approvers(base, head)
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
    for r in result.review_required:
        at = {"domain": r.domain, "product": r.product, "principal": None}
        approver, handles, note = who.owners(r.domain)
        need((approver, handles), f"{r.change}: {r.reason}{note}", **at)
        if r.change in ("exception_added", "exception_renewed"):
            group = waiver_group(r.policy or "")
            need(who.group(group), f"{r.change}: {r.reason}", **at)
        else:
            need(who.group(PLATFORM), f"{r.change}: {r.reason}", **at)
        if r.change == "pii_removed":
            need(who.group(PRIVACY), f"{r.change}: {r.reason}", **at)
    for domain in sorted(set(head.domains) - base.all_domains):
        at = {"domain": domain, "product": None, "principal": None}
        need(who.group(PLATFORM), f"new domain {domain}", **at)
    if mesh_file_change is not None:
        need(who.group(PLATFORM), mesh_file_change, domain=None, product=None, principal=None)
    return out


def platform_file_change(base_dir: Path, head_dir: Path) -> str | None:
    """Why the platform file changed from BASE to HEAD (added, removed, edited), or None."""

    def read(directory: Path) -> bytes | None:
        try:
            return (directory / MESH_FILE).read_bytes()
        except OSError:  # absent (or unreadable, which its load reports)
            return None

    before, after = read(base_dir), read(head_dir)
    if before == after:
        return None
    if before is None:
        return f"{MESH_FILE} is added: it decides who approves what"
    if after is None:
        return f"{MESH_FILE} is removed: approvals would no longer be checked"
    return f"{MESH_FILE} changes: approver groups or domain owners"


def missing_approvals(
    required: list[RequiredApproval], approved: frozenset[str]
) -> list[RequiredApproval]:
    """The required approvals none of the `approved` handles may give."""
    keys = frozenset(handle_key(h) for h in approved)
    return [r for r in required if not r.given(keys)]


# ------------------------------------------------------------------ the approvals file

MAX_APPROVALS_BYTES = 1024 * 1024


def read_approvals(path: Path) -> frozenset[str]:
    """The handles of an approvals file, `{"approved_by": ["@alice", "@acme/privacy-office"]}`
    (what the PR workflow builds from the approving reviews and the reviewers' teams). Anything
    else is a usage error naming the file and what was expected."""
    from pydantic import ValidationError

    from infra.model.platform import ApprovalsFile

    where = f"--approvals {str(path)!r}"
    expected = 'expected JSON {"approved_by": ["@alice", "@acme/privacy-office"]}'
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_APPROVALS_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{where}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_APPROVALS_BYTES:
        raise UsageError(f"{where}: larger than {MAX_APPROVALS_BYTES // 1024} KiB; {expected}")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not UTF-8 text; {expected}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{where}:{exc.lineno}: not JSON ({exc.msg}, column {exc.colno}); {expected}"
        ) from None
    except RecursionError:
        raise UsageError(f"{where}: nested too deeply; {expected}") from None
    try:
        doc = ApprovalsFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in err["loc"])
        field = field.replace(".[", "[") or "(top level)"
        if err["type"] == "string_pattern_mismatch":
            why = f"{quote(err['input'])} is not a GitHub handle (@user or @org/team)"
        elif err["type"] == "missing":
            why = "is missing"
        elif err["type"] == "extra_forbidden":
            why = "is not a known key"
        else:
            why = f"{err['msg']} (got {quote(err['input'])})"
        more = len(exc.errors()) - 1
        tail = f" (and {more} more problem(s))" if more > 0 else ""
        raise UsageError(f"{where}: {field}: {why}{tail}; {expected}") from None
    return frozenset(doc.approved_by)
