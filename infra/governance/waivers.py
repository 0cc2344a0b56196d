"""Exceptions: `exceptions:` entries that waive one policy for one product until a date.

An exception is *active* from the day it is written up to and including its `expires` date (the
last day it waives, like a grant's `expires`); after that it waives nothing and is reported.
Every active exception is reported too (a warning with code GOV-X01), so a reviewer sees each
waiver on every run; the audit report lists them through `infra.governance.active_exceptions`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

from infra.governance import catalogue as cat
from infra.governance.findings import Finding, blueprint_finding
from infra.model import access
from infra.model.mesh import Mesh
from infra.model.source import format_path
from infra.model.spec import PolicyException

State = Literal["active", "expired", "invalid"]


def floor_breach(mesh: Mesh, product_id: str) -> int | None:
    """The product's retention_days when it lies below its classification's global floor."""
    try:
        _, product = mesh.product(product_id)
    except KeyError:
        return None
    floor = cat.RETENTION_BOUNDS[product.classification][0]
    return product.retention_days if product.retention_days < floor else None


@dataclass
class ExceptionStatus:
    """One `exceptions:` entry and what it does today."""

    domain: str
    index: int  # position in the blueprint's exceptions list
    exception: PolicyException
    state: State
    file: str
    reason: str | None = None  # why it is invalid
    waived: list[Finding] = field(default_factory=list)  # findings it waived today

    @property
    def product(self) -> str:
        return access.product_id(self.domain, self.exception.product)

    @property
    def policy(self) -> str:
        return self.exception.policy

    @property
    def path(self) -> str:
        return format_path(("exceptions", self.index))

    def as_json(self) -> dict:
        e = self.exception
        return {
            "policy": e.policy,
            "product": self.product,
            "justification": e.justification,
            "expires": e.expires.isoformat(),
            "approved_by": e.approved_by,
            "state": self.state,
            "file": self.file,
            "path": self.path,
            "waives": [f.as_json() for f in self.waived],
        }


def _state(exc: PolicyException, today: dt.date) -> tuple[State, str | None, tuple]:
    """(state, reason, location of the reason) of one exception."""
    if exc.policy not in cat.POLICIES:
        waivable = ", ".join(sorted(cat.WAIVABLE))
        return (
            "invalid",
            f"unknown policy {exc.policy!r}; waivable policies: {waivable}",
            ("policy",),
        )
    if exc.policy not in cat.WAIVABLE:
        policy = cat.POLICIES[exc.policy]
        return "invalid", f"policy {exc.policy} ({policy.name}) cannot be waived", ("policy",)
    if exc.expires < today:
        return "expired", None, ("expires",)
    if (exc.expires - today).days > cat.MAX_EXCEPTION_DAYS:
        return (
            "invalid",
            (
                f"expires {exc.expires.isoformat()}, more than {cat.MAX_EXCEPTION_DAYS} days after "
                f"{today.isoformat()}: exceptions are temporary"
            ),
            ("expires",),
        )
    return "active", None, ()


def consumer_of(mesh: Mesh, product_id: str, f: Finding) -> str | None:
    """The consumer domain of the grant a finding of `product_id` is located in, else None."""
    loc = f.loc
    if len(loc) < 4 or loc[0] != "products" or loc[2] != "consumers":
        return None
    try:
        _, product = mesh.product(product_id)
        return product.consumers[loc[3]].domain
    except (KeyError, IndexError, TypeError):
        return None


class Waivers:
    """The exceptions of a mesh on one day; `apply` sets aside the findings they waive."""

    def __init__(self, mesh: Mesh | None, today: dt.date) -> None:
        self.mesh = mesh
        self.today = today
        self.statuses: list[ExceptionStatus] = []
        self._active: dict[tuple[str, str], ExceptionStatus] = {}
        self._expired: dict[tuple[str, str], ExceptionStatus] = {}
        for bp in mesh.blueprints if mesh is not None else ():
            src = mesh.source(bp.domain)
            products = {p.name for p in bp.products}
            for i, exc in enumerate(bp.exceptions):
                if exc.product not in products:
                    continue  # E034: not an exception of this mesh (the tree is invalid)
                state, reason, _ = _state(exc, today)
                status = ExceptionStatus(bp.domain, i, exc, state, src.path, reason)
                self.statuses.append(status)
                if state == "active":
                    self._active.setdefault((status.product, exc.policy), status)
                elif state == "expired":
                    self._expired.setdefault((status.product, exc.policy), status)

    def apply(
        self, findings: Iterable[Finding], record: bool = True
    ) -> tuple[list[Finding], list[Finding]]:
        """(kept, waived): a finding is waived by an active exception for its policy and product.
        A kept finding that an expired exception waived until its expiry says so
        (`Finding.expired_waiver`): time brought it back, not a change.
        `record`: remember on the exception what it waived (for its notice and the audit)."""
        kept: list[Finding] = []
        waived: list[Finding] = []
        for f in findings:
            status = self._active.get((f.product, f.policy)) if f.product else None
            if status is not None and not self._covers(status, f):
                status = None
            if status is None:
                lapsed = self._expired.get((f.product, f.policy)) if f.product else None
                if lapsed is not None:
                    f = replace(
                        f,
                        expired_waiver=(
                            f"{lapsed.file} {lapsed.path}, expired on "
                            f"{lapsed.exception.expires.isoformat()}"
                        ),
                    )
                kept.append(f)
                continue
            w = f.waive(f"{status.file} {status.path}")
            if record:
                status.waived.append(w)
            waived.append(w)
        return kept, waived

    def _covers(self, status: ExceptionStatus, f: Finding) -> bool:
        """A GOV-006 finding of a retention below the classification's floor is waived only by
        an exception that names that retention (`retention_days`): a short retention deletes
        data, so the waiver must say how short. A finding on a grant is waived only for the
        consumers the exception names, when it names them (`consumers`)."""
        if self.mesh is None:
            return True
        named = status.exception.consumers
        if named is not None and consumer_of(self.mesh, status.product, f) not in (None, *named):
            return False
        if f.policy != cat.RETENTION_POLICY:
            return True
        below = floor_breach(self.mesh, status.product)
        return below is None or status.exception.retention_days == below

    def findings(self) -> Iterator[Finding]:
        """GOV-X01 for each active exception, GOV-X02 expired, GOV-X03 invalid."""
        if self.mesh is None:
            return
        for s in self.statuses:
            src = self.mesh.source(s.domain)
            e = s.exception
            at = ("exceptions", s.index)
            if s.state == "invalid":
                _, reason, where = _state(e, self.today)
                yield blueprint_finding(
                    src, at + where, cat.EXCEPTION_INVALID, f"exception: {reason}", s.product,
                )  # fmt: skip
            elif s.state == "expired":
                yield blueprint_finding(
                    src,
                    at + ("expires",),
                    cat.EXCEPTION_EXPIRED,
                    f"exception waiving {e.policy} for {s.product} expired on "
                    f"{e.expires.isoformat()} and no longer waives it; remove or renew it",
                    s.product,
                )
            else:
                name = cat.POLICIES[e.policy].name
                if s.waived:
                    what = f"waives {len(s.waived)} finding(s)"
                else:
                    what = "waives nothing at present: remove it if it is no longer needed"
                approved = f", approved by {e.approved_by}" if e.approved_by else ""
                below = (
                    floor_breach(self.mesh, s.product) if e.policy == cat.RETENTION_POLICY else None
                )
                if below is not None and e.retention_days != below:
                    what += (
                        f"; it does not waive retention_days {below}, below the "
                        f"classification's floor: that needs retention_days: {below} in the "
                        "exception"
                    )
                yield blueprint_finding(
                    src,
                    at,
                    cat.EXCEPTION_ACTIVE,
                    f"active exception: {e.policy} ({name}) waived for {s.product} until "
                    f"{e.expires.isoformat()}{approved}: {e.justification} ({what})",
                    s.product,
                )
