"""Run one function over many items in forked copies of this process, on every core.

The local engine's verification makes thousands of S3 calls into moto, which lives in this
process: threads do not help (client and emulator are both Python, under one GIL: more threads
took longer than one), and another process started fresh would not have the emulator's
state. A fork has it — the deployed mesh, the role sessions, IAM enforcement switched on — as
a copy: what the calls change there (objects written by probes) is gone with the fork, and
the parent's emulator is untouched.

Where the platform cannot fork, or there is one core or one item, the items run here, in
order, and what they change stays. Callers learn which it was from `Mapped.forked`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import selectors
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from infra.errors import MeshError

T = TypeVar("T")
R = TypeVar("R")
_LENGTH = struct.Struct("!Q")
MAX_WORKERS = 8


class WorkerFailed(MeshError, RuntimeError):
    """A forked worker died or raised; names the item and the error."""


@dataclass
class Mapped(Generic[R]):
    results: list[R]
    forked: bool  # True: the work ran in copies of this process, its side effects are gone
    meanwhile: object = None  # what `meanwhile` returned


def workers_for(n_items: int) -> int:
    if not hasattr(os, "fork"):
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, n_items, MAX_WORKERS))


def map_in_forks(
    func: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int | None = None,
    on_result: Callable[[R], None] | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> Mapped[R]:
    """`[func(item) for item in items]`, split over `workers` forks (default: one per core).
    `on_result` is called here, in this process, as each result arrives (progress).
    `meanwhile` runs here once the forks have started (without forks: after the items), so
    this process does other work while they run: the forks have their copy of the state of
    the moment they started, and what `meanwhile` changes here is not theirs."""
    workers = workers_for(len(items)) if workers is None else min(workers, len(items))
    if workers <= 1:
        results = []
        for item in items:
            results.append(func(item))
            if on_result is not None:
                on_result(results[-1])
        return Mapped(results, False, meanwhile() if meanwhile is not None else None)
    return _forked(func, items, workers, on_result, meanwhile)


def _forked(func, items, workers: int, on_result, meanwhile) -> Mapped:
    # Frozen, the parent's objects are not scanned by the forks' collector, which would touch
    # (and so copy) every page of them, slowing every call in the forks. No collection first:
    # over the deployed mesh's heap it costs a good part of a small mesh's verification, and
    # the garbage frozen with the rest is collected after `unfreeze` (or goes with the process).
    was_frozen = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        children = _start(func, items, workers)
    finally:
        if not was_frozen:
            gc.unfreeze()
    try:
        done = meanwhile() if meanwhile is not None else None
    except BaseException:
        with contextlib.suppress(WorkerFailed):  # let the forks finish; their results go
            _collect(items, children, None)
        raise
    return Mapped(_collect(items, children, on_result), True, done)


def _start(func, items, workers: int) -> dict[int, int]:
    """Fork the workers; read end of each one's pipe -> its pid."""
    children: dict[int, int] = {}
    for w in range(workers):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: items w, w + workers, ...; never returns
            os.close(read)
            _work(func, items, range(w, len(items), workers), write)
        os.close(write)
        children[read] = pid
    return children


def _collect(items, children: dict[int, int], on_result) -> list:
    results: dict[int, object] = {}
    failure = None
    buffers = {fd: b"" for fd in children}
    with selectors.DefaultSelector() as selector:
        for fd in children:
            selector.register(fd, selectors.EVENT_READ)
        while buffers:
            for key, _ in selector.select():
                fd = key.fd
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    selector.unregister(fd)
                    os.close(fd)
                    if buffers.pop(fd):
                        failure = failure or "a worker's last message was cut off"
                    continue
                buffers[fd] += chunk
                while len(buffers[fd]) >= _LENGTH.size:
                    (n,) = _LENGTH.unpack_from(buffers[fd])
                    if len(buffers[fd]) < _LENGTH.size + n:
                        break
                    index, ok, value = pickle.loads(buffers[fd][_LENGTH.size : _LENGTH.size + n])
                    buffers[fd] = buffers[fd][_LENGTH.size + n :]
                    if not ok:
                        failure = failure or f"item {items[index]!r}: {value}"
                        continue
                    results[index] = value
                    if on_result is not None:
                        on_result(value)
    for pid in children.values():
        _, status = os.waitpid(pid, 0)
        if status != 0 and failure is None:
            failure = f"a worker exited with status {status}"
    if failure is None and len(results) != len(items):
        failure = f"{len(items) - len(results)} item(s) got no result"
    if failure is not None:
        raise WorkerFailed(f"a forked worker failed: {failure}")
    return [results[i] for i in range(len(items))]


def _work(func, items, indices, write: int) -> None:
    code = 0
    try:
        for i in indices:
            try:
                message = (i, True, func(items[i]))
            except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
                message, code = (i, False, f"{type(exc).__name__}: {exc}"), 1
            data = pickle.dumps(message)
            os.write(write, _LENGTH.pack(len(data)))
            view = memoryview(data)
            while view:
                view = view[os.write(write, view) :]
            if code:
                break
    finally:
        os._exit(code)  # no atexit handlers, no flushing of the parent's buffers
