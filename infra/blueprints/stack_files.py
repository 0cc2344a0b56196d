"""Reading a project's stack config files (`Pulumi.<stack>.yaml`) and its project file
(`Pulumi.yaml`) as hostile input: the one reader every command uses.

A pull request can change them as it changes a blueprint, so they are read the way a blueprint
is (`infra.blueprints.yaml_safe`): a symbolic link out of the project directory, a FIFO or a
device is refused before it is opened (a check must neither hang on a pipe, nor read `/dev/zero`
until it runs out of memory, nor print pieces of a file elsewhere on the machine), a file over
the size limit is not read, YAML tags, merge keys and alias bombs are refused. What does not read
as a mapping with a `config:` mapping carries its problem (E001, E002, E005) instead of values;
each caller decides what that means for it (the PR check reports it, a reader of prefixes skips
it, `mesh stacks` stops with it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.blueprints.yaml_safe import _FileError, _parse_text, _read_text
from infra.errors import Problem, UsageError
from infra.model.source import SourceFile

PROJECT_FILE = "Pulumi.yaml"
# with the project file `Pulumi.yaml`, Pulumi reads a stack's config from `Pulumi.<stack>.yaml`
STACK_CONFIGS = "Pulumi.*.yaml"


@dataclass
class StackConfig:
    """One `Pulumi.<stack>.yaml` (or `Pulumi.yaml`): the file, its display path, where its
    fields are, and its values (or the problem that kept it from reading)."""

    path: str
    src: SourceFile | None
    config: dict[str, Any] = field(default_factory=dict)
    other: dict[str, Any] = field(default_factory=dict)  # top-level keys but `config`
    problem: Problem | None = None
    file: Path | None = None

    def line(self, *loc: str | int) -> int | None:
        return self.src.line_of(loc) if self.src is not None else None


def read_config_file(path: Path) -> StackConfig:
    """One stack config or project file; a file that does not read as a YAML mapping carries
    its problem (E001, E002, E005)."""
    shown = os.path.normpath(path)
    try:
        text = _read_text(path)
    except _FileError as exc:
        problem = Problem(shown, exc.line, "", exc.code, exc.message)
        return StackConfig(shown, None, problem=problem, file=path)
    src, _text, data, problem = _parse_text(text, shown)
    if problem is not None and problem.code == "E005":  # empty: no settings
        data, problem = {}, None
    if problem is not None:
        return StackConfig(shown, None, problem=problem, file=path)
    if not isinstance(data, dict) or not isinstance(data.get("config", {}) or {}, dict):
        why = "expected a mapping, with a config: mapping"
        return StackConfig(shown, src, problem=Problem(shown, 1, "", "E005", why), file=path)
    config = data.get("config") or {}
    other = {str(k): v for k, v in data.items() if k != "config"}
    return StackConfig(shown, src, {str(k): v for k, v in config.items()}, other, file=path)


def readable(read: StackConfig, what: str = "the stack config") -> StackConfig:
    """`read`, unless it did not read: then a usage error (exit 2) naming it, quoted (its name
    is a pull request's text), with the line when known: for the commands that need its values
    (`mesh plan --config`, `mesh stacks`), where the PR check reports the problem instead."""
    p = read.problem
    if p is not None:
        at = f" (line {p.line})" if p.line is not None else ""
        raise UsageError(f"cannot read {what} {read.path!r}{at}: {p.code} {p.message}")
    return read


def read_stack_configs(project: Path) -> dict[str, StackConfig]:
    """File name -> stack config, for every `Pulumi.*.yaml` of `project`, by name."""
    try:
        paths = sorted(p for p in project.glob(STACK_CONFIGS) if not p.is_dir())
    except OSError:
        return {}
    return {path.name: read_config_file(path) for path in paths}


def read_project_file(project: Path) -> StackConfig | None:
    """`Pulumi.yaml` of `project`, or None."""
    path = project / PROJECT_FILE
    return read_config_file(path) if path.is_file() else None


def project_values(project: StackConfig) -> dict[str, tuple[Any, tuple[str | int, ...]]]:
    """What the project file (`Pulumi.yaml`, read) gives every stack unless the stack sets its
    own: full key (namespaced as Pulumi does: a key without a namespace is the project's) ->
    (value, where it is written). Pulumi takes a key's `default:` (a config type of the
    project), its `value:` (a value for every stack), or a bare value (`key: value`, shorthand
    for either; Pulumi's `RewriteShorthandConfigValues`)."""
    name = str(project.other.get("name", ""))
    out: dict[str, tuple[Any, tuple[str | int, ...]]] = {}
    for key, spec in project.config.items():
        full = key if ":" in key else f"{name}:{key}"
        if not isinstance(spec, dict):
            out[full] = (spec, ("config", key))
            continue
        for attribute in ("default", "value"):  # Pulumi refuses a key with both
            if attribute in spec:
                out[full] = (spec[attribute], ("config", key, attribute))
    return out
