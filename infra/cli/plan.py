"""`mesh plan`: the Pulumi program under recording mocks (`infra.api.plan`), as a resource
tree or JSON, with the resource-level governance findings on stderr. Exit 1 on a finding."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infra import api
from infra.cli.common import TextOrJson, print_invalid, progress_on_terminal

if TYPE_CHECKING:
    from infra.governance.evaluate import GovernanceReport
    from infra.governance.findings import Finding
    from infra.model.mesh import Mesh


def plan(
    directory: Annotated[
        Path | None,
        typer.Argument(
            metavar="DIR",
            help="Directory of blueprint YAML files [default: blueprints, or the config's "
            "mesh:blueprints].",
            show_default=False,
        ),
    ] = None,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            metavar="STACK",
            help="What the stack declares: all, platform or one domain (mesh:stack); with "
            "--config, the config's stack name or its mesh:stack.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            help="A stack config (Pulumi.NAME.yaml): plan that stack with its prefix, "
            "account, region, scope and switches, as pulumi up would.",
        ),
    ] = None,
    prefix: Annotated[
        str | None,
        typer.Option(
            "--prefix", help="Stack prefix of the physical names (mesh:prefix; default mesh)."
        ),
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(
            "--account",
            help="The stack's AWS account (mesh:account; default 123456789012): domains that "
            "name no account of their own are created there.",
        ),
    ] = None,
) -> None:
    """Run the Pulumi program under recording mocks and print the resource graph.

    With --stack, --config, --prefix or --account: exactly what that stack would create, in
    each account, with the names and ARNs of its prefix and account. A domain stack loads only
    its own blueprint in full, as pulumi up does.

    Example: mesh plan --stack sales --config Pulumi.sales.yaml --format json | jq '.counts'
    """
    from infra.engines.stack_config import check_scope, stack_settings

    settings = stack_settings(config, stack=stack, prefix=prefix, account=account)
    if directory is None:
        directory = settings.blueprints if config is not None else Path("blueprints")
    if stack is not None or config is not None:
        from infra.blueprints.load import blueprint_files

        check_scope(settings, [p.stem for p in blueprint_files(directory)], directory)
        typer.echo(
            f"stack {settings.scope}: prefix {settings.prefix}, account {settings.account}, "
            f"region {settings.region}, blueprints {directory}",
            err=True,
        )
    try:
        with progress_on_terminal(directory):
            planned = api.plan(directory, settings)
    except api.InvalidTree as exc:
        print_invalid(exc)
        raise typer.Exit(1) from None
    with planned:
        code = print_governance(planned.governance)
        if format is TextOrJson.json:
            write_plan_json(planned.graph, sys.stdout)
        else:
            write_plan_tree(planned.graph)
    raise typer.Exit(code)


def write_plan_tree(graph) -> None:
    """The resources as a tree (a component's children under it), then the counts by type.
    Of each resource only what the tree shows is held (not its inputs)."""
    children: dict[str | None, list[tuple[str, str, bool, bool]]] = {}
    for r in graph.resources:
        children.setdefault(r.parent, []).append((r.type, r.name, r.protect, r.custom))

    def show(parent: str | None, depth: int) -> None:
        for type_, name, protect, custom in children.get(parent, []):
            flag = "  [protected]" if protect else ""
            typer.echo(f"{'  ' * depth}{type_}  {name}{flag}")
            if not custom:
                show(name, depth + 1)

    show(None, 0)
    typer.echo(f"{len(graph.resources)} resources:")
    for type_, n in graph.counts().items():
        typer.echo(f"  {n:5d}  {type_}")


def write_plan_json(graph, out) -> None:
    """`json.dumps(graph.plan_json(), indent=2, sort_keys=True)` and a line break, byte for
    byte, written one resource at a time: the text of the whole document (hundreds of MB at
    10,000 products) is never held in memory, and the first resources are out while the
    others are encoded."""

    def block(value: object, depth: int) -> str:
        return json.dumps(value, indent=2, sort_keys=True).replace("\n", "\n" + "  " * depth)

    out.write('{\n  "counts": ' + block(graph.counts(), 1) + ',\n  "resources": ')
    if not graph.resources:
        out.write("[]\n}\n")
        return
    out.write("[")
    for i, r in enumerate(graph.resources):
        out.write(("," if i else "") + "\n    " + block(r.as_plan_json(), 2))
    out.write("\n  ]\n}\n")


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
