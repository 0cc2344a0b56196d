"""Local deploy benchmark: `mesh up --local` end to end, as a user runs it (a subprocess: start-up,
imports, validation, the emulator, deployment, verification and the report all counted).

    python bench/local_bench.py            # the sample mesh, and 100 products (20 domains x 5)
    python bench/local_bench.py --quick    # the sample mesh only

Goals (issue 18): the sample mesh in 5 s, 100 products in 40 s. Best of `--repeat` runs for the
sample, one run for the larger mesh; the phases are the command's own last line. Exit 1 when a
run fails or misses its goal.
"""

from __future__ import annotations

import argparse
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

GOALS = {"sample": 5.0, "100 products": 40.0}


def up(directory: Path) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "infra.cli", "up", "--local", str(directory)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1800,
    )
    wall = time.perf_counter() - start
    phases = re.findall(r"\d+ resources; .*", done.stdout)
    return wall, done.returncode, phases[-1] if phases else done.stderr.strip()[-300:]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the sample mesh only")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the sample (best counts)")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"mesh up --local, wall seconds; {os.cpu_count()} CPU(s), load average {load:.2f}")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        meshes = {"sample": ROOT / "blueprints"}
        if not args.quick:
            meshes["100 products"] = generate(Path(tmp) / "m100", 20, 5, 3).directory
        print(f"{'mesh':14s} {'wall s':>7s} {'goal s':>7s}  phases")
        for label, directory in meshes.items():
            runs = [up(directory) for _ in range(args.repeat if label == "sample" else 1)]
            wall, code, phases = min(runs)
            ok = code == 0 and wall <= GOALS[label]
            failed |= not ok
            verdict = "" if ok else ("  FAILED" if code else "  MISSED")
            print(f"{label:14s} {wall:7.2f} {GOALS[label]:7.1f}  {phases}{verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
