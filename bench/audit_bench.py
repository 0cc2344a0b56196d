"""Benchmark: the access matrix and `mesh diff` on large meshes, at three sizes, with the growth
between sizes (issue 8: 1,000 products x 100 consumer domains under 5 s, no quadratic blow-up).

    python bench/audit_bench.py [--domains 10,30,100] [--products 10] [--consumers 10]
                                [--effective 3,10,30] [--no-dense] [--repeat 3] [--quick]

Series 1 — declared access and diff, DOMAINS x PRODUCTS per domain, each shared product granted
to CONSUMERS other domains (at most DOMAINS - 1); every domain is a consumer domain:

- `declared matrix`: `infra.model.access.declared_access` + `AccessModel.matrix_json` (in process);
- `diff, 1 domain`: `infra.diff.access_diff.diff_meshes` on a HEAD where one domain is edited (a PR);
- `diff, all domains`: the same with every domain edited (the worst case: nothing is skipped);
- `mesh diff` (subprocess): `mesh diff BASE HEAD --format json`, end to end (interpreter
  start-up and loading both trees included), HEAD with every domain edited;
- `load`: `load_mesh` of one tree in process, for scale (`mesh diff` loads two).

A dense row follows (unless --no-dense): the largest size with every shared product granted to
every other domain, i.e. a full products x consumer-domains matrix.

Series 2 — the EFFECTIVE matrix from the recorded resource graph (what `mesh audit` writes),
at the --effective domain counts: the Pulumi program under recording mocks (reported apart: it
is the Pulumi SDK's cost, ~3-4 ms per resource), then the audit's own work — index the graph,
probe every principal against every bucket and every Lake Formation grant, compare with the
declared access (`infra.audit.audit.audit` minus parliament).

Growth: for each number, time ratio / size ratio between consecutive sizes and the exponent
log(time ratio) / log(size ratio): ~1 is linear, ~2 quadratic. Size = grants (rows of the
declared matrix) for series 1; products x principals (probed cells) and resources for series 2.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import itertools
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.meshgen import blueprints
from bench.pr_check_bench import edit_domain, mesh_command, write_tree
from bench.timing import best_of, goal
from infra.blueprints import load as loader
from infra.diff.access_diff import diff_meshes
from infra.model.access import declared_access
from infra.model.mesh import Mesh

GOAL_SECONDS = 5.0
GENERATED_AT = "2026-01-01T00:00:00Z"


def load(directory: Path, today: dt.date) -> Mesh:
    result = loader.load_mesh(directory, today=today)
    if result.errors:
        raise SystemExit(f"{directory}: {[str(e) for e in result.errors[:3]]}")
    return result.mesh


def run_diff(base: Path, head: Path, env: dict[str, str]) -> None:
    args = [*mesh_command(), "diff", str(base), str(head), "--format", "json"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if done.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}: {done.stderr[-500:]}")


def growth(sizes: list[float], times: list[float]) -> list[str]:
    """'x<time ratio> (e<exponent>)' between consecutive sizes."""
    out = []
    for (s1, t1), (s2, t2) in itertools.pairwise(zip(sizes, times, strict=True)):
        ratio = t2 / t1 if t1 > 0 else float("inf")
        exponent = math.log(ratio) / math.log(s2 / s1) if ratio > 0 and s2 != s1 else float("nan")
        out.append(f"x{ratio:5.1f} (e{exponent:4.2f})")
    return out


# ------------------------------------------------------------------ series 1


def declared_series(
    tmp: Path, domains: int, per_domain: int, consumers: int, today: dt.date, args, env
) -> dict:
    bps = blueprints(domains, per_domain, consumers, seed=args.seed, today=today)
    one, every = copy.deepcopy(bps), copy.deepcopy(bps)
    edit_domain(one, len(one) // 2, today)
    for i in range(len(every)):
        edit_domain(every, i, today)
    tag = f"{domains}x{per_domain}x{consumers}"
    paths = {name: tmp / f"{tag}-{name}" for name in ("base", "one", "every")}
    for name, tree in (("base", bps), ("one", one), ("every", every)):
        write_tree(paths[name], tree)
    base = load(paths["base"], today)
    head_one, head_every = load(paths["one"], today), load(paths["every"], today)
    model = declared_access(base, today)
    result = diff_meshes(base, head_every, today)
    row = {
        "products": sum(len(b["products"]) for b in bps),
        "domains": domains,
        "consumers": consumers,
        "grants": len(model.grants) + len(model.expired),
        "diff_entries": len(result.new_access) + len(result.removed_access) + len(result.changed),
        "load": best_of(args.repeat, lambda: load(paths["base"], today)),
        "declared": best_of(
            args.repeat, lambda: declared_access(base, today).matrix_json(GENERATED_AT)
        ),
        "diff_one": best_of(args.repeat, lambda: diff_meshes(base, head_one, today)),
        "diff_every": best_of(args.repeat, lambda: diff_meshes(base, head_every, today)),
        "subprocess": best_of(args.repeat, lambda: run_diff(paths["base"], paths["every"], env)),
    }
    return row


def print_declared(rows: list[dict], dense: dict | None) -> None:
    print()
    print(
        "series 1: declared access matrix and mesh diff "
        "(seconds, best of repeat; HEAD: 1 domain or every domain edited)"
    )
    header = (
        f"{'products':>8} {'domains':>7} {'cons/prod':>9} {'grants':>7} {'load':>6} "
        f"{'declared matrix':>15} {'diff, 1 domain':>14} {'diff, all domains':>17} "
        f"{'mesh diff (subprocess)':>22}"
    )
    print(header)
    for r in [*rows, *([dense] if dense else [])]:
        label = " dense" if r is dense else ""
        print(
            f"{r['products']:8d} {r['domains']:7d} {r['consumers']:9d} {r['grants']:7d} "
            f"{r['load']:6.3f} {r['declared']:15.3f} {r['diff_one']:14.4f} "
            f"{r['diff_every']:17.3f} {r['subprocess']:22.3f}{label}"
        )
    if len(rows) > 1:
        print("growth between sizes: time ratio (exponent vs grants; 1 = linear, 2 = quadratic)")
        sizes = [r["grants"] for r in rows]
        print(
            f"  {'grants':<15} "
            + "  ".join(f"x{b / a:5.1f}          " for a, b in itertools.pairwise(sizes))
        )
        for key, name in (
            ("load", "load"),
            ("declared", "declared matrix"),
            ("diff_every", "diff, all"),
            ("subprocess", "mesh diff"),
        ):
            print(f"  {name:<15} " + "  ".join(growth(sizes, [r[key] for r in rows])))
    for r in [rows[-1], *([dense] if dense else [])]:
        total = r["declared"] + r["subprocess"]
        verdict = "meets" if total < GOAL_SECONDS else "MISSES"
        print(
            f"goal at {r['products']} products x {r['domains']} consumer domains"
            f"{' (dense: every product granted to every other domain)' if r is dense else ''}: "
            f"declared matrix + mesh diff end to end = {total:.2f} s, {verdict} < "
            f"{GOAL_SECONDS:.0f} s (ratio {total / GOAL_SECONDS:.2f})"
        )


# ------------------------------------------------------------------ series 2


def effective_series(
    tmp: Path, domains: int, per_domain: int, consumers: int, today: dt.date, args
) -> dict:
    from infra.audit.effective import annotate, compare, compute
    from infra.audit.view import index
    from infra.engines.recording import run_program
    from infra.provision.program import StackSettings

    directory = tmp / f"effective-{domains}"
    write_tree(directory, blueprints(domains, per_domain, consumers, seed=args.seed, today=today))
    mesh = load(directory, today)
    start = time.perf_counter()
    resources = run_program(mesh, StackSettings(), today).resources
    recording = time.perf_counter() - start

    outcome = {}

    def effective() -> None:
        graph = index(resources)
        declared = declared_access(mesh, today)
        detail = compute(graph, today)
        effective = annotate(detail, declared)
        outcome["graph"], outcome["detail"] = graph, detail
        outcome["differences"] = compare(effective, declared)

    seconds = best_of(args.repeat, effective)
    graph = outcome["graph"]
    if outcome["differences"] or outcome["detail"].problems:
        raise SystemExit(f"effective != declared at {domains} domains: the audit would fail")
    principals = sum(1 for r in graph.roles.values() if r.service is None) + 1  # + anonymous
    return {
        "products": len(graph.buckets),
        "domains": domains,
        "consumers": consumers,
        "grants": len(outcome["detail"].grants),
        "resources": len(resources),
        "cells": len(graph.buckets) * principals,
        "recording": recording,
        "effective": seconds,
    }


def print_effective(rows: list[dict]) -> None:
    print()
    print(
        "series 2: EFFECTIVE matrix from the recorded graph (index + probe every principal x "
        "bucket and every LF grant + compare; best of repeat) and, apart, the Pulumi recording"
    )
    print(
        f"{'products':>8} {'domains':>7} {'cons/prod':>9} {'resources':>9} {'cells':>7} "
        f"{'effective s':>11} {'us/cell':>7} {'recording s':>11} {'ms/resource':>11}"
    )
    for r in rows:
        print(
            f"{r['products']:8d} {r['domains']:7d} {r['consumers']:9d} {r['resources']:9d} "
            f"{r['cells']:7d} {r['effective']:11.3f} {1e6 * r['effective'] / r['cells']:7.1f} "
            f"{r['recording']:11.2f} {1000 * r['recording'] / r['resources']:11.2f}"
        )
    if len(rows) > 1:
        cells = [r["cells"] for r in rows]
        resources = [r["resources"] for r in rows]
        print("growth between sizes: time ratio (exponent)")
        print(
            "  cells (products x principals) "
            + "  ".join(f"x{b / a:5.1f}" for a, b in itertools.pairwise(cells))
            + "; resources "
            + "  ".join(f"x{b / a:5.1f}" for a, b in itertools.pairwise(resources))
        )
        print(
            "  effective vs cells            "
            + "  ".join(growth(cells, [r["effective"] for r in rows]))
        )
        print(
            "  recording vs resources        "
            + "  ".join(growth(resources, [r["recording"] for r in rows]))
        )
        first, last = rows[0], rows[-1]  # issue 27: linear in grants (exponent 1, some noise)
        exponent = math.log(last["effective"] / first["effective"]) / math.log(
            last["grants"] / first["grants"]
        )
        goal(
            f"effective access growth vs grants, {first['grants']:,} -> {last['grants']:,}",
            exponent,
            1.2,
            "exponent",
            "log(time ratio) / log(grant ratio), best of repeat",
        )


# ------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", default="10,30,100", help="series 1 domain counts")
    parser.add_argument("--products", type=int, default=10, help="products per domain")
    parser.add_argument("--consumers", type=int, default=10, help="consumers per product (max)")
    parser.add_argument("--effective", default="3,10,30", help="series 2 domain counts ('' = skip)")
    parser.add_argument("--no-dense", action="store_true", help="skip the dense row")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="series 1 at 10/30/100 domains, series 2 at 3/10, no dense row (bench/run.py --quick)",
    )
    args = parser.parse_args()
    if args.quick:
        args.effective, args.no_dense = "3,10", True

    today = dt.date.fromisoformat(os.environ.get("MESH_TODAY") or dt.date.today().isoformat())
    env = {**os.environ, "MESH_TODAY": today.isoformat()}
    print(
        f"audit benchmark; {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}; "
        f"best of {args.repeat}"
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mesh-auditbench-") as tmp_name:
        tmp = Path(tmp_name)
        sizes = [int(d) for d in args.domains.split(",") if d]
        rows = [
            declared_series(tmp, d, args.products, min(args.consumers, d - 1), today, args, env)
            for d in sizes
        ]
        dense = None
        if not args.no_dense:
            d = sizes[-1]
            dense = declared_series(tmp, d, args.products, d - 1, today, args, env)
        print_declared(rows, dense)
        effective_sizes = [int(d) for d in args.effective.split(",") if d]
        if effective_sizes:
            print_effective(
                [
                    effective_series(tmp, d, args.products, min(args.consumers, d - 1), today, args)
                    for d in effective_sizes
                ]
            )
    print(f"\n(ran in {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
