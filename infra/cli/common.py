"""Helpers shared by the CLI commands: loading with the right exit codes, problem formatting."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from infra.blueprints.load import SharedFiles, load_mesh
from infra.errors import Problem, Report, Severity, UsageError
from infra.util import clock
from infra.util.textsafe import annotation_message, annotation_property, one_line

DirArg = Annotated[Path, typer.Argument(help="Directory of blueprint YAML files.")]


def emit_json(doc: dict) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")


def load(directory: Path, shared: SharedFiles | None = None) -> Report:
    """Load a tree; `shared`: the per-file results of the other tree this command loads (BASE
    and HEAD), so files identical in both are parsed once (`infra.blueprints.load.SharedFiles`)."""
    try:
        result = load_mesh(directory, today=clock.today(), shared=shared)
    except (UsageError, clock.ClockError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    # The loaded mesh lives until the command ends: keep the collector from rescanning its
    # millions of objects on every later collection (0.25-0.45 s on 10,000 products).
    gc.freeze()
    return result


def problem_line(p: Problem) -> str:
    """One line of a log, whatever the blueprint text in it (`infra.util.textsafe.one_line`)."""
    path = f" {p.path}:" if p.path else ""
    return one_line(f"{p.where}: {p.severity.value} {p.code}{path} {p.message}")


def github_line(p: Problem) -> str:
    level = "error" if p.severity.value == "error" else "warning"
    loc = f"file={annotation_property(p.file)}" + (f",line={p.line}" if p.line else "")
    message = f"{p.path}: {p.message}" if p.path else p.message
    return f"::{level} {loc},title={annotation_property(p.code)}::{annotation_message(message)}"


def load_checked(
    directory: Path, names=None, shared: SharedFiles | None = None, deploying: bool = False
) -> Report:
    """Everything `mesh validate` checks: the loader, the blueprint-level governance policies
    and the physical names for the stack prefix (default `mesh`). No Pulumi import: this is the
    path every blueprint PR runs. `deploying`: for the commands that deploy or plan
    (`infra.governance.evaluate.with_governance`)."""
    from infra.governance.evaluate import with_governance

    result = with_governance(load(directory, shared), clock.today(), deploying)
    if result.ok:
        for p in project_name_problems(result.mesh, directory, names):
            (result.errors if p.severity is Severity.error else result.warnings).append(p)
    return result


def project_name_problems(mesh, directory: Path, names=None) -> list:
    """Physical names and policy sizes (`check_names`) for the stack prefix given, else for
    every prefix the project's stack configs set (`Pulumi.*.yaml` beside the blueprint
    directory; `mesh` when there are none), and names two of the project's stacks would share
    (E049)."""
    from infra.provision.names import (
        DEFAULT_PREFIX,
        Names,
        check_names,
        cross_prefix_problems,
        stack_prefixes,
    )

    prefixes = stack_prefixes(Path(directory).resolve().parent)
    if names is not None:  # one stack's (`pulumi up`) or the local default (plan, audit, up)
        checked = [names]
        if names.prefix not in prefixes:
            prefixes = {}  # not a stack of the project: nothing it could collide with
    else:
        checked = [Names(p) for p in sorted(prefixes)] or [Names(DEFAULT_PREFIX)]
    problems = []
    seen = set()
    for n in checked:
        for p in check_names(mesh, n):
            key = (p.file, p.line, p.code, p.message)
            if key not in seen:
                seen.add(key)
                problems.append(p)
    if len(prefixes) > 1:
        problems += cross_prefix_problems(mesh, prefixes)
    return sorted(problems, key=Problem.sort_key)


def against_base(
    result: Report, directory: Path, base: Path, shared: SharedFiles | None = None
) -> Report:
    """`result` (HEAD = `directory`, loaded and checked) plus what changing the BASE tree into
    it may not do: remove a product that is not properly decommissioned, remove a domain,
    change a product's physical name (`infra.governance.change_safety`). The check a pull request runs."""
    from infra.blueprints.load import blueprint_files
    from infra.governance.change_safety import against_base as check

    # the loader only: the base's own findings are not this change's
    base_result = load(base, shared)
    checked = check(
        result, base_result, blueprint_files(directory), blueprint_files(base), clock.today()
    )
    return _scoped(checked, directory, base, shared) if checked.errors else checked


PRE_EXISTING = (
    " [not blocking this change: the base tree has the same error and this change does not "
    "touch the file]"
)


def _scoped(result: Report, directory: Path, base: Path, shared) -> Report:
    """A pull request is blocked by the errors it brings, and by those of the files it touches:
    a governance finding (GOV-*) the base tree has too, in a file this change leaves
    byte-identical, is a warning here. Governance findings are what time changes on a tree
    that once passed (an exception expires), and one domain's lapsed exception must not block
    every other domain's PRs. Structural errors always block: a file that does not load is
    missing from the mesh, and `pulumi up` would refuse it. The base is checked as HEAD is,
    its identical files parsed once (`shared`)."""
    base_checked = load_checked(base, shared=shared)

    def key(p: Problem, tree: Path) -> tuple:
        """What identifies an error in either tree: messages may name files of their tree."""
        return (Path(p.file).name, p.path, p.code, p.message.replace(f"{tree}{os.sep}", ""))

    before = {key(p, base) for p in base_checked.errors}
    errors, moved = [], []
    for p in result.errors:
        name = Path(p.file).name
        governance = p.code.startswith("GOV-")
        if governance and key(p, directory) in before and _same_file(directory / name, base / name):
            moved.append(
                dataclasses.replace(p, message=p.message + PRE_EXISTING, severity=Severity.warning)
            )
        else:
            errors.append(p)
    if not moved:
        return result
    warnings = sorted(result.warnings + moved, key=Problem.sort_key)
    return Report(result.mesh, errors, warnings)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.read_bytes() == b.read_bytes()
    except OSError:
        return False


def load_valid(directory: Path, settings) -> Report:
    """Load for commands that need a valid mesh: print every problem and exit 1 otherwise."""
    result = load_checked(directory, settings.names, deploying=True)
    if result.errors:
        for p in result.errors:
            typer.echo(problem_line(p), err=True)
        typer.echo(
            f"{len(result.errors)} error(s): fix the blueprints first (mesh validate)", err=True
        )
        raise typer.Exit(1)
    return result
