"""Plan benchmark: the mesh program under recording mocks vs the bare Pulumi SDK floor.

For each size, in one process and one run:

* program  — `run_program` on a generated mesh (components, parents, Outputs, builders);
* floor    — the same number of `pulumi_aws` resources registered with no logic at all
             (`aws.s3.Bucket(name, bucket=name)`), under the same mocks and monitor;
* replay   — the program's recorded resources registered again flat, with the same types and
             input payloads but no parents, no dependencies and no builders: what the SDK costs
             for exactly our payload.

Ratios are program ÷ floor and program ÷ replay, by wall time and by CPU time (CPU is steadier
on a shared machine); program ÷ replay at the largest size is issue 27's goal (<= 1.3x, a GOAL
line for bench/run.py). A cProfile pass at the middle size prints the share of time spent in our
own code (`infra/`), the rest being the Pulumi SDK, asyncio and the mocks.

    python bench/plan_bench.py            # sizes 10, 100, 1000 products
    python bench/plan_bench.py 10 100     # chosen sizes
"""

from __future__ import annotations

import cProfile
import datetime as dt
import pstats
import sys
import tempfile
import time
from pathlib import Path

import pulumi
import pulumi_aws as aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.meshgen import generate
from bench.timing import goal, sizes
from infra.blueprints.load import load_mesh
from infra.engines.recording import run_program
from infra.provision.program import StackSettings

TODAY = dt.date(2026, 11, 25)
PRODUCTS_PER_DOMAIN = 10
CONSUMERS = 2


def floor_program(n: int):
    def program():
        for i in range(n):
            aws.s3.Bucket(f"floor-{i}", bucket=f"floor-{i}")

    return program


def replay_program(graph):
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


def best(repeats: int, fn) -> tuple[float, float, object]:
    runs = [timed(fn) for _ in range(repeats)]
    return min(r[0] for r in runs), min(r[1] for r in runs), runs[-1][2]


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
    header = (
        f"{'products':>8} {'resources':>9} {'program s':>9} {'floor s':>8} {'replay s':>8} "
        f"{'÷floor':>7} {'÷replay':>7} {'cpu÷floor':>9} {'ms/res':>7} {'floor ms/res':>12}"
    )
    print(header)
    for products in sizes:
        mesh = mesh_of(products)
        repeats = 3 if products <= 100 else 1
        wall, cpu, graph = best(repeats, lambda m=mesh: run_program(m, settings, TODAY))
        n = len(graph.resources)
        f_wall, f_cpu, floor = best(
            repeats, lambda m=mesh, k=n: run_program(m, settings, TODAY, program=floor_program(k))
        )
        r_wall, _, replay = best(
            repeats,
            lambda m=mesh, g=graph: run_program(m, settings, TODAY, program=replay_program(g)),
        )
        assert len(floor.resources) == len(replay.resources) == n
        print(
            f"{sum(1 for _ in mesh.products()):>8} {n:>9} {wall:>9.2f} {f_wall:>8.2f} "
            f"{r_wall:>8.2f} {wall / f_wall:>7.2f} {wall / r_wall:>7.2f} {cpu / f_cpu:>9.2f} "
            f"{1000 * wall / n:>7.2f} {1000 * f_wall / n:>12.2f}"
        )
        replayed = (sum(1 for _ in mesh.products()), wall / r_wall, repeats)
    size, ratio, repeats = replayed  # issue 27's goal, at the largest size
    goal(
        f"mesh plan ÷ replay of the same registrations, {size:,} products",
        ratio,
        1.3,
        detail=f"wall, best of {repeats}, one run",
    )
    middle = sorted(sizes)[len(sizes) // 2]
    share = own_code_share(mesh_of(middle), settings)
    print(f"share of CPU time in our own code (infra/) at {middle} products: {100 * share:.1f}%")


if __name__ == "__main__":
    main(sizes(__doc__, sys.argv[1:], [10, 100, 1000]))
