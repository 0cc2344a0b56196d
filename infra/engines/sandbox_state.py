"""The kept local mesh's state file, through its life: starting, ready, failed, gone.

`mesh up --local --keep` writes the file (`state_path()`, mode 0600, replaced atomically so a
reader never sees half of it) as soon as it starts, with `"status": "starting"` and its pid;
when the mesh is deployed and verified, the full state (`"status": "ready"`, endpoint,
sessions); when it fails before that (invalid blueprints, a crash, a verification mismatch), a
`"status": "failed"` document with the reason, and the emulator stops; when the kept mesh stops,
the file goes.

`mesh local creds` may run before the kept mesh has even written the file (the README's
`mesh up --local --keep & eval "$(mesh local creds ...)"`), so `wait_for_state` waits, within a
bound: for a mesh that is starting (its process alive) up to `wait` seconds; for a file that is
missing, stale (its server gone) or failed before the wait began, a short grace
(`GRACE_SECONDS`), in case a new `mesh up` is about to replace it; then a clear error. A failure
written while it waits is reported at once.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.errors import MeshError

STATE_ENV = "MESH_LOCAL_STATE"
STARTING, READY, FAILED = "starting", "ready", "failed"
GRACE_SECONDS = 20.0  # for a `mesh up --local --keep &` started just before, to write its file
POLL_SECONDS = 0.5


class NoSandbox(MeshError):
    """No kept local mesh answers (never started, stopped, failed, or its state file is gone)."""


class StillStarting(NoSandbox):
    """The kept mesh's process is alive and has not finished deploying and verifying."""


def state_path() -> Path:
    """Where the kept mesh's state lives: $MESH_LOCAL_STATE, else the user's state directory
    ($XDG_STATE_HOME or ~/.local/state)/mesh/local.json."""
    if explicit := os.environ.get(STATE_ENV):
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "mesh" / "local.json"


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace the state file atomically (a reader sees the old or the new one), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(state, f, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _started_now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def mark_starting(path: Path | None = None) -> Path:
    """`mesh up --local --keep` has begun: the file says so, with this process's pid."""
    path = path or state_path()
    write_state(path, {"status": STARTING, "pid": os.getpid(), "started": _started_now()})
    return path


def mark_failed(path: Path, reason: str) -> None:
    """The mesh will not be kept: the file says why (only when it is still this process's)."""
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        current = {}
    if current.get("pid") not in (None, os.getpid()):
        return  # another `mesh up --keep` has replaced it
    write_state(path, {"status": FAILED, "pid": os.getpid(), "reason": reason})


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True


def read_state(path: Path | None = None) -> dict[str, Any]:
    """The ready kept mesh's state; `StillStarting` while it starts, `NoSandbox` when there is
    none, it failed, or its server does not answer."""
    import urllib.error
    import urllib.request

    path = path or state_path()
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        status = state.get("status", READY)
    except FileNotFoundError:
        raise NoSandbox(
            f"no local mesh is kept ({path} does not exist): run `mesh up --local --keep`"
        ) from None
    except (OSError, ValueError, AttributeError) as exc:
        raise NoSandbox(f"cannot read the local mesh's state {path}: {exc}") from None
    if status == FAILED:
        raise NoSandbox(
            f"the local mesh was not kept: {state.get('reason', 'it failed')} (see the output "
            "of `mesh up --local --keep`)"
        )
    if status == STARTING:
        if _alive(state.get("pid")):
            raise StillStarting(
                f"the local mesh (`mesh up --local --keep`, pid {state.get('pid')}) is still "
                "deploying and verifying"
            )
        raise NoSandbox(
            f"the local mesh that was starting (pid {state.get('pid')}) is gone before it was "
            "ready: run `mesh up --local --keep` again"
        )
    try:
        with urllib.request.urlopen(f"{state['endpoint']}/moto-api/", timeout=5):
            pass
    except urllib.error.HTTPError:
        pass  # it answers
    except (urllib.error.URLError, OSError, KeyError, TypeError):
        raise NoSandbox(
            f"the local mesh at {state.get('endpoint')} does not answer (stopped?): run "
            "`mesh up --local --keep` again"
        ) from None
    return state


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def wait_for_state(
    wait: float,
    path: Path | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """`read_state`, waiting up to `wait` seconds for a mesh that is starting (see the module's
    docstring); the error says what it waited for."""
    path = path or state_path()
    began, began_wall = clock(), time.time()
    grace = min(wait, GRACE_SECONDS)
    while True:
        try:
            return read_state(path)
        except StillStarting as exc:
            if clock() - began >= wait:
                raise NoSandbox(
                    f"{exc} after {wait:g} s of waiting: wait longer (`--wait SECONDS`) or "
                    "see its output"
                ) from None
        except NoSandbox:
            written = _mtime(path)
            fresh_failure = written is not None and written >= began_wall
            if fresh_failure or clock() - began >= grace:
                raise
        sleep(POLL_SECONDS)


__all__ = [
    "FAILED",
    "READY",
    "STARTING",
    "NoSandbox",
    "StillStarting",
    "mark_failed",
    "mark_starting",
    "read_state",
    "state_path",
    "wait_for_state",
    "write_state",
]
