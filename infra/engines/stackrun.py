"""Run the mesh program one stack at a time (the platform, then each domain), each in a forked
worker with a fresh Pulumi runtime, and stream what each stack records back as compact plain
data — so no process ever holds the whole mesh's Pulumi objects.

Each stack runs its slice of the whole-mesh program (`infra.provision.slices`): the resources
the stack holds, each declared exactly as the scope-`all` program declares it, so the stacks
together are the whole-mesh graph (`mesh plan` of the whole mesh runs them too:
`infra.engines.stackplan`). What `mesh audit` reads of a resource (`infra.audit.view.index`)
is its type, logical name, account, inputs and the ARN among its outputs: a worker sends only
that (`Lite`), of every custom resource but the providers. A stack's records arrive sorted
by (logical name, type), as `run_program` sorts them; `merge_sorted` interleaves the stacks into the
order of the single-process run of the whole mesh (scope `all`), so the audit built from them
is the same, file for file (tests/test_audit_stacks.py compares them).

Why per stack: the Pulumi SDK keeps every resource object, output and task of a run alive until
it ends (~57 KB per resource): 9 GB at 10,000 products in one process. A domain's stack is the
same size whatever the size of the mesh (bench/domain_stack_bench.py), so each worker's memory
is bounded by the largest domain. For `mesh audit` (`audited_resources`), each worker writes
its compact records to a file of its own in a temporary directory (`infra.engines.spool`),
and the parent reads them back merged, one by one, into the audit's index
(`infra.audit.view.index`): it never holds the mesh's records, only what the audit keeps of
them. The directory is removed when the records have been read, or when a stack fails.

Each worker process runs one stack and exits (`_pool`): the Pulumi runtime, its mocks and the
monitor are process-global state, and a fresh process returns all of a stack's memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import gc
import heapq
import os
import pickle
import selectors
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from infra.engines.parallel import WorkerFailed, workers_for
from infra.engines.recording import PROVIDER_TYPE, Recorded, ResourceGraph, run_program
from infra.engines.spool import merge_lazily, read_records, write_records
from infra.errors import MeshError
from infra.model.mesh import Mesh
from infra.provision.program import SCOPE_PLATFORM, StackSettings
from infra.util import progress

_LENGTH = struct.Struct("!Q")


@dataclasses.dataclass(slots=True)
class Lite:
    """A recorded resource as the audit reads it (`infra.engines.recording.Recorded`'s type,
    name, account and inputs; of its outputs only the ARN)."""

    type: str
    name: str
    account: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)


@dataclasses.dataclass
class StackRecords:
    """One stack's audited resources, sorted by (name, type) — or, spooled, in a file (`path`:
    `Lite` as plain tuples, `infra.engines.spool`; `first`: the first one's key); how many
    resources it declares besides its providers (`declared`) and the providers' names (two
    stacks of one account both declare its provider: the mesh has it once)."""

    scope: str
    resources: list[Lite]
    declared: int = 0
    providers: tuple[str, ...] = ()
    path: Path | None = None
    first: tuple[str, str] | None = None


def resource_count(stacks: list[StackRecords]) -> int:
    """How many resources the whole mesh's program (scope `all`) registers: every slice's,
    each provider once."""
    return sum(s.declared for s in stacks) + len({p for s in stacks for p in s.providers})


def scopes(mesh: Mesh) -> list[str]:
    """The stacks the mesh deploys as, in order: the platform, then each domain."""
    return [SCOPE_PLATFORM, *(bp.domain for bp in mesh.blueprints)]


def run_slice(mesh: Mesh, settings: StackSettings, today: dt.date, scope: str) -> ResourceGraph:
    """One stack's slice of the whole-mesh program of `settings` (the platform's is its stack's
    program), recorded."""
    return run_program(
        mesh, dataclasses.replace(settings, scope=scope), today, sliced=scope != SCOPE_PLATFORM
    )


def arn_only(r: Recorded) -> dict[str, Any]:
    """Of a resource's outputs, the one its readers need: its ARN (if it has one)."""
    arn = r.outputs.get("arn")
    return {} if arn is None else {"arn": arn}


