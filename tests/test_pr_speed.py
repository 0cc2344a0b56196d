"""The PR check loads two trees (BASE and HEAD) in one process: `mesh diff` and `mesh validate
--base`. Files byte-identical in both are parsed and validated once (`infra.blueprints.load.SharedFiles`),
and their tree-level checks reused when both trees have the same domains on the same day. The
result must be exactly the result of loading each tree on its own: same errors and warnings
(code, file, line, path, message), same models, same line look-ups.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from conftest import DIFF_PAIRS, FIXTURES, SAMPLE, TODAY
from typer.testing import CliRunner

from infra.blueprints import parallel
from infra.blueprints.load import SharedFiles, load_mesh
from infra.cli import app

VALIDATE = FIXTURES / "validate"


def _case_dirs() -> list[Path]:
    """Every fixture directory holding blueprints: valid and invalid, every error code."""
    return sorted({p.parent for p in FIXTURES.rglob("*.y*ml")} | {SAMPLE})


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _summary(result) -> tuple:
    return (
        [p.as_json() for p in result.errors],
        [p.as_json() for p in result.warnings],
        result.mesh,
        result.mesh.all_domains,
    )


def _relocated(result, old: Path, new: Path) -> tuple:
    """`_summary` with the problems' paths under `old` moved to `new`."""
    errors, warnings, mesh, domains = _summary(result)

    def move(items):
        return [{**p, "file": p["file"].replace(str(old), str(new), 1)} for p in items]

    return move(errors), move(warnings), mesh, domains


@pytest.fixture
def serial(monkeypatch):
    monkeypatch.setattr(parallel, "_can_fork", lambda n_files: False)


# --------------------------------------------------------------------------- parsed once


def test_a_file_identical_in_both_trees_is_parsed_once(tmp_path, parse_count):
    base = _copy(SAMPLE, tmp_path / "base")
    head = _copy(SAMPLE, tmp_path / "head")
    shared = SharedFiles()
    load_mesh(base, today=TODAY, shared=shared)
    assert len(parse_count) == 5
    load_mesh(head, today=TODAY, shared=shared)
    assert len(parse_count) == 5  # nothing parsed again
    assert (shared.parsed, shared.reused) == (5, 5)
    assert shared.checked == 5  # same domains, same day: the tree-level checks are reused too


def test_a_file_that_differs_is_parsed_again(tmp_path, parse_count):
    base = _copy(SAMPLE, tmp_path / "base")
    head = _copy(SAMPLE, tmp_path / "head")
    sales = head / "sales.yaml"
    sales.write_text(sales.read_text().replace("Orders", "Orders (reworded)", 1))
    shared = SharedFiles()
    load_mesh(base, today=TODAY, shared=shared)
    load_mesh(head, today=TODAY, shared=shared)
    assert sorted(Path(p).relative_to(tmp_path).as_posix() for p in parse_count) == [
        "base/analytics.yaml",
        "base/finance.yaml",
        "base/logistics.yaml",
        "base/marketing.yaml",
        "base/sales.yaml",
        "head/sales.yaml",
    ]


def test_one_byte_of_difference_is_a_difference(tmp_path, parse_count):
    base = _copy(SAMPLE, tmp_path / "base")
    head = _copy(SAMPLE, tmp_path / "head")
    (head / "finance.yaml").write_bytes((base / "finance.yaml").read_bytes() + b"\n")
    shared = SharedFiles()
    load_mesh(base, today=TODAY, shared=shared)
    load_mesh(head, today=TODAY, shared=shared)
    assert [Path(p).name for p in parse_count[5:]] == ["finance.yaml"]


def test_the_same_text_under_another_name_is_parsed_again(tmp_path, parse_count):
    # the name is part of the key: sharing is about the same file in two trees
    base, head = tmp_path / "base", tmp_path / "head"
    base.mkdir()
    head.mkdir()
    text = (SAMPLE / "sales.yaml").read_text()
    (base / "sales.yaml").write_text(text)
    (head / "shop.yaml").write_text(text)
    shared = SharedFiles()
    load_mesh(base, today=TODAY, shared=shared)
    result = load_mesh(head, today=TODAY, shared=shared)
    assert len(parse_count) == 2
    assert [e.code for e in result.errors][:1] == ["E020"]


