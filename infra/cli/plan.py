"""`mesh plan`: the Pulumi program under recording mocks (`infra.api.plan`), as a resource
tree or JSON, with the resource-level governance findings on stderr. Exit 1 on a finding."""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infra import api
from infra.cli.common import DirArg, print_invalid

if TYPE_CHECKING:
    from infra.governance.evaluate import GovernanceReport
    from infra.governance.findings import Finding
    from infra.model.mesh import Mesh


class PlanFormat(str, Enum):
    text = "text"
    json = "json"


def plan(
    directory: DirArg = Path("blueprints"),
    format: Annotated[PlanFormat, typer.Option("--format", "-f")] = PlanFormat.text,
) -> None:
    """Run the Pulumi program under recording mocks and print the resource graph.

    Example: mesh plan blueprints --format json | jq '.counts'
    """
    try:
        planned = api.plan(directory)
    except api.InvalidTree as exc:
        print_invalid(exc)
        raise typer.Exit(1) from None
    code = print_governance(planned.governance)
    graph = planned.graph
    if format is PlanFormat.json:
        sys.stdout.write(json.dumps(graph.plan_json(), indent=2, sort_keys=True) + "\n")
        raise typer.Exit(code)
    children: dict[str | None, list] = {}
    for r in graph.resources:
        children.setdefault(r.parent, []).append(r)

    def show(parent: str | None, depth: int) -> None:
        for r in children.get(parent, []):
            flag = "  [protected]" if r.protect else ""
            typer.echo(f"{'  ' * depth}{r.type}  {r.name}{flag}")
            if not r.custom:
                show(r.name, depth + 1)

    show(None, 0)
    typer.echo(f"{len(graph.resources)} resources:")
    for type_, n in graph.counts().items():
        typer.echo(f"  {n:5d}  {type_}")
    raise typer.Exit(code)


def print_governance(report: GovernanceReport) -> int:
    """Resource-level findings on stderr; the exit code (1 on any error)."""
    for f in report.findings:
        typer.echo(resource_line(f), err=True)
    if report.findings or report.waived:
        typer.echo(
            f"governance: {len(report.errors)} error(s), {len(report.warnings)} warning(s), "
            f"{len(report.waived)} waived by active exceptions, in the resource graph",
            err=True,
        )
    return 1 if report.errors else 0


def check_plan(graph, mesh: Mesh, today: dt.date) -> int:
    """`print_governance` of a recorded graph (for tests and tools holding a graph already)."""
    from infra.governance.evaluate import govern_resources

    return print_governance(govern_resources(graph, mesh, today))


def resource_line(f: Finding) -> str:
    from infra.util.textsafe import one_line

    waived = f" (waived by {f.waived_by})" if f.waived_by else ""
    return one_line(
        f"{f.resource_type} {f.resource_name}: {f.severity.value} {f.policy} {f.message}{waived}"
    )
