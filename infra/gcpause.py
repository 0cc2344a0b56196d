"""Pausing Python's cyclic garbage collector around bulk work.

Loading a mesh, computing its declared access or diffing two meshes creates hundreds of
thousands of young container objects (dicts, tuples, dataclasses) and no reference cycles.
With the collector on, each allocation burst triggers collections that rescan everything still
young, which was 7 s of a 10,000-product load and most of the time spent writing a large access
matrix. Functions decorated here run with the collector off and restore its previous state.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def gc_paused(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused
