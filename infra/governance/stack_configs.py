"""The stack configs of the project (`Pulumi.<stack>.yaml`) in the PR check: a change to them is
reviewed by platform and security, and a stack config that deploys another blueprint directory
than the one checked is an error (E070).

A stack config decides as much as a blueprint: who administers Lake Formation
(`mesh:lakeFormationAdmins`), which directory is deployed (`mesh:blueprints`), whether data may
be deleted (`mesh:allowDataDeletion`), the accounts (`mesh:account`, `mesh:singleAccount`,
`mesh:deployRoleName`) and every physical name (`mesh:prefix`). `mesh diff BASE HEAD` compares
the stack configs of both sides, key by key, and lists each changed, added or removed value as a
`stack_config_changed` review item (`infra.governance.review`) at the HEAD file and line.

**Where the stack configs of a blueprint tree are.** The project of a blueprint directory is the
directory that holds it (as `mesh validate` reads the stack prefixes), or the directory itself
when it holds the project file `Pulumi.yaml` (blueprints at the repository root). Its stack
configs are the `Pulumi.*.yaml` files there. Nothing is searched further up: BASE and HEAD are
two checkouts side by side (`base/blueprints`, `head/blueprints` in the PR workflow), and each
side's project is its own checkout's. A HEAD without any stack config deploys nothing and is
not compared (a blueprint directory copied elsewhere; in a repository, deleting every stack
config is a change of files the `*` rule of CODEOWNERS gives the platform team). Its project
file is checked all the same: one setting `stackConfigDir` (E075) has Pulumi read the stack
configs from a directory this check does not compare, and so has a `Pulumi.json` or
`Pulumi.yml` project file (E075), which Pulumi reads with `Pulumi.<stack>.json` / `.yml`.

The files are read with the blueprints' hostile-input reader (`infra.blueprints.stack_files`:
size limit, no tags, no alias bombs), not by Pulumi: this is the PR check, it runs on text.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from infra.blueprints.stack_files import (
    PROJECT_FILE,
    STACK_CONFIGS,
    StackConfig,
    project_values,
    read_project_file,
    read_stack_configs,
)
from infra.errors import Problem, first_of, quote
from infra.governance.review import ReviewItem

DEFAULT_BLUEPRINTS = "blueprints"  # `mesh:blueprints` without a value (Pulumi.yaml's default)
# the project file's key naming the directory of the stack configs (Pulumi's `StackConfigDir`)
STACK_CONFIG_DIR = "stackConfigDir"
# the project files Pulumi also reads (`Pulumi.json` before `Pulumi.yaml`, `Pulumi.yml` after)
OTHER_PROJECT_FILES = ("Pulumi.json", "Pulumi.yml")

# the keys whose change a reviewer must understand, and what they decide (any other changed key
# is listed too, with the generic reason)
MEANING: dict[str, str] = {
    "mesh:lakeFormationAdmins": "who administers Lake Formation (every table, every grant)",
    "mesh:blueprints": "which blueprint directory the stack deploys",
    "mesh:allowDataDeletion": "whether decommissioned data may be deleted",
    "mesh:account": "the AWS account of the stack (and of every domain without account:)",
    "mesh:singleAccount": "whether every domain is deployed into one account",
    "mesh:deployRoleName": "the role assumed in each domain account",
    "mesh:prefix": "every physical name of the stack",
    "mesh:stack": "what the stack declares (all, platform or one domain)",
    "mesh:bucketNamespace": "the S3 namespace of every bucket name (chosen once)",
    "mesh:lakeFormationReadOnlyAdmins": "who reads every table's metadata in Lake Formation",
    "mesh:lakeFormationTrustedOwners": "the accounts Lake Formation trusts as resource owners",
    "mesh:platformStack": "the platform stack a domain stack waits for",
    "mesh:bootstrap": "whether the stack declares the deploy roles (with their permissions)",
    "mesh:bootstrapRoleName": "the role the bootstrap stack assumes in each domain account",
}


def project_dir(blueprints: Path) -> Path:
    """The project directory of a blueprint directory (see the module docstring), unresolved
    (its stack configs are named from it in messages)."""
    if (blueprints / PROJECT_FILE).is_file():
        return blueprints
    return blueprints.parent if blueprints.name not in ("", ".") else blueprints / ".."


# where a value is: (file, line, field path)
_At = tuple[str, int | None, str]


def _defaults(project: StackConfig | None) -> dict[str, tuple[Any, _At]]:
    """What the project file gives every stack (`stack_files.project_values`: a `default:`, a
    `value:` or a bare value), with where it is written."""
    if project is None or project.problem is not None:
        return {}
    return {
        key: (value, (project.path, project.line(*loc), ".".join(map(str, loc))))
        for key, (value, loc) in project_values(project).items()
    }


def _effective(
    cfg: StackConfig | None, defaults: dict[str, tuple[Any, _At]]
) -> dict[str, tuple[Any, _At]]:
    """key -> (value, where) of a stack: its own values over the project's defaults."""
    out = dict(defaults)
    if cfg is not None and cfg.problem is None:
        for key, value in cfg.config.items():
            out[key] = (value, (cfg.path, cfg.line("config", key), f"config.{key}"))
    return out


