"""Plan benchmark: the mesh program under recording mocks vs a replay of its registrations.

For each size, in one process, interleaved (program, faithful, flat, floor; `rounds(size)`
rounds after an untimed warm-up run of the program):

* program  — `run_program` on a generated mesh (components, parents, Outputs, builders);
* faithful — issue 27's "replay of the same registrations": the program's recorded resources
             registered again with no program logic, each with its type, name, resolved inputs,
             parent, provider, dependencies (as `depends_on`), protect / retain /
             delete-before-replace, alias specs and, for a component, its registered outputs,
             each after what it needs. Its recorded graph must equal the program's field for
             field, and its captured requests (parents, dependencies, providers, aliases,
             component outputs) the program's, or the bench stops. Not replayed: which input
             carries which dependency (`propertyDependencies`; the inputs are plain values);
* flat     — the same resources with the same types and input payloads but no parent,
             provider, dependency or option, components as bare ComponentResources (what the
             bench compared with before: cheaper than the program's registrations, since each
             registration then waits for nothing);
* floor    — the same number of bare `aws.s3.Bucket(name, bucket=name)`, under the same mocks.

Ratios are program ÷ each, min/median over the rounds, by wall time (and CPU time against the
faithful replay: steadier on a shared machine); program ÷ faithful replay at the largest size,
median, is issue 27's goal (<= 1.3x, a GOAL line for bench/run.py). A cProfile pass at the
middle size prints the share of time spent in our own code (`infra/`), the rest being the
Pulumi SDK, asyncio and the mocks.

    python bench/plan_bench.py            # sizes 10, 100, 1000 products
    python bench/plan_bench.py 10 100     # chosen sizes
"""

from __future__ import annotations

import contextlib
import cProfile
import datetime as dt
import gc
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pulumi
import pulumi_aws as aws
from pulumi.runtime.rpc import deserialize_properties

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.meshgen import generate
from bench.timing import goal, sizes
from infra.blueprints.load import load_mesh
from infra.engines.recording import RecordingMonitor, _plain, run_program
from infra.provision.program import StackSettings

TODAY = dt.date(2026, 11, 25)
PRODUCTS_PER_DOMAIN = 10
CONSUMERS = 2


def rounds(products: int) -> int:
    """Interleaved rounds per size, after one untimed warm-up run of the program: 5 below
    1,000 products (seconds each), 3 from there (a round is minutes on a loaded machine)."""
    return 5 if products < 1000 else 3


def floor_program(n: int):
    def program():
        for i in range(n):
            aws.s3.Bucket(f"floor-{i}", bucket=f"floor-{i}")

    return program