def record_stack(
    mesh: Mesh, settings: StackSettings, today: dt.date, scope: str, path: Path | None = None
) -> StackRecords:
    """Run one stack's slice of the whole-mesh program and keep what the audit reads: in the
    result, or in a new file at `path`."""
    out, declared, providers = [], 0, []
    for r in run_slice(mesh, settings, today, scope).resources:
        if r.type == PROVIDER_TYPE:
            providers.append(r.name)
            continue
        declared += 1
        if r.custom:
            out.append(Lite(r.type, r.name, r.account, r.inputs, arn_only(r)))
    if path is None:
        return StackRecords(scope, out, declared, tuple(providers))
    write_records(path, ((x.type, x.name, x.account, x.inputs, x.outputs) for x in out))
    first = out[0].key if out else None
    return StackRecords(scope, [], declared, tuple(providers), path, first)


class SliceMismatch(MeshError, RuntimeError):
    """Two stacks' slices declare one resource differently (a bug in the slices)."""


def merge_sorted(lists: list[list[Any]]) -> Iterator[Any]:
    """The records of every stack (each list sorted by its records' `key`: (name, type)) in
    that order, each resource once: one that several stacks declare (a provider) must be
    declared alike. Consumes `lists`: the records are released as they are read."""
    sources = list(lists)
    lists.clear()
    return unique(heapq.merge(*sources, key=lambda r: r.key))


def unique(records: Iterable[Any]) -> Iterator[Any]:
    """Records in (name, type) order, each resource once: one that several stacks declare (a
    provider) must be declared alike, and each stack's records must come sorted (else
    `SliceMismatch`)."""
    last: Any = None
    for r in records:
        if last is not None and r.key <= last.key:
            if r.key < last.key:
                raise SliceMismatch(f"{r.type} {r.name!r} comes after {last.name!r}: not sorted")
            if r != last:
                raise SliceMismatch(f"two stacks declare {r.type} {r.name!r} differently")
            continue
        last = r
        yield r


def merged(stacks: list[StackRecords]) -> Iterator[Lite]:
    """Every stack's records in (name, type) order, each resource once; spooled ones read as
    the merge reaches them (`spool.merge_lazily`). Consumes `stacks`."""
    if any(s.path is not None for s in stacks):
        sources = [(s.first, lambda path=s.path: read_records(path, Lite)) for s in stacks]
        stacks.clear()
        return unique(merge_lazily(sources))
    lists = [s.resources for s in stacks]
    stacks.clear()
    return merge_sorted(lists)


def audited_resources(
    mesh: Mesh, settings: StackSettings, today: dt.date, per_stack: bool = True
) -> tuple[int, Iterable[Any]]:
    """(how many resources the whole mesh's program declares, what the audit reads of them in
    the order of its single run): per stack in workers, else in one run here."""
    if not per_stack:
        graph = run_program(mesh, settings, today)
        return len(graph.resources), graph.resources
    spool = tempfile.TemporaryDirectory(prefix="mesh-audit-")
    try:
        stacks = record_stacks(mesh, settings, today, spool=Path(spool.name))
    except BaseException:
        spool.cleanup()
        raise
    return resource_count(stacks), _spooled(stacks, spool)


def _spooled(stacks: list[StackRecords], spool: tempfile.TemporaryDirectory) -> Iterator[Lite]:
    """`merged(stacks)`; the files removed when it ends (or is closed)."""
    with spool:
        yield from merged(stacks)


def record_stacks(
    mesh: Mesh,
    settings: StackSettings,
    today: dt.date,
    *,
    workers: int | None = None,
    on_stack: Callable[[StackRecords], None] | None = None,
    spool: Path | None = None,
) -> list[StackRecords]:
    """Every stack's records (in `scopes` order), each stack run in a worker process of its own
    (at most `workers` at once; default one per core). Without `fork`, in this process, one
    after the other. With `spool`, each stack's records go to a file in that directory."""
    index = {scope: i for i, scope in enumerate(scopes(mesh))}
    return run_stacks(
        mesh,
        lambda scope: (
            record_stack(mesh, settings, today, scope)
            if spool is None
            else record_stack(mesh, settings, today, scope, spool / f"{index[scope]}.records")
        ),
        workers,
        on_stack,
        registered=lambda s: s.declared + len(s.providers),
    )


