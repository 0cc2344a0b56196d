"""Record every CLI output on every fixture tree and the sample mesh, or compare with a record.

    python bench/same_output.py record OUT_DIR      # before a refactoring
    python bench/same_output.py compare OUT_DIR     # after it: exit 1 on any difference

A refactoring must not change what `mesh` prints or writes: this runs, in process and with the
clock pinned (MESH_TODAY), `mesh validate` (text, json, github; with and without --base), `mesh
plan --format json`, `mesh audit` (every file it writes), `mesh diff` (text, json, markdown;
with and without --validate), `mesh policies` and `mesh schema` on the trees under
tests/fixtures/ and blueprints/, and stores stdout, stderr and the exit code of each. Paths are
relative to the repository, so two checkouts compare; the audit's `generated_at` and the
durations it prints are the only values normalised (they change with every run).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TODAY = "2026-11-25"
os.environ["MESH_TODAY"] = TODAY
os.environ.setdefault("MESH_PARALLEL_LOAD", "0")  # the same files on every machine load alike

# (BASE, HEAD) pairs compared with mesh diff and validate --base
PAIRS = [
    ("tests/fixtures/diff/base", "tests/fixtures/diff/head_pr"),
    ("tests/fixtures/diff/base", "tests/fixtures/diff/head_benign"),
    ("tests/fixtures/diff/head_pr", "tests/fixtures/diff/base"),
    ("tests/fixtures/validate/many_errors", "tests/fixtures/validate/many_errors"),
    ("tests/fixtures/program/rename_before", "tests/fixtures/program/renamed"),
    ("tests/fixtures/program/access", "tests/fixtures/program/decommission"),
    ("tests/fixtures/lifecycle/base", "tests/fixtures/lifecycle/base"),
    ("blueprints", "blueprints"),
]
AUDITED = ["blueprints", "tests/fixtures/program/access", "tests/fixtures/lifecycle/base"]
_VOLATILE = [
    (re.compile(r'"generated_at": "[^"]*"'), '"generated_at": "-"'),
    (re.compile(r"generated_at[^\n<]*\d{4}-\d\d-\d\dT[\d:]+Z"), "generated_at -"),
    (re.compile(r"Generated \d{4}-\d\d-\d\dT[\d:]+Z"), "Generated -"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"), "<timestamp>"),
    (re.compile(r"in \d+\.\d\ds"), "in <t>s"),
    (re.compile(r"\b\d+\.\d+ ?s\b"), "<t>s"),
    (re.compile(r"\(report\.html \d+ bytes\)"), "(report.html <n> bytes)"),
]


def trees() -> list[str]:
    """Every directory holding blueprint files under tests/fixtures, and blueprints/."""
    found = {"blueprints"}
    for path in (ROOT / "tests/fixtures").rglob("*.y*ml"):
        if "odcs" in path.parts:  # contracts, not blueprints
            continue
        found.add(str(path.parent.relative_to(ROOT)))
    return sorted(found)


def normalise(text: str) -> str:
    for pattern, repl in _VOLATILE:
        text = pattern.sub(repl, text)
    return text


def run(args: list[str]) -> dict:
    from typer.testing import CliRunner

    from infra.cli import app

    result = CliRunner().invoke(app, args, env={"MESH_TODAY": TODAY})
    return {
        "exit": result.exit_code,
        "stdout": normalise(result.stdout),
        "stderr": normalise(result.stderr),
    }


def commands() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for tree in trees():
        for fmt in ("text", "json", "github"):
            out[f"validate {tree} {fmt}"] = ["validate", tree, "--format", fmt]
        out[f"plan {tree} json"] = ["plan", tree, "--format", "json"]
    for base, head in PAIRS:
        for fmt in ("text", "json", "github"):
            out[f"validate {head} --base {base} {fmt}"] = [
                "validate",
                head,
                "--base",
                base,
                "--format",
                fmt,
            ]
        for fmt in ("text", "json", "markdown"):
            out[f"diff {base} {head} {fmt}"] = ["diff", base, head, "--format", fmt]
            out[f"diff {base} {head} {fmt} --validate"] = [
                "diff",
                base,
                head,
                "--format",
                fmt,
                "--validate",
            ]
    for fmt in ("text", "json"):
        out[f"policies {fmt}"] = ["policies", "--format", fmt]
    out["schema"] = ["schema"]
    return out


def record() -> dict[str, dict]:
    os.chdir(ROOT)
    outputs = {name: run(args) for name, args in commands().items()}
    for tree in AUDITED:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "audit"
            result = run(["audit", tree, "--out", str(out)])
            result["stdout"] = result["stdout"].replace(str(out), "OUT")
            outputs[f"audit {tree}"] = result
            for path in sorted(p for p in out.rglob("*") if p.is_file()):
                text = normalise(path.read_text(encoding="utf-8"))
                outputs[f"audit {tree} file {path.relative_to(out)}"] = {"text": text}
    return outputs


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("record", "compare"):
        print(__doc__)
        return 2
    mode, directory = argv[0], Path(argv[1])
    outputs = record()
    if mode == "record":
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        (directory / "outputs.json").write_text(json.dumps(outputs, indent=1, sort_keys=True))
        digest = hashlib.sha256(json.dumps(outputs, sort_keys=True).encode()).hexdigest()[:16]
        print(f"recorded {len(outputs)} outputs to {directory} (sha256 {digest})")
        return 0
    before = json.loads((directory / "outputs.json").read_text())
    differ = sorted(k for k in set(before) | set(outputs) if before.get(k) != outputs.get(k))
    for name in differ[:40]:
        print(f"DIFFERS: {name}")
        a, b = before.get(name) or {}, outputs.get(name) or {}
        for part in sorted(set(a) | set(b)):
            if a.get(part) != b.get(part):
                print(f"  {part}: before {str(a.get(part))[:300]!r}")
                print(f"  {' ' * len(part)}  after  {str(b.get(part))[:300]!r}")
    print(f"{len(outputs)} outputs, {len(differ)} differ from {directory}")
    return 1 if differ else 0


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        sys.exit(print(__doc__))
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
