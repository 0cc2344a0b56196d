"""Run every benchmark and print their tables, one after the other.

    python bench/run.py            # the sizes the issues ask for (about 15 minutes on 2 cores)
    python bench/run.py --quick    # smaller sizes, a couple of minutes

Each benchmark is its own script (run it alone to repeat one); they print ratios measured in one
run, which stay meaningful on a noisy machine. Nothing here is a test: CI does not run it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

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
        "mesh audit vs mesh plan, with the query path",
        "query_bench.py",
        [],
        ["--domains", "20", "--products", "5", "--consumers", "5"],
    ),
]


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    failed = []
    for title, script, full, small in BENCHMARKS:
        path = BENCH / script
        print(f"\n=== {title} ({script}) ===", flush=True)
        if not path.exists():
            print(f"(missing: {script})")
            failed.append(script)
            continue
        t0 = time.perf_counter()
        code = subprocess.call([sys.executable, str(path), *(small if quick else full)])
        print(f"--- {script}: exit {code}, {time.perf_counter() - t0:.0f} s", flush=True)
        if code != 0:
            failed.append(script)
    if failed:
        print(f"\nbenchmarks that failed or missed a goal: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        sys.exit(print(__doc__))
    sys.exit(main(sys.argv[1:]))
