"""The CLI as a user meets it: `--version`, help texts, progress only on a terminal, a closed
stdout, and the benchmark runner's exit code."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import typer
from conftest import command_paths
from typer.testing import CliRunner

from infra.cli import app

ROOT = Path(__file__).resolve().parent.parent
MESH = [sys.executable, "-m", "infra.cli"]  # the console script's `main`, in this venv
WIDE = {"COLUMNS": "200", "TERMINAL_WIDTH": "200"}


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, **kwargs.pop("env", {})}
    return subprocess.run(
        [*MESH, *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        **kwargs,
    )


# --------------------------------------------------------------------------- version and help


def test_version_is_the_package_version():
    expected = importlib.metadata.version("mesh-provisioner")
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"mesh {expected}\n"
    # and from the console script's entry point, with no command needed
    done = run("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"mesh {expected}\n", "")


@pytest.mark.parametrize("path", command_paths(app), ids=lambda p: " ".join(p) or "mesh")
def test_help_shows_no_bool_metavar(path):
    result = CliRunner().invoke(app, [*path, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert "<bool>" not in result.output
    assert "--help" in result.output


@pytest.mark.parametrize("path", command_paths(app)[1:], ids=lambda p: " ".join(p))
def test_first_help_line_is_one_complete_sentence_listed_whole(path):
    """`mesh --help` (or the group's) lists a command by the first paragraph of its help: one
    sentence on one line, shown there whole at a width it fits in."""
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    first = command.help.split("\n\n")[0]
    assert "\n" not in first
    assert first.endswith(".") and first[0].isupper(), first
    assert ". " not in first.rstrip("."), f"more than one sentence: {first!r}"
    listing = CliRunner().invoke(app, [*path[:-1], "--help"], env=WIDE).output
    assert any(first in line for line in listing.splitlines()), listing


def test_no_help_paragraph_keeps_source_line_breaks():
    """Rich help keeps a docstring's line breaks; ours are reflowed so the terminal wraps them
    (a paragraph cut at 96 columns and then wrapped at 80 reads badly)."""
    result = CliRunner().invoke(app, ["diff", "--help"], env=WIDE)
    text = " ".join(result.output.replace("│", " ").split())  # the panel's own wrapping undone
    assert "or a change to review (CI requires a reviewer), 1 when the change is unsafe" in text
    # a docstring's line breaks would show as short lines inside the panel
    assert "reviewer), 1 when\n" not in result.output


# ------------------------------------------------------------------------- progress on a tty


@pytest.fixture(scope="module")
def large_mesh(tmp_path_factory) -> tuple[Path, Path]:
    """BASE, 24 domains (PROGRESS_MIN_DOMAINS is 20), and HEAD, a copy of it."""
    from bench.meshgen import generate
    from infra.cli.common import PROGRESS_MIN_DOMAINS

    base = tmp_path_factory.mktemp("large") / "base"
    generate(base, 24, 2, 2, today=dt.date(2026, 11, 1))
    assert len(list(base.glob("*.yaml"))) >= PROGRESS_MIN_DOMAINS
    head = base.parent / "head"
    shutil.copytree(base, head)
    return base, head


def on_terminal(*args: str) -> tuple[int, str, str]:
    """Run mesh with stderr on a pseudo-terminal and stdout on a pipe: (exit code, stdout, what
    the terminal got)."""
    import pty

    controller, terminal = pty.openpty()
    received: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal side is closed
                return
            if not chunk:
                return
            received.append(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    try:
        done = subprocess.run(
            [*MESH, *args],
            check=False,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=terminal,
            stdin=subprocess.DEVNULL,
            env=env,
            timeout=600,
        )
    finally:
        os.close(terminal)
        reader.join(timeout=30)
        os.close(controller)
    return done.returncode, done.stdout.decode(), b"".join(received).decode(errors="replace")


@pytest.mark.parametrize(
    "command, steps",
    [
        (["plan", "{base}", "--format", "json"], ["run the Pulumi program", "validate"]),
        (["audit", "{base}", "--out", "{out}"], ["lint every policy", "effective access"]),
        (["diff", "{base}", "{head}", "--format", "json"], ["load BASE", "compare access"]),
    ],
    ids=lambda v: v[0] if isinstance(v, list) and v and v[0] in ("plan", "audit", "diff") else "",
)
def test_progress_of_a_large_mesh_on_a_terminal_and_never_elsewhere(
    large_mesh, tmp_path, command, steps
):
    base, head = large_mesh
    args = [a.format(base=base, head=head, out=tmp_path / "out") for a in command]
    code, stdout, terminal = on_terminal(*args)
    piped = run(*args)
    assert code == piped.returncode
    assert all(step in terminal for step in steps), terminal
    assert piped.stderr == ""  # not a terminal: silent
    if "json" in args:  # stdout is the same document, progress or not
        assert stdout == piped.stdout
        json.loads(stdout)


def test_no_progress_for_a_small_mesh_on_a_terminal():
    code, stdout, terminal = on_terminal("plan", "--format", "json")
    assert code == 0
    json.loads(stdout)
    assert terminal == ""


# ------------------------------------------------------------------------------ closed stdout


@pytest.mark.parametrize(
    "args, code",
    [
        (["plan"], 0),
        (["plan", "--format", "json"], 0),
        (["validate", "--format", "json"], 0),
        (["validate", "tests/fixtures/validate/many_errors"], 1),
        (["policies"], 0),
        (["schema"], 0),
        (["--help"], 0),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else str(v),
)
def test_a_closed_stdout_is_quiet_and_keeps_the_exit_code(args, code):
    """The reader is gone before the first byte: every write hits a closed pipe. No traceback,
    no "Exception ignored", no BrokenPipeError; the exit code is the command's own."""
    process = subprocess.Popen(
        [*MESH, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=600) == code
    assert stderr == "" or "BrokenPipe" not in stderr and "Traceback" not in stderr, stderr
    if code == 0:
        assert stderr == ""


@pytest.mark.parametrize(
    "pipeline",
    ["plan | head -1", "plan --format json | head -c1", "validate --format json | head -c1"],
)
def test_a_shell_pipeline_into_head_exits_0(pipeline):
    command, reader = pipeline.split(" | ")
    mesh = " ".join(MESH)
    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {mesh} {command} | {reader}"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout


# ------------------------------------------------------------------------------ bench/run.py


def test_bench_run_exits_non_zero_when_a_benchmark_fails(tmp_path, monkeypatch, capsys):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import run as bench_run
    finally:
        sys.path.remove(str(ROOT / "bench"))
    (tmp_path / "ok.py").write_text("print('fine')\n")
    (tmp_path / "fails.py").write_text("raise SystemExit(3)\n")
    monkeypatch.setattr(bench_run, "BENCH", tmp_path)
    monkeypatch.setattr(bench_run, "BENCHMARKS", [("ok", "ok.py", [], [])])
    assert bench_run.main([]) == 0
    monkeypatch.setattr(
        bench_run,
        "BENCHMARKS",
        [("ok", "ok.py", [], []), ("bad", "fails.py", [], []), ("gone", "missing.py", [], [])],
    )
    assert bench_run.main(["--quick"]) == 1
    assert (
        "benchmarks that failed or missed a goal: fails.py, missing.py" in capsys.readouterr().out
    )


def test_bench_commands_in_the_readme_work_as_written():
    """Every bench script the README names exists and starts from the repository root as the
    README runs it (`.venv/bin/python bench/X.py`): `--help` says what it measures, exit 0."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Benchmarks")[1].split("\n## ")[0]
    named = set(re.findall(r"`(?:[.\w/]*python )?(?:bench/)?(\w+\.py)", section))
    assert len(named) >= 9, named
    commands = re.findall(r"`(\.venv/bin/python bench/\w+\.py)[^`]*`", readme)
    assert "bench/run.py" in " ".join(commands)
    assert not re.search(r"(?<![/\w])python bench/", readme), "a command that needs the venv active"
    for script in sorted(named):
        assert (ROOT / "bench" / script).is_file(), script
        done = subprocess.run(
            [sys.executable, f"bench/{script}", "--help"],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (script, done.stderr[-2000:])
        assert len(done.stdout) > 100, script
    # sizes that are not numbers are a usage error, not a traceback
    done = subprocess.run(
        [sys.executable, "bench/plan_bench.py", "ten"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "usage:" in done.stderr and "Traceback" not in done.stderr
