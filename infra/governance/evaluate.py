"""The policy engine: one catalogue, checked at two levels, with the same exceptions.

- `check_blueprints(mesh, today)`: the Mesh model (fast; `mesh validate`), findings located by
  file and line.
- `check_resources(graph, mesh, today)`: the generated resource graph (`mesh plan`; the CrossGuard
  pack runs the same rules), findings located by resource type and name.

Both return the findings in force: what an active exception waives is set aside (and counted on
the exception); `govern_*` return the whole picture as a `GovernanceReport`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from infra.errors import Problem, Severity
from infra.governance.blueprint_rules import check_mesh
from infra.governance.findings import Finding, resource_finding
from infra.governance.waivers import ExceptionStatus, Waivers
from infra.model.mesh import Mesh
from infra.model.report import Report

if TYPE_CHECKING:  # the resource rules are imported by the resource checks, not by validate
    from infra.governance.graph_index import Graph


@dataclass
class GovernanceReport:
    findings: list[Finding]  # in force: violations not waived, and notices about exceptions
    waived: list[Finding] = field(default_factory=list)
    exceptions: list[ExceptionStatus] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is not Severity.error]

    @property
    def ok(self) -> bool:
        return not self.errors


def _sorted(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(set(findings), key=Finding.sort_key)


# ------------------------------------------------------------------------------ blueprints


def govern_blueprints(mesh: Mesh, today: dt.date) -> GovernanceReport:
    waivers = Waivers(mesh, today)
    kept, waived = waivers.apply(check_mesh(mesh, today))
    notices = list(waivers.findings())  # after apply: an active exception says what it waived
    return GovernanceReport(_sorted(kept + notices), _sorted(waived), waivers.statuses)


def check_blueprints(mesh: Mesh, today: dt.date) -> list[Finding]:
    """Blueprint-level findings in force (file + line), including the exception notices."""
    return govern_blueprints(mesh, today).findings


def active_exceptions(mesh: Mesh, today: dt.date) -> list[ExceptionStatus]:
    """Every exception that waives a policy today, with the blueprint findings it waives (for
    the audit report: who waived what, why, until when)."""
    return [s for s in govern_blueprints(mesh, today).exceptions if s.state == "active"]


# ------------------------------------------------------------------------------ resources


def graph_from_recorded(resources: Iterable) -> Graph:
    """A Graph from the recording engine's `Recorded` resources (or anything shaped like them)."""
    from infra.governance.graph_index import Graph
    from infra.governance.resource_rules import Res

    items = list(resources)
    components = {r.name: r.type for r in items if not r.custom}
    types = {r.name: r.type for r in items}
    return Graph(
        Res(
            r.type,
            r.name,
            r.inputs,
            r.parent,
            components.get(r.parent) or types.get(r.parent) if r.parent else None,
            r.outputs,
        )
        for r in items
    )


def resource_findings(graph: Graph) -> Iterator[Finding]:
    """The resource rules' findings (each resource alone), in the graph's order; the product of
    each is its tags', else its component ancestors' (`product_of`)."""
    from infra.governance.graph_index import product_of
    from infra.governance.resource_rules import check_resource

    for res in graph.resources:
        product = None
        for policy, message in check_resource(res):
            product = product or product_of(res, graph)
            yield resource_finding(policy, res.type, res.name, message, product)


def govern_resources(
    graph,
    mesh: Mesh | None,
    today: dt.date,
    checked: Iterable[Finding] | None = None,
    policies: Iterable[str] | None = None,
) -> GovernanceReport:
    """`graph`: a recording-engine ResourceGraph, a list of Recorded, or a Graph. `checked`: the
    resource rules' findings (`resource_findings`), and those of the graph rules not in
    `policies` (default: all of them), when they ran elsewhere — the whole-mesh plan runs them
    in its workers (`infra.engines.stackplan`), and `graph` then holds only what the rules of
    `policies` read (`infra.governance.graph_index.kept`)."""
    from infra.governance.graph_index import Graph
    from infra.governance.graph_rules import check_graph

    if not isinstance(graph, Graph):
        graph = graph_from_recorded(getattr(graph, "resources", graph))
    findings = list(resource_findings(graph) if checked is None else checked)
    for policy, res, message, product in check_graph(graph, mesh, today, policies):
        findings.append(resource_finding(policy, res.type, res.name, message, product))
    waivers = Waivers(mesh, today)
    kept, waived = waivers.apply(findings)
    return GovernanceReport(_sorted(kept), _sorted(waived), waivers.statuses)


