"""Benchmark: the PR check with the parse cache (`--cache-dir`), cold and warm, against
`mesh validate` of the same tree (issue 27: warm <= 1 s and <= 0.3x validate, 10,000 products).

    python bench/pr_cache_bench.py [--domains 1000] [--products 10] [--consumers 3]
                                   [--rounds 3] [--quick] [--profile]

BASE is a generated mesh (bench/meshgen.py, uniform fan-in); HEAD is BASE plus one grant (a
consumer added to one product of the middle domain). Each round runs, one after the other (so a
busy machine slows them alike), as subprocesses with start-up included:

- `mesh validate HEAD`: the reference every figure is divided by;
- cold: `mesh diff BASE HEAD --validate --format json`, no cache;
- cold, storing: the same with an empty `--cache-dir` (what the first run pays to fill it);
- warm: the same with the cache a run on BASE left (`mesh validate BASE --cache-dir`: what the
  CI restores for the base commit), so HEAD's changed file is the only one parsed;
- start-up: the same check of a one-domain mesh against itself, which has next to nothing to
  check: what any PR check pays before it reads a file (interpreter, imports), the part of
  the warm figure that does not grow with the mesh;
- warm, load only: the CLI's imports and the warm check's two loads (`infra.api.load` of HEAD
  and BASE with the same cache), and no check: what the warm check pays before its first check
  as long as the checks read blueprint models (each unchanged file's model is validated from
  its entry), so the warm figure minus this row is what every check together costs.

Prints wall and CPU seconds (the process and its children: less sensitive to a busy machine)
and their ratios to `mesh validate` (min and median over the rounds) and checks
that the warm output (stdout, exit code), in JSON and Markdown, is the cold output. `--profile`
adds where the warm run's time goes (cProfile, in this process). Exit 1 when the warm run misses
the goal (median).
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.meshgen import blueprints
from bench.pr_check_bench import mesh_command, write_tree
from bench.timing import goal, mesh_parser

GOAL_SECONDS = 1.0
GOAL_RATIO = 0.3
LOAD_ONLY = (
    "import sys\n"
    "from pathlib import Path\n"
    "import infra.cli, infra.api as api\n"
    "from infra.blueprints.parse_cache import ParseCache\n"
    "from infra.blueprints.shared import SharedFiles\n"
    "shared = SharedFiles(ParseCache(sys.argv[3]))\n"
    "head = api.load(Path(sys.argv[2]), shared=shared, freeze=True)\n"
    "base = api.load(Path(sys.argv[1]), shared=shared, freeze=True)\n"
    "assert not head.errors and not base.errors and shared.cached == len(base.mesh.blueprints)\n"
)


def add_grant(bps: list[dict], today: dt.date) -> str:
    """HEAD = BASE + one grant: a domain that does not read it yet consumes one shared product
    of the middle domain."""
    bp = bps[len(bps) // 2]
    product = next(p for p in bp["products"] if p["classification"] != "restricted")
    taken = {g["domain"] for g in product["consumers"]} | {bp["domain"]}
    newcomer = next(b["domain"] for b in bps if b["domain"] not in taken)
    product["consumers"].append(
        {
            "domain": newcomer,
            "expires": today + dt.timedelta(days=90),
            "justification": "quarterly planning (added in this PR)",
        }
    )
    return f"{newcomer}:consumer -> {bp['domain']}.{product['name']}"


def timed(args: list[str], env: dict[str, str], expect: int) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != expect:
        tail = (done.stdout + done.stderr).strip().splitlines()[-8:]
        raise SystemExit(
            f"{' '.join(args)} exited {done.returncode}, expected {expect}:\n" + "\n".join(tail)
        )
    return seconds, cpu, done.stdout


def reset(cache: Path, keep: set[str]) -> None:
    """The cache as the run on BASE left it: entries written since are removed."""
    for path in cache.rglob("*"):
        if path.is_file() and path.name not in keep:
            path.unlink()


def profile_warm(base: Path, head: Path, cache: Path, keep: set[str]) -> None:
    import contextlib
    import cProfile
    import io
    import pstats

    from infra.cli import app

    reset(cache, keep)
    profiler = cProfile.Profile()
    argv = [
        "diff",
        str(base),
        str(head),
        "--validate",
        "--format",
        "json",
        "--cache-dir",
        str(cache),
    ]
    profiler.enable()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        app(argv)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(
        r"infra/(api|blueprints|provision|governance|diff)", 30
    )
    print("\nwhere the warm run's time goes (cProfile, in process, imports already paid):")
    print(out.getvalue())


def main() -> int:
    parser = mesh_parser(__doc__, 1000, 10, 3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100 domains x 10 products")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.domains = 100
    today = dt.date.fromisoformat(os.environ.get("MESH_TODAY") or dt.date.today().isoformat())
    env = {**os.environ, "MESH_TODAY": today.isoformat()}
    env.pop("MESH_CACHE_DIR", None)
    mesh = mesh_command()
    with tempfile.TemporaryDirectory(prefix="mesh-prcache-") as tmp:
        bps = blueprints(args.domains, args.products, args.consumers, today=today)
        head_bps = copy.deepcopy(bps)
        grant = add_grant(head_bps, today)
        base, head = Path(tmp) / "base", Path(tmp) / "head"
        write_tree(base, bps)
        write_tree(head, head_bps)
        cache, empty = Path(tmp) / "cache", Path(tmp) / "empty"
        tiny = Path(tmp) / "tiny"
        write_tree(tiny, blueprints(1, 1, 0, today=today))
        timed([*mesh, "validate", str(base), "--cache-dir", str(cache)], env, 0)
        keep = {p.name for p in cache.rglob("*") if p.is_file()}
        products = sum(len(b["products"]) for b in bps)
        print(
            f"PR check with the parse cache: {args.domains} domains, {products} products, uniform "
            f"fan-in; HEAD = BASE + {grant}; {args.rounds} interleaved rounds; "
            f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}"
        )
        check = [*mesh, "diff", str(base), str(head), "--validate"]
        names = ("validate", "cold", "cold, storing", "warm", "start-up", "warm, load only")
        wall: dict[str, list[float]] = {n: [] for n in names}
        cpu: dict[str, list[float]] = {n: [] for n in names}

        def record(name: str, measured: tuple[float, float, str]) -> str:
            wall[name].append(measured[0])
            cpu[name].append(measured[1])
            return measured[2]

        for _ in range(args.rounds):
            record("validate", timed([*mesh, "validate", str(head)], env, 0))
            cold = record("cold", timed([*check, "--format", "json"], env, 3))
            shutil.rmtree(empty, ignore_errors=True)
            stored = record(
                "cold, storing",
                timed([*check, "--format", "json", "--cache-dir", str(empty)], env, 3),
            )
            reset(cache, keep)
            warm = record(
                "warm", timed([*check, "--format", "json", "--cache-dir", str(cache)], env, 3)
            )
            record("start-up", timed([*mesh, "diff", str(tiny), str(tiny), "--validate"], env, 0))
            reset(cache, keep)
            load_only = [sys.executable, "-c", LOAD_ONLY, str(base), str(head), str(cache)]
            record("warm, load only", timed(load_only, env, 0))
            assert stored == cold, "the cold run that stores the cache printed another result"
            assert warm == cold, "the warm run printed another result than the cold run"
        # the PR comment too: warm Markdown == cold Markdown
        reset(cache, keep)
        warm_md = timed([*check, "--format", "markdown", "--cache-dir", str(cache)], env, 3)[2]
        assert warm_md == timed([*check, "--format", "markdown"], env, 3)[2]
        print("warm output == cold output: JSON in every round, and the Markdown comment")
        print(
            f"\n{'':16} {'wall min s':>10} {'median s':>8} {'min x':>6} {'median x':>8}  "
            f"{'CPU min s':>9} {'median s':>8} {'min x':>6} {'median x':>8}   (x: / mesh validate)"
        )
        ratio: dict[str, list[float]] = {}
        for name in names:
            ratio[name] = [a / b for a, b in zip(wall[name], wall["validate"], strict=True)]
            cpu_ratio = [a / b for a, b in zip(cpu[name], cpu["validate"], strict=True)]
            print(
                f"{name:16} {min(wall[name]):10.3f} {statistics.median(wall[name]):8.3f} "
                f"{min(ratio[name]):6.2f} {statistics.median(ratio[name]):8.2f}  "
                f"{min(cpu[name]):9.3f} {statistics.median(cpu[name]):8.3f} "
                f"{min(cpu_ratio):6.2f} {statistics.median(cpu_ratio):8.2f}"
            )
        warm_s, warm_x = statistics.median(wall["warm"]), statistics.median(ratio["warm"])
        met = warm_s <= GOAL_SECONDS and warm_x <= GOAL_RATIO
        rounds = f"median of {len(wall['warm'])} interleaved rounds"
        goal(f"PR check warm, {products:,} products", warm_s, GOAL_SECONDS, "s", rounds)
        goal(
            f"PR check warm, {products:,} products ÷ mesh validate", warm_x, GOAL_RATIO, "x", rounds
        )
        print(
            f"goal (issue 27, 10,000 products): warm <= {GOAL_SECONDS:.1f} s and <= "
            f"{GOAL_RATIO}x validate (wall, median): {warm_s:.2f} s, {warm_x:.2f}x: "
            f"{'met' if met else 'MISSED'}"
        )
        if args.profile:
            profile_warm(base, head, cache, keep)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
