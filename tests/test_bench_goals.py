"""bench/run.py's goals table: each benchmark states its figures against their goals as GOAL
lines (`bench.timing.goal`), and the runner collects them, prints the table and fails on a miss."""

from __future__ import annotations

import json
from pathlib import Path

from bench import run as bench_run
from bench.timing import goal, read_goal

ROOT = Path(__file__).resolve().parent.parent


def test_a_goal_line_round_trips(capsys):
    assert goal("PR check ÷ floor", 1.5, 2.0, detail="min of 5") is True
    assert goal("audit RSS", 0.7, 0.6, "GiB") is False
    lines = capsys.readouterr().out.splitlines()
    assert [read_goal(line) for line in lines] == [
        {
            "figure": "PR check ÷ floor",
            "measured": 1.5,
            "goal": 2.0,
            "unit": "x",
            "met": True,
            "detail": "min of 5",
        },
        {
            "figure": "audit RSS",
            "measured": 0.7,
            "goal": 0.6,
            "unit": "GiB",
            "met": False,
            "detail": "",
        },
    ]
    assert read_goal("GOAL not json") is None
    assert read_goal('GOAL {"figure": "no goal"}') is None
    assert read_goal("plain output") is None


def _script(directory: Path, name: str, *goals: tuple, code: int = 0) -> None:
    lines = ["from bench.timing import goal", "print('a table line')"]
    lines += [f"goal({g[0]!r}, {g[1]!r}, {g[2]!r}, {g[3]!r})" for g in goals]
    lines.append(f"raise SystemExit({code})")
    (directory / name).write_text(
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + "\n".join(lines) + "\n"
    )


def test_the_runner_prints_every_goal_and_fails_on_a_miss(tmp_path, monkeypatch, capsys):
    _script(tmp_path, "fast.py", ("PR check, 200 products ÷ floor", 1.8, 2.0, "x"))
    _script(tmp_path, "slow.py", ("max RSS of mesh audit", 0.9, 0.6, "GiB"))
    monkeypatch.setattr(bench_run, "BENCH", tmp_path)
    monkeypatch.setattr(bench_run, "BENCHMARKS", [("fast", "fast.py", [], [])])
    assert bench_run.main([]) == 0
    out = capsys.readouterr().out
    assert "a table line" in out and "GOAL {" not in out  # goal lines go to the table
    table = out.split("=== goals ===")[1].splitlines()
    assert table[1].split() == ["figure", "measured", "goal", "met?", "how"]
    assert "PR check, 200 products ÷ floor  1.8x" in table[2] and " <= 2x " in table[2]
    assert " yes " in table[2]

    monkeypatch.setattr(
        bench_run, "BENCHMARKS", [("fast", "fast.py", [], []), ("slow", "slow.py", [], [])]
    )
    assert bench_run.main(["--quick"]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("max RSS of mesh audit  "))
    assert "0.9 GiB" in row and "<= 0.6 GiB" in row and " NO " in row
    assert "benchmarks that failed or missed a goal: slow.py" in out
    assert "goals missed: max RSS of mesh audit" in out


def test_the_benchmarks_run_with_the_bytecode_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.delenv("PYTHONPYCACHEPREFIX", raising=False)
    env = bench_run.bench_env(str(tmp_path))
    assert "PYTHONDONTWRITEBYTECODE" not in env
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path)
    assert json.dumps(env)  # plain strings, for subprocess