def check_resources(graph, mesh: Mesh | None, today: dt.date) -> list[Finding]:
    """Resource-level findings in force (resource type + name)."""
    return govern_resources(graph, mesh, today).findings


# ------------------------------------------------------------------------------ validate


# waivable policies whose blueprint findings sit on one grant: when the exception that allowed
# the grant expires, the grant is revoked (not provisioned) instead of blocking the mesh
GRANT_SCOPED = frozenset({"GOV-004", "GOV-005"})


def _grant_of(f: Finding) -> tuple[int, int] | None:
    """(product index, consumer index) of a finding located in a consumer grant."""
    loc = f.loc
    if len(loc) >= 4 and loc[0] == "products" and loc[2] == "consumers":
        return loc[1], loc[3]
    return None


def revocations(mesh: Mesh, findings: Iterable[Finding]) -> frozenset[tuple[str, str, str]]:
    """(domain, product, consumer domain) of the grants an expired exception allowed: its
    findings are back (`Finding.expired_waiver`) and the grant grants nothing any more."""
    by_file = {mesh.source(bp.domain).path: bp for bp in mesh.blueprints}
    out = set()
    for f in findings:
        if f.expired_waiver is None or f.policy not in GRANT_SCOPED:
            continue
        at, bp = _grant_of(f), by_file.get(str(f.file))
        if at is None or bp is None:
            continue
        product = bp.products[at[0]]
        out.add((bp.domain, product.name, product.consumers[at[1]].domain))
    return frozenset(out)


def _lapsed(f: Finding, deploying: bool) -> Problem:
    """A finding an expired exception brought back. Validating, it is the error it always was;
    deploying (`pulumi up`, `mesh plan`, `mesh audit`, `mesh up --local`) it is a warning, so
    one domain's lapsed waiver does not stop every deployment (and with it every revocation):
    a grant it allowed is revoked, a product-level finding waits for its domain to fix it."""
    grant = f.policy in GRANT_SCOPED and _grant_of(f) is not None
    effect = (
        "the grant is revoked (not provisioned) until the exception is renewed"
        if grant
        else "fix the blueprint or renew the exception"
    )
    p = f.to_problem()
    message = f"{p.message} -- the exception that waived it ({f.expired_waiver}) lapsed: {effect}"
    severity = Severity.warning if deploying else p.severity
    return Problem(p.file, p.line, p.path, p.code, message, severity)


def with_governance(result: Report, today: dt.date, deploying: bool = False) -> Report:
    """The loader's result plus the blueprint-level findings: errors make it invalid; warnings
    (active and expired exceptions among them) are listed with the loader's warnings.

    The mesh comes back with its revocations (`Mesh.revoked`). `deploying`: findings that only
    an expired exception brought back are warnings (see `_lapsed`)."""
    report = govern_blueprints(result.mesh, today)
    errors, warnings = list(result.errors), list(result.warnings)
    for f in report.findings:
        problem = _lapsed(f, deploying) if f.expired_waiver else f.to_problem()
        (errors if problem.severity is Severity.error else warnings).append(problem)
    errors.sort(key=Problem.sort_key)
    warnings.sort(key=Problem.sort_key)
    mesh = result.mesh
    revoked = revocations(mesh, report.findings)
    if revoked:
        mesh = dataclasses.replace(mesh, revoked=revoked)
    return Report(mesh, errors, warnings)
