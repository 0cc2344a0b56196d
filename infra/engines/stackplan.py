"""`mesh plan` of the whole mesh, one stack's slice at a time, in worker processes, with the
parent's memory bounded by what governance reads of the mesh, not by the mesh's records.

The scope-`all` program, cut into the stacks the mesh deploys as (the platform, then each
domain: `infra.engines.stackrun.scopes`): each domain's slice (`build_mesh(..., sliced=True)`,
`infra.provision.slices`) declares exactly the resources its stack holds, each as the
scope-`all` program declares it. Each slice runs in a process of its own
(`infra.engines.stackrun.run_stacks`: a pool of one worker per core, the smallest domain first
in this process to warm the SDK's caches), and no process holds more than one domain's Pulumi
objects.

What a worker does with its slice (`plan_stack`):

- it writes what the plan prints of each resource (`Planned`), sorted by (logical name, type),
  to a file of its own in a temporary directory (`infra.engines.spool`), the providers aside;
- it runs the resource rules (each resource alone: `infra.governance.evaluate.
  resource_findings`) on its slice: a resource's component parents are in its slice, so the
  product a finding names is the one the whole graph gives;
- it runs the bucket rules (`graph_rules.BUCKET_RULES`: a bucket and what configures it, the
  key of its domain), which the mesh declares in one stack (tests/test_plan_slices.py checks
  it on every fixture);
- it sends back (`StackPlan`) the file's name, its first key, the counts by type, the
  providers, the findings, and what the other graph rules (resources related across stacks:
  a grant and the roles, tables and buckets it names) read of its resources — a few types, a
  few properties of each (`infra.governance.graph_index.GRAPH_READS`, `kept`; nothing of the
  types only the bucket rules read), equal values made one object (`_shared`).

The parent (`planned_graph`, a `SpooledGraph`) runs those graph rules (`MESH_RULES`) on the
kept resources of the whole mesh, and prints the plan from the files: merged in (name, type)
order as they are read, each opened when the merge reaches its first key
(`spool.merge_lazily`), the providers once. The order, fields and counts are the scope-`all`
run's, so `mesh plan` prints the same bytes, findings included (tests/test_plan_slices.py).
The temporary directory is removed when the plan is closed (`SpooledGraph.close`), or when a
stack fails.

What the parent still holds grows with the mesh: the Mesh model (the blueprints: the largest
part), what the cross-stack graph rules read, the findings, and for the text tree each
resource's type, name and parent (not its inputs).

The whole-mesh plan runs in one process below `PER_STACK_FROM` products (one runtime is
quicker than forks for a small mesh; `program_graph(per_stack=...)` decides otherwise).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from infra.engines import recording
from infra.engines.recording import PROVIDER_TYPE, Recorded, ResourceGraph
from infra.engines.spool import merge_lazily, read_records, write_records
from infra.engines.stackrun import arn_only, merge_sorted, run_slice, run_stacks, scopes, unique
from infra.governance.evaluate import (
    GovernanceReport,
    govern_resources,
    graph_from_recorded,
    resource_findings,
)
from infra.governance.findings import Finding, resource_finding
from infra.governance.graph_index import Graph, Kept, kept
from infra.governance.graph_rules import BUCKET_RULES, BUCKET_RULES_READ, GRAPH_RULES, check_graph
from infra.governance.resource_rules import Res
from infra.model.mesh import Mesh
from infra.provision.program import SCOPE_ALL, StackSettings

# products from which the whole-mesh plan runs per stack
PER_STACK_FROM = 100
# the graph rules the parent runs on the whole mesh (the others, on each stack's slice)
MESH_RULES = tuple(p for p in GRAPH_RULES if p not in BUCKET_RULES)


@dataclasses.dataclass(slots=True)
class Planned:
    """A recorded resource as `mesh plan` prints it: what its JSON lists
    (`Recorded.as_plan_json`), whether it is a custom resource (the text tree), and the ARN
    among its outputs."""

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

    def plain(self) -> tuple:
        """Its fields as a tuple, `Planned(*plain)` again (what the spool files hold)."""
        return (
            self.type,
            self.name,
            self.parent,
            self.account,
            self.inputs,
            self.protect,
            self.depends_on,
            self.custom,
            self.outputs,
        )


def program_graph(
    mesh: Mesh, settings: StackSettings, today: dt.date, per_stack: bool | None = None
) -> ResourceGraph | SpooledGraph:
    """What `mesh plan` prints of the program of `settings`: the whole mesh's (scope `all`)
    stack by stack when `per_stack` (by default from `PER_STACK_FROM` products), else, and any
    other stack's, `run_program`'s graph. Close a `SpooledGraph` when done with it."""
    if per_stack is None:
        per_stack = sum(len(bp.products) for bp in mesh.blueprints) >= PER_STACK_FROM
    if per_stack and sliceable(settings):
        return planned_graph(mesh, settings, today)
    return recording.run_program(mesh, settings, today)


def sliceable(settings: StackSettings) -> bool:
    """The whole mesh's program (scope `all`), which the slices make up."""
    return settings.scope == SCOPE_ALL and not settings.bootstrap


