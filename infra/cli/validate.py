"""`mesh validate`: every check of a blueprint tree (`infra.api.validate`), as text, JSON or
GitHub annotations. Exit 1 when the tree is invalid."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from infra import api
from infra.cli.common import CacheDirOption, DirArg, emit_json, github_line


class ValidateFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


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
    cache_dir: CacheDirOption = None,
) -> None:
    """Check every blueprint and the mesh as a whole; report every problem at once.

    Example: mesh validate blueprints --format github --base main/blueprints
    """
    result = api.validate(directory, base, freeze=True, cache_dir=cache_dir)
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
            typer.echo(p.text())
        n_products = sum(1 for _ in result.mesh.products())
        verdict = "valid" if result.ok else "INVALID"
        typer.echo(
            f"{verdict}: {len(result.mesh.blueprints)} domain(s), {n_products} product(s), "
            f"{len(result.errors)} error(s), {len(result.warnings)} warning(s)"
        )
    raise typer.Exit(0 if result.ok else 1)
