"""Checks of a blueprint tree against the project around it (`mesh validate`, the PR check):
the physical names and policy sizes of every stack its stack configs set up, names two of the
project's stacks would share, the Lake Formation settings two stacks would declare, and the
accounts. The project is the directory holding the blueprint directory; its stack configs are
read as hostile input (`infra.blueprints.stack_files`): a pull request changes them too.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from infra import clock
from infra.blueprints.stack_files import read_stack_configs
from infra.errors import Problem
from infra.model.mesh import Mesh
from infra.provision.accounts import account_problems
from infra.provision.names import (
    DEFAULT_PREFIX,
    Names,
    check_names,
    cross_prefix_problems,
    stack_prefixes,
)
from infra.provision.project import (
    ProjectStack,
    bucket_collisions,
    prefix_overlaps,
    project_stacks,
    settings_owners,
)
from infra.provision.quotas import quota_problems


def project_stacks_of(directory: Path) -> list[ProjectStack]:
    """The stacks of the project of the blueprint directory `directory` that `pulumi up` would
    accept (`infra.provision.project.project_stacks`)."""
    return project_stacks(read_stack_configs(Path(directory).resolve().parent).values())


def project_problems(
    mesh: Mesh, directory: Path, names: Names | None = None, today: dt.date | None = None
) -> list[Problem]:
    """Physical names and policy sizes (`check_names`, `quota_problems`) for the stack prefix
    given, else for every prefix the project's stack configs set (`Pulumi.*.yaml` beside the blueprint
    directory; `mesh` when there are none), and names two of the project's stacks would share
    (E049)."""
    today = today or clock.today()
    configs = read_stack_configs(Path(directory).resolve().parent)
    prefixes = stack_prefixes({n: c.config for n, c in configs.items() if c.problem is None})
    stacks = project_stacks(configs.values()) if prefixes else []
    if names is not None:  # one stack's (`pulumi up`) or the local default (plan, audit, up)
        checked = [names]
        if names.prefix not in prefixes:
            prefixes, stacks = {}, []  # not a stack of the project: nothing to collide with
    else:
        every = {(s.prefix, s.namespace, s.region): s.names for s in stacks}
        checked = [n for _, n in sorted(every.items())]
        checked += [Names(p) for p in sorted(prefixes) if not any(n.prefix == p for n in checked)]
        checked = checked or [Names(DEFAULT_PREFIX)]
    problems = []
    seen = set()
    for n in checked:
        for p in [*check_names(mesh, n), *quota_problems(mesh, n, today)]:
            key = (p.file, p.line, p.code, p.message)
            if key not in seen:
                seen.add(key)
                problems.append(p)
    problems += account_problems(mesh, today)
    if len(prefixes) > 1:
        problems += cross_prefix_problems(mesh, prefixes)
    if len(stacks) > 1:
        problems += bucket_collisions(mesh, stacks) + settings_owners(mesh, stacks)
        problems += prefix_overlaps(mesh, stacks)
    return sorted(problems, key=Problem.sort_key)
