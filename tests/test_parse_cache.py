"""The parse cache of the PR check (`infra.blueprints.parse_cache`, `--cache-dir`,
`MESH_CACHE_DIR`): a warm run gives byte for byte the output and exit code of a cold run on every
fixture tree, parse_count only what is not in the cache, and ignores any entry it cannot trust
(damaged, foreign, stale)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DIFF_PAIRS, FIXTURES, SAMPLE, TODAY
from typer.testing import CliRunner

from infra.blueprints import parse_cache
from infra.blueprints.parse_cache import ParseCache
from infra.cli import app
from infra.model.spec import APPROVER_NAMES


def _case_dirs() -> list[Path]:
    """Every fixture directory holding YAML (valid and invalid trees, hostile input), and the
    sample mesh."""
    return sorted({p.parent for p in FIXTURES.rglob("*.y*ml")} | {SAMPLE})


def _run(*args, cache: Path | None = None) -> tuple[int, str, str]:
    """A `mesh` command in process: (exit code, stdout, stderr). `cache`: given through
    MESH_CACHE_DIR; None: neither the variable nor the option."""
    env = {"MESH_TODAY": TODAY.isoformat(), "MESH_CACHE_DIR": str(cache) if cache else None}
    done = CliRunner().invoke(app, [str(a) for a in args], env=env)
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    return done.exit_code, done.stdout, done.stderr


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / parse_cache.SUBDIR).glob("*.json"))


# --------------------------------------------------------------------------- cold == warm


@pytest.mark.parametrize("tree", _case_dirs(), ids=lambda p: str(p.relative_to(p.parents[1])))
def test_validate_warm_gives_the_cold_output_on_every_fixture_tree(tmp_path, parse_count, tree):
    cache = tmp_path / "cache"
    commands = [["validate", tree], ["validate", tree, "--format", "json"]]
    cold = [_run(*c) for c in commands]
    assert not cache.exists()
    written = [_run(*c, cache=cache) for c in commands]  # cold, storing
    parse_count.clear()
    warm = [_run(*c, cache=cache) for c in commands]
    assert written == cold
    assert warm == cold
    # every file that was parsed is in the cache: the warm runs parsed nothing
    assert parse_count == []
    # entries written by a run on another checkout of the same files (CI: BASE's for HEAD):
    # the problems name this tree's files
    moved = tmp_path / "moved"
    _run(
        "validate", shutil.copytree(tree, tmp_path / "copy" / tree.name, symlinks=True), cache=moved
    )
    parse_count.clear()
    assert [_run(*c, cache=moved) for c in commands] == cold
    assert parse_count == []


@pytest.mark.parametrize("base,head", DIFF_PAIRS)
@pytest.mark.parametrize("validate", [[], ["--validate"]], ids=["diff", "diff--validate"])
def test_diff_warm_gives_the_cold_output(tmp_path, parse_count, base, head, validate):
    cache = tmp_path / "cache"
    base, head = FIXTURES / base, FIXTURES / head
    commands = [
        ["diff", base, head, *validate, "--format", fmt] for fmt in ("text", "json", "markdown")
    ]
    cold = [_run(*c) for c in commands]
    written = [_run(*c, cache=cache) for c in commands]
    parse_count.clear()
    warm = [_run(*c, cache=cache) for c in commands]
    assert written == cold
    assert warm == cold
    assert parse_count == []
    assert _entries(cache)


# --------------------------------------------------------------------------- only what changed


def _trees(tmp_path: Path) -> tuple[Path, Path]:
    base = shutil.copytree(SAMPLE, tmp_path / "base")
    head = shutil.copytree(SAMPLE, tmp_path / "head")
    sales = head / "sales.yaml"
    sales.write_text(sales.read_text().replace("Orders", "Orders (reworded)", 1))
    return base, head


def test_a_warm_pr_check_parses_only_the_changed_file(tmp_path, parse_count):
    base, head = _trees(tmp_path)
    cache = tmp_path / "cache"
    cold = _run("diff", base, head, "--validate", "--format", "json")
    assert len(parse_count) == 6  # five in BASE, the changed one in HEAD (SharedFiles)
    _run("validate", base, "--cache-dir", cache)  # what the base branch's run left behind
    parse_count.clear()
    warm = _run("diff", base, head, "--validate", "--format", "json", "--cache-dir", cache)
    assert parse_count == [str(head / "sales.yaml")]
    assert warm == cold
    parse_count.clear()
    assert _run("diff", base, head, "--validate", "--format", "json", "--cache-dir", cache) == cold
    assert parse_count == []  # the changed file was stored by the run before


# --------------------------------------------------------------------------- never trusted blindly


def _entry_of(cache: Path, path: Path, context: dict | None = APPROVER_NAMES) -> Path:
    """Where the cache keeps `path` (the sample has a platform file: approver names)."""
    return ParseCache(cache).path(path.name, path.read_text(encoding="utf-8"), context)


def _rewrite(entry: Path, header_change: dict | None = None, body_change=None) -> None:
    """Rewrite an entry, changing its header and/or body, with a correct checksum: only the
    key check (or the decoding) can refuse it."""
    head, _, body = entry.read_bytes().partition(b"\n")
    header = json.loads(head)
    doc = _body(body)
    if body_change is not None:
        body_change(doc)
    header.update(header_change or {})
    body = _unbody(doc)
    header["body"] = hashlib.sha256(body).hexdigest()
    entry.write_bytes(json.dumps(header).encode() + b"\n" + body)


def _body(body: bytes) -> dict:
    """An entry's body (a line of what the file's load found, a line of its data) as one
    document: the first line's keys and `data`."""
    meta, _, data = body.partition(b"\n")
    return {**json.loads(meta), "data": json.loads(data)}


