"""`mesh plan` of the whole mesh, one stack's slice at a time, in worker processes.

The scope-`all` program, cut into the stacks the mesh deploys as (the platform, then each
domain: `infra.engines.stackrun.scopes`): each domain's slice (`build_mesh(..., sliced=True)`,
`infra.provision.slices`) declares exactly the resources its stack holds, each as the
scope-`all` program declares it. Each slice runs in a process of its own
(`infra.engines.stackrun.run_stacks`: a pool of one worker per core, the smallest domain first
in this process to warm the SDK's caches), which sends back what the plan's output and its
governance checks read of each resource (`Planned`). The slices' lists, each sorted by (logical
name, type), are merged in that order; a provider several stacks declare is kept once. The
result is the scope-`all` run's resource list, resource for resource and field for field
(tests/test_plan_slices.py), so `mesh plan` prints the same bytes; and no process holds more
than one domain's Pulumi objects (the parent holds the plain records).

The whole-mesh plan runs in one process below `PER_STACK_FROM` products (one runtime is
quicker than forks for a small mesh; `program_graph(per_stack=...)` decides otherwise).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from infra.engines import recording
from infra.engines.recording import Recorded, ResourceGraph
from infra.engines.stackrun import arn_only, merge_sorted, run_slice, run_stacks
from infra.model.mesh import Mesh
from infra.provision.program import SCOPE_ALL, StackSettings

# products from which the whole-mesh plan runs per stack
PER_STACK_FROM = 100


@dataclasses.dataclass(slots=True)
class Planned:
    """A recorded resource as `mesh plan` reads it: what its JSON lists
    (`Recorded.as_plan_json`), whether it is a custom resource (the text tree), and the ARN
    among its outputs (what governance reads of them)."""

    type: str
    name: str
    parent: str | None
    account: str
    inputs: dict[str, Any]
    protect: bool
    depends_on: list[str]
    custom: bool
    outputs: dict[str, Any]

    as_plan_json = Recorded.as_plan_json

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)


def program_graph(
    mesh: Mesh, settings: StackSettings, today: dt.date, per_stack: bool | None = None
) -> ResourceGraph:
    """What `mesh plan` prints of the program of `settings`: the whole mesh's (scope `all`)
    stack by stack when `per_stack` (by default from `PER_STACK_FROM` products), else, and any
    other stack's, `run_program`'s graph."""
    if per_stack is None:
        per_stack = sum(len(bp.products) for bp in mesh.blueprints) >= PER_STACK_FROM
    if per_stack and sliceable(settings):
        return planned_graph(mesh, settings, today)
    return recording.run_program(mesh, settings, today)


def sliceable(settings: StackSettings) -> bool:
    """The whole mesh's program (scope `all`), which the slices make up."""
    return settings.scope == SCOPE_ALL and not settings.bootstrap


def plan_stack(mesh: Mesh, settings: StackSettings, today: dt.date, scope: str) -> list[Planned]:
    """One stack's slice of the scope-`all` program, sorted by (name, type)."""
    return [
        Planned(
            r.type,
            r.name,
            r.parent,
            r.account,
            r.inputs,
            r.protect,
            r.depends_on,
            r.custom,
            arn_only(r),
        )
        for r in run_slice(mesh, settings, today, scope).resources
    ]


def planned_graph(
    mesh: Mesh, settings: StackSettings, today: dt.date, workers: int | None = None
) -> ResourceGraph:
    """The scope-`all` run's resources (`Planned`, in its order), stack by stack in workers."""
    assert sliceable(settings), settings.scope
    stacks = run_stacks(mesh, lambda scope: plan_stack(mesh, settings, today, scope), workers)
    return ResourceGraph(list(merge_sorted(stacks)))
