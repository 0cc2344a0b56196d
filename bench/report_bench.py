"""Benchmark: `mesh audit` at 10 / 100 / 200 domains, with the report step (everything `write()`
puts in OUT/) timed and sized apart from the rest (issue 18: at 200 domains / 1,000 products the
report in <= 10 s and <= 5 MB, linear in grants, not in principals x products).

    python bench/report_bench.py [--domains 10,100,200] [--products 5] [--consumers 2]
                                 [--repeat 3] [--quick]

Each size runs in its own process (so its peak memory is its own) on a meshgen mesh of DOMAINS x
PRODUCTS products, CONSUMERS grants per shared product:

- `program`: the Pulumi program under recording mocks (`run_program`);
- `effective`: index the graph, compute the effective access, compare with the declared one;
- `lint`: parliament over every policy document;
- `report`: `infra.audit.audit.write` — policy files + index + access matrix (`files`), the view
  model (`model`), report.md (`md`), report.html (`html`); best of --repeat.

Then per size: grants (rows of the grant table), principals x products (what the old heatmap
drew), report seconds per 1,000 grants and bytes per grant, and between sizes the growth
exponent log(time ratio) / log(grant ratio): ~1 is linear, ~2 quadratic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_SECONDS = 10.0
GOAL_BYTES = 5_000_000
GOAL_DOMAINS = 200
TODAY = dt.date(2026, 11, 25)


def one(domains: int, products: int, consumers: int, repeat: int) -> dict:
    """Audit one generated mesh in this process; the numbers as a dict."""
    from bench.meshgen import generate
    from bench.timing import best_of
    from infra.audit.audit import audit, write
    from infra.blueprints.load import load_mesh
    from infra.engines.recording import run_program
    from infra.provision.program import StackSettings

    with tempfile.TemporaryDirectory(prefix="mesh-reportbench-") as tmp_name:
        tmp = Path(tmp_name)
        generate(tmp / "bp", domains, products, consumers, today=TODAY)
        mesh = load_mesh(tmp / "bp", today=TODAY).mesh
        start = time.perf_counter()
        resources = run_program(mesh, StackSettings(), TODAY).resources
        program = time.perf_counter() - start
        result = audit(mesh, resources, TODAY, generated_at="2026-11-25T00:00:00Z")
        phases: dict[str, float] = {}
        runs: list[dict[str, float]] = []

        def report() -> None:
            out = tmp / f"out{len(runs)}"
            t: dict[str, float] = {}
            write(result, out, t)
            runs.append(t)

        seconds = best_of(repeat, report)
        best = min(runs, key=lambda t: sum(t.values()))
        phases = {k: best[k] for k in ("files", "report_model", "report_md", "report_html")}
        out = tmp / "out0"
        html = (out / "report.html").stat().st_size
        md = (out / "report.md").stat().st_size
        policies = sum(p.stat().st_size for p in (out / "policies").iterdir())
        principals = len(result.principals())
        return {
            "domains": domains,
            "products": sum(1 for _ in mesh.products()),
            "resources": len(resources),
            "grants": len(result.effective),
            "principals": principals,
            "cells": principals * sum(1 for _ in mesh.products()),
            "documents": result.lint.documents,
            "program": program,
            "effective": result.timings["effective_access"],
            "lint": result.timings["lint"],
            "report": seconds,
            **phases,
            "html_bytes": html,
            "md_bytes": md,
            "policy_bytes": policies,
            "ok": result.ok,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }


def growth(sizes: list[float], values: list[float]) -> str:
    out = []
    for (s1, v1), (s2, v2) in itertools.pairwise(zip(sizes, values, strict=True)):
        ratio = v2 / v1 if v1 > 0 else float("inf")
        exponent = math.log(ratio) / math.log(s2 / s1) if ratio > 0 and s2 != s1 else float("nan")
        out.append(f"x{ratio:5.1f} (e{exponent:4.2f})")
    return "  ".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", default="10,100,200")
    parser.add_argument("--products", type=int, default=5, help="products per domain")
    parser.add_argument("--consumers", type=int, default=2, help="grants per shared product")
    parser.add_argument("--repeat", type=int, default=3, help="report step: best of")
    parser.add_argument("--quick", action="store_true", help="10 and 30 domains")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child: one size, JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.products, args.consumers, args.repeat)))
        return 0
    sizes = [10, 30] if args.quick else [int(d) for d in args.domains.split(",") if d]
    env = {**os.environ, "MESH_TODAY": TODAY.isoformat()}
    print(
        f"report benchmark; {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}; "
        f"{args.products} products per domain, {args.consumers} grants per shared product; "
        f"report step best of {args.repeat}"
    )
    started = time.perf_counter()
    rows = []
    for domains in sizes:
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(domains), "--products", str(args.products),
             "--consumers", str(args.consumers), "--repeat", str(args.repeat)],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            return 1
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))

    print()
    print("the whole audit, seconds (each size in its own process)")
    print(
        f"{'domains':>7} {'products':>8} {'resources':>9} {'grants':>6} {'princ x prod':>12} "
        f"{'program':>8} {'effective':>9} {'lint':>7} {'report':>7} {'max RSS MB':>10} {'audit':>5}"
    )
    for r in rows:
        print(
            f"{r['domains']:7d} {r['products']:8d} {r['resources']:9d} {r['grants']:6d} "
            f"{r['cells']:12d} {r['program']:8.2f} {r['effective']:9.2f} {r['lint']:7.2f} "
            f"{r['report']:7.3f} {r['max_rss_mb']:10.0f} {'PASS' if r['ok'] else 'FAIL':>5}"
        )
    print()
    print("the report step (infra.audit.audit.write), seconds and bytes")
    print(
        f"{'domains':>7} {'grants':>6} {'files':>6} {'model':>6} {'md':>6} {'html':>6} "
        f"{'report':>7} {'ms/1k grants':>12} {'report.html':>11} {'B/grant':>7} "
        f"{'report.md':>9} {'B/grant':>7} {'policies/':>9}"
    )
    for r in rows:
        print(
            f"{r['domains']:7d} {r['grants']:6d} {r['files']:6.3f} {r['report_model']:6.3f} "
            f"{r['report_md']:6.3f} {r['report_html']:6.3f} {r['report']:7.3f} "
            f"{1e6 * r['report'] / r['grants']:12.1f} {r['html_bytes']:11d} "
            f"{r['html_bytes'] / r['grants']:7.0f} {r['md_bytes']:9d} "
            f"{r['md_bytes'] / r['grants']:7.0f} {r['policy_bytes']:9d}"
        )
    if len(rows) > 1:
        grants = [r["grants"] for r in rows]
        cells = [r["cells"] for r in rows]
        print("growth between sizes: ratio (exponent vs grants; 1 = linear, 2 = quadratic)")
        print(
            "  grants              "
            + "  ".join(f"x{b / a:5.1f}         " for a, b in itertools.pairwise(grants))
        )
        print(
            "  principals x prods  "
            + "  ".join(f"x{b / a:5.1f}         " for a, b in itertools.pairwise(cells))
        )
        for key, name in (("report", "report time"), ("html_bytes", "report.html bytes"),
                          ("md_bytes", "report.md bytes"), ("lint", "lint time"),
                          ("program", "program time"), ("effective", "effective time")):  # fmt: skip
            print(f"  {name:<19} " + growth(grants, [r[key] for r in rows]))
    code = 0
    goal = [r for r in rows if r["domains"] == GOAL_DOMAINS]
    for r in goal:
        meets = r["report"] <= GOAL_SECONDS and r["html_bytes"] <= GOAL_BYTES
        code = 0 if meets else 1
        print(
            f"goal at {r['domains']} domains / {r['products']} products: report step "
            f"{r['report']:.2f} s (<= {GOAL_SECONDS:.0f} s), report.html "
            f"{r['html_bytes'] / 1e6:.2f} MB (<= {GOAL_BYTES / 1e6:.0f} MB): "
            f"{'meets' if meets else 'MISSES'}"
        )
    print(f"\n(ran in {time.perf_counter() - started:.0f} s)")
    return code


if __name__ == "__main__":
    sys.exit(main())