def _unbody(doc: dict) -> bytes:
    doc = dict(doc)
    data = doc.pop("data")
    return json.dumps(doc).encode() + b"\n" + json.dumps(data).encode()


def _cached_tree(tmp_path: Path) -> tuple[Path, Path, tuple]:
    tree = shutil.copytree(SAMPLE, tmp_path / "tree")
    cache = tmp_path / "cache"
    cold = _run("validate", tree, "--format", "json")
    assert _run("validate", tree, "--format", "json", "--cache-dir", cache) == cold
    assert len(_entries(cache)) == 5
    return tree, cache, cold


def _poison(doc: dict) -> None:
    """A change that would show in the output if the entry were believed: the file gets an
    error it does not have."""
    doc["problems"] = [[doc["display"], 1, "domain", "E010", "poisoned", "error"]]


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "not json",
        "body changed, checksum not",
        "foreign format",
        "foreign mesh version",
        "another file's key",
        "content hash of an older text",
        "lines do not decode",
        "a date that is not one",
        "problems of the wrong shape",
        "empty file",
    ],
)
def test_an_entry_that_cannot_be_trusted_is_ignored(tmp_path, parse_count, damage):
    tree, cache, cold = _cached_tree(tmp_path)
    sales = tree / "sales.yaml"
    entry = _entry_of(cache, sales)
    raw = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(raw[: len(raw) // 2])
    elif damage == "not json":
        entry.write_bytes(b"\x80\x81 not json\n\x00")
    elif damage == "body changed, checksum not":
        head, _, body = raw.partition(b"\n")
        doc = _body(body)
        _poison(doc)
        entry.write_bytes(head + b"\n" + _unbody(doc))
    elif damage == "foreign format":
        _rewrite(entry, {"format": parse_cache.FORMAT + 1}, _poison)
    elif damage == "foreign mesh version":
        _rewrite(entry, {"mesh": "0.0.1/another"}, _poison)
    elif damage == "another file's key":
        _rewrite(entry, {"name": "finance.yaml"}, _poison)
    elif damage == "content hash of an older text":
        old = hashlib.sha256(b"domain: sales\n").hexdigest()
        _rewrite(entry, {"sha256": old}, _poison)
    elif damage == "lines do not decode":
        _rewrite(entry, None, lambda doc: doc.update(lines="not base64 !"))
    elif damage == "a date that is not one":
        # (with problems: the data of an entry without any may be decoded only when used)
        _rewrite(entry, None, lambda doc: _poison(doc) or doc.update(dates=[[["domain"], "date"]]))
    elif damage == "problems of the wrong shape":
        _rewrite(entry, None, lambda doc: doc.update(problems=[["x", "1", "", "E010", "m", "!"]]))
    else:
        entry.write_bytes(b"")
    parse_count.clear()
    assert _run("validate", tree, "--format", "json", "--cache-dir", cache) == cold
    assert parse_count == [str(sales)]  # parsed again, the four others from the cache
    # and stored again, whole: the next run trusts it
    parse_count.clear()
    assert _run("validate", tree, "--format", "json", "--cache-dir", cache) == cold
    assert parse_count == []


def test_a_believed_entry_would_change_the_output(tmp_path, parse_count):
    """The damage above is visible: an entry rewritten with a correct checksum and key is
    read (the cache trusts its directory, not the data's meaning), so the checks that refuse the
    others are what keep them out."""
    tree, cache, cold = _cached_tree(tmp_path)
    _rewrite(_entry_of(cache, tree / "sales.yaml"), None, _poison)
    assert _run("validate", tree, "--format", "json", "--cache-dir", cache) != cold


def test_a_changed_file_misses_and_a_stale_entry_stays_unused(tmp_path, parse_count):
    tree, cache, _cold = _cached_tree(tmp_path)
    sales = tree / "sales.yaml"
    old_entry = _entry_of(cache, sales)
    sales.write_text(sales.read_text().replace("Orders", "Orders (reworded)", 1))
    cold = _run("validate", tree, "--format", "json")
    parse_count.clear()
    assert _run("validate", tree, "--format", "json", "--cache-dir", cache) == cold
    assert parse_count == [str(sales)]
    assert old_entry.exists() and _entry_of(cache, sales) != old_entry


# --------------------------------------------------------------------------- the option and the variable


def test_no_cache_unless_asked_and_the_option_wins_over_the_variable(tmp_path, monkeypatch):
    tree = shutil.copytree(SAMPLE, tmp_path / "tree")
    monkeypatch.chdir(tmp_path)
    cold = _run("validate", tree)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tree"]  # nothing written anywhere
    from_env, from_option = tmp_path / "env", tmp_path / "option"
    assert _run("validate", tree, cache=from_env) == cold
    assert len(_entries(from_env)) == 5
    shutil.rmtree(from_env)
    assert _run("validate", tree, "--cache-dir", from_option, cache=from_env) == cold
    assert len(_entries(from_option)) == 5 and not from_env.exists()


def test_a_cache_that_cannot_be_written_changes_nothing(tmp_path):
    tree = shutil.copytree(SAMPLE, tmp_path / "tree")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cold = _run("validate", tree, "--format", "json")
    assert _run("validate", tree, "--format", "json", "--cache-dir", blocker / "cache") == cold
    # a file given as the directory is a usage error, as for any directory option
    code, _out, err = _run("validate", tree, "--cache-dir", blocker)
    assert code == 2 and "Invalid value for '--cache-dir'" in err


def test_entries_are_json_written_whole(tmp_path):
    _tree, cache, _cold = _cached_tree(tmp_path)
    for entry in _entries(cache):
        head, _, body = entry.read_bytes().partition(b"\n")
        header = json.loads(head)
        assert header["format"] == parse_cache.FORMAT and header["name"].endswith(".yaml")
        assert hashlib.sha256(body).hexdigest() == header["body"]
        meta, _, data = body.partition(b"\n")
        keys = {"display", "dates", "lines", "problems", "checks"}
        assert set(json.loads(meta)) - {"model"} == keys
        assert isinstance(json.loads(data), dict)
    # no temporary file left behind (written beside the entry, then renamed over it)
    assert [p.name for p in (cache / parse_cache.SUBDIR).iterdir() if p.suffix != ".json"] == []
    assert not list((cache / parse_cache.SUBDIR).glob(".tmp-*"))


def test_a_value_json_cannot_give_back_is_not_stored(tmp_path, parse_count):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "sales.yaml").write_text("domain: sales\ndescription: .nan\n")
    cache = tmp_path / "cache"
    cold = _run("validate", tree, "--format", "json")
    assert _run("validate", tree, "--format", "json", "--cache-dir", cache) == cold
    assert not cache.exists() or _entries(cache) == []
    parse_count.clear()
    assert _run("validate", tree, "--format", "json", "--cache-dir", cache) == cold
    assert parse_count == [str(tree / "sales.yaml")]


def test_the_mesh_fingerprint_keys_the_entries(tmp_path, monkeypatch, parse_count):
    """Another mesh version (or a change to the loader or the models) misses every entry."""
    tree, cache, cold = _cached_tree(tmp_path)
    monkeypatch.setattr(parse_cache, "_fingerprint", lambda: "mesh 9.9.9")
    parse_count.clear()
    assert _run("validate", tree, "--format", "json", "--cache-dir", cache) == cold
    assert len(parse_count) == 5 and len(_entries(cache)) == 10


def test_the_counts_of_a_load_with_the_cache(tmp_path, parse_count):
    """What the library reports: hits, misses, entries ignored and written; the files a load
    took from the cache (`SharedFiles.cached`) are not counted as parsed."""
    from infra.blueprints.load import SharedFiles, load_mesh

    tree, cache_dir, _cold = _cached_tree(tmp_path)
    entry = _entry_of(cache_dir, tree / "sales.yaml")
    entry.write_bytes(entry.read_bytes()[:-1])  # damaged
    (tree / "finance.yaml").write_text((tree / "finance.yaml").read_text() + "# edited\n")
    cache = ParseCache(cache_dir)
    shared = SharedFiles(cache)
    parse_count.clear()
    report = load_mesh(tree, today=TODAY, shared=shared)
    assert not report.errors
    assert (cache.hits, cache.misses, cache.ignored, cache.written) == (3, 1, 1, 2)
    assert (shared.cached, shared.parsed) == (3, 2)
    assert sorted(Path(p).name for p in parse_count) == ["finance.yaml", "sales.yaml"]


def test_a_write_that_fails_midway_leaves_no_entry(tmp_path, monkeypatch):
    """The entry appears whole (renamed into place) or not at all; its temporary file goes."""
    tree = shutil.copytree(SAMPLE, tmp_path / "tree")
    cache = tmp_path / "cache"
    cold = _run("validate", tree, "--format", "json")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(parse_cache.os, "replace", crash)
    assert _run("validate", tree, "--format", "json", "--cache-dir", cache) == cold
    assert list((cache / parse_cache.SUBDIR).iterdir()) == []


def test_concurrent_runs_share_one_cache(tmp_path):
    """Three processes fill the same directory at once: every entry they leave is whole, and a
    run from it gives the cold output."""
    tree = shutil.copytree(SAMPLE, tmp_path / "tree")
    cache = tmp_path / "cache"
    env = {
        **os.environ,
        "MESH_TODAY": TODAY.isoformat(),
        "MESH_CACHE_DIR": str(cache),
    }
    command = [sys.executable, "-m", "infra.cli", "validate", str(tree), "--format", "json"]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = {run.communicate(timeout=300)[0] for run in runs}
    assert [run.returncode for run in runs] == [0, 0, 0]
    assert outputs == {_run("validate", tree, "--format", "json")[1]}
    assert len(_entries(cache)) == 5
    assert not list((cache / parse_cache.SUBDIR).glob(".tmp-*"))
    for entry in _entries(cache):
        head, _, body = entry.read_bytes().partition(b"\n")
        assert hashlib.sha256(body).hexdigest() == json.loads(head)["body"]


# --------------------------------------------------------------------------- what a warm load skips


def _counting(monkeypatch, module, name: str) -> list:
    """Calls of `module.name` (its arguments' first item), counted."""
    calls: list = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args[0] if args else None)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_a_warm_load_validates_the_entries_json_and_checks_no_file_again(tmp_path, monkeypatch):
    """A valid file from the cache is validated from the entry's data JSON (its plain data is
    not decoded: no problem is located in it) and its own checks (`file_problems`) come from the
    entry; only what reads the tree (E025/E029, expiry) runs. Output: the cold one."""
    from infra.blueprints import shared

    tree, cache, cold = _cached_tree(tmp_path)
    validated = _counting(monkeypatch, shared, "validate_data")
    checked = _counting(monkeypatch, shared, "file_problems")
    from_json = _counting(monkeypatch, shared, "_json_model")
    decoded = _counting(monkeypatch, parse_cache, "_decode_data")
    assert _run("validate", tree, "--format", "json", "--cache-dir", cache) == cold
    assert (validated, checked, len(from_json)) == ([], [], 5)
    # the sample's warnings are located in analytics.yaml and logistics.yaml (W002): those two
    # files' data is decoded, to find the lines
    assert len(decoded) == len({w["file"] for w in json.loads(cold[1])["warnings"]})


