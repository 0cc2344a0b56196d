"""Grants whose access has ended, and the stacks that must deploy for Lake Formation to revoke
them (`mesh expiring`, run by the scheduled workflow `.github/workflows/mesh-expiry.yml`).

A Lake Formation permission takes no condition: a grant's `expires` is enforced when a stack
that declares it deploys after the date (the program then declares no permission for it, and
Pulumi revokes the one it made). So every day, shortly after midnight UTC, the workflow asks
which grants ended in the last `since` days (their last day, `expires`, or the product's
decommission date, has passed) and deploys the stacks of the project that declare them: a
stack for the whole mesh, or the producing domain's own stack. Deploying a stack that has
converged already changes nothing, so a missed run is caught up by the next.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from infra.model import access
from infra.model.mesh import Mesh
from infra.provision.project import ProjectStack


@dataclass(frozen=True)
class Ended:
    product: str  # domain.product
    consumer: str  # the consumer domain
    ended: dt.date  # the first day without access
    expires: dt.date | None  # the grant's last day, when it is the grant that expired
    stacks: tuple[str, ...]  # the project's stacks that declare it (Pulumi.<stack>.yaml)

    def as_json(self) -> dict:
        return {
            "product": self.product,
            "consumer": self.consumer,
            "ended": self.ended.isoformat(),
            "expires": self.expires.isoformat() if self.expires else None,
            "stacks": list(self.stacks),
        }


def ended_grants(mesh: Mesh, today: dt.date, since: int, stacks: list[ProjectStack]) -> list[Ended]:
    """The grants that gave access on some day of the `since` days before `today` and give none
    today, each with the stacks that declare it."""
    out = []
    for bp, product in mesh.products():
        now = {id(g) for g in access.active_consumers(product, today)}
        for g in product.consumers:
            if id(g) in now:
                continue
            ended = None
            for back in range(1, since + 1):
                day = today - dt.timedelta(days=back)
                if any(c is g for c in access.active_consumers(product, day)):
                    ended = day + dt.timedelta(days=1)
                    break
            if ended is None:
                continue
            declaring = tuple(
                s.name for s in stacks if s.includes_domain(bp.domain) and not s.bootstrap
            )
            out.append(
                Ended(
                    access.product_id(bp.domain, product.name),
                    g.domain,
                    ended,
                    g.expires,
                    declaring,
                )
            )
    out += _ended_tag_grants(mesh, today, since, stacks)
    return sorted(out, key=lambda e: (e.ended, e.product, e.consumer))


def _ended_tag_grants(
    mesh: Mesh, today: dt.date, since: int, stacks: list[ProjectStack]
) -> list[Ended]:
    """The tag grants (`infra.model.lftags`) whose last day is one of the `since` days before
    `today`: one entry per product each reached on its last day (the tag grant's label, such as
    `_mesh.yaml tag_grants[0]`, when it reached none: its permission is still to be removed).
    A domain's tag grant is in the domain's stack, a mesh-wide one in the grantee's."""
    from infra.model import lftags

    out = []
    for ref in lftags.tag_grant_refs(mesh):
        last = ref.grant.expires
        if last is None or not (today - dt.timedelta(days=since) <= last < today):
            continue
        holder = ref.grant.domain if ref.scope == lftags.MESH_SCOPE else ref.scope
        declaring = tuple(s.name for s in stacks if s.includes_domain(holder) and not s.bootstrap)
        products = [f"{m.domain}.{m.product}" for m in lftags.expand(mesh, ref, last)]
        ended = last + dt.timedelta(days=1)
        for product in products or [ref.label]:
            out.append(Ended(product, ref.grant.domain, ended, last, declaring))
    return out
