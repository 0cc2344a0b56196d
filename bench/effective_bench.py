"""Benchmark: effective access (`infra.audit.effective.compute`) against the number of grants,
N domains x PRODUCTS products, CONSUMERS consumers per product drawn uniformly from the mesh
(issue 27: linear in grants, not principals x products).

    python bench/effective_bench.py [--domains 10,20,40,80,160] [--products 5] [--consumers 5]
                                    [--repeat 3]

For each size: the program runs per stack (`infra.engines.stackrun`, not timed), the graph is
indexed once, then `compute` is timed (min of --repeat), beside the same computation probing
every principal against every bucket (the evaluator before issue 27: `_Reachers.of` returning
every caller) for contrast. Growth between consecutive sizes: time ratio and the exponent
log(time ratio) / log(grant ratio) — ~1 is linear in grants. The goal: the growth exponent of
the time over all sizes, the least-squares slope of log(time) against log(grants), <= 1.2 (one
step alone swings with the machine: a step of the time per grant between two sizes that stays
flat after it); the same slope of the probe count, which does not depend on the machine, is
printed beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.meshgen import generate
from bench.timing import best_of, goal
from infra.audit import effective
from infra.audit.view import index
from infra.blueprints.load import load_mesh
from infra.engines.stackrun import merged, record_stacks
from infra.provision.program import StackSettings

TODAY = dt.date(2026, 1, 1)
GOAL_EXPONENT = 1.2


def measure(domains: int, products: int, consumers: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp, domains, products, consumers, today=TODAY)
        mesh = load_mesh(Path(tmp), today=TODAY).mesh
    graph = index(merged(record_stacks(mesh, StackSettings(), TODAY)))
    result = effective.compute(graph, TODAY)
    probes = []
    original = effective._object_path

    def counting(*args):
        probes.append(1)
        return original(*args)

    effective._object_path = counting
    try:
        effective.compute(graph, TODAY)
    finally:
        effective._object_path = original
    linear = best_of(repeat, lambda: effective.compute(graph, TODAY))
    every = effective._Reachers.of
    effective._Reachers.of = lambda self, bucket, actions: self.every
    try:
        quadratic = best_of(repeat, lambda: effective.compute(graph, TODAY))
    finally:
        effective._Reachers.of = every
    principals = sum(1 for r in graph.roles.values() if r.service is None)
    return {
        "domains": domains,
        "grants": len(result.grants),
        "cells": principals * len(graph.buckets),
        "probes": len(probes),
        "linear": linear,
        "every": quadratic,
    }


def slope(rows: list[dict], key: str) -> float:
    """The least-squares slope of log(rows[key]) against log(grants): the growth exponent."""
    xs = [math.log(r["grants"]) for r in rows]
    ys = [math.log(r[key]) for r in rows]
    if len(rows) < 2:
        return float("nan")
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", default="10,20,40,80,160")
    parser.add_argument("--products", type=int, default=5)
    parser.add_argument("--consumers", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(d) for d in args.domains.split(",")]
    print(
        f"{'domains':>7} {'grants':>7} {'principals x buckets':>20} {'probes':>7} "
        f"{'compute s':>9} {'us/grant':>8} {'growth':>15} {'every principal s':>17}"
    )
    rows = []
    for n in sizes:
        row = measure(n, args.products, args.consumers, args.repeat)
        growth = ""
        if rows:
            prev = rows[-1]
            ratio = row["linear"] / prev["linear"]
            exponent = math.log(ratio) / math.log(row["grants"] / prev["grants"])
            row["exponent"] = exponent
            growth = f"x{ratio:5.2f} (e{exponent:4.2f})"
        rows.append(row)
        print(
            f"{n:>7} {row['grants']:>7} {row['cells']:>20} {row['probes']:>7} "
            f"{row['linear']:>9.3f} {row['linear'] / row['grants'] * 1e6:>8.0f} {growth:>15} "
            f"{row['every']:>17.3f}",
            flush=True,
        )
    last = rows[-1]
    exponent = slope(rows, "linear")
    print(
        f"ratio every-principal / linear at {last['domains']} domains: "
        f"{last['every'] / last['linear']:.2f}; growth exponent over all sizes: time "
        f"{exponent:.2f}, probes {slope(rows, 'probes'):.2f}, every principal "
        f"{slope(rows, 'every'):.2f}"
    )
    met = goal(
        "effective access: growth exponent vs grants (uniform fan-in)",
        exponent,
        GOAL_EXPONENT,
        "exponent",
        f"least-squares over {rows[0]['domains']} -> {last['domains']} domains; "
        f"last step {last.get('exponent', float('nan')):.2f}",
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