def _value(value: Any) -> str:
    return "(unset)" if value is None else quote(value)


def _change(before: Any, after: Any) -> str:
    """`'a' -> 'b'`; for two lists the items added and removed (`+'x', -'y'`)."""
    if isinstance(before, list) and isinstance(after, list):
        plus = [f"+{quote(v)}" for v in after if v not in before]
        minus = [f"-{quote(v)}" for v in before if v not in after]
        if plus or minus:
            return first_of(plus + minus, len(plus) + len(minus))
    return f"{_value(before)} -> {_value(after)}"


def _item(stack: str, at: _At, key: str, reason: str) -> ReviewItem:
    meaning = MEANING.get(key, "a setting of the stack")
    return ReviewItem(
        None, None, "stack_config_changed", f"{stack} {key} ({meaning}): {reason}", at[0], at[1]
    )


# keys of the project file that change nothing deployed
_INERT = frozenset({"description"})


def stack_config_review(
    base_blueprints: Path, head_blueprints: Path
) -> tuple[list[ReviewItem], list[Problem]]:
    """(review items, errors) of the stack configs from BASE to HEAD: each added, removed or
    changed value of each stack (its own, or the project file's default: `Pulumi.yaml`), and
    each change of the project file itself (`main:`, `runtime:`: the program that runs);
    errors: a HEAD stack config or project file that does not read, or a stack that deploys
    another directory than `head_blueprints` (E070)."""
    base_project, head_project = project_dir(base_blueprints), project_dir(head_blueprints)
    base, head = read_stack_configs(base_project), read_stack_configs(head_project)
    base_file, head_file = read_project_file(base_project), read_project_file(head_project)
    # the project file first: one naming another directory for the stack configs (or not
    # reading) is an error whether or not any stack config is left beside it
    errors = _other_project_files(head_project) + _project_file_problems(head_file)
    if not head:  # HEAD is no project (a copied blueprint directory): it deploys nothing
        return [], errors
    items: list[ReviewItem] = []
    if head_file is not None and head_file.problem is None:
        old = base_file.other if base_file is not None and base_file.problem is None else {}
        for key in sorted((set(old) | set(head_file.other)) - _INERT):
            a, b = old.get(key), head_file.other.get(key)
            if a != b:
                at = (head_file.path, head_file.line(key) if key in head_file.other else None, key)
                items.append(_item(PROJECT_FILE, at, key, _change(a, b)))
    base_defaults, head_defaults = _defaults(base_file), _defaults(head_file)
    for name in sorted(set(base) | set(head)):
        before, after = base.get(name), head.get(name)
        if after is not None and after.problem is not None:
            errors.append(after.problem)
            continue
        if after is None:
            assert before is not None
            items.append(
                ReviewItem(
                    None,
                    None,
                    "stack_config_changed",
                    f"stack config {name} is removed: the stack it configured is no longer "
                    "deployed from this repository",
                    before.path,
                    None,
                )
            )
            continue
        old_values = _effective(before, base_defaults) if before is not None else {}
        new_values = _effective(after, head_defaults)
        for key in sorted(set(old_values) | set(new_values)):
            a, b = old_values.get(key, (None, None))[0], new_values.get(key, (None, None))[0]
            if a == b:
                continue
            at = (
                new_values[key][1]
                if key in new_values
                else (after.path, after.line("config"), "config")
            )
            if before is None:
                what = f"new stack config: set to {_value(b)}"
            else:
                what = _change(a, b)
            items.append(_item(name, at, key, what))
        for key in sorted(set(before.other if before else {}) | set(after.other)):
            a = before.other.get(key) if before is not None else None
            b = after.other.get(key)
            if a != b:
                at = (after.path, after.line(key) if key in after.other else None, key)
                items.append(_item(name, at, key, _change(a, b)))
        value = new_values.get(
            "mesh:blueprints", (DEFAULT_BLUEPRINTS, (after.path, None, "config.mesh:blueprints"))
        )
        errors += _deploys_elsewhere(after, value, head_project, head_blueprints)
    return items, errors


