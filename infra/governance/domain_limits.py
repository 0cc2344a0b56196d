"""Domain-local policies: the blueprint's `policies:` block, which may only tighten.

`effective(bp)` merges a domain's block with the global limits, keeping whichever is stricter, so
a loosening value never takes effect; `loosening(bp, src)` reports each such value (GOV-014) at the
field that tries it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from infra.governance import catalogue as cat
from infra.governance.findings import Finding, blueprint_finding
from infra.model.source import SourceFile
from infra.model.spec import Blueprint, Classification

TIGHTEN_ONLY = "GOV-014"


@dataclass(frozen=True)
class DomainLimits:
    """The policies that hold in one domain: global limits, tightened by the domain."""

    max_grant_days: int = cat.MAX_GRANT_DAYS
    grant_expiry_from: Classification = cat.GRANT_EXPIRY_FROM
    freshness_for_all: bool = False
    require_approval: bool = False
    allowed_consumers: frozenset[str] | None = None
    min_retention_days: int | None = None  # domain bounds; the global ones apply as well
    max_retention_days: int | None = None

    def retention_bounds(self, classification: Classification) -> tuple[int, int]:
        lo, hi = cat.RETENTION_BOUNDS[classification]
        if self.min_retention_days is not None:
            lo = max(lo, self.min_retention_days)
        if self.max_retention_days is not None:
            hi = min(hi, self.max_retention_days)
        return lo, hi

    def expiry_required(self, classification: Classification) -> bool:
        return classification.rank >= self.grant_expiry_from.rank

    def freshness_required(self, classification: Classification) -> bool:
        return self.freshness_for_all or classification.rank >= cat.FRESHNESS_SLO_FROM.rank


def effective(bp: Blueprint) -> DomainLimits:
    p = bp.policies
    expiry_from = cat.GRANT_EXPIRY_FROM
    if p.grant_expiry_from is not None and p.grant_expiry_from.rank < expiry_from.rank:
        expiry_from = p.grant_expiry_from
    return DomainLimits(
        max_grant_days=min(cat.MAX_GRANT_DAYS, p.max_grant_days or cat.MAX_GRANT_DAYS),
        grant_expiry_from=expiry_from,
        freshness_for_all=bool(p.require_freshness_slo),
        require_approval=bool(p.require_approval),
        allowed_consumers=(
            frozenset(p.allowed_consumer_domains)
            if p.allowed_consumer_domains is not None
            else None
        ),
        min_retention_days=None
        if _contradictory(p.min_retention_days, p)
        else p.min_retention_days,
        max_retention_days=(
            min(p.max_retention_days, cat.RETENTION_CEILING) if p.max_retention_days else None
        ),
    )


def _contradictory(minimum: int | None, p) -> bool:
    """A domain minimum no product could meet (reported by `loosening`) is not applied, so the
    products do not all fail on top of the one error that explains it."""
    if minimum is None:
        return False
    return minimum > cat.RETENTION_CEILING or (
        p.max_retention_days is not None and minimum > p.max_retention_days
    )


def loosening(bp: Blueprint, src: SourceFile) -> Iterator[Finding]:
    """GOV-014: every domain-local value that would loosen (or contradict) a global policy."""
    p = bp.policies

    def at(field: str, message: str) -> Finding:
        return blueprint_finding(src, ("policies", field), TIGHTEN_ONLY, message)

    if p.max_grant_days is not None and p.max_grant_days > cat.MAX_GRANT_DAYS:
        yield at(
            "max_grant_days",
            f"max_grant_days {p.max_grant_days} loosens the global maximum of "
            f"{cat.MAX_GRANT_DAYS} days; a domain may only lower it",
        )
    if p.grant_expiry_from is not None and p.grant_expiry_from.rank > cat.GRANT_EXPIRY_FROM.rank:
        yield at(
            "grant_expiry_from",
            f"grant_expiry_from {p.grant_expiry_from.value} loosens the global policy (grants on "
            f"{cat.GRANT_EXPIRY_FROM.value} data and above must expire); a domain may only "
            "extend it to lower classifications",
        )
    if p.max_retention_days is not None and p.max_retention_days > cat.RETENTION_CEILING:
        yield at(
            "max_retention_days",
            f"max_retention_days {p.max_retention_days} is above the global maximum of "
            f"{cat.RETENTION_CEILING} days; a domain may only lower it",
        )
    if p.min_retention_days is not None:
        if p.min_retention_days > cat.RETENTION_CEILING:
            yield at(
                "min_retention_days",
                f"min_retention_days {p.min_retention_days} is above the global maximum of "
                f"{cat.RETENTION_CEILING} days: no product could comply",
            )
        elif p.max_retention_days is not None and p.min_retention_days > p.max_retention_days:
            yield at(
                "min_retention_days",
                f"min_retention_days {p.min_retention_days} is above max_retention_days "
                f"{p.max_retention_days}: no product could comply",
            )
