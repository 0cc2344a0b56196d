"""What `pulumi up` runs (via infra/__main__.py): the same checks as `mesh validate`, then the
program. Sits at the top of the dependency graph, beside the CLI, because it uses governance."""

from __future__ import annotations

from pathlib import Path

import pulumi

from infra.blueprints.load import load_mesh
from infra.cli.common import project_name_problems
from infra.errors import Severity
from infra.governance.evaluate import with_governance
from infra.provision.names import NameError_
from infra.provision.program import MeshResources, StackSettings, build_mesh
from infra.util import clock
from infra.util.textsafe import one_line


def load_for_pulumi(project_dir: Path) -> MeshResources:
    """Read the stack config, load and validate every blueprint (loader, governance, physical
    names) and refuse to declare anything when one is invalid: nothing half-applied."""
    settings = StackSettings.from_pulumi_config(project_dir)
    try:
        names = settings.names  # validates mesh:prefix before anything is declared
    except NameError_ as exc:
        raise pulumi.RunError(f"{exc}; nothing was changed") from None
    today = clock.today()
    only = None if settings.includes_platform() else settings.scope  # a domain stack
    result = with_governance(
        load_mesh(settings.blueprints, today=today, only=only), today, deploying=True
    )
    problems = result.errors or project_name_problems(result.mesh, settings.blueprints, names)
    errors = [p for p in problems if p.severity is Severity.error]
    if errors:
        lines = "\n".join(f"  {_line(p)}" for p in errors)
        raise pulumi.RunError(f"{len(errors)} blueprint error(s); nothing was changed:\n{lines}")
    for p in [*result.warnings, *problems]:  # expiring grants, near quotas (W001, W007, ...)
        pulumi.log.warn(_line(p))
    return build_mesh(result.mesh, settings, today)


def _where(p) -> str:
    return f"{p.file}:{p.line or '-'}:"


def _line(p) -> str:
    return one_line(f"{_where(p)} {p.code} {p.path} {p.message}")
