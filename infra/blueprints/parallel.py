"""Parsing a big directory on two processes.

Parsing (compose + build) is most of the time of a big mesh. On Linux, with no other thread in
the process (so fork is safe) and a CPU to spare, a forked helper parses the last files while
this process loads (parses and validates) the first ones. The helper sends the plain data and
recorded lines (pickled: builtins, dates and arrays only) in chunks as it goes, so this process
validates them while the helper parses on, instead of after it. The texts are read here before
the fork, so the helper has them without reading or sending them. Validation and every check
stay in this process, so the result is the serial path's. When the helper fails or hangs, what it
did not send is loaded here. MESH_PARALLEL_LOAD=0 turns it off.

Why not `concurrent.futures`: a process pool returns a task's result when the task ends, not the
chunks as they are parsed, and it cannot stop a worker that hangs (`shutdown(cancel_futures=True)`
waits for running tasks): a hostile file that makes the helper hang must cost a timeout, after
which this process kills it and loads the rest itself (tests/test_pr_speed.py).
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import sys
from typing import Any

from infra.blueprints.pydantic_errors import validate_data
from infra.blueprints.yaml_safe import _parse_text
from infra.errors import Problem
from infra.model.source import SourceFile
from infra.model.spec import Blueprint

Loaded = tuple[Blueprint | None, SourceFile, list[Problem], Any]  # one file: what `load_one` gives
Key = tuple[str, str]  # (file name, text): what identifies a file's content

PARALLEL_MIN_FILES = 64
# This process parses and validates its share, then validates (and unpickles) the helper's,
# which parses and pickles: with this share both are busy until about the same time
# (bench/validate_bench.py measures the parallel load against the serial one).
_PARENT_SHARE = 0.4


def load_one(text: str, display: str, context: dict | None = None) -> Loaded:
    src, text_kept, data, problem = _parse_text(text, display)
    if problem is not None:
        return None, src, [problem], None
    bp, problems = validate_data(src, text_kept, data, context)
    return bp, src, problems, data


def load_texts(keys: list[Key], displays: list[str], context: dict | None = None) -> list[Loaded]:
    """`_load_one` of every (name, text) key, in order; on two processes when `_can_fork`.
    `context`: the validation context (`validate_data`)."""
    texts = [text for _, text in keys]
    if not _can_fork(len(keys)):
        return [load_one(t, d, context) for t, d in zip(texts, displays, strict=True)]
    cut = int(len(keys) * _PARENT_SHARE)
    try:
        read_fd, write_fd = os.pipe()
        _widen(write_fd)
        pid = os.fork()
    except OSError:
        return [load_one(t, d, context) for t, d in zip(texts, displays, strict=True)]
    if pid == 0:  # the helper: never returns, never runs the parent's exit handlers
        status = 1
        try:
            os.close(read_fd)
            _helper(texts[cut:], displays[cut:], write_fd)
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    rest = list(zip(texts[cut:], displays[cut:], strict=True))
    try:
        out = _receive(read_fd, pid, texts[:cut], displays[:cut], rest, len(keys), context)
    except BaseException:  # e.g. Ctrl-C: do not leave the helper behind
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(read_fd)
    return out + [load_one(t, d, context) for t, d in rest[len(out) - cut :]]  # not sent


_CHUNK_FILES = 32  # the helper sends its results in chunks of this many files
_FRAME = struct.Struct("<Q")  # a chunk on the pipe: its length, then the pickle


def _widen(fd: int) -> None:
    """Give the pipe room for several chunks (Linux allows 1 MiB unprivileged), so the helper
    writes without waiting for this process, which reads it only between two files."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, OSError, AttributeError):  # pragma: no cover - slower, not wrong
        pass


_PIPE_BYTES = 1 << 20


def _helper(texts: list[str], displays: list[str], fd: int) -> None:
    """The forked helper: (data, lines, problem) of each text, in pickled chunks on `fd` as
    they are parsed, so the parent validates them while the helper parses the rest."""
    with os.fdopen(fd, "wb") as pipe:
        for start in range(0, len(texts), _CHUNK_FILES):
            # node trees die here: the plain data and its recorded lines go to the parent
            parsed = [
                (src.data, src.lines, problem)
                for t, d in zip(texts[start : start + _CHUNK_FILES], displays[start:])
                for src, _text, _data, problem in (_parse_text(t, d),)
            ]
            payload = pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL)
            pipe.write(_FRAME.pack(len(payload)) + payload)
            pipe.flush()


def _receive(
    fd: int,
    pid: int,
    texts: list[str],
    displays: list[str],
    rest: list[tuple[str, str]],
    n_files: int,
    context: dict | None = None,
) -> list[Loaded]:
    """Load this process's share (`texts`), then validate the helper's chunks of `rest` as they
    come. Returns every result in order, as far as the helper delivered them: it stops early
    when the helper fails, or is stopped when it sends nothing for `_helper_timeout`."""
    os.set_blocking(fd, False)
    buffer = bytearray()
    eof = False

    def drain() -> None:  # whatever the helper wrote so far, without waiting
        nonlocal eof
        while not eof:
            try:
                chunk = os.read(fd, 1 << 20)
            except BlockingIOError:
                return
            eof = not chunk
            buffer.extend(chunk)

    out = []
    for text, display in zip(texts, displays, strict=True):
        out.append(load_one(text, display, context))
        drain()  # keeps the pipe from filling up: the helper never waits for this process
    done, pos, timeout = 0, 0, _helper_timeout(n_files)
    while done < len(rest):
        if len(buffer) - pos >= _FRAME.size:
            (size,) = _FRAME.unpack_from(buffer, pos)
            if len(buffer) - pos - _FRAME.size >= size:
                start = pos + _FRAME.size
                try:
                    chunk = pickle.loads(buffer[start : start + size])
                except (pickle.UnpicklingError, EOFError):  # pragma: no cover - never seen
                    os.kill(pid, signal.SIGKILL)
                    break
                pos = start + size
                for (text, display), (data, lines, problem) in zip(rest[done:], chunk):
                    if problem is not None:
                        out.append((None, SourceFile(display), [problem], None))
                    else:
                        src = SourceFile(display, text=text, data=data, lines=lines)
                        bp, problems = validate_data(src, text, data, context)
                        out.append((bp, src, problems, data))
                done += len(chunk)
                continue
        if eof:  # the helper stopped before the end (it failed): the rest is done here
            break
        if not select.select([fd], [], [], timeout)[0]:  # hung (it never should): stop it
            os.kill(pid, signal.SIGKILL)
            break
        drain()
    os.waitpid(pid, 0)  # a helper that failed sent fewer chunks: the caller loads the rest
    return out


def _helper_timeout(n_files: int) -> float:
    """Seconds of silence after which the helper counts as hung: far beyond any real parse."""
    return 30.0 + 0.05 * n_files


def _can_fork(n_files: int) -> bool:
    return (
        n_files >= PARALLEL_MIN_FILES
        and os.environ.get("MESH_PARALLEL_LOAD", "1") != "0"
        and sys.platform == "linux"
        and _single_threaded()
        and _spare_cpu()
    )


def _spare_cpu() -> bool:
    """True when fewer tasks are running than this process may use CPUs (itself included), so
    the helper gets a CPU of its own: on a busy machine two processes are slower than one."""
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            running = int(fh.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):  # pragma: no cover - no /proc
        return False
    return running < len(os.sched_getaffinity(0))


def _single_threaded() -> bool:
    """True when the process has one OS thread (threads of C extensions such as gRPC count)."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # pragma: no cover - no /proc
        return False
