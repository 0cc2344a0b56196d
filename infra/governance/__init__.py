"""Federated computational governance: global policies as code, checked on the blueprints and on
the generated resources; domains may only tighten them; exceptions are explicit and expire.

The catalogue (`CATALOGUE`, ids GOV-0xx) and its limits are in `catalogue`; `mesh policies` lists
them. Import from here:

    from infra.governance import check_blueprints, check_resources, active_exceptions

The names below are imported on first use (PEP 562), so registering `mesh policies` on the CLI
does not load the rule modules into commands that never run them (`mesh diff`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.governance.catalogue import CATALOGUE, POLICIES, Level, Policy
    from infra.governance.engine import (
        Report,
        active_exceptions,
        check_blueprints,
        check_resources,
        govern_blueprints,
        govern_resources,
        with_governance,
    )
    from infra.governance.exceptions import ExceptionStatus
    from infra.governance.findings import Finding

_EXPORTS = {
    "CATALOGUE": "catalogue",
    "POLICIES": "catalogue",
    "Level": "catalogue",
    "Policy": "catalogue",
    "Report": "engine",
    "active_exceptions": "engine",
    "check_blueprints": "engine",
    "check_resources": "engine",
    "govern_blueprints": "engine",
    "govern_resources": "engine",
    "with_governance": "engine",
    "ExceptionStatus": "exceptions",
    "Finding": "findings",
}

__all__ = [
    "CATALOGUE",
    "POLICIES",
    "ExceptionStatus",
    "Finding",
    "Level",
    "Policy",
    "Report",
    "active_exceptions",
    "check_blueprints",
    "check_resources",
    "govern_blueprints",
    "govern_resources",
    "with_governance",
]
assert sorted(__all__) == sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
