"""Helpers shared by the CLI commands: arguments, JSON output, problem formatting, and the
exit code of a tree that does not validate."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from infra.errors import Problem
from infra.model.report import Report
from infra.util.textsafe import annotation_message, annotation_property

DirArg = Annotated[Path, typer.Argument(metavar="DIR", help="Directory of blueprint YAML files.")]


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


class MeshCommand(TyperCommand):
    """A `mesh` command: its help paragraphs reflowed, no type shown for flags."""

    def __init__(self, *args, help: str | None = None, **kwargs) -> None:
        super().__init__(*args, help=reflow(help), **kwargs)

    def get_params(self, ctx) -> list:
        return _without_flag_types(super().get_params(ctx))


class MeshGroup(TyperGroup):
    """A `mesh` command group (`mesh`, `mesh contract`, `mesh local`): as `MeshCommand`."""

    def __init__(self, *args, help: str | None = None, **kwargs) -> None:
        super().__init__(*args, help=reflow(help), **kwargs)

    def get_params(self, ctx) -> list:
        return _without_flag_types(super().get_params(ctx))


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
