"""Per-domain stack benchmark: planning one domain's stack at mesh sizes 10 / 100 / 1,000 domains.

A domain stack (`mesh:stack: <domain>`) loads only its own blueprint (other domains are known
by file name) and declares only its own resources, referencing other domains by deterministic
names. Its plan time should not depend on the size of the mesh; the full-mesh load is printed
beside it for contrast.

    python bench/domain_stack_bench.py            # 10, 100, 1000 domains
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.meshgen import generate
from bench.timing import sizes
from infra import api
from infra.blueprints.load import load_mesh
from infra.engines.recording import run_program
from infra.provision.program import StackSettings

TODAY = dt.date(2026, 11, 25)


def main(sizes: list[int]) -> None:
    print(
        f"{'domains':>7} {'load one s':>10} {'plan one s':>10} {'domain total s':>14} "
        f"{'resources':>9} {'full load s':>11}"
    )
    base = None
    for domains in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            generate(tmp, domains=domains, products_per_domain=10, consumers_per_product=2)
            domain = min(p.stem for p in Path(tmp).glob("*.yaml"))
            t0 = time.perf_counter()
            result = api.validate(Path(tmp), only=domain, today=TODAY)
            t_load = time.perf_counter() - t0
            assert result.errors == [], result.errors[:3]
            t0 = time.perf_counter()
            graph = run_program(result.mesh, StackSettings(scope=domain), TODAY)
            t_plan = time.perf_counter() - t0
            t0 = time.perf_counter()
            load_mesh(tmp, today=TODAY)
            t_full = time.perf_counter() - t0
        total = t_load + t_plan
        base = base or total
        print(
            f"{domains:>7} {t_load:>10.3f} {t_plan:>10.3f} {total:>14.3f} "
            f"{len(graph.resources):>9} {t_full:>11.3f}   (x{total / base:.2f} of the smallest)"
        )


if __name__ == "__main__":
    main(sizes(__doc__, sys.argv[1:], [10, 100, 1000]))
