"""The project's stack configs (`Pulumi.<stack>.yaml` beside the blueprint directory), read
as hostile input (`infra.blueprints.stack_files`) over the project's defaults (`Pulumi.yaml`),
and what is wrong with them for a blueprint tree (`mesh stacks`, `mesh init stacks`). Pure: no Pulumi (`infra.engines.
stack_config` reads one config the way `pulumi up` does, for `mesh plan --config`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from infra.blueprints.stack_files import (
    STACK_CONFIGS,
    project_values,
    read_config_file,
    read_project_file,
    readable,
)

SCOPE_ALL, SCOPE_PLATFORM = "all", "platform"
DEFAULT_ACCOUNT = "123456789012"  # infra.provision.program.DEFAULT_ACCOUNT
# the values every stack of a stack-per-domain project must share: they make the names and
# ARNs one stack uses for another's resources
SHARED_KEYS = (
    "mesh:prefix",
    "mesh:account",
    "aws:region",
    "mesh:deployRoleName",
    "mesh:singleAccount",
    "mesh:blueprints",
)
_CONFIG = re.compile(r"^Pulumi\.(.+)\.yaml$")


@dataclass(frozen=True)
class StackConfig:
    """One `Pulumi.<name>.yaml`: its stack name, scope (`mesh:stack`) and plain values."""

    name: str
    path: Path
    scope: str
    values: dict[str, object]

    @property
    def account(self) -> str:
        return str(self.values.get("mesh:account", DEFAULT_ACCOUNT))

    @property
    def single_account(self) -> bool:
        return self.values.get("mesh:singleAccount") in (True, "true")


def _plain(path: Path) -> dict:
    """The `config:` values of one stack config (`infra.blueprints.stack_files`: hostile input);
    a file that does not read stops the command with its problem."""
    return readable(read_config_file(path), "the stack config").config


def _project_defaults(project_dir: Path) -> dict[str, object]:
    """What `Pulumi.yaml` gives every stack (`stack_files.project_values`)."""
    project = read_project_file(project_dir)
    if project is None:
        return {}
    readable(project, "the project file")
    return {key: value for key, (value, _loc) in project_values(project).items()}


def project_configs(project_dir: Path) -> list[StackConfig]:
    """The stack configs of the project in `project_dir`, by stack name; each with the
    project's defaults (`Pulumi.yaml`) under its own values."""
    configs = []
    defaults = _project_defaults(project_dir)
    for path in sorted(project_dir.glob(STACK_CONFIGS)):
        match = _CONFIG.match(path.name)
        if not match:
            continue
        values = {**defaults, **_plain(path)}
        if values.get("mesh:bootstrap") is True:
            continue  # the deploy roles (infra.provision.bootstrap): deployed once, before any
        scope = str(values.get("mesh:stack") or SCOPE_ALL)
        configs.append(StackConfig(match.group(1), path, scope, values))
    return configs


def per_domain(configs: Iterable[StackConfig]) -> bool:
    """Stack-per-domain mode: some config declares the platform or a domain."""
    return any(c.scope != SCOPE_ALL for c in configs)


def config_problems(configs: list[StackConfig], domains: Iterable[str]) -> list[str]:
    """What is wrong with a project's stack configs for these blueprints: a stack for a domain
    that does not exist, a domain without a stack (stack-per-domain mode), two stacks for one
    scope, a domain stack whose shared values (prefix, account, region, ...) differ from the
    platform stack's: its names for the other stacks' roles would be wrong."""
    domains = set(domains)
    problems = []
    for c in configs:
        if c.scope not in (SCOPE_ALL, SCOPE_PLATFORM) and c.scope not in domains:
            problems.append(
                f"{c.path.name}: stack {c.name} is for domain {c.scope!r}, which has no "
                "blueprint (remove the stack config, or restore the blueprint)"
            )
    if not per_domain(configs):
        return problems
    by_scope: dict[str, list[StackConfig]] = {}
    for c in configs:
        if c.scope != SCOPE_ALL:
            by_scope.setdefault(c.scope, []).append(c)
    for scope, group in sorted(by_scope.items()):
        if len(group) > 1:
            names = ", ".join(c.path.name for c in group)
            problems.append(f"{names}: {len(group)} stacks declare mesh:stack {scope}")
    if SCOPE_PLATFORM not in by_scope:
        problems.append("no platform stack: no Pulumi.<name>.yaml sets mesh:stack: platform")
    missing = sorted(domains - set(by_scope))
    if missing:
        problems.append(
            f"{len(missing)} domain(s) without a stack config: {', '.join(missing[:20])}"
            f"{', ...' if len(missing) > 20 else ''} (mesh init stacks writes them)"
        )
    platform = by_scope.get(SCOPE_PLATFORM, [None])[0]
    if platform is not None:
        for c in configs:
            if c.scope not in domains:
                continue
            for key in SHARED_KEYS:
                if str(c.values.get(key)) != str(platform.values.get(key)):
                    problems.append(
                        f"{c.path.name}: {key} is {c.values.get(key)!r}, the platform stack's "
                        f"({platform.path.name}) {platform.values.get(key)!r}: every stack of "
                        "the mesh must share it"
                    )
    return problems
