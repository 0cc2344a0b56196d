"""Benchmark: wall time and max RSS of `mesh audit` on a generated uniform mesh (issue 27: an
audit in bounded memory — per stack, in worker processes — at 1,000 and 10,000 products).

    python bench/audit_memory_bench.py [--domains 100] [--products 10] [--consumers 10]
                                       [--single-process] [--tree DIR]

`mesh audit DIR --out OUT` runs as a subprocess; its max RSS is the largest of the process and
its workers (`os.wait4`: what `/usr/bin/time -v` reports). With --single-process, the audit of
the whole mesh in one Pulumi run (`infra.api.audit(per_stack=False)`, the audit before issue
27) runs too, and the output files of both are compared (equal but for the time stamp).
Goals: max RSS <= 0.6 GiB at 1,000 products; <= 15 min and <= 3 GB at 10,000 products.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.meshgen import generate
from bench.pr_check_bench import mesh_command
from bench.timing import goal, mesh_parser

TODAY = dt.date(2026, 1, 1)
GIB = 1 << 30
GOALS = {1_000: (None, 0.6 * GIB), 10_000: (15 * 60.0, 3e9)}  # products: (seconds, bytes)
SINGLE = (
    "import sys; from pathlib import Path; from infra import api; "
    "from infra.audit.audit import write; "
    "r, n = api.audit(Path(sys.argv[1]), per_stack=False); write(r, Path(sys.argv[2])); "
    "print('effective access == declared access' if not r.differences else 'DIFFERS')"
)


def run(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """(wall seconds, max RSS in bytes of the process and its children, stdout)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - start
        out.seek(0)
        text = out.read()
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(args[:3])} exited {proc.returncode}:\n{text[-2000:]}")
    return elapsed, usage.ru_maxrss * 1024, text


def same_files(a: Path, b: Path) -> list[str]:
    stamp = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
    names = sorted({str(p.relative_to(a)) for p in a.rglob("*") if p.is_file()})
    other = sorted({str(p.relative_to(b)) for p in b.rglob("*") if p.is_file()})
    if names != other:
        return ["different file names"]
    return [
        n
        for n in names
        if stamp.sub(b"", (a / n).read_bytes()) != stamp.sub(b"", (b / n).read_bytes())
    ]


def main() -> int:
    parser = mesh_parser(__doc__, 100)
    parser.add_argument("--single-process", action="store_true")
    parser.add_argument("--tree", type=Path, help="an existing tree (generated alike)")
    args = parser.parse_args()
    env = {**os.environ, "MESH_TODAY": TODAY.isoformat()}
    products = args.domains * args.products
    met = True
    with tempfile.TemporaryDirectory() as tmp:
        tree = args.tree or Path(tmp) / "blueprints"
        if args.tree is None:
            generate(tree, args.domains, args.products, args.consumers, today=TODAY)
        out = Path(tmp) / "per-stack"
        wall, rss, text = run([*mesh_command(), "audit", str(tree), "--out", str(out)], env)
        equal = "effective access == declared access" in text
        print(
            f"mesh of {args.domains} domains x {args.products} products ({products} products), "
            f"{args.consumers} consumers per product (uniform)"
        )
        print(f"mesh audit (per stack)      {wall:8.1f} s  max RSS {rss / GIB:6.2f} GiB")
        for line in text.splitlines():
            if line.startswith(("audited ", "time: ", "audit: ")) or "declared access" in line:
                print(f"    {line}")
        if args.single_process:
            single = Path(tmp) / "single"
            s_wall, s_rss, s_text = run([sys.executable, "-c", SINGLE, str(tree), str(single)], env)
            print(f"audit in one process        {s_wall:8.1f} s  max RSS {s_rss / GIB:6.2f} GiB")
            print(f"ratio RSS per stack / one process: {rss / s_rss:.2f}")
            print(f"    one process: {s_text.strip().splitlines()[-1]}")
            differing = same_files(out, single)
            print(f"output files identical (but the time stamp): {not differing} {differing[:5]}")
            met &= not differing
    print(f"effective == declared: {equal}")
    met &= equal
    seconds, limit = GOALS.get(products, (None, None))
    if limit is not None:
        met &= goal(
            f"max RSS of mesh audit, {products} products",
            rss / GIB,
            limit / GIB,
            "GiB",
            "per stack, largest of the process and its workers (os.wait4)",
        )
    if seconds is not None:
        met &= goal(f"mesh audit, {products} products", wall, seconds, "s", "wall, end to end")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
