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
        bool,
        typer.Option(
            "--keep",
            help="Leave the emulator running, with IAM enforced, when the mesh verified; a mesh "
            "that fails its verification is not kept (exit 1).",
        ),
    ] = False,
) -> None:
    """Deploy the mesh into emulated AWS and verify access as the emulator enforces it.

    With --keep, a verified mesh stays running as a sandbox (mesh local creds); one that failed
    its verification is not kept: the emulator stops and the command exits 1.

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
    from infra.engines import sandbox_state
    from infra.provision.program import StackSettings

    if keep:
        _refuse_a_second_kept_mesh(sandbox_state)
    # a kept mesh's state file says "starting" at once: `mesh local creds` waits for it
    state = sandbox_state.mark_starting() if keep else None
    try:
        settings = StackSettings()
        result = load_valid(directory, settings)
        width = None if sys.stdout.isatty() else 120  # a readable matrix in CI logs and pipes
        outcome = up_view.run(
            result.mesh,
            settings,
            clock.today(),
            Console(width=width),
            Console(stderr=True),
            keep_in=state,
        )
    except BaseException as exc:
        if state is not None:
            sandbox_state.mark_failed(state, _why_not_kept(exc))
        raise
    raise typer.Exit(0 if outcome.verification.ok else 1)


def _refuse_a_second_kept_mesh(sandbox_state) -> None:
    """One state file, one kept mesh: a second `--keep` would take the first one's file."""
    from infra.errors import UsageError

    path = sandbox_state.state_path()
    try:
        running = sandbox_state.read_state(path)
        where = f"is running at {running['endpoint']} (pid {running.get('pid')})"
    except sandbox_state.StillStarting as exc:
        where = f"is starting ({exc})"
    except sandbox_state.NoSandbox:
        return  # none, stopped, or failed: its file is replaced
    raise UsageError(
        f"a kept local mesh {where}, with its state in {path}: stop it first (Ctrl-C, or kill "
        f"its pid), or give the second one its own state file ({sandbox_state.STATE_ENV}=...)"
    )


def _why_not_kept(exc: BaseException) -> str:
    from infra.util.textsafe import one_line

    if isinstance(exc, typer.Exit):
        return "the blueprints are not valid (mesh validate)"
    if isinstance(exc, KeyboardInterrupt):
        return "it was stopped before it was ready"
    return one_line(f"it failed before it was ready: {type(exc).__name__}: {exc}")
