"""Timing helper shared by the benchmark scripts."""

from __future__ import annotations

import gc
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
