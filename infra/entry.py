"""What `pulumi up` runs (via infra/__main__.py): the same checks as `mesh validate`, then the
program. Sits beside the CLI at the top of the dependency graph, over `infra.api`."""

from __future__ import annotations

from pathlib import Path

import pulumi

from infra import api, clock
from infra.errors import Problem
from infra.provision.guard import PLATFORM_OUTPUT
from infra.provision.names import PhysicalNameError
from infra.provision.program import MeshResources, StackSettings, build_mesh
from infra.util.textsafe import one_line


def load_for_pulumi(project_dir: Path) -> MeshResources:
    """Read the stack config, validate every blueprint (`infra.api.validate`: the loader,
    governance, physical names, quotas) and refuse to declare anything when one is invalid:
    nothing half-applied."""
    settings = StackSettings.from_pulumi_config(project_dir)
    try:
        names = settings.names  # validates mesh:prefix before anything is declared
    except PhysicalNameError as exc:
        raise pulumi.RunError(f"{exc}; nothing was changed") from None
    result = check(settings, names)
    if result.errors:
        lines = "\n".join(f"  {_line(p)}" for p in result.errors)
        raise pulumi.RunError(
            f"{len(result.errors)} blueprint error(s); nothing was changed:\n{lines}"
        )
    for p in result.warnings:  # expiring grants, near quotas (W001, W007, ...)
        pulumi.log.warn(_line(p))
    resources = build_mesh(result.mesh, settings, clock.today())
    if resources.lake_formation_only is not None:  # what domain stacks wait for
        pulumi.export(PLATFORM_OUTPUT, resources.lake_formation_only)
    return resources


def check(settings: StackSettings, names=None) -> api.Report:
    """What `pulumi up` checks for a stack: `mesh validate`'s pipeline on its blueprints, for
    its prefix, deploying (a lapsed exception revokes instead of blocking), and for a domain
    stack only its domain's blueprint loaded in full."""
    only = None if settings.includes_platform() else settings.scope  # a domain stack
    return api.validate(
        settings.blueprints, names=names or settings.names, only=only, deploying=True
    )


def _line(p: Problem) -> str:
    """A problem in Pulumi's log: its location, code, field and message on one line."""
    return one_line(f"{p.where}: {p.code} {p.path} {p.message}")
