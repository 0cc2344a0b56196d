"""Direct S3 read: the consumer roles that may read a product's objects straight from its
bucket (the producer's opt-in of whole-table grants, `s3_direct`), each until its grant expires.

`direct_reads` picks them out of the blueprint's grants; `direct_groups` groups them by expiry,
the way the bucket and key policies (`infra.provision.documents`) and their sizes
(`infra.provision.quotas`) write one statement per expiry date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from infra.model import access
from infra.model.mesh import Mesh
from infra.model.spec import Blueprint, Product


@dataclass(frozen=True)
class DirectRead:
    """Consumer roles that may read one product's objects directly from S3 (the opt-in of a
    whole-table grant), up to and including `until` (None: no expiry)."""

    roles: tuple[str, ...]  # role ARNs
    until: dt.date | None = None

    @property
    def sid_suffix(self) -> str:
        return "" if self.until is None else f"Until{self.until:%Y%m%d}"

    def condition(self) -> dict:
        """Access ends at the end of `until` even when nobody deploys (aws:CurrentTime)."""
        if self.until is None:
            return {}
        end = self.until + dt.timedelta(days=1)
        return {"DateLessThan": {"aws:CurrentTime": f"{end.isoformat()}T00:00:00Z"}}


def direct_groups(readers: tuple[DirectRead, ...] | list[DirectRead]) -> list[DirectRead]:
    """One group per expiry date (no expiry first, then by date), each with its sorted roles."""
    by_until: dict[dt.date | None, set[str]] = {}
    for r in readers:
        by_until.setdefault(r.until, set()).update(r.roles)
    order = sorted(by_until, key=lambda d: (d is not None, d or dt.date.min))
    return [DirectRead(tuple(sorted(by_until[d])), d) for d in order]


def direct_reads(
    mesh: Mesh, bp: Blueprint, product: Product, role_arn, today: dt.date
) -> tuple[DirectRead, ...]:
    """The active grants of `product` that opt into direct S3 read (and cover every column),
    as the consumer role ARNs its bucket and key policies name (`role_arn(domain)`), each with
    its grant's expiry."""
    if not any(g.s3_direct for g in product.consumers):
        return ()  # most products: nobody opted in, nothing to look up
    opted = [g for g in access.active_grants(mesh, bp, product, today) if g.s3_direct]
    return tuple(
        DirectRead((role_arn(c.domain),), c.expires)
        for c, whole in zip(opted, access.covers_every_column(product, opted))
        if whole  # `access.consumer_grants`' s3_direct: opted in and every column and row
    )
