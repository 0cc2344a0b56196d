"""Timing helper shared by the benchmark scripts."""

from __future__ import annotations

import gc
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