def _other_project_files(project: Path) -> list[Problem]:
    """E075 for each project file Pulumi finds before or instead of `Pulumi.yaml` (it looks for
    `Pulumi.json`, `Pulumi.yaml`, `Pulumi.yml`, in this order, and reads each stack's config from
    `Pulumi.<stack>` with the project file's extension): the program would run with a project
    and stack configs this check does not compare."""
    out = []
    for name in OTHER_PROJECT_FILES:
        path = project / name
        if path.exists() and not path.is_dir():  # as Pulumi tells a project file
            shown = os.path.normpath(path)
            out.append(
                Problem(
                    shown,
                    None,
                    "",
                    "E075",
                    f"{name} is a project file for Pulumi, whose stacks then read their config "
                    f"from Pulumi.<stack>{Path(name).suffix}: the PR check compares only "
                    f"{PROJECT_FILE} and the {STACK_CONFIGS} beside it; remove {name}",
                )
            )
    return out


def _project_file_problems(project: StackConfig | None) -> list[Problem]:
    """A HEAD project file that does not read (E001, E002, E005: also the older `config:
    <directory>`, which Pulumi reads as `stackConfigDir`), or that sets `stackConfigDir` (E075):
    Pulumi would read every stack's config from that directory, where this check compares none
    of them (a stack config moved there would deploy unreviewed)."""
    if project is None:
        return []
    if project.problem is not None:
        return [project.problem]
    if STACK_CONFIG_DIR not in project.other:
        return []
    value = project.other[STACK_CONFIG_DIR]
    return [
        Problem(
            project.path,
            project.line(STACK_CONFIG_DIR),
            STACK_CONFIG_DIR,
            "E075",
            f"{PROJECT_FILE} sets {STACK_CONFIG_DIR} {quote(value)}: Pulumi reads the stack "
            f"configs there, and the PR check compares only the {STACK_CONFIGS} beside "
            f"{PROJECT_FILE}; keep them there (remove {STACK_CONFIG_DIR})",
        )
    ]


def _deploys_elsewhere(
    cfg: StackConfig, found: tuple[Any, _At], project: Path, checked: Path
) -> list[Problem]:
    """E070 when the stack config deploys another directory than the one checked."""
    value, (file, line, path) = found
    where = line or cfg.line("config") or 1
    if not isinstance(value, str) or not value.strip():
        return [
            Problem(file, where, path, "E070",
                    f"mesh:blueprints is {quote(value)}: expected a directory path")
        ]  # fmt: skip
    target = Path(value)
    target = target if target.is_absolute() else project / target
    try:
        same = target.resolve() == checked.resolve()
    except (OSError, RuntimeError, ValueError):  # a loop, a NUL byte in the value
        same = False
    if same:
        return []
    return [
        Problem(
            file,
            where,
            path,
            "E070",
            f"stack {Path(cfg.path).name} deploys the blueprints in {quote(value)}, not "
            f"{quote(str(checked))}, the directory this check compared: a stack must deploy "
            "what the PR check reviewed (set mesh:blueprints to it, or check that directory)",
        )
    ]