def test_modification_times_do_not_matter(tmp_path, parse_count):
    import os

    base = _copy(SAMPLE, tmp_path / "base")
    head = _copy(SAMPLE, tmp_path / "head")
    sales = head / "sales.yaml"
    changed = sales.read_text().replace("Orders", "Ordres", 1)
    sales.write_text(changed)
    stat = (base / "sales.yaml").stat()
    os.utime(sales, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same time: still new
    shared = SharedFiles()
    load_mesh(base, today=TODAY, shared=shared)
    load_mesh(head, today=TODAY, shared=shared)
    assert [Path(p).name for p in parse_count[5:]] == ["sales.yaml"]


# --------------------------------------------------------------------------- same result


@pytest.mark.parametrize("case", _case_dirs(), ids=lambda p: str(p.relative_to(p.parents[1])))
def test_sharing_gives_the_result_of_loading_alone(tmp_path, serial, case):
    """Each fixture tree twice (copies, so the paths differ): the second load, which reuses
    every file of the first, equals a load of its own, problem for problem."""
    first = _copy(case, tmp_path / "first")
    second = _copy(case, tmp_path / "second")
    alone = load_mesh(second, today=TODAY)
    shared = SharedFiles()
    load_mesh(first, today=TODAY, shared=shared)
    reused = load_mesh(second, today=TODAY, shared=shared)
    assert shared.reused == shared.parsed  # every file read was reused (unreadable: E001)
    assert _summary(reused) == _summary(alone)
    for domain in reused.mesh.domains:  # a fresh source per tree, lines looked up in its text
        src, own = reused.mesh.source(domain), alone.mesh.source(domain)
        assert src.path == own.path
        assert src.line_of(("products", 0, "name")) == own.line_of(("products", 0, "name"))


@pytest.mark.parametrize(
    "case", ["many_errors", "e025_consumer_domain_unknown/invalid", "file_alias_bomb/invalid"]
)
def test_problems_of_a_shared_file_name_each_tree(tmp_path, serial, case):
    first = _copy(VALIDATE / case, tmp_path / "first")
    second = _copy(VALIDATE / case, tmp_path / "second")
    shared = SharedFiles()
    one = load_mesh(first, today=TODAY, shared=shared)
    two = load_mesh(second, today=TODAY, shared=shared)
    assert one.errors
    assert all(p.file.startswith(str(second)) for p in two.errors + two.warnings)
    assert _relocated(one, first, second) == _summary(two)


def test_tree_level_checks_run_on_each_tree(tmp_path, serial):
    """A file identical in both trees that grants to a domain HEAD removes: valid in BASE,
    E025 in HEAD (the domains differ, so the checks are not reused)."""
    base = _copy(SAMPLE, tmp_path / "base")
    head = _copy(SAMPLE, tmp_path / "head")
    (head / "marketing.yaml").unlink()
    shared = SharedFiles()
    before = load_mesh(base, today=TODAY, shared=shared)
    after = load_mesh(head, today=TODAY, shared=shared)
    assert before.ok
    assert "E025" in {p.code for p in after.errors}
    assert _summary(after) == _summary(load_mesh(head, today=TODAY))
    assert shared.checked == 5 + 4


def test_expiry_warnings_follow_each_loads_date(tmp_path, serial):
    case = VALIDATE / "warnings_expiry"
    shared = SharedFiles()
    later = TODAY + dt.timedelta(days=365)
    first = load_mesh(case, today=TODAY, shared=shared)
    second = load_mesh(case, today=later, shared=shared)
    assert _summary(first) == _summary(load_mesh(case, today=TODAY))
    assert _summary(second) == _summary(load_mesh(case, today=later))
    assert [w.code for w in first.warnings] == ["W001", "W002"]
    assert [w.code for w in second.warnings] == ["W002", "W002"]


def test_the_parallel_load_shares_too(tmp_path, monkeypatch):
    base = _copy(SAMPLE, tmp_path / "base")
    head = _copy(SAMPLE, tmp_path / "head")
    alone = load_mesh(head, today=TODAY)
    monkeypatch.setattr(parallel, "_can_fork", lambda n_files: True)
    shared = SharedFiles()
    load_mesh(base, today=TODAY, shared=shared)
    reused = load_mesh(head, today=TODAY, shared=shared)
    assert (shared.parsed, shared.reused) == (5, 5)
    assert _summary(reused) == _summary(alone)


# --------------------------------------------------------------------------- the commands


def _never_shared(monkeypatch) -> None:
    monkeypatch.setattr(SharedFiles, "_get", lambda self, key, display, names=False: None)
    monkeypatch.setattr(SharedFiles, "_checked", lambda self, key, context, display, run: run())


def _run(*args: str):
    done = CliRunner().invoke(app, list(args), env={"MESH_TODAY": TODAY.isoformat()})
    return done.exit_code, done.output


@pytest.mark.parametrize(("base", "head"), DIFF_PAIRS)
@pytest.mark.parametrize(
    "command",
    [
        ("diff", "{base}", "{head}", "--format", "json"),
        ("diff", "{base}", "{head}", "--format", "markdown"),
        ("validate", "{head}", "--base", "{base}", "--format", "json"),
    ],
    ids=["diff-json", "diff-markdown", "validate-base"],
)
def test_commands_give_the_unshared_output(tmp_path, monkeypatch, serial, base, head, command):
    """Byte for byte what the commands print when every file is loaded on its own. The trees
    are copied side by side so that most files are byte-identical and shared."""
    base_dir = _copy(FIXTURES / base, tmp_path / "base")
    head_dir = _copy(FIXTURES / head, tmp_path / "head")
    args = [a.format(base=base_dir, head=head_dir) for a in command]
    shared = _run(*args)
    _never_shared(monkeypatch)
    assert _run(*args) == shared


# --------------------------------------------------------------------------- the parallel load
# The helper sends its results in chunks as it parses; this process validates them as they come.


@pytest.fixture
def forked(monkeypatch):
    monkeypatch.setattr(parallel, "_can_fork", lambda n_files: True)
    monkeypatch.setattr(parallel, "_PARENT_SHARE", 0.25)  # 4 files: 1 here, 3 in the helper
    monkeypatch.setattr(parallel, "_CHUNK_FILES", 1)  # one chunk per file


@pytest.mark.parametrize("case", ["many_errors", "e025_consumer_domain_unknown/invalid"])
def test_chunked_parallel_load_gives_the_serial_result(monkeypatch, forked, case):
    path = VALIDATE / case
    monkeypatch.setenv("MESH_PARALLEL_LOAD", "0")
    serial = load_mesh(path, today=TODAY)
    monkeypatch.delenv("MESH_PARALLEL_LOAD")
    here = _count_loaded_here(monkeypatch)
    assert _summary(load_mesh(path, today=TODAY)) == _summary(serial)
    assert len(here) == len(list(path.glob("*.yaml"))) // 4  # the helper parsed the others


def test_a_helper_that_fails_midway_leaves_the_rest_to_this_process(monkeypatch, forked):
    path = VALIDATE / "many_errors"
    serial = load_mesh(path, today=TODAY)
    real, calls = parallel.pickle.dumps, []

    def second_chunk_fails(*args, **kwargs):  # only the helper pickles
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the helper cannot pickle")
        return real(*args, **kwargs)

    monkeypatch.setattr(parallel.pickle, "dumps", second_chunk_fails)
    here = _count_loaded_here(monkeypatch)
    assert _summary(load_mesh(path, today=TODAY)) == _summary(serial)
    assert len(here) == 1 + 2  # its own file, and the two the helper did not send


def _count_loaded_here(monkeypatch) -> list[str]:
    """Files loaded whole in this process (the helper only parses)."""
    calls: list[str] = []
    real = parallel.load_one

    def counting(text, display, *context):
        calls.append(display)
        return real(text, display, *context)

    monkeypatch.setattr(parallel, "load_one", counting)
    return calls


def test_a_helper_that_hangs_midway_is_stopped(monkeypatch, forked):
    import time

    path = VALIDATE / "many_errors"
    serial = load_mesh(path, today=TODAY)
    real, calls = parallel.pickle.dumps, []

    def second_chunk_hangs(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            time.sleep(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(parallel.pickle, "dumps", second_chunk_hangs)
    monkeypatch.setattr(parallel, "_helper_timeout", lambda n_files: 0.5)
    here = _count_loaded_here(monkeypatch)
    start = time.monotonic()
    result = load_mesh(path, today=TODAY)
    assert time.monotonic() - start < 30
    assert _summary(result) == _summary(serial)
    assert len(here) == 1 + 2


def test_the_helper_does_not_wait_for_this_process(monkeypatch):
    """The pipe holds several chunks: this process reads it only between two of its files."""
    import fcntl
    import os

    read_fd, write_fd = os.pipe()
    try:
        parallel._widen(write_fd)
        assert fcntl.fcntl(write_fd, fcntl.F_GETPIPE_SZ) >= 1 << 20
    finally:
        os.close(read_fd)
        os.close(write_fd)
