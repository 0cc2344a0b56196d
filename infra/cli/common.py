"""Helpers shared by the CLI commands: arguments, JSON output, problem formatting, and the
exit code of a tree that does not validate."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from infra.errors import Problem
from infra.model.report import Report
from infra.util.textsafe import annotation_message, annotation_property

DirArg = Annotated[Path, typer.Argument(help="Directory of blueprint YAML files.")]


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
