"""The one place that decides what "today" is (grant and exception expiry).

`MESH_TODAY=YYYY-MM-DD` pins the date, for tests and for reproducing a CI run of another day.
"""

from __future__ import annotations

import datetime as dt
import os

from infra.errors import UsageError


class ClockError(UsageError, ValueError):
    """MESH_TODAY is set but is not a date: a usage error (exit code 2)."""


def today() -> dt.date:
    pinned = os.environ.get("MESH_TODAY")
    if pinned:
        try:
            return dt.date.fromisoformat(pinned)
        except ValueError:
            raise ClockError(f"MESH_TODAY={pinned!r} is not an ISO date (YYYY-MM-DD)") from None
    return dt.date.today()
