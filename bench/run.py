"""Run every benchmark and print their tables, one after the other, then the goals table.

    python bench/run.py            # the sizes the issues ask for (about 15 minutes on 2 cores)
    python bench/run.py --quick    # smaller sizes, a couple of minutes
    python bench/run.py --full     # also the long figures (mesh audit at 10,000 products)

Each benchmark is its own script (run it alone to repeat one); they print ratios measured in one
run, which stay meaningful on a noisy machine. A figure with a goal is printed as a `GOAL {json}`
line (`bench/timing.goal`); this script collects them and ends with a table of every figure, its
goal and whether it is met, and exits 1 when a goal is missed or a script fails. Nothing here is
a test: CI does not run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench.timing import read_goal

# (title, script, full-size arguments, quick arguments)
BENCHMARKS = [
    ("Plan: program vs Pulumi SDK floor", "plan_bench.py", ["10", "100", "1000"], ["10", "100"]),
    ("Resources per data product", "resources_bench.py", [], []),
    ("PR check: mesh validate + mesh diff", "pr_check_bench.py", [], ["--quick"]),
    ("PR check with the parse cache: cold vs warm", "pr_cache_bench.py", [], ["--quick"]),
    ("Fan-in: uniform consumers, a hub, validate vs YAML", "fan_in_bench.py", [], ["--quick"]),
    ("Audit: access matrix and diff at scale", "audit_bench.py", [], ["--quick"]),
    ("Audit report: time and size at 10 / 100 / 200 domains", "report_bench.py", [], ["--quick"]),
    (
        "Per-domain stack plan vs mesh size",
        "domain_stack_bench.py",
        ["10", "100", "1000"],
        ["10", "100"],
    ),
    ("mesh validate on 1,000 domain files", "validate_bench.py", [], []),
    ("mesh up --local: the sample mesh and 100 products", "local_bench.py", [], ["--quick"]),
    (
        "Grants by LF-tag expression: permissions and the retag PR check",
        "tag_bench.py",
        [],
        ["--quick"],
    ),
    (
        "Effective access against the number of grants",
        "effective_bench.py",
        [],
        ["--domains", "10,20", "--repeat", "1"],
    ),
    (
        "mesh audit per stack: wall time and max RSS at 1,000 products",
        "audit_memory_bench.py",
        [],
        ["--domains", "10", "--products", "5", "--consumers", "3"],
    ),
    (
        "Whole-mesh mesh plan per stack vs one process: wall, CPU and max RSS at 1,000 products",
        "plan_memory_bench.py",
        [],
        ["--domains", "10", "--products", "5", "--consumers", "3", "--rounds", "1"],
    ),
    (
        "mesh audit vs mesh plan, with the query path",
        "query_bench.py",
        [],
        ["--domains", "20", "--products", "5", "--consumers", "5"],
    ),
    (
        "Lint once per distinct document; mesh audit / mesh plan at 1,000 products",
        "lint_bench.py",
        [],
        ["--domains", "20", "--products", "5", "--consumers", "5", "--no-before"],
    ),
]
# with --full: the figures that take long (issue 27: mesh audit at 10,000 products, <= 15 min)
LONG_BENCHMARKS = [
    (
        "mesh audit at 10,000 products (1,000 domains x 10)",
        "query_bench.py",
        ["--domains", "1000", "--products", "10", "--consumers", "2", "--audit-only"],
        ["--domains", "1000", "--products", "10", "--consumers", "2", "--audit-only"],
    ),
]


def bench_env(pycache: str) -> dict[str, str]:
    """The benchmarks' environment: Python's bytecode cache on, as in any installation (an
    environment with PYTHONDONTWRITEBYTECODE compiles every module in every process: start-up
    figures against an import floor of precompiled packages would measure the compiler),
    written under `pycache`, not into the worktree."""
    env = dict(os.environ)
    if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
        env.setdefault("PYTHONPYCACHEPREFIX", pycache)
    return env


def run_script(path: Path, args: list[str], goals: list[dict], env: dict[str, str]) -> int:
    """Run one benchmark, echoing its output; its GOAL lines go to `goals` instead."""
    proc = subprocess.Popen(
        [sys.executable, str(path), *args], stdout=subprocess.PIPE, text=True, bufsize=1, env=env
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        doc = read_goal(line)
        if doc is None:
            print(line, end="", flush=True)
        else:
            goals.append({**doc, "script": path.name})
            print(f"  goal: {_row(doc)}", flush=True)
    return proc.wait()


def _measured(doc: dict) -> str:
    unit = doc.get("unit", "x")
    value = f"{doc['measured']:g}"
    return f"{value}{unit}" if unit == "x" else f"{value} {unit}"


def _row(doc: dict) -> str:
    verdict = "met" if doc["met"] else "MISSED"
    goal = f"<= {doc['goal']:g}{'x' if doc.get('unit', 'x') == 'x' else ' ' + doc['unit']}"
    return f"{doc['figure']}: {_measured(doc)} (goal {goal}) {verdict}"


def print_goals(goals: list[dict]) -> None:
    print("\n=== goals ===")
    if not goals:
        print("(no benchmark stated a goal)")
        return
    rows = [
        (
            d["figure"],
            _measured(d),
            f"<= {d['goal']:g}" + ("x" if d.get("unit", "x") == "x" else f" {d['unit']}"),
            "yes" if d["met"] else "NO",
            d.get("detail", ""),
        )
        for d in goals
    ]
    header = ("figure", "measured", "goal", "met?", "how")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    benchmarks = BENCHMARKS + (LONG_BENCHMARKS if "--full" in argv else [])
    failed, goals = [], []
    pycache = tempfile.TemporaryDirectory(prefix="mesh-bench-pycache-")
    env = bench_env(pycache.name)
    for title, script, full, small in benchmarks:
        path = BENCH / script
        print(f"\n=== {title} ({script}) ===", flush=True)
        if not path.exists():
            print(f"(missing: {script})")
            failed.append(script)
            continue
        t0 = time.perf_counter()
        code = run_script(path, small if quick else full, goals, env)
        print(f"--- {script}: exit {code}, {time.perf_counter() - t0:.0f} s", flush=True)
        if code != 0:
            failed.append(script)
    pycache.cleanup()
    print_goals(goals)
    missed = [d for d in goals if not d["met"]]
    if failed or missed:
        scripts = dict.fromkeys([*failed, *(d["script"] for d in missed)])
        print(f"\nbenchmarks that failed or missed a goal: {', '.join(scripts)}")
        if missed:
            print(f"goals missed: {'; '.join(d['figure'] for d in missed)}")
        return 1
    return 0


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        sys.exit(print(__doc__))
    sys.exit(main(sys.argv[1:]))
