"""The kept mesh's life as `mesh local creds` sees it (infra/engines/sandbox_state.py): a mesh
that is starting is waited for, within a bound; one that failed its own verification is not
kept and says so; a missing or stale state file is an error after a short grace. The README's
`mesh up --local --keep & eval "$(mesh local creds ...)"` is run as written in
tests/test_local_sandbox.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import SINGLE, TODAY
from typer.testing import CliRunner

from infra.cli import app
from infra.engines import sandbox_state, verify
from infra.engines.sandbox_state import NoSandbox, wait_for_state


class FakeClock:
    """time.monotonic and time.sleep for `wait_for_state`: sleeping moves the clock; `on_sleep`
    may change the state file as another process would."""

    def __init__(self, on_sleep=None) -> None:
        self.now = 0.0
        self.slept = 0
        self.on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += 1
        if self.on_sleep:
            self.on_sleep(self.now)


def _wait(path, wait: float, fake: FakeClock):
    return wait_for_state(wait, path, clock=fake.clock, sleep=fake.sleep)


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


def test_no_state_file_is_an_error_after_the_grace(tmp_path):
    fake = FakeClock()
    with pytest.raises(NoSandbox, match=r"no local mesh is kept \(.*local.json does not exist\)"):
        _wait(tmp_path / "local.json", 300, fake)
    assert fake.now == sandbox_state.GRACE_SECONDS  # not the whole 300 s
    fake = FakeClock()
    with pytest.raises(NoSandbox, match="no local mesh is kept"):
        _wait(tmp_path / "local.json", 0, fake)
    assert fake.slept == 0  # --wait 0: at once


def test_a_starting_mesh_is_waited_for_until_it_is_ready(tmp_path):
    path = tmp_path / "local.json"
    sandbox_state.mark_starting(path)  # this process: alive
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    ready = {"status": "ready", "endpoint": "http://127.0.0.1:1", "roles": {}}

    def becomes_ready(now: float) -> None:
        if now >= 30:
            sandbox_state.write_state(path, ready)

    fake = FakeClock(becomes_ready)
    # ready, but nothing answers at that endpoint: read_state's probe of the server fails
    with pytest.raises(NoSandbox, match=r"the local mesh at http://127.0.0.1:1 does not answer"):
        _wait(path, 300, fake)
    assert 30 <= fake.now <= 30 + sandbox_state.GRACE_SECONDS + 1  # waited for it, then grace


def test_a_mesh_still_starting_when_the_wait_ends_is_a_clear_error(tmp_path):
    path = tmp_path / "local.json"
    sandbox_state.mark_starting(path)
    fake = FakeClock()
    with pytest.raises(NoSandbox) as raised:
        _wait(path, 45, fake)
    assert fake.now == 45
    assert str(raised.value) == (
        f"the local mesh (`mesh up --local --keep`, pid {os.getpid()}) is still deploying and "
        "verifying after 45 s of waiting: wait longer (`--wait SECONDS`) or see its output"
    )


def test_a_start_whose_process_is_gone_is_an_error_after_the_grace(tmp_path):
    path = tmp_path / "local.json"
    sandbox_state.write_state(path, {"status": "starting", "pid": _dead_pid()})
    fake = FakeClock()
    with pytest.raises(
        NoSandbox, match=r"that was starting \(pid \d+\) is gone before it was ready"
    ):
        _wait(path, 300, fake)
    assert fake.now <= sandbox_state.GRACE_SECONDS


def test_a_failure_written_while_waiting_is_reported_at_once(tmp_path):
    path = tmp_path / "local.json"
    sandbox_state.mark_starting(path)

    def fails(now: float) -> None:
        if now >= 5:
            sandbox_state.mark_failed(path, "it failed its verification (1 access cell(s) ...)")

    fake = FakeClock(fails)
    with pytest.raises(NoSandbox) as raised:
        _wait(path, 300, fake)
    assert fake.now == 5  # no grace: this is the mesh it waited for
    assert str(raised.value) == (
        "the local mesh was not kept: it failed its verification (1 access cell(s) ...) (see "
        "the output of `mesh up --local --keep`)"
    )


def test_mark_failed_leaves_another_processs_state_alone(tmp_path):
    path = tmp_path / "local.json"
    other = {"status": "starting", "pid": _dead_pid()}
    sandbox_state.write_state(path, other)
    sandbox_state.mark_failed(path, "it was stopped before it was ready")
    assert json.loads(path.read_text()) == other


# ------------------------------------------------------------------ mesh up --local --keep


def _invoke(*args: str) -> tuple[int, str, str]:
    done = CliRunner().invoke(app, list(args), env={"MESH_TODAY": TODAY.isoformat()})
    return done.exit_code, done.stdout, done.stderr


def test_keep_does_not_keep_a_mesh_that_failed_its_verification(tmp_path, monkeypatch):
    """A verification that fails (here: the access model, as the verifier reads it, gives
    sales' producer nothing, and the emulator lets it read, list and write its three
    products): exit 1, NOT KEPT
    on stderr, the state file says why, and `mesh local creds` says so at once."""
    state = tmp_path / "local.json"
    monkeypatch.setenv("MESH_LOCAL_STATE", str(state))
    declared = verify.expected_s3
    monkeypatch.setattr(
        verify,
        "expected_s3",
        lambda model: {k: v for k, v in declared(model).items() if k[0] != "sales:producer"},
    )
    code, out, err = _invoke("up", "--local", "--keep", str(SINGLE))
    assert code == 1
    assert (
        "MISMATCH sales:producer on sales.orders: emulator allowed RLW, access model says -" in out
    )
    assert "with IAM enforcement on" not in out  # no sandbox was offered
    assert "NOT KEPT: it failed its verification (3 access cell(s) and 0 read-back check(s) " in err
    assert json.loads(state.read_text()) == {
        "status": "failed",
        "pid": os.getpid(),
        "reason": "it failed its verification (3 access cell(s) and 0 read-back check(s) "
        "differ from the declared mesh)",
    }
    code, out, err = _invoke("local", "creds", "sales:producer")  # --wait 300: not waited
    assert code == 1
    assert out == "false  # mesh local creds failed: no credentials (the error is on stderr)\n"
    assert "error: the local mesh was not kept: it failed its verification" in err


def test_keep_with_invalid_blueprints_says_why_it_was_not_kept(tmp_path, monkeypatch):
    state = tmp_path / "local.json"
    monkeypatch.setenv("MESH_LOCAL_STATE", str(state))
    broken = tmp_path / "blueprints"
    broken.mkdir()
    (broken / "sales.yaml").write_text("domain: [\n")
    code, _, _ = _invoke("up", "--local", "--keep", str(broken))
    assert code == 1
    assert json.loads(state.read_text())["reason"] == "the blueprints are not valid (mesh validate)"
    code, out, err = _invoke("local", "creds", "sales:producer", "--format", "json")
    assert code == 1 and out == ""  # json (credential_process): the exit code says it
    assert "the local mesh was not kept: the blueprints are not valid" in err


def test_a_second_keep_does_not_take_the_first_ones_state(tmp_path, monkeypatch):
    """While a kept mesh answers (here: an HTTP server at its endpoint) or is starting, a second
    `mesh up --local --keep` with the same state file is refused before it starts."""
    import http.server
    import threading

    state = tmp_path / "local.json"
    monkeypatch.setenv("MESH_LOCAL_STATE", str(state))
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}"
        running = {"status": "ready", "endpoint": endpoint, "pid": 4242}
        sandbox_state.write_state(state, running)
        code, _, err = _invoke("up", "--local", "--keep", str(SINGLE))
        assert code == 2
        assert f"a kept local mesh is running at {endpoint} (pid 4242)" in err
        assert "MESH_LOCAL_STATE=" in err
        assert json.loads(state.read_text()) == running  # untouched
    finally:
        server.shutdown()
    sandbox_state.mark_starting(state)
    code, _, err = _invoke("up", "--local", "--keep", str(SINGLE))
    assert code == 2 and "a kept local mesh is starting" in err