def test_an_entry_whose_json_validates_otherwise_is_validated_from_its_data(tmp_path, parse_count):
    """A date in a field of any type stays a date when the YAML is validated, and would be text
    if the entry's JSON were: such an entry is not marked for JSON validation (`model`), and a
    warm run validates its decoded data, as a parse does."""
    tree = shutil.copytree(FIXTURES / "odcs" / "mesh", tmp_path / "tree")
    shop = tree / "shop.yaml"
    text = shop.read_text()
    assert "metric: nullValues, mustBe: 0}" in text
    shop.write_text(
        text.replace("metric: nullValues, mustBe: 0}", "metric: nullValues, mustBe: 2026-01-01}")
    )
    cache = tmp_path / "cache"
    cold = _run("validate", tree, "--format", "json")
    assert cold[0] == 0
    assert _run("validate", tree, "--format", "json", "--cache-dir", cache) == cold
    entry = _entry_of(cache, shop, None)
    meta = json.loads(entry.read_bytes().split(b"\n")[1])
    assert "model" not in meta and meta["checks"] is not None
    others = [e for e in _entries(cache) if e != entry]
    assert others and all(json.loads(e.read_bytes().split(b"\n")[1])["model"] for e in others)
    parse_count.clear()
    assert _run("validate", tree, "--format", "json", "--cache-dir", cache) == cold
    assert parse_count == []