def govern(graph: ResourceGraph | SpooledGraph, mesh: Mesh, today: dt.date) -> GovernanceReport:
    """The plan's governance: the resource rules' findings (the workers', for a
    `SpooledGraph`) and the graph rules'."""
    if isinstance(graph, SpooledGraph):
        return govern_resources(graph.kept, mesh, today, graph.checked, MESH_RULES)
    return govern_resources(graph, mesh, today)


# ------------------------------------------------------------------ a worker: one stack


@dataclasses.dataclass
class StackPlan:
    """What a worker sends back of its stack's slice. Its resources but the providers are in a
    file (`path`: `Planned.plain` tuples sorted by (name, type): `infra.engines.spool`) whose
    first key is `first`; `counts`: of them by type. And what the whole mesh's governance
    needs: the resource rules' findings by resource (`checked`) and what the graph rules read
    of its resources (`kept`), both in the slice's order."""

    path: Path
    first: tuple[str, str] | None
    counts: dict[str, int]
    providers: list[Planned]
    checked: list[tuple[tuple[str, str], list[Finding]]]
    found: list[Finding]
    kept: list[Res]

    @property
    def registered(self) -> int:
        """How many resources the slice registers (its providers among them)."""
        return sum(self.counts.values()) + len(self.providers)


def plan_stack(
    mesh: Mesh, settings: StackSettings, today: dt.date, scope: str, path: Path
) -> StackPlan:
    """Run one stack's slice of the scope-`all` program: its records (but the providers) to a
    new file at `path`; its resource rules checked here."""
    resources = run_slice(mesh, settings, today, scope).resources
    planned = [
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
        for r in resources
    ]
    graph = graph_from_recorded(resources)
    checked: list[tuple[tuple[str, str], list[Finding]]] = []
    for f in resource_findings(graph):
        key = (str(f.resource_name), str(f.resource_type))
        if not checked or checked[-1][0] != key:
            checked.append((key, []))
        checked[-1][1].append(f)
    found = [
        resource_finding(policy, res.type, res.name, message, product)
        for policy, res, message, product in check_graph(graph, mesh, today, BUCKET_RULES)
    ]
    graph_reads = _shared(
        [
            k
            for res in graph.resources
            if res.type not in BUCKET_RULES_READ and (k := kept(res)) is not None
        ]
    )
    records = [p for p in planned if p.type != PROVIDER_TYPE]
    write_records(path, (p.plain() for p in records))
    return StackPlan(
        path,
        records[0].key if records else None,
        dict(Counter(p.type for p in records)),
        [p for p in planned if p.type == PROVIDER_TYPE],
        checked,
        found,
        graph_reads,
    )


