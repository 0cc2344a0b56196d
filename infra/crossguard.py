"""The catalogue's resource-level rules as Pulumi CrossGuard policies (pulumi-policy).

`policies/__main__.py` builds the PolicyPack from `policies(load_context(...))`; nothing here
starts a server, so tests call each policy's `validate` directly with fake args.

Every CrossGuard policy wraps the *same* functions `mesh plan` runs (infra.governance.
resource_rules and graph_rules): a `ResourceValidationPolicy` per catalogue policy with resource rules, and a
`StackValidationPolicy` (`<id>-...-graph`) per catalogue policy with graph rules. CrossGuard's
`resource_type`/`props` (camelCase inputs, like the recorded graph) become a `Res`; values not known
during preview become `UNKNOWN` and are skipped. The blueprints (for exceptions and the rules that
compare resources with declared grants) are read from `$MESH_BLUEPRINTS`, else the `blueprints/`
directory next to `policies/`; without them those rules are skipped and nothing is waived.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

try:
    from pulumi_policy import Severity as PolicySeverity
except ImportError:  # pragma: no cover - pulumi-policy before policy metadata
    PolicySeverity = None
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

from infra import api, clock
from infra.errors import Severity, UsageError
from infra.governance import catalogue as cat
from infra.governance.findings import resource_finding
from infra.governance.graph_index import Graph, product_of
from infra.governance.graph_rules import GRAPH_RULES, check_graph
from infra.governance.resource_rules import RESOURCE_RULES, UNKNOWN, Res, check_resource
from infra.governance.waivers import Waivers
from infra.model.mesh import Mesh
from infra.provision.graph import STACK_TYPE, urn_type_and_name

PACK_NAME = "mesh-governance"
_SENTINELS = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)
ENFORCEMENT = {
    Severity.error: EnforcementLevel.MANDATORY,
    Severity.warning: EnforcementLevel.ADVISORY,
}
SEVERITY = (
    {Severity.error: PolicySeverity.HIGH, Severity.warning: PolicySeverity.MEDIUM}
    if PolicySeverity is not None
    else {Severity.error: None, Severity.warning: None}
)


@dataclass(frozen=True)
class Context:
    """What the pack knows besides the resources: the blueprints (or None) and today."""

    mesh: Mesh | None
    today: dt.date


def load_context(default_blueprints: Path | None = None) -> Context:
    """Blueprints from $MESH_BLUEPRINTS or `default_blueprints`; none if they cannot be read."""
    today = clock.today()
    path = os.environ.get("MESH_BLUEPRINTS") or default_blueprints
    mesh = None
    if path is not None:
        try:
            # the pipeline of `pulumi up`: with governance, so revoked grants are known
            loaded = api.validate(Path(path), today=today, deploying=True).mesh
            mesh = loaded if loaded.blueprints else None
        except UsageError:
            mesh = None
    return Context(mesh, today)


# ------------------------------------------------------------------------------ conversion


def plain(value: Any) -> Any:
    """CrossGuard props (proxies that raise on unknown values) as plain data with UNKNOWN."""
    if isinstance(value, str):
        return UNKNOWN if value in _SENTINELS else value
    if isinstance(value, Mapping):
        out = {}
        for key in value:
            try:
                out[key] = plain(value[key])
            except UnknownValueError:
                out[key] = UNKNOWN
        return out
    if isinstance(value, Sequence):
        items = []
        for i in range(len(value)):
            try:
                items.append(plain(value[i]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def res_from_args(args: ResourceValidationArgs) -> Res:
    opts = getattr(args, "opts", None)
    parent_type, parent = urn_type_and_name(getattr(opts, "parent", None))
    props = plain(args.props)
    return Res(args.resource_type, args.name, props, parent, parent_type, props)


def res_from_stack(resource: Any) -> Res:
    parent = getattr(resource, "parent", None)
    parent_type = getattr(parent, "resource_type", None)
    if parent_type == STACK_TYPE:
        parent = parent_type = None
    props = plain(resource.props)
    return Res(
        resource.resource_type,
        resource.name,
        props,
        getattr(parent, "name", None),
        parent_type,
        props,  # stack validation sees outputs (a key's arn among them)
    )


# ------------------------------------------------------------------------------ validations


def resource_validation(policy_id: str, context: Context) -> Callable:
    """The `validate` of the ResourceValidationPolicy for one catalogue policy."""

    waivers = Waivers(context.mesh, context.today)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        res = res_from_args(args)
        findings = [
            resource_finding(pid, res.type, res.name, message, product_of(res))
            for pid, message in check_resource(res, [policy_id])
        ]
        kept, _ = waivers.apply(findings, record=False)
        for f in kept:
            report_violation(f"{f.policy}: {f.message}", None)

    return validate


def stack_validation(policy_id: str, context: Context) -> Callable:
    """The `validate` of the StackValidationPolicy for one catalogue policy's graph rules."""

    waivers = Waivers(context.mesh, context.today)

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [r for r in args.resources if r.resource_type != STACK_TYPE]
        graph = Graph(res_from_stack(r) for r in resources)
        urns = {(r.resource_type, r.name): r.urn for r in resources}
        findings = [
            resource_finding(pid, res.type, res.name, message, product)
            for pid, res, message, product in check_graph(
                graph, context.mesh, context.today, [policy_id]
            )
        ]
        kept, _ = waivers.apply(findings, record=False)
        for f in kept:
            report_violation(
                f"{f.policy}: {f.resource_name}: {f.message}",
                urns.get((f.resource_type, f.resource_name)),
            )

    return validate


def _supported(kwargs: dict) -> dict:
    """Drop the metadata arguments an older pulumi-policy does not accept."""
    accepted = set(inspect.signature(ResourceValidationPolicy.__init__).parameters) & set(
        inspect.signature(StackValidationPolicy.__init__).parameters
    )
    return {k: v for k, v in kwargs.items() if k in accepted}


def policy_name(policy: cat.Policy, graph: bool = False) -> str:
    return f"{policy.id.lower()}-{policy.name}" + ("-graph" if graph else "")


def policies(context: Context | None = None) -> list:
    """Every CrossGuard policy of the pack, in catalogue order."""
    context = context or Context(None, clock.today())
    out: list = []
    for p in cat.CATALOGUE:
        common = _supported(
            {
                "description": f"{p.id}: {p.description}",
                "enforcement_level": ENFORCEMENT[p.severity],
                "severity": SEVERITY[p.severity],  # pulumi-policy versions with policy metadata
                "remediation_steps": p.rationale,
            }
        )
        if p.id in RESOURCE_RULES:
            out.append(
                ResourceValidationPolicy(
                    name=policy_name(p), validate=resource_validation(p.id, context), **common
                )
            )
        if p.id in GRAPH_RULES:
            out.append(
                StackValidationPolicy(
                    name=policy_name(p, graph=True),
                    validate=stack_validation(p.id, context),
                    **common,
                )
            )
    return out
