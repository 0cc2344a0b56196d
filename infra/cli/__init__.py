"""The `mesh` command line. Thin: every command calls a library function and formats its result.

Exit codes (contract): 0 ok, 1 findings or invalid input, 2 usage error, 3 (diff) new access.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from infra.blueprints.load import SharedFiles
from infra.cli.common import (
    DirArg,
    against_base,
    emit_json,
    github_line,
    load_checked,
    load_valid,
    problem_line,
)
from infra.util import clock

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Data mesh provisioner: validate blueprints, plan and deploy the mesh, audit access.",
    pretty_exceptions_enable=False,
)


class ValidateFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


@app.command()
def validate(
    directory: DirArg = Path("blueprints"),
    format: Annotated[ValidateFormat, typer.Option("--format", "-f")] = ValidateFormat.text,
    base: Annotated[
        Path | None,
        typer.Option(
            "--base",
            exists=True,
            file_okay=False,
            help="Blueprint directory of the previous revision (e.g. main): also report what "
            "the change may not do (remove a product that is not decommissioned, ...).",
        ),
    ] = None,
) -> None:
    """Check every blueprint and the mesh as a whole; report every problem at once.

    Example: mesh validate blueprints --format github --base main/blueprints
    """
    shared = SharedFiles() if base is not None else None  # files of both trees parsed once
    result = load_checked(directory, shared=shared)  # loader + governance + physical names
    if base is not None:
        result = against_base(result, directory, base, shared)  # lifecycle: nothing may be lost
    if format is ValidateFormat.json:
        emit_json(
            {
                "ok": result.ok,
                "errors": [p.as_json() for p in result.errors],
                "warnings": [p.as_json() for p in result.warnings],
            }
        )
    elif format is ValidateFormat.github:
        for p in result.errors + result.warnings:
            typer.echo(github_line(p))
    else:
        for p in result.errors + result.warnings:
            typer.echo(problem_line(p))
        n_products = sum(1 for _ in result.mesh.products())
        verdict = "valid" if result.ok else "INVALID"
        typer.echo(
            f"{verdict}: {len(result.mesh.blueprints)} domain(s), {n_products} product(s), "
            f"{len(result.errors)} error(s), {len(result.warnings)} warning(s)"
        )
    raise typer.Exit(0 if result.ok else 1)


class PlanFormat(str, Enum):
    text = "text"
    json = "json"


@app.command()
def plan(
    directory: DirArg = Path("blueprints"),
    format: Annotated[PlanFormat, typer.Option("--format", "-f")] = PlanFormat.text,
) -> None:
    """Run the Pulumi program under recording mocks and print the resource graph.

    Example: mesh plan blueprints --format json | jq '.counts'
    """
    from infra.engines.recording import run_program
    from infra.provision.program import StackSettings

    settings = StackSettings()
    result = load_valid(directory, settings)
    from infra.cli.policies import check_plan

    today = clock.today()
    graph = run_program(result.mesh, settings, today)
    governance = check_plan(graph, result.mesh, today)  # findings on stderr; 1 on errors
    if format is PlanFormat.json:
        sys.stdout.write(json.dumps(graph.plan_json(), indent=2, sort_keys=True) + "\n")
        raise typer.Exit(governance)
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
    raise typer.Exit(governance)


@app.command()
def up(
    directory: DirArg = Path("blueprints"),
    local: Annotated[
        bool, typer.Option("--local", help="Deploy into an embedded emulated AWS (moto).")
    ] = False,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the emulator running and print its endpoint.")
    ] = False,
) -> None:
    """Deploy the mesh into emulated AWS and verify access as the emulator enforces it.

    Example: mesh up --local blueprints
    (real AWS: `pulumi up` with the Pulumi CLI and credentials)
    """
    from rich.console import Console

    import infra.cli.up as local_up
    from infra.provision.program import StackSettings

    if not local:
        typer.echo(
            "error: only --local is supported here; deploy to real AWS with `pulumi up`",
            err=True,
        )
        raise typer.Exit(2)
    settings = StackSettings()
    result = load_valid(directory, settings)
    width = None if sys.stdout.isatty() else 120  # a readable matrix in CI logs and pipes
    outcome = local_up.run(
        result.mesh, settings, clock.today(), Console(width=width), Console(stderr=True), keep=keep
    )
    raise typer.Exit(0 if outcome.verification.ok else 1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of a blueprint (for editor completion and validation)."""
    from infra.model.spec import blueprint_json_schema

    emit_json(blueprint_json_schema())


from infra.cli.policies import register as _register_governance

_register_governance(app)  # mesh policies

from infra.cli.audit import register as _register_audit

_register_audit(app)  # mesh audit, mesh diff

from infra.cli.contract import register as _register_contracts

_register_contracts(app)  # mesh contract export|import


def main() -> None:
    """Console entry point: never lets a traceback reach the user unless MESH_DEBUG is set."""
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("MESH_DEBUG"):
            raise
        typer.echo(
            f"internal error: {type(exc).__name__}: {exc} (set MESH_DEBUG=1 for details)", err=True
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
