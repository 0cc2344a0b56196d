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

from infra import clock
from infra.loader import LoadResult, UsageError, load_mesh
from infra.problems import Problem

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Data mesh provisioner: validate blueprints, plan and deploy the mesh, audit access.",
    pretty_exceptions_enable=False,
)

DirArg = Annotated[Path, typer.Argument(help="Directory of blueprint YAML files.")]


class ValidateFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


def _emit_json(doc: dict) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")


def _load(directory: Path) -> LoadResult:
    try:
        return load_mesh(directory, today=clock.today())
    except UsageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _problem_line(p: Problem) -> str:
    where = f"{p.file}:{p.line}" if p.line else p.file
    path = f" {p.path}:" if p.path else ""
    return f"{where}: {p.severity.value} {p.code}{path} {p.message}"


def _github_line(p: Problem) -> str:
    level = "error" if p.severity.value == "error" else "warning"
    loc = f"file={p.file}" + (f",line={p.line}" if p.line else "")
    message = f"{p.path}: {p.message}" if p.path else p.message
    message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::{level} {loc},title={p.code}::{message}"


@app.command()
def validate(
    directory: DirArg = Path("blueprints"),
    format: Annotated[ValidateFormat, typer.Option("--format", "-f")] = ValidateFormat.text,
) -> None:
    """Check every blueprint and the mesh as a whole; report every problem at once.

    Example: mesh validate blueprints --format github
    """
    result = _load(directory)
    if format is ValidateFormat.json:
        _emit_json(
            {
                "ok": result.ok,
                "errors": [p.as_json() for p in result.errors],
                "warnings": [p.as_json() for p in result.warnings],
            }
        )
    elif format is ValidateFormat.github:
        for p in result.errors + result.warnings:
            typer.echo(_github_line(p))
    else:
        for p in result.errors + result.warnings:
            typer.echo(_problem_line(p))
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


def _load_valid(directory: Path, settings) -> LoadResult:
    """Load for commands that need a valid mesh: print every problem and exit 1 otherwise."""
    from infra.program import check_names

    result = _load(directory)
    errors = result.errors or check_names(result.mesh, settings.names)
    if errors:
        for p in errors:
            typer.echo(_problem_line(p), err=True)
        typer.echo(f"{len(errors)} error(s): fix the blueprints first (mesh validate)", err=True)
        raise typer.Exit(1)
    return result


@app.command()
def plan(
    directory: DirArg = Path("blueprints"),
    format: Annotated[PlanFormat, typer.Option("--format", "-f")] = PlanFormat.text,
) -> None:
    """Run the Pulumi program under recording mocks and print the resource graph.

    Example: mesh plan blueprints --format json | jq '.counts'
    """
    from infra.engines.recording import run_program
    from infra.program import StackSettings

    settings = StackSettings()
    result = _load_valid(directory, settings)
    graph = run_program(result.mesh, settings, clock.today())
    if format is PlanFormat.json:
        sys.stdout.write(json.dumps(graph.plan_json(), indent=2, sort_keys=True) + "\n")
        return
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


@app.command()
def schema() -> None:
    """Print the JSON Schema of a blueprint (for editor completion and validation)."""
    from infra.spec import blueprint_json_schema

    _emit_json(blueprint_json_schema())


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
