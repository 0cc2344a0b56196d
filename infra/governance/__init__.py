"""Federated computational governance: global policies as code, checked on the blueprints and on
the generated resources; domains may only tighten them; exceptions are explicit and expire.

The catalogue (`CATALOGUE`, ids GOV-0xx) and its limits are in `catalogue`; `mesh policies` lists
them. Import from here:

    from infra.governance import check_blueprints, check_resources, active_exceptions
"""

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
