"""Records on disk, read back in order: what lets the whole-mesh `mesh plan` print every
stack's resources without holding them (`infra.engines.stackplan`).

A worker writes its stack's records, sorted by their `key`, as plain tuples in pickled chunks
of `CHUNK` (`write_records`); the parent reads them back one chunk at a time (`read_records`)
and merges the stacks' files in key order (`merge_lazily`), opening a file only when the merge
reaches its first key. A domain's resources are named after it, so the stacks' key ranges
hardly overlap: a few files are open at a time, and the parent holds a few chunks, whatever
the number of stacks.
"""

from __future__ import annotations

import heapq
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

CHUNK = 256  # records per pickled chunk
_END = object()


def write_records(path: Path, records: Iterable[tuple]) -> None:
    """`records` (plain tuples) to a new file at `path`, in pickled chunks of `CHUNK`."""
    with path.open("xb") as out:
        chunk: list[tuple] = []
        for record in records:
            chunk.append(record)
            if len(chunk) == CHUNK:
                out.write(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
                chunk = []
        if chunk:
            out.write(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))


def read_records(path: Path, make: Callable[..., Any]) -> Iterator[Any]:
    """`make(*record)` for every record `write_records` wrote to `path`, one chunk in memory at
    a time."""
    with path.open("rb") as f:
        while True:
            try:
                chunk = pickle.load(f)
            except EOFError:
                return
            for record in chunk:
                yield make(*record)


def merge_lazily(sources: Sequence[tuple[Any, Callable[[], Iterator[Any]]]]) -> Iterator[Any]:
    """The records of every source (first key, a function opening its iterator of records, each
    sorted by `key`) in key order, ties in the order of `sources` (as `heapq.merge`). A source
    is opened only when the merge reaches its first key (None: a source with no records)."""
    pending = sorted(
        (i for i, (first, _) in enumerate(sources) if first is not None),
        key=lambda i: (sources[i][0], i),
        reverse=True,
    )
    heap: list[tuple[Any, int, Any, Iterator[Any]]] = []
    while True:
        while pending and (not heap or sources[pending[-1]][0] <= heap[0][0]):
            i = pending.pop()
            records = sources[i][1]()
            first = next(records, _END)
            if first is not _END:
                heapq.heappush(heap, (first.key, i, first, records))
        if not heap:
            return
        _, i, record, records = heap[0]
        yield record
        following = next(records, _END)
        if following is _END:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (following.key, i, following, records))
