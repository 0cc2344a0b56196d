"""The `mesh` command line. Thin: one module per command, each calling `infra.api` and
formatting its result; this module assembles them.

Exit codes (contract): 0 ok, 1 findings or invalid input, 2 usage error, 3 (diff) new access.
A `MeshError` raised anywhere below a command is its one-line message and exit code, whether the
command runs from the console script or from a test's `CliRunner`.

Each command's help starts with one complete sentence on one line: it is what `mesh --help`
lists (tests/test_cli_polish.py holds every command to it).
"""

from __future__ import annotations

import io
import os
import sys
from typing import Annotated

import typer

from infra.cli.audit import audit
from infra.cli.codeowners import codeowners
from infra.cli.common import MeshCommand, MeshGroup
from infra.cli.contract import contract_app
from infra.cli.diff import diff
from infra.cli.doctor import doctor
from infra.cli.drift import drift
from infra.cli.expiring import expiring
from infra.cli.init import init_app
from infra.cli.local import local_app
from infra.cli.new import new_app
from infra.cli.plan import plan
from infra.cli.policies import policies
from infra.cli.schema import schema
from infra.cli.stacks import stacks
from infra.cli.up import up
from infra.cli.validate import validate
from infra.errors import MeshError

DISTRIBUTION = "mesh-provisioner"  # the name in pyproject.toml


class _MeshGroup(MeshGroup):
    """Turns a `MeshError` into `error: <message>` on stderr and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MeshError as exc:
            if os.environ.get("MESH_DEBUG"):
                raise
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_MeshGroup,
    add_completion=False,
    no_args_is_help=True,
    help="Data mesh provisioner: validate blueprints, plan and deploy the mesh, audit access.",
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        typer.echo(f"mesh {version(DISTRIBUTION)}")
    except PackageNotFoundError:  # run from a source tree that was never installed
        typer.echo(
            f"error: the {DISTRIBUTION} package is not installed (pip install -e .)", err=True
        )
        raise typer.Exit(2) from None
    raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Data mesh provisioner: validate blueprints, plan and deploy the mesh, audit access."""


for _name, _command in [
    ("validate", validate),
    ("plan", plan),
    ("up", up),
    ("schema", schema),
    ("policies", policies),
    ("audit", audit),
    ("diff", diff),
    ("codeowners", codeowners),
    ("stacks", stacks),
    ("drift", drift),
    ("doctor", doctor),
    ("expiring", expiring),
]:
    app.command(_name, cls=MeshCommand)(_command)
app.add_typer(contract_app, name="contract")
import infra.cli.init_fleet  # noqa: F401  (mesh init stacks, mesh init deploy)

app.add_typer(init_app, name="init")
app.add_typer(new_app, name="new")
app.add_typer(local_app, name="local")


class _ClosedPipeSafe(io.RawIOBase):
    """File descriptor 1, for a reader that may stop reading (`mesh plan | head -1`): once the
    pipe is closed, what is left to print goes to /dev/null, so the command finishes and exits
    with its own code, without a BrokenPipeError traceback or Python's "Exception ignored"."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data) -> int:
        try:
            return os.write(self._fd, data)
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._fd)  # later writes, ours or a child's, go nowhere quietly
            os.close(devnull)
            return len(data)


def _guard_stdout() -> None:
    out = sys.stdout
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (embedded, redirected)
        return
    out.flush()
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(_ClosedPipeSafe(fd)),
        encoding=out.encoding,
        errors=out.errors,
        line_buffering=out.line_buffering,
    )


def main() -> None:
    """Console entry point: never lets a traceback reach the user unless MESH_DEBUG is set."""
    _guard_stdout()
    try:
        app()
    except SystemExit:
        sys.stdout.flush()  # what is buffered, while the guard still catches a closed pipe
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
