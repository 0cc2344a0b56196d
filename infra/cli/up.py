"""`mesh up --local`: deploy into the embedded emulator and verify access there (the work and
its Rich presentation are in `infra.cli.up_view`, imported when the command runs)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from infra import clock
from infra.cli.common import DirArg, load_valid


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
    if not local:
        typer.echo(
            "error: only --local is supported here; deploy to real AWS with `pulumi up`",
            err=True,
        )
        raise typer.Exit(2)
    from rich.console import Console

    from infra.cli import up_view
    from infra.provision.program import StackSettings

    settings = StackSettings()
    result = load_valid(directory, settings)
    width = None if sys.stdout.isatty() else 120  # a readable matrix in CI logs and pipes
    outcome = up_view.run(
        result.mesh, settings, clock.today(), Console(width=width), Console(stderr=True), keep=keep
    )
    raise typer.Exit(0 if outcome.verification.ok else 1)