def run_stacks(
    mesh: Mesh,
    one: Callable[[str], Any],
    workers: int | None = None,
    on_stack: Callable[[Any], None] | None = None,
    registered: Callable[[Any], int] = len,
) -> list:
    """`[one(scope) for scope in scopes(mesh)]`, each in a worker process of its own (at most
    `workers` at once; default one per core) but the first (below); without `fork`, here, one
    after the other. A worker's progress ticks stay in its process: its stack's resources
    (`registered` of its result) are ticked here when the result arrives."""
    items = scopes(mesh)
    n = workers_for(len(items)) if workers is None else workers
    # The first stack runs here: the SDK's first run in a process fills its caches (input
    # types' hints, ...: ~60 % of a small stack's time), which every fork then inherits.
    # Its memory is one domain's.
    first = min(items[1:], key=lambda d: _size(mesh, d), default=items[0])
    out = {first: _here(one, first)}
    if on_stack is not None:
        on_stack(out[first])
    rest = [s for s in items if s != first]
    if n <= 1 or not hasattr(os, "fork"):
        for scope in rest:
            out[scope] = _here(one, scope)
            if on_stack is not None:
                on_stack(out[scope])
    else:

        def arrived(result: Any) -> None:
            progress.tick(registered(result))
            if on_stack is not None:
                on_stack(result)

        out.update(zip(rest, _pool(one, rest, n, arrived), strict=True))
    return [out[s] for s in items]


def _here(one: Callable[[str], Any], scope: str) -> Any:
    """`one(scope)` in this process, failing as a worker fails: naming the stack."""
    try:
        return one(scope)
    except Exception as exc:
        raise WorkerFailed(f"a stack failed: stack {scope!r}: {type(exc).__name__}: {exc}") from exc


def _size(mesh: Mesh, domain: str) -> int:
    bp = next(b for b in mesh.blueprints if b.domain == domain)
    return sum(1 + len(p.consumers) for p in bp.products)


# ------------------------------------------------------------------ the pool


def _pool(func: Callable[[str], Any], items: Sequence[str], workers: int, on_result) -> list:
    """`[func(item) for item in items]`, each item in a process forked for it alone, at most
    `workers` at a time; results are pickled back through a pipe."""
    results: dict[int, Any] = {}
    pending = list(range(len(items)))[::-1]
    running: dict[int, tuple[int, int, bytearray]] = {}  # fd -> (item index, pid, buffer)
    failure = None
    with selectors.DefaultSelector() as selector:
        while pending or running:
            while pending and len(running) < workers and failure is None:
                index = pending.pop()
                fd, pid = _fork(func, items[index])
                running[fd] = (index, pid, bytearray())
                selector.register(fd, selectors.EVENT_READ)
            if not running:
                break
            for key, _ in selector.select():
                fd = key.fd
                index, pid, buffer = running[fd]
                chunk = os.read(fd, 1 << 20)
                if chunk:
                    buffer += chunk
                    continue
                selector.unregister(fd)
                os.close(fd)
                del running[fd]
                _, status = os.waitpid(pid, 0)
                ok, value = _decode(buffer)
                if status != 0 or not ok:
                    failure = failure or f"stack {items[index]!r}: {value or f'status {status}'}"
                    continue
                results[index] = value
                if on_result is not None:
                    on_result(value)
    if failure is not None:
        raise WorkerFailed(f"a stack's worker failed: {failure}")
    return [results[i] for i in range(len(items))]


def _decode(buffer: bytearray) -> tuple[bool, Any]:
    if len(buffer) < _LENGTH.size:
        return False, "no result (the worker died)"
    (n,) = _LENGTH.unpack_from(buffer)
    if len(buffer) != _LENGTH.size + n:
        return False, "its result was cut off"
    return pickle.loads(bytes(buffer[_LENGTH.size :]))


def _fork(func: Callable[[str], Any], item: str) -> tuple[int, int]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: one item, then exit without the parent's atexit handlers
        os.close(read)
        # the parent's objects stay out of this process's collections: a collection would
        # touch (and so copy) every page of them
        gc.freeze()
        # a fresh event loop for the Pulumi runtime: the parent's (if it ran a program) has an
        # executor whose threads were not copied into this process, and would wait for them
        asyncio.set_event_loop(asyncio.new_event_loop())
        code = 0
        try:
            try:
                message = (True, func(item))
            except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
                message, code = (False, f"{type(exc).__name__}: {exc}"), 1
            data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(_LENGTH.pack(len(data)) + data)
            while view:
                view = view[os.write(write, view) :]
        finally:
            os._exit(code)
    os.close(write)
    return read, pid
