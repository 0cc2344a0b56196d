"""The `mesh` command line. Thin: one module per command, each calling `infra.api` and
formatting its result; this module assembles them.

Exit codes (contract): 0 ok, 1 findings or invalid input, 2 usage error, 3 (diff) new access.
A `MeshError` raised anywhere below a command is its one-line message and exit code, whether the
command runs from the console script or from a test's `CliRunner`.

Each command's help starts with one complete sentence on one line: it is what `mesh --help`
lists (tests/test_cli_polish.py holds every command to it).

A command's module is imported when the command runs or its help is shown (`COMMANDS`), not
when `mesh` starts: `mesh diff` loads what `mesh diff` needs, and none of the deploy, audit or
scaffolding code of the other commands (tests/test_startup.py).
"""

from __future__ import annotations

import importlib
import io
import os
import sys
from collections.abc import MutableMapping
from typing import Annotated

import typer

from infra.cli.common import MeshCommand, MeshGroup, start_up
from infra.errors import MeshError

DISTRIBUTION = "mesh-provisioner"  # the name in pyproject.toml


# name -> (module, attribute): a command function, or a `typer.Typer` of a command group; in the
# order `mesh --help` lists them
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("infra.cli.validate", "validate"),
    "plan": ("infra.cli.plan", "plan"),
    "up": ("infra.cli.up", "up"),
    "schema": ("infra.cli.schema", "schema"),
    "policies": ("infra.cli.policies", "policies"),
    "audit": ("infra.cli.audit", "audit"),
    "diff": ("infra.cli.diff", "diff"),
    "codeowners": ("infra.cli.codeowners", "codeowners"),
    "stacks": ("infra.cli.stacks", "stacks"),
    "drift": ("infra.cli.drift", "drift"),
    "doctor": ("infra.cli.doctor", "doctor"),
    "expiring": ("infra.cli.expiring", "expiring"),
    "contract": ("infra.cli.contract", "contract_app"),
    "init": ("infra.cli.init_fleet", "init_app"),  # mesh init ci, and init_fleet's stacks, ...
    "new": ("infra.cli.new", "new_app"),
    "local": ("infra.cli.local", "local_app"),
}


def click_command(name: str):
    """The click command (or group) of `mesh NAME`, built as `app.command(NAME,
    cls=MeshCommand)` or `app.add_typer(..., name=NAME)` would build it, its module imported."""
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        return typer.main.get_group_from_info(
            typer.models.TyperInfo(target, name=name),
            pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=app.rich_markup_mode,
            suggest_commands=app.suggest_commands,
        )
    scratch = typer.Typer()
    scratch.command(name, cls=MeshCommand)(target)
    return typer.main.get_command_from_info(
        scratch.registered_commands[0],
        pretty_exceptions_short=app.pretty_exceptions_short,
        rich_markup_mode=app.rich_markup_mode,
    )


class _LazyCommands(MutableMapping):
    """The commands of `mesh`: every name of `COMMANDS`, each built on first access."""

    def __init__(self) -> None:
        self._built: dict = {}
        self._names = list(COMMANDS)

    def __getitem__(self, name: str):
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = click_command(name)
        return self._built[name]

    def __setitem__(self, name: str, command) -> None:
        self._built[name] = command
        if name not in self._names:
            self._names.append(name)

    def __delitem__(self, name: str) -> None:
        self._names.remove(name)
        self._built.pop(name, None)

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class _MeshGroup(MeshGroup):
    """`mesh`: its commands imported when used (`_LazyCommands`); turns a `MeshError` into
    `error: <message>` on stderr and its exit code."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        lazy = _LazyCommands()
        for name, command in self.commands.items():  # any registered on `app` itself
            lazy[name] = command
        self.commands = lazy

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
    """Console entry point: never lets a traceback reach the user unless MESH_DEBUG is set.

    Pydantic plugins are off unless the environment says otherwise (PYDANTIC_DISABLE_PLUGINS
    set, to any value, is kept): our models' first validator would otherwise read the entry
    points of every installed distribution, looking for plugins that observe validation (none
    of which the mesh uses), on every run of every command (tests/test_startup.py)."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    start_up()  # the cyclic collector off until the command's work starts
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
