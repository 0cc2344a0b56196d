"""Pausing Python's cyclic garbage collector around bulk work.

Loading a mesh, computing its declared access, diffing two meshes or running the Pulumi program
under mocks creates hundreds of thousands of container objects (dicts, tuples, dataclasses,
asyncio tasks, Outputs). With the collector on, the allocation bursts trigger collections that
rescan everything still alive, and their cost grows faster than the work (bench/plan_bench.py
and bench/validate_bench.py measure it). Functions decorated here run with the collector off and
restore its previous state; garbage cycles made meanwhile (the SDK makes some) are collected
after, at the cost of a higher peak memory.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def gc_paused(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` run inside `paused()`."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with paused():
            return fn(*args, **kwargs)

    return run


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The collector off inside the block, restored after. To keep what a block loads for the
    rest of the process, `gc.freeze()` it inside the block: every object made while the
    collector was off is still in its youngest generation, and the first collection after
    would scan them all once."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
