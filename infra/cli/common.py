"""Helpers shared by the CLI commands: arguments, help texts, JSON output, problem formatting,
progress on a terminal, and the exit code of a tree that does not validate."""

from __future__ import annotations

import gc
import inspect
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from infra.errors import Problem
from infra.util import progress
from infra.util.textsafe import annotation_message, annotation_property


class TextOrJson(str, Enum):
    """`--format` of a command that prints text or one JSON document."""

    text = "text"
    json = "json"


if TYPE_CHECKING:  # the models: imported by the commands that load a tree, not by `mesh` itself
    from infra.model.report import Report

DirArg = Annotated[Path, typer.Argument(metavar="DIR", help="Directory of blueprint YAML files.")]
CacheDirOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        metavar="DIR",
        envvar="MESH_CACHE_DIR",
        file_okay=False,
        help="Keep each blueprint file's parse (plain data, lines, its own problems) in DIR and "
        "parse only the files not found there: the same result, faster on the next run. Default: "
        "$MESH_CACHE_DIR (this option wins over it); neither: no cache.",
    ),
]


def _without_flag_types(params: list) -> list:
    """An on/off flag takes no value: its help shows no type. (typer 0.29's Rich help prints
    `<bool>` beside every flag, `--help` included; an empty metavar is what it prints instead.)"""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


def reflow(help: str | None) -> str | None:
    """A docstring as help text: each paragraph one line, for the terminal to wrap. (typer's Rich
    help keeps the docstring's line breaks, so its source lines would be cut again at the
    terminal's width.) A paragraph starting with \\b keeps its lines, as in click."""
    if not help:
        return help
    paragraphs = inspect.cleandoc(help).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split("\n")) for p in paragraphs)


_STARTUP: list[bool] = []  # [True] while `start_up` holds the cyclic collector off


def start_up() -> None:
    """The cyclic garbage collector off while `mesh` starts: importing the command and the
    libraries, building the models and parsing the arguments allocate tens of thousands of
    objects that nearly all stay alive (modules, classes, validators), and every collection
    meanwhile rescans them for nothing. The command turns it back on as its work starts
    (`MeshCommand.invoke`). Only the console entry point calls this, never a library caller or
    a test's `CliRunner`."""
    if gc.isenabled() and not _STARTUP:
        gc.disable()
        _STARTUP.append(True)


def started() -> None:
    """The collector back on after `start_up` (a no-op without it), the start-up's objects moved
    out of its reach (`gc.freeze`): they live as long as the process, so later collections need
    not rescan them (a PR check leaves ~150 unreachable objects of its start-up behind there)."""
    if _STARTUP:
        _STARTUP.clear()
        gc.freeze()
        gc.enable()


class MeshCommand(TyperCommand):
    """A `mesh` command: its help paragraphs reflowed, no type shown for flags; the collector
    back on (`started`) when its work starts."""

    def __init__(self, *args, help: str | None = None, **kwargs) -> None:
        super().__init__(*args, help=reflow(help), **kwargs)

    def get_params(self, ctx) -> list:
        return _without_flag_types(super().get_params(ctx))

    def invoke(self, ctx):
        started()
        return super().invoke(ctx)


class MeshGroup(TyperGroup):
    """A `mesh` command group (`mesh`, `mesh contract`, `mesh local`): as `MeshCommand`."""

    def __init__(self, *args, help: str | None = None, **kwargs) -> None:
        super().__init__(*args, help=reflow(help), **kwargs)

    def get_params(self, ctx) -> list:
        return _without_flag_types(super().get_params(ctx))


PROGRESS_MIN_DOMAINS = 20  # smaller meshes finish before a progress display would help


@contextmanager
def progress_on_terminal(*directories: Path) -> Iterator[None]:
    """Show the steps of the work (`infra.util.progress`) on stderr with Rich, only when stderr
    is a terminal and the blueprint trees hold at least PROGRESS_MIN_DOMAINS files together:
    CI logs, pipes and small meshes get nothing, and stdout is never written to."""
    if not _stderr_is_terminal() or _blueprint_count(directories) < PROGRESS_MIN_DOMAINS:
        yield
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(finished_text="[green]✓[/green]"),
        TextColumn("{task.description}"),
        TextColumn("{task.fields[count]}", style="dim"),
        TimeElapsedColumn(),
    )
    shown = Progress(*columns, console=Console(stderr=True), transient=True)
    with shown, progress.reporting(_RichSteps(shown)):
        yield


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


def _blueprint_count(directories: tuple[Path, ...]) -> int:
    from infra.blueprints.load import blueprint_files
    from infra.errors import UsageError

    count = 0
    for directory in directories:
        try:
            count += len(blueprint_files(directory))
        except UsageError:  # the command reports it
            pass
    return count


class _RichSteps:
    """`infra.util.progress.Reporter` on a Rich `Progress`: a spinner per step, its count of
    units when it has some, ticked off when it ends."""

    def __init__(self, shown) -> None:
        self.shown = shown
        self.counts: dict = {}

    def begin(self, label: str) -> object:
        task = self.shown.add_task(label, total=None, count="")
        self.counts[task] = 0
        return task

    def advance(self, task: object, n: int) -> None:
        self.counts[task] += n
        self.shown.update(task, count=f"{self.counts[task]:,}")

    def end(self, task: object) -> None:
        self.shown.update(task, total=1, completed=1)


def emit_json(doc: dict) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")


def github_line(p: Problem) -> str:
    level = "error" if p.severity.value == "error" else "warning"
    loc = f"file={annotation_property(p.file)}" + (f",line={p.line}" if p.line else "")
    message = f"{p.path}: {p.message}" if p.path else p.message
    return f"::{level} {loc},title={annotation_property(p.code)}::{annotation_message(message)}"


def load_valid(directory: Path, settings) -> Report:
    """`infra.api.valid` for commands that need a valid mesh: print every problem and exit 1
    otherwise."""
    from infra import api

    try:
        return api.valid(directory, settings.names)
    except api.InvalidTree as exc:
        print_invalid(exc)
        raise typer.Exit(1) from None


def print_invalid(exc) -> None:
    """The errors of an `infra.api.InvalidTree` on stderr, and what to do about them."""
    errors = exc.report.errors
    label = f"{exc.label}: " if exc.label else ""
    for p in errors:
        typer.echo(f"{label}{p.text()}", err=True)
    if exc.label:
        typer.echo(
            f"{label}{len(errors)} error(s) in {exc.directory}: fix the blueprints first", err=True
        )
    else:
        typer.echo(f"{len(errors)} error(s): fix the blueprints first (mesh validate)", err=True)
