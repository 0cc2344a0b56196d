"""Approvals that mean something: who may approve what.

With a platform file (`_mesh.yaml`, `infra.model.platform`) the `approved_by` of a grant or an
exception names an approver group of that file (`privacy`) or one of its members
(`@acme/privacy-office`), not free text the requesting domain writes itself:

- `approver_problems` (part of `mesh validate`): a name no group knows is E056; a PII grant
  needs a privacy approver and an exception the group its policy names in the catalogue
  (`Policy.waived_by`, security unless said otherwise), else E057; an exception without
  `approved_by` is E058. Without the file, nothing here applies.
- `RequiredApproval`: one approval a change needs; `infra.diff.approvals` computes them for
  `mesh diff` (who must approve a change from BASE to HEAD).
- `missing_approvals`: the required approvals that the handles a pull request has (its
  approving reviewers and their teams: `read_approvals`) do not cover.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from infra.errors import Problem, UsageError, first_of, quote
from infra.governance.catalogue import waiver_group
from infra.model.access import readable_pii
from infra.model.mesh import Mesh
from infra.model.platform import MESH_FILE, PRIVACY, Platform, handle_key

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
                named = ", ".join(sorted(groups))
                is_what = (
                    f"names the group {named}, not {wanted}"
                    if handle_key(value) in {handle_key(g) for g in groups}
                    else f"is a member of {named}, not of {wanted}"
                )
                yield src.problem(
                    loc,
                    "E057",
                    f"{what} needs the approval of {wanted} ({members}); {quote(value)} {is_what}",
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
    out += _unlisted_accounts(mesh, platform)
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


def _unlisted_accounts(mesh: Mesh, platform: Platform) -> list[Problem]:
    """E074: a domain's `account:` that the platform file's `accounts` list does not name."""
    listed = platform.spec.accounts
    if listed is None:
        return []
    out = []
    for bp in mesh.blueprints:
        if bp.account is not None and bp.account not in listed:
            out.append(
                mesh.source(bp.domain).problem(
                    ("account",),
                    "E074",
                    f"account {bp.account} of domain {bp.domain} is not one of the mesh's "
                    f"accounts (accounts in {MESH_FILE}: {first_of(listed, len(listed))}): the "
                    f"platform team adds an account to {MESH_FILE} first",
                )
            )
    return out


# ------------------------------------------------------------------ diff: what a change needs

# (change, who approves it): what `infra.diff.approvals.required_approvals` asks for, as
# `mesh policies` shows it (the README's table says the same)
WHO_APPROVES: tuple[tuple[str, str], ...] = (
    ("a new or widened grant", "the producing domain's owners"),
    ("  ... sharing PII", "also privacy"),
    ("  ... of restricted data", "also security"),
    ("  ... naming approved_by", "also the approver it names (with _mesh.yaml)"),
    ("  ... waived by an exception", "also the group that waives the policy"),
    ("a consumer's account move", "each grant it carries, as a new grant"),
    ("an exception added or renewed", "the domain's owners and the group its policy names"),
    (
        "any other blueprint change to review",
        (
            "the domain's owners and platform (a PII mark removed or a PII column dropped: "
            "also privacy)"
        ),
    ),
    ("a stack config changed (Pulumi.<stack>.yaml)", "platform and security"),
    ("a new domain; any change to _mesh.yaml", "platform"),
)


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