class Registrations:
    """What the program's RegisterResource and RegisterResourceOutputs requests carried beyond
    the recorded graph, by URN: the parent's, dependencies' and provider's URNs, the alias specs
    (pulumi_aws declares type aliases: a bucket was `aws:s3/bucketV2:BucketV2`) and a component's
    outputs. Captured by wrapping the recording monitor during one (untimed) run."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.dependencies: dict[str, list[str]] = {}
        self.provider: dict[str, str] = {}  # a custom resource's provider reference
        self.providers: dict[str, list[str]] = {}  # a component's providers (their URNs)
        self.aliases: dict[str, list[tuple]] = {}  # (urn, name, type, parent URN, no parent)
        self.outputs: dict[str, dict] = {}  # a component's registered outputs, plain

    def same_as(self, other: Registrations) -> bool:
        return vars(self) == vars(other)

    @contextlib.contextmanager
    def capturing(self):
        register, register_outputs = (
            RecordingMonitor.RegisterResource,
            RecordingMonitor.RegisterResourceOutputs,
        )

        def on_register(monitor, request):
            response = register(monitor, request)
            self.parent[response.urn] = request.parent
            self.dependencies[response.urn] = sorted(request.dependencies)
            self.provider[response.urn] = request.provider.rsplit("::", 1)[0]
            self.providers[response.urn] = sorted(
                ref.rsplit("::", 1)[0] for ref in dict(request.providers).values()
            )
            self.aliases[response.urn] = [
                (a.urn, a.spec.name, a.spec.type, a.spec.parentUrn, a.spec.noParent)
                for a in request.aliases
            ]
            return response

        def on_outputs(monitor, request):
            self.outputs[request.urn] = _plain(deserialize_properties(request.outputs))
            return register_outputs(monitor, request)

        RecordingMonitor.RegisterResource = on_register  # type: ignore[method-assign]
        RecordingMonitor.RegisterResourceOutputs = on_outputs  # type: ignore[method-assign]
        try:
            yield self
        finally:
            RecordingMonitor.RegisterResource = register  # type: ignore[method-assign]
            RecordingMonitor.RegisterResourceOutputs = register_outputs  # type: ignore[method-assign]


def _replay_order(graph, regs: Registrations) -> list:
    """The recorded resources, each after its parent, provider and dependencies."""
    by_urn = {r.urn: r for r in graph.resources}
    done: set[str] = set()
    order = []
    for first in graph.resources:
        stack = [(first.urn, False)]
        while stack:
            urn, expanded = stack.pop()
            if urn in done or urn not in by_urn:
                continue
            if expanded:
                done.add(urn)
                order.append(by_urn[urn])
                continue
            stack.append((urn, True))
            needs = [regs.parent[urn], regs.provider[urn], *regs.providers[urn]]
            stack.extend((u, False) for u in needs + regs.dependencies[urn] if u not in done)
    return order


def faithful_replay_program(graph, regs: Registrations):
    """The program's registrations again, with no program logic: each resource with its type,
    name, (resolved) inputs, parent, provider, dependencies, protect / retain / aliases /
    delete-before-replace options and, for a component, its registered outputs."""
    order = _replay_order(graph, regs)

    def program():
        made: dict[str, pulumi.Resource] = {}
        for r in order:
            parent = made.get(regs.parent[r.urn])
            if r.type.startswith("pulumi:providers:"):
                res: pulumi.Resource = pulumi.ProviderResource(
                    r.type.removeprefix("pulumi:providers:"),
                    r.name,
                    dict(r.inputs),
                    pulumi.ResourceOptions(parent=parent),
                )
            elif r.custom:
                res = pulumi.CustomResource(
                    r.type,
                    r.name,
                    dict(r.inputs),
                    pulumi.ResourceOptions(
                        parent=parent,
                        provider=made.get(regs.provider[r.urn]),
                        depends_on=[made[u] for u in regs.dependencies[r.urn]] or None,
                        protect=r.protect,
                        retain_on_delete=r.retain_on_delete,
                        delete_before_replace=r.delete_before_replace,
                        aliases=_aliases(regs.aliases[r.urn]),
                    ),
                )
            else:
                component = pulumi.ComponentResource(
                    r.type,
                    r.name,
                    None,
                    pulumi.ResourceOptions(
                        parent=parent,
                        providers=[made[u] for u in regs.providers[r.urn]] or None,
                        protect=r.protect,
                        aliases=_aliases(regs.aliases[r.urn]),
                    ),
                )
                if r.urn in regs.outputs:
                    component.register_outputs(regs.outputs[r.urn])
                res = component
            made[r.urn] = res

    return program


def _aliases(specs: list[tuple]) -> list | None:
    """Aliases that the SDK sends as exactly these alias specs (or URNs)."""
    out: list = []
    for urn, name, type_, parent_urn, no_parent in specs:
        if urn:
            out.append(urn)
            continue
        parent = None if no_parent else (parent_urn or ...)
        out.append(pulumi.Alias(name=name or ..., type_=type_ or ..., parent=parent))
    return out or None


def flat_replay_program(graph):
    """The recorded resources registered flat: same types and input payloads, but no parent,
    provider, dependency or option, and components as bare ComponentResources."""

    def program():
        for r in graph.resources:
            if r.custom:
                pulumi.CustomResource(r.type, r.name, dict(r.inputs))
            else:
                pulumi.ComponentResource(r.type, r.name)

    return program


def timed(fn) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def interleaved_runs(runs: dict[str, Callable[[], object]], times_each: int) -> dict[str, list]:
    """(wall, cpu) seconds of each of `runs`, run in turn, `times_each` times: ratios come from the
    same moments of a shared machine. Each run starts after a full collection."""
    times: dict[str, list] = {name: [] for name in runs}
    for _ in range(times_each):
        for name, run in runs.items():
            gc.collect()
            wall, cpu, _ = timed(run)
            times[name].append((wall, cpu))
    return times


def ratios(times: dict[str, list], a: str, b: str, clock: int) -> tuple[float, float]:
    """Min and median over rounds of a ÷ b (wall: clock 0, cpu: clock 1), round by round."""
    per_round = [x[clock] / y[clock] for x, y in zip(times[a], times[b])]
    return min(per_round), statistics.median(per_round)


def same_graph(program, replay) -> None:
    """The replay registered the program's graph: every recorded field of every resource
    (type, name, URN, parent, inputs, outputs, account, depends_on, options) and the plan JSON.
    The plan JSON is compared with sorted keys: the order of an input's keys is the iteration
    order of the protobuf Struct the SDK serialises it into, which depends on the order the
    keys were inserted (the resource class's), and the replay inserts them in the recorded one."""
    assert len(replay.resources) == len(program.resources), "replay: another resource count"
    for mine, theirs in zip(program.resources, replay.resources):
        assert mine == theirs, f"replay differs at {mine.type} {mine.name}"
    assert json.dumps(program.plan_json(), sort_keys=True) == json.dumps(
        replay.plan_json(), sort_keys=True
    )


def mesh_of(products: int):
    domains = max(3, products // PRODUCTS_PER_DOMAIN)
    per_domain = max(1, products // domains)
    with tempfile.TemporaryDirectory() as tmp:
        generate(
            tmp, domains=domains, products_per_domain=per_domain, consumers_per_product=CONSUMERS
        )
        return load_mesh(tmp, today=TODAY).mesh


def own_code_share(mesh, settings) -> float:
    profiler = cProfile.Profile()
    profiler.enable()
    run_program(mesh, settings, TODAY)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = own = 0.0
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        total += tottime
        if "/infra/" in filename:
            own += tottime
    return own / total if total else 0.0


def main(sizes: list[int]) -> None:
    settings = StackSettings()
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    print(
        f"{'products':>8} {'resources':>9} {'program s':>9} {'faithful s':>10} {'flat s':>7} "
        f"{'floor s':>8} {'÷faithful':>13} {'cpu÷faithful':>13} {'÷flat':>11} {'÷floor':>11} "
        f"{'ms/res':>7}"
    )
    last = None
    for products in sizes:
        mesh = mesh_of(products)
        regs = Registrations()
        with regs.capturing():  # an untimed warm-up run that also captures the requests
            graph = run_program(mesh, settings, TODAY)
        n = len(graph.resources)
        faithful = faithful_replay_program(graph, regs)
        again = Registrations()
        with again.capturing():
            same_graph(graph, run_program(mesh, settings, TODAY, program=faithful))
        assert again.same_as(regs), "the replay's requests differ from the program's"
        times = interleaved_runs(
            {
                "program": lambda m=mesh: run_program(m, settings, TODAY),
                "faithful": lambda m=mesh, p=faithful: run_program(m, settings, TODAY, program=p),
                "flat": lambda m=mesh, g=graph: run_program(
                    m, settings, TODAY, program=flat_replay_program(g)
                ),
                "floor": lambda m=mesh, k=n: run_program(
                    m, settings, TODAY, program=floor_program(k)
                ),
            },
            rounds(products),
        )
        median = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
        cells = [
            "{:.2f}/{:.2f}".format(*ratios(times, "program", other, clock))
            for other, clock in (("faithful", 0), ("faithful", 1), ("flat", 0), ("floor", 0))
        ]
        count = sum(1 for _ in mesh.products())
        print(
            f"{count:>8} {n:>9} {median['program']:>9.2f} {median['faithful']:>10.2f} "
            f"{median['flat']:>7.2f} {median['floor']:>8.2f} {cells[0]:>13} {cells[1]:>13} "
            f"{cells[2]:>11} {cells[3]:>11} {1000 * median['program'] / n:>7.2f}"
        )
        last = (count, times, rounds(products))
    assert last is not None
    count, times, n = last  # issue 27's goal, at the largest size
    low, mid = ratios(times, "program", "faithful", 0)
    goal(
        f"mesh plan ÷ replay of the same registrations, {count:,} products",
        mid,
        1.3,
        detail=f"wall, median of {n} interleaved rounds (min {low:.2f}); CPU median "
        f"{ratios(times, 'program', 'faithful', 1)[1]:.2f}; "
        f"÷ flat replay: {ratios(times, 'program', 'flat', 0)[1]:.2f}",
    )
    middle = sorted(sizes)[len(sizes) // 2]
    share = own_code_share(mesh_of(middle), settings)
    print(f"share of CPU time in our own code (infra/) at {middle} products: {100 * share:.1f}%")


if __name__ == "__main__":
    main(sizes(__doc__, sys.argv[1:], [10, 100, 1000]))
