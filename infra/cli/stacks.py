"""`mesh stacks`: the project's stacks, or those a change touches, in deploy waves
(`infra.diff.stacks`). Exit 1 when the stack configs do not match the blueprints."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import emit_json
from infra.util.textsafe import one_line


class StacksFormat(str, Enum):
    text = "text"
    json = "json"
    github_matrix = "github-matrix"


def stacks(
    directory: Annotated[
        Path,
        typer.Argument(metavar="DIR", help="Directory of blueprint YAML files (the change)."),
    ] = Path("blueprints"),
    base: Annotated[
        Path | None,
        typer.Option(
            "--base",
            metavar="BASE_DIR",
            help="Blueprint directory before the change: list only the stacks it touches, "
            "each with its reasons (its stack configs are read beside it).",
        ),
    ] = None,
    format: Annotated[StacksFormat, typer.Option("--format", "-f")] = StacksFormat.text,
    only: Annotated[
        str | None,
        typer.Option("--only", metavar="STACK", help="Just this stack (a deploy by hand)."),
    ] = None,
) -> None:
    """List the project's stacks in deploy waves, or with --base those a change touches.

    Waves respect every dependency between stacks: the platform (each account's Lake Formation
    settings) before the domain stacks, a consumer whose role is new or moves account before
    the stacks granting to it. The stack configs (Pulumi.NAME.yaml beside DIR) are checked
    against the blueprints: exit 1 on a stack for a domain that does not exist, a domain
    without a stack, or a domain stack whose prefix, account or region differ from the
    platform stack's. github-matrix prints each wave as GitHub Actions matrices of at most 256
    jobs: {"waves": [[{"include": [{"stack", "account"}, ...]}, ...], ...]}.

    Example: mesh stacks blueprints --base base/blueprints --format json
    """
    from infra.diff.stacks import rollout

    result = rollout(directory, base, only=only)
    for w in result.warnings:
        typer.echo(one_line(f"warning: {w}"), err=True)
    for p in result.problems:
        typer.echo(one_line(f"error: {p}"), err=True)
    if format is StacksFormat.json:
        emit_json(result.as_json())
    elif format is StacksFormat.github_matrix:
        sys.stdout.write(json.dumps({"waves": result.matrices()}, separators=(",", ":")) + "\n")
    else:
        if not result.stacks:
            typer.echo("no stack to deploy")
        for i, wave in enumerate(result.waves, 1):
            typer.echo(one_line(f"wave {i}: {', '.join(wave)}"))
        for s in result.stacks:
            why = "; ".join(s.reasons) if s.reasons else "deploy"
            typer.echo(one_line(f"  {s.name} ({s.account}): {why}"))
    raise typer.Exit(1 if result.problems else 0)