def _shared(resources: list[Res]) -> list[Res]:
    """`resources`, equal strings and equal plain values in them made one object (a type, a
    parent's name, a tag dict, a table's parameters...), which pickle then sends once: the
    parent holds them for the whole mesh."""
    seen: dict[Any, Any] = {}

    def one(value: Any) -> Any:
        if isinstance(value, str):
            return seen.setdefault(value, value)
        if isinstance(value, Kept):
            return Kept({one(k): one(v) for k, v in value.items()}, one(value.type))
        if isinstance(value, dict) and all(type(k) is str for k in value):
            value = {one(k): one(v) for k, v in value.items()}
        elif isinstance(value, list):
            value = [one(v) for v in value]
        else:
            return value
        try:
            return seen.setdefault(("plain", repr(value)), value)
        except TypeError:
            return value

    return [
        Res(
            one(r.type),
            one(r.name),
            one(r.props),
            one(r.parent),
            one(r.parent_type),
            one(r.outputs),
        )
        for r in resources
    ]


# ------------------------------------------------------------------ the parent: the mesh


def planned_graph(
    mesh: Mesh, settings: StackSettings, today: dt.date, workers: int | None = None
) -> SpooledGraph:
    """The scope-`all` run's resources (in its order), stack by stack in workers, spooled to a
    temporary directory (removed by `SpooledGraph.close`, or here if a stack fails)."""
    assert sliceable(settings), settings.scope
    spool = tempfile.TemporaryDirectory(prefix="mesh-plan-")
    try:
        index = {scope: i for i, scope in enumerate(scopes(mesh))}
        stacks = run_stacks(
            mesh,
            lambda scope: plan_stack(
                mesh, settings, today, scope, Path(spool.name) / f"{index[scope]}.records"
            ),
            workers,
            registered=lambda s: s.registered,
        )
        return SpooledGraph(stacks, spool)
    except BaseException:
        spool.cleanup()
        raise


class SpooledGraph:
    """The whole-mesh plan's resources as `ResourceGraph` offers them to `mesh plan`
    (`resources`, `counts()`), read from the stacks' files each time `resources` is iterated;
    the resource rules' findings (`checked`) and the graph rules' view of the mesh (`kept`)."""

    def __init__(self, stacks: list[StackPlan], spool: tempfile.TemporaryDirectory) -> None:
        self._spool = spool
        self._providers = list(merge_sorted([s.providers for s in stacks]))
        self._sources = [(s.first, s.path) for s in stacks]
        counts = Counter[str]()
        for s in stacks:
            counts.update(s.counts)
        if self._providers:
            counts[PROVIDER_TYPE] += len(self._providers)
        self._counts = dict(sorted(counts.items()))
        self.checked: list[Finding] = [
            f for _, found in _once([s.checked for s in stacks], lambda c: c[0]) for f in found
        ]
        self.checked += [f for s in stacks for f in s.found]
        self.kept = Graph(_once([s.kept for s in stacks], lambda r: (r.name, r.type)))
        self.resources = _Resources(self)

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def stream(self) -> Iterator[Planned]:
        """Every resource, in (name, type) order, each once: the files and the providers."""
        sources = [
            (first, lambda path=path: read_records(path, Planned)) for first, path in self._sources
        ]
        providers = self._providers
        sources.append((providers[0].key if providers else None, lambda: iter(providers)))
        return unique(merge_lazily(sources))

    def close(self) -> None:
        """Remove the stacks' files."""
        self._spool.cleanup()


def _once(lists: list[list[Any]], key: Callable[[Any], Any]) -> Iterator[Any]:
    """The items of `lists` (each sorted by `key`) in that order, ties in the order of `lists`;
    of items with one key (a provider's, which several stacks send), the first."""
    last: Any = None
    for item in heapq.merge(*lists, key=key):
        if (k := key(item)) != last:
            last = k
            yield item


class _Resources:
    """The resources of a `SpooledGraph`: iterable again and again, and sized."""

    def __init__(self, graph: SpooledGraph) -> None:
        self._graph = graph
        self._len = sum(graph.counts().values())

    def __iter__(self) -> Iterator[Planned]:
        return self._graph.stream()

    def __len__(self) -> int:
        return self._len
