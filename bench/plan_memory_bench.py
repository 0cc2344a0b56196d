"""Benchmark: wall time, CPU time and max RSS of the whole-mesh `mesh plan --format json` per
stack (each stack's slice of the program in a worker: `infra.engines.stackplan`) against the
same plan in one process, on a generated uniform mesh (issue 27: the plan in bounded memory).

    python bench/plan_memory_bench.py [--domains 100] [--products 10] [--consumers 10]
                                      [--rounds 3] [--tree DIR] [--format json|text]

Both run `mesh plan DIR --format json` as a subprocess, interleaved, `--rounds` times; the
one-process run is the same command with `stackplan.PER_STACK_FROM` raised above the mesh's
size. Max RSS is the largest of the process and its workers (`os.wait4`: what
`/usr/bin/time -v` reports); CPU time is the process's and its workers'. The outputs (stdout,
stderr and exit code) of every run must be identical. Goal: max RSS <= 0.6 GiB at 1,000
products (as the audit's).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.meshgen import generate
from bench.run import bench_env
from bench.timing import goal, mesh_parser

TODAY = dt.date(2026, 1, 1)
GIB = 1 << 30
GOALS = {1_000: 0.6 * GIB}  # products: max RSS in bytes
PLAN = (
    "import sys; import infra.engines.stackplan as s; from infra.cli import main; "
    "s.PER_STACK_FROM = int(sys.argv.pop(1)); sys.argv[0] = 'mesh'; main()"
)


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, int, int, str]:
    """(wall s, CPU s, max RSS bytes of the process and its children, exit code, digest of
    stdout + stderr)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        digest = hashlib.sha256()
        for f in (out, err):
            f.seek(0)
            while chunk := f.read(1 << 20):
                digest.update(chunk)
            digest.update(b"\0")
    if code not in (0, 1):
        sys.exit(f"mesh plan exited {code}")
    # wait4's usage of a process includes its reaped children's: ru_maxrss is the largest of
    # the process and its workers, the CPU time theirs together
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss * 1024, code, digest.hexdigest()


def main() -> int:
    parser = mesh_parser(__doc__, 100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--format", default="json", choices=["json", "text"])
    parser.add_argument("--tree", type=Path, help="an existing tree (generated alike)")
    args = parser.parse_args()
    products = args.domains * args.products
    with tempfile.TemporaryDirectory() as tmp:
        env = {"MESH_TODAY": TODAY.isoformat(), **bench_env(tmp)}  # a MESH_TODAY given wins
        tree = args.tree or Path(tmp) / "blueprints"
        if args.tree is None:
            generate(tree, args.domains, args.products, args.consumers, today=TODAY)
        print(
            f"mesh of {args.domains} domains x {args.products} products ({products} products), "
            f"{args.consumers} consumers per product (uniform); mesh plan --format {args.format}"
        )
        modes = {"per stack": "0", "one process": str(10**9)}
        results: dict[str, list[tuple]] = {m: [] for m in modes}
        for r in range(args.rounds):
            for mode, threshold in modes.items():
                cmd = [sys.executable, "-c", PLAN, threshold, "plan", str(tree)]
                results[mode].append(run([*cmd, "--format", args.format], env))
                wall, cpu, rss, code, _ = results[mode][-1]
                print(
                    f"  round {r + 1} {mode:12s} wall {wall:7.1f} s  cpu {cpu:7.1f} s  "
                    f"max RSS {rss / GIB:5.2f} GiB  exit {code}",
                    flush=True,
                )
        print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        for mode, rows in results.items():
            walls, cpus, rsss = [x[0] for x in rows], [x[1] for x in rows], [x[2] for x in rows]
            print(
                f"{mode:12s} wall min/median {min(walls):7.1f} / {statistics.median(walls):7.1f}"
                f" s  cpu {min(cpus):7.1f} / {statistics.median(cpus):7.1f} s  max RSS "
                f"{max(rsss) / GIB:5.2f} GiB"
            )
        per, one = results["per stack"], results["one process"]
        ratios = sorted(p[0] / o[0] for p, o in zip(per, one, strict=True))
        print(
            f"ratio wall per stack / one process (same round): min {ratios[0]:.2f} median "
            f"{statistics.median(ratios):.2f}; max RSS {max(p[2] for p in per) / max(o[2] for o in one):.2f}"
        )
        outputs = {(x[3], x[4]) for rows in results.values() for x in rows}
        identical = len(outputs) == 1
        print(f"output identical (stdout, stderr, exit code) in every run: {identical}")
    met = identical
    limit = GOALS.get(products)
    if limit is not None:
        met &= goal(
            f"max RSS of the whole-mesh mesh plan --format {args.format}, {products} products",
            max(p[2] for p in per) / GIB,
            limit / GIB,
            "GiB",
            "per stack, largest of the process and its workers (os.wait4)",
        )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
