"""Random and mutated blueprints: `load_mesh` and `mesh validate` report problems, never crash.

Seeds are the sample mesh's files. Mutations work on two levels: on the decoded data (delete a
key, change a value's type, rename a key, duplicate a list item: valid YAML, invalid blueprints)
and on the bytes (junk bytes, random unicode, duplicated or dropped lines, truncation, YAML
punctuation): invalid YAML. Every example must give a list of well-formed problems, possibly
empty, and never an exception.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from conftest import SAMPLE, TODAY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.errors import CODES
from infra.model.report import Report

LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
SEEDS = {p.name: p.read_bytes() for p in sorted(SAMPLE.glob("*.yaml"))}
NAMES = sorted(SEEDS)
FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --------------------------------------------------------------------------- strategies

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))
    | st.sampled_from(["", "sales", "decimal(12,2)", "array<", "x" * 3000, "2027-02-30", "~"])
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=10,
)


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside `data` (dict keys and list indexes)."""
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out.extend(_paths(value, prefix + (key,)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out.extend(_paths(value, prefix + (i,)))
    return out


def _parent(data: Any, path: tuple) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def structural_mutants(draw) -> tuple[str, bytes]:
    """A sample blueprint with a few changes to its data, dumped back to YAML."""
    name = draw(st.sampled_from(NAMES))
    data = yaml.safe_load(SEEDS[name])
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, last = _parent(data, path), path[-1]
        op = draw(st.sampled_from(["delete", "retype", "rename", "duplicate", "stringify"]))
        if op == "delete":
            del parent[last]
        elif op == "retype":
            parent[last] = draw(_values)
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12)) or "x"] = parent.pop(last)
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(last, parent[last])
        elif op == "stringify":
            parent[last] = str(parent[last])
    text = yaml.safe_dump(data, allow_unicode=draw(st.booleans()), sort_keys=False)
    return name, text.encode("utf-8")


_junk = st.binary(min_size=1, max_size=16) | st.text(min_size=1, max_size=16).map(
    lambda t: t.encode("utf-8", "surrogatepass")
)
_punctuation = st.sampled_from(
    [b"&a ", b"*a", b"!!python/object:os.system ", b"!x ", b"{", b"}", b"[", b"]", b": ", b"- ",
     b"|", b">", b"%YAML 1.1\n", b"@", b"`", b"#", b'"', b"'", b"? ", b"<<: ", b"---\n", b"\t",
     b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\r", b"\x85", b"\\u0000"]
)  # fmt: skip


@st.composite
def textual_mutants(draw) -> tuple[str, bytes]:
    """A sample blueprint with a few byte-level edits: usually not YAML any more."""
    name = draw(st.sampled_from(NAMES))
    raw = SEEDS[name]
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "punct", "delete", "dupline", "dropline", "truncate"]))
        at = draw(st.integers(0, len(raw)))
        if op == "insert":
            raw = raw[:at] + draw(_junk) + raw[at:]
        elif op == "punct":
            raw = raw[:at] + draw(_punctuation) + raw[at:]
        elif op == "delete":
            raw = raw[:at] + raw[at + draw(st.integers(1, 40)) :]
        elif op in ("dupline", "dropline"):
            lines = raw.splitlines(keepends=True)
            if lines:
                i = draw(st.integers(0, len(lines) - 1))
                lines[i : i + 1] = [lines[i]] * (2 if op == "dupline" else 0)
                raw = b"".join(lines)
        else:
            raw = raw[:at]
    return name, raw


def _blueprint_keys() -> st.SearchStrategy[str]:
    known = ["domain", "description", "owner", "cost_center", "products", "policies",
             "exceptions", "name", "schema", "type", "pii", "consumers", "columns", "expires"]  # fmt: skip
    return st.sampled_from(known) | st.text(max_size=10)


@st.composite
def random_blueprints(draw) -> tuple[str, bytes]:
    """A random mapping with blueprint-ish keys, as YAML."""
    data = draw(st.dictionaries(_blueprint_keys(), _values, max_size=8))
    if draw(st.booleans()):
        data["domain"] = draw(st.sampled_from(["sales", "finance", "Sales", "x", ""]))
    return draw(st.sampled_from(NAMES)), yaml.safe_dump(data, allow_unicode=True).encode()


mutants = structural_mutants() | textual_mutants() | random_blueprints()

# --------------------------------------------------------------------------- checks


def _write_mesh(directory: Path, name: str, raw: bytes) -> None:
    for other, content in SEEDS.items():
        (directory / other).write_bytes(raw if other == name else content)


def _check(result: Report, directory: Path, name: str, raw: bytes) -> None:
    assert isinstance(result.errors, list)
    assert isinstance(result.warnings, list)
    contents = {**SEEDS, name: raw}
    for problem in result.errors + result.warnings:
        assert problem.code in CODES, problem
        assert problem.message.strip(), problem
        assert Path(problem.file).parent == directory
        text = contents[Path(problem.file).name].decode("utf-8", "replace")
        n_lines = len(LINE_BREAK.split(text))  # libyaml's lines: \r and \x85 end lines too
        assert problem.line is None or 1 <= problem.line <= n_lines, problem
    if not result.errors:  # every domain's file (a name starting with _ is not a domain)
        assert len(result.mesh.blueprints) == len([n for n in NAMES if not n.startswith("_")])


@FUZZ
@given(mutants)
def test_load_mesh_never_raises(mutant):
    name, raw = mutant
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        _write_mesh(directory, name, raw)
        result = load_mesh(directory, today=TODAY)  # must not raise
        _check(result, directory, name, raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_as_a_blueprint(raw):
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "sales.yaml").write_bytes(raw)
        result = load_mesh(directory, today=TODAY)
        _check(result, directory, "sales.yaml", raw)


runner = CliRunner()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutants, st.sampled_from(["text", "json", "github"]))
def test_cli_never_shows_a_traceback(mutant, fmt):
    name, raw = mutant
    with tempfile.TemporaryDirectory() as tmp:
        _write_mesh(Path(tmp), name, raw)
        result = runner.invoke(app, ["validate", tmp, "--format", fmt])
    output = result.output + (result.stderr or "")
    assert "Traceback" not in output
    assert result.exit_code in (0, 1), (result.exit_code, output, result.exception)
    if fmt == "json":
        doc = json.loads(result.stdout)
        assert set(doc) == {"ok", "errors", "warnings"}
        assert doc["ok"] is (result.exit_code == 0)
