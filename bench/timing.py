"""Timing helpers shared by the benchmark scripts, and their goals: `goal` prints a figure of
an issue's table against its goal as a `GOAL {json}` line, which bench/run.py collects into the
goals table it prints at the end."""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """Fastest of `repeat` runs in seconds, each started after a full collection."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def sizes(doc: str | None, argv: list[str], default: list[int]) -> list[int]:
    """The sizes a script was given (whole numbers), else `default`; `--help` prints the
    script's docstring and exits 0, anything else exits 2 with a usage line."""
    if {"-h", "--help"} & set(argv):
        print(doc)
        sys.exit(0)
    if argv and not default:
        sys.exit("usage: this script takes no arguments (--help: what it measures)")
    if not all(a.isdigit() for a in argv):
        sys.exit("usage: sizes as whole numbers, e.g. 10 100 (--help: what it measures)")
    return [int(a) for a in argv] or default


# ------------------------------------------------------------------ goals (bench/run.py)

GOAL_PREFIX = "GOAL "  # a line of a benchmark's output that bench/run.py collects


def goal(figure: str, measured: float, limit: float, unit: str = "x", detail: str = "") -> bool:
    """Print one figure against its goal as a machine-readable line (`GOAL {json}`) that
    bench/run.py collects into its goals table, and say whether it is met (measured <= limit).
    `unit`: "x" for a ratio, "s", "GiB", "exponent"; `detail`: how it was measured."""
    met = measured <= limit
    doc = {
        "figure": figure,
        "measured": round(measured, 3),
        "goal": limit,
        "unit": unit,
        "met": met,
        "detail": detail,
    }
    print(GOAL_PREFIX + json.dumps(doc), flush=True)
    return met


def read_goal(line: str) -> dict | None:
    """The goal a `GOAL {json}` line states, else None."""
    if not line.startswith(GOAL_PREFIX):
        return None
    try:
        doc = json.loads(line[len(GOAL_PREFIX) :])
    except ValueError:
        return None
    return (
        doc if isinstance(doc, dict) and {"figure", "measured", "goal", "met"} <= set(doc) else None
    )


def interleaved(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Wall seconds of each of `runs`, run in turn, `rounds` times after one warm-up round:
    ratios between them come from the same moments of a shared, noisy machine."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for n in range(rounds + 1):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            if n:
                times[name].append(time.perf_counter() - start)
    return times


def min_median(times: list[float]) -> tuple[float, float]:
    return min(times), statistics.median(times)


def run_measured(args: list[str], env: dict[str, str], expect: int | None = 0) -> tuple[float, int]:
    """Wall seconds and maximum resident set size (bytes) of one subprocess, its output
    discarded; exits with its last lines when its exit code is not `expect`."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    stderr = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if expect is not None and proc.returncode != expect:
        tail = "\n".join(stderr.strip().splitlines()[-8:])
        sys.exit(f"{' '.join(args[:3])} exited {proc.returncode}:\n{tail}")
    return seconds, usage.ru_maxrss * 1024  # Linux reports KiB


def mesh_parser(doc: str | None, domains: int, products: int = 10, consumers: int = 10):
    """The argument parser of a benchmark of one generated mesh (`bench/meshgen.py`): its
    description is the docstring's first line, and --domains, --products (per domain) and
    --consumers (per product) size the mesh; the caller adds its own options."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--domains", type=int, default=domains)
    parser.add_argument("--products", type=int, default=products, help="products per domain")
    parser.add_argument("--consumers", type=int, default=consumers, help="consumers per product")
    return parser
