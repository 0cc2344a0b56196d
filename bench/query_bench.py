"""Benchmark: `mesh audit` against `mesh plan` on the same generated tree, in the same run
(issue 23: the audit with the query path — workgroups, results buckets, data cells filters and
the evaluator's query-path checks — on the 1,000-product benchmark mesh).

    python bench/query_bench.py [--domains 100] [--products 10] [--consumers 10] [--repeat 1]
    python bench/query_bench.py --domains 1000 --products 10 --consumers 2 --audit-only

Both commands run as subprocesses, end to end (interpreter start-up, loading the tree, the
Pulumi program under recording mocks; the audit also evaluates effective access, lints every
policy with parliament and writes its files). Prints each time, the ratio audit / plan, and the
resources of the query path in the plan, and issue 27's goals as GOAL lines (bench/run.py): audit
÷ plan and the audit's max RSS at 1,000 products, its wall time and RSS at 10,000 (--audit-only).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.meshgen import blueprints
from bench.pr_check_bench import mesh_command, write_tree
from bench.timing import goal, mesh_parser, run_measured

NEW_TYPES = (
    "aws:athena/workgroup:Workgroup",
    "aws:lakeformation/dataCellsFilter:DataCellsFilter",
    "aws:s3/bucket:Bucket",
    "aws:lakeformation/permissions:Permissions",
)


def timed(args: list[str], env: dict[str, str], expect: int = 0) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        tail = (done.stdout + done.stderr).strip().splitlines()[-8:]
        sys.exit(f"{' '.join(args[:3])} exited {done.returncode}:\n" + "\n".join(tail))
    return elapsed, done.stdout


def figures(products: int, audit: float, plan: float | None, rss: int, repeat: int) -> None:
    """Issue 27's goals: mesh audit <= 1.3x mesh plan and <= 0.6 GiB at 1,000 products;
    <= 15 minutes and <= 3 GB at 10,000 (GOAL lines for bench/run.py)."""
    size = f"{products:,} products"
    print(f"mesh audit {audit:.2f} s, max RSS {rss / 2**30:.2f} GiB")
    if plan is not None:
        goal(f"mesh audit ÷ mesh plan, {size}", audit / plan, 1.3, detail=f"min of {repeat}")
    if products < 10_000:
        goal(f"max RSS of mesh audit, {size}", rss / 2**30, 0.6, "GiB", f"max of {repeat}")
    else:
        goal(f"mesh audit, {size}: wall", audit / 60, 15, "min", f"min of {repeat}")
        goal(f"mesh audit, {size}: max RSS", rss / 1e9, 3, "GB", f"max of {repeat}")


def main() -> int:
    parser = mesh_parser(__doc__, 100)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--audit-only",
        action="store_true",
        help="only mesh audit: its wall time and max RSS (issue 27's 10,000-product figure)",
    )
    args = parser.parse_args()
    today = dt.date(2026, 1, 1)
    env = {**os.environ, "MESH_TODAY": today.isoformat()}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "blueprints"
        write_tree(tree, blueprints(args.domains, args.products, args.consumers, today=today))
        mesh = mesh_command()
        plans, audits, rss = [], [], []
        plan_doc = '{"counts": {}}'
        for i in range(args.repeat):
            if not args.audit_only:
                seconds, plan_doc = timed([*mesh, "plan", str(tree), "--format", "json"], env)
                plans.append(seconds)
            out = Path(tmp) / f"audit{i}"
            seconds, peak = run_measured([*mesh, "audit", str(tree), "--out", str(out)], env)
            audits.append(seconds)
            rss.append(peak)
        counts = json.loads(plan_doc)["counts"]
    audit = min(audits)
    products = args.domains * args.products
    # run_measured stops the bench on any other exit code: mesh audit exits 1 on an access
    # difference or a lint finding of MEDIUM or higher
    print(f"mesh audit exited 0 in all {args.repeat} run(s): effective access == declared access")
    figures(products, audit, min(plans) if plans else None, max(rss), args.repeat)
    if args.audit_only:
        return 0
    plan = min(plans)
    print(
        f"mesh of {args.domains} domains x {args.products} products ({products} products), "
        f"{args.consumers} consumers per product; {sum(counts.values())} resources"
    )
    for t in NEW_TYPES:
        print(f"  {counts.get(t, 0):>6}  {t}")
    print(f"mesh plan  {plan:8.2f} s")
    print(f"mesh audit {audit:8.2f} s")
    print(f"ratio audit / plan: {audit / plan:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
