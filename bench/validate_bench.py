"""Benchmark: `mesh validate` on 1,000 domain files (10,000 products) against the 2 s goal.

    python bench/validate_bench.py [--domains 1000] [--products 10] [--consumers 3] [--repeat 3]

Generates a valid synthetic mesh (bench/meshgen.py) into a temporary directory, then times

- `mesh validate DIR` as a subprocess, end to end: interpreter start-up, imports, loading,
  governance checks, output and exit (the number the goal is about);
- the same with the parallel load switched off (MESH_PARALLEL_LOAD=0);
- `python -c "import infra.cli"`: the fixed start-up cost inside the end-to-end number;
- `load_mesh(DIR)` in this process, on two processes and serially (loading alone);
- everything `mesh validate` runs in process (loader, governance, physical names).

The loader uses a second process only when a CPU is idle, so on a busy machine the end-to-end
number is the serial one.

Each number is the best of --repeat runs (the least disturbed by other work on the machine).
Prints a table with each number's ratio to the goal; exits 1 when the end-to-end time misses it.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.meshgen import generate
from bench.timing import best_of, mesh_parser
from infra.blueprints import load as loader
from infra.blueprints import parallel

GOAL_SECONDS = 2.0


def mesh_command() -> list[str]:
    script = Path(sys.executable).parent / "mesh"
    return [str(script)] if script.exists() else [sys.executable, "-m", "infra.cli"]


def _load_checked() -> Callable[[Path], object] | None:
    """What `mesh validate` runs in process, if this version of the CLI has it."""
    try:
        from infra.api import validate
    except ImportError:
        return None
    return validate


def run_cli(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}:\n" + "\n".join(tail))


def main() -> int:
    parser = mesh_parser(__doc__, 1000, 10, 3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    args = parser.parse_args()

    today = dt.date.fromisoformat(os.environ.get("MESH_TODAY") or dt.date.today().isoformat())
    env = {**os.environ, "MESH_TODAY": today.isoformat()}
    with tempfile.TemporaryDirectory(prefix="mesh-bench-") as tmp:
        directory = args.keep or Path(tmp) / "blueprints"
        start = time.perf_counter()
        mesh = generate(
            directory, args.domains, args.products, args.consumers, seed=args.seed, today=today
        )
        gen_seconds = time.perf_counter() - start
        size_mib = sum(p.stat().st_size for p in mesh.paths) / 2**20
        print(
            f"mesh: {mesh.domains} domain files, {mesh.products} products, {mesh.grants} grants, "
            f"{size_mib:.1f} MiB of YAML (generated in {gen_seconds:.2f} s); "
            f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}; best of {args.repeat}"
        )

        cli = [*mesh_command(), "validate", str(directory)]
        serial_env = {**env, "MESH_PARALLEL_LOAD": "0"}
        rows: list[tuple[str, float]] = [
            ("mesh validate DIR (subprocess, end to end)", best_of(args.repeat, lambda: run_cli(cli, env))),
            ("  same, serial load (MESH_PARALLEL_LOAD=0)", best_of(args.repeat, lambda: run_cli(cli, serial_env))),
            ("  start-up: python -c 'import infra.cli'", best_of(args.repeat, lambda: run_cli([sys.executable, "-c", "import infra.cli"], env))),
        ]  # fmt: skip

        def load() -> None:
            result = loader.load_mesh(directory, today=today)
            if result.errors:
                raise SystemExit(f"generated mesh is invalid: {result.errors[:3]}")

        can_fork = parallel._can_fork
        try:
            parallel._can_fork = lambda n_files: n_files >= parallel.PARALLEL_MIN_FILES
            rows.append(("load_mesh(DIR) in process, two processes", best_of(args.repeat, load)))
            parallel._can_fork = lambda n_files: False
            rows.append(("load_mesh(DIR) in process, serial", best_of(args.repeat, load)))
            checked = _load_checked()
            if checked is not None:
                rows.append(
                    (
                        "  + governance + names, serial (infra.api.validate)",
                        best_of(args.repeat, lambda: checked(directory)),
                    )
                )
        finally:
            parallel._can_fork = can_fork

    width = max(len(name) for name, _ in rows)
    print(f"{'':{width}}  {'seconds':>8}  {'/ 2 s goal':>10}")
    for name, seconds in rows:
        print(f"{name:{width}}  {seconds:8.3f}  {seconds / GOAL_SECONDS:10.2f}")
    end_to_end = rows[0][1]
    verdict = "meets" if end_to_end < GOAL_SECONDS else "MISSES"
    print(
        f"{verdict} the goal: {end_to_end:.2f} s end to end (ratio {end_to_end / GOAL_SECONDS:.2f})"
    )
    return 0 if end_to_end < GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
