"""A consumer domain that moves to another AWS account carries every grant it holds there: in
the new account another set of people administers the role that reads, and the platform stack
rewrites that account's Lake Formation settings. So each grant the moving consumer holds in
HEAD is new access (`consumer_account_moved`) for `mesh diff`, approved as a new grant would be:
the producer's owners, privacy for PII, security for restricted data
(`infra.diff.approvals`).

The grants are those of the whole HEAD tree, not only of the blueprints the change touches: a
move is made in the consumer's own file, its grants are declared in the producers' files.
"""

from __future__ import annotations

import datetime as dt

from infra.model.access import DeclaredGrant, declared_access
from infra.model.mesh import Mesh


def moved_consumers(base: Mesh, head: Mesh) -> dict[str, tuple[str | None, str | None]]:
    """Domain -> (account before, account after; None: the stack's) of every domain of both
    trees whose `account:` changes."""
    before = {bp.domain: bp.account for bp in base.blueprints}
    return {
        bp.domain: (before[bp.domain], bp.account)
        for bp in head.blueprints
        if bp.domain in before and before[bp.domain] != bp.account
    }


def moved_grants(
    base: Mesh, head: Mesh, today: dt.date
) -> list[tuple[DeclaredGrant, DeclaredGrant | None, str]]:
    """(HEAD grant, BASE grant or None, why) for each read grant a moving consumer holds in
    HEAD."""
    moves = moved_consumers(base, head)
    if not moves:
        return []
    principals = {f"{d}:consumer": d for d in moves}
    before = {
        (g.principal, g.product): g
        for g in declared_access(base, today).grants
        if g.principal in principals
    }
    out = []
    for g in declared_access(head, today).grants:
        domain = principals.get(g.principal)
        if domain is None or g.access != "read":
            continue
        old, new = moves[domain]
        why = (
            f"{domain} moves from account {old or '(the stack account)'} to "
            f"{new or '(the stack account)'}"
        )
        out.append((g, before.get((g.principal, g.product)), why))
    return out
