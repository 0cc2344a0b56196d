"""Benchmark: lint once per distinct document (issue 27), and `mesh audit` against `mesh plan`.

    python bench/lint_bench.py [--domains 100] [--products 10] [--consumers 10] [--rounds 3]
                               [--no-before] [--no-ratio]

On a meshgen mesh of DOMAINS x PRODUCTS products (uniform fan-in, CONSUMERS grants per shared
product; 1,000 products by default):

1. in process, on the recorded graph: parliament on every document alone (each document linted
   with an empty cache: what `lint` did before, `--no-before` skips it), then `lint(graph)`
   (each distinct normalised document once), ROUNDS times; seconds and parliament runs;
2. `mesh plan DIR --format json` and `mesh audit DIR --out OUT` as subprocesses, interleaved,
   ROUNDS rounds: min and median of each and of the per-round ratio audit / plan, and the audit's
   own breakdown (its `time:` line); the median ratio against its goal (1.3) as a `GOAL {json}`
   line for bench/run.py (`bench.timing.goal`).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_RATIO = 1.3
TODAY = dt.date(2026, 11, 25)


def in_process(tree: Path, rounds: int, before: bool) -> None:
    from infra.audit import lint as lint_mod
    from infra.audit.view import index
    from infra.blueprints.load import load_mesh
    from infra.engines.recording import run_program
    from infra.provision.program import StackSettings

    mesh = load_mesh(tree, today=TODAY).mesh
    start = time.perf_counter()
    graph = index(run_program(mesh, StackSettings(), TODAY).resources)
    print(f"program + index {time.perf_counter() - start:.1f} s; {len(graph.documents)} documents")
    if before:
        lint_mod._parliament.cache_clear()
        start = time.perf_counter()
        findings = 0
        for doc in graph.documents:
            role = graph.roles.get(doc.attached_to) if doc.kind == "trust" else None
            lint_mod._parliament.cache_clear()  # every document alone, as before
            findings += len(lint_mod.lint_documents([(doc, role.arn if role else None)]).findings)
        seconds = time.perf_counter() - start
        print(
            f"before: every document alone   {seconds:7.2f} s, "
            f"{len(graph.documents)} parliament runs, {findings} findings"
        )
    times = []
    for _ in range(rounds):
        lint_mod._parliament.cache_clear()
        start = time.perf_counter()
        result = lint_mod.lint(graph)
        times.append(time.perf_counter() - start)
        runs = lint_mod._parliament.cache_info().misses
    print(
        f"after:  lint(graph), deduplicated {min(times):7.2f} s min, "
        f"{statistics.median(times):.2f} s median, {runs} parliament runs, "
        f"{len(result.findings)} findings"
    )


def run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-8:]
        sys.exit(f"{' '.join(args[:3])} exited {done.returncode}:\n" + "\n".join(tail))
    return seconds, done.stdout


def ratio(tree: Path, rounds: int, tmp: Path, products: int) -> bool:
    from bench.pr_check_bench import mesh_command
    from bench.timing import goal

    env = {**os.environ, "MESH_TODAY": TODAY.isoformat()}
    mesh = mesh_command()
    plans, audits, ratios = [], [], []
    for i in range(rounds):
        plan, _ = run([*mesh, "plan", str(tree), "--format", "json"], env)
        audit, out = run([*mesh, "audit", str(tree), "--out", str(tmp / f"audit{i}")], env)
        plans.append(plan)
        audits.append(audit)
        ratios.append(audit / plan)
        line = next((x for x in out.splitlines() if x.startswith("time:")), "")
        print(f"round {i + 1}: plan {plan:6.1f} s, audit {audit:6.1f} s, ratio {audit / plan:.2f}")
        print(f"         {line}")
    print(
        f"mesh plan  min {min(plans):6.1f} s  median {statistics.median(plans):6.1f} s\n"
        f"mesh audit min {min(audits):6.1f} s  median {statistics.median(audits):6.1f} s\n"
        f"audit / plan per round: min {min(ratios):.2f}  median {statistics.median(ratios):.2f}"
    )
    return goal(
        f"mesh audit / mesh plan, {products:,} products",
        statistics.median(ratios),
        GOAL_RATIO,
        "x",
        f"median of {rounds} interleaved rounds (min {min(ratios):.2f})",
    )


def main() -> int:
    from bench.timing import mesh_parser

    parser = mesh_parser(__doc__, 100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-before", action="store_true")
    parser.add_argument("--no-ratio", action="store_true")
    args = parser.parse_args()
    from bench.meshgen import generate

    with tempfile.TemporaryDirectory(prefix="mesh-lintbench-") as name:
        tmp = Path(name)
        tree = tmp / "blueprints"
        generate(tree, args.domains, args.products, args.consumers, today=TODAY)
        print(
            f"mesh of {args.domains} domains x {args.products} products "
            f"({args.domains * args.products} products), {args.consumers} consumers per product"
        )
        in_process(tree, args.rounds, not args.no_before)
        if args.no_ratio:
            return 0
        return 0 if ratio(tree, args.rounds, tmp, args.domains * args.products) else 1


if __name__ == "__main__":
    raise SystemExit(main())