def test_a_believed_entrys_checks_would_change_the_output(tmp_path, parse_count):
    """The file's own checks are read from the entry (as its problems are): rewritten with a
    correct checksum, they show; of the wrong shape, the entry is ignored."""
    tree, cache, cold = _cached_tree(tmp_path)
    sales = _entry_of(cache, tree / "sales.yaml")
    raw = sales.read_bytes()
    row = [str(tree / "sales.yaml"), 1, "domain", "E023", "poisoned", "error"]
    _rewrite(sales, None, lambda doc: doc.update(checks=[row]))
    code, out, _err = _run("validate", tree, "--format", "json", "--cache-dir", cache)
    assert code == 1 and "poisoned" in out
    sales.write_bytes(raw)
    _rewrite(sales, None, lambda doc: doc.update(checks=[["x", "1"]]))
    parse_count.clear()
    assert _run("validate", tree, "--format", "json", "--cache-dir", cache) == cold
    assert parse_count == [str(tree / "sales.yaml")]


def test_mesh_diff_validate_loads_each_tree_once(tmp_path, monkeypatch):
    """BASE is read for the lifecycle checks and for the access diff: loaded once."""
    from infra.blueprints import load

    base, head = _trees(tmp_path)
    cold = _run("diff", base, head, "--validate", "--format", "json")
    loads = _counting(monkeypatch, load, "_load_mesh")
    assert _run("diff", base, head, "--validate", "--format", "json") == cold
    assert sorted(Path(d).name for d in loads) == ["base", "head"]
