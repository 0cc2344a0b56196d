"""The whole-mesh plan's parent holds no stack's records (`infra.engines.stackplan`): they are
spooled to files (`infra.engines.spool`) and merged back in order as the plan is printed; the
files are removed after the plan, and when a stack fails."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

import pytest
from conftest import SAMPLE, SINGLE, TODAY
from test_plan_slices import break_finance
from typer.testing import CliRunner

from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.engines import spool, stackplan, stackrun
from infra.engines.parallel import WorkerFailed
from infra.provision import types as T
from infra.provision.program import StackSettings


@dataclass(frozen=True, order=True)
class Rec:
    key: tuple[str, int]
    source: int


def test_records_come_back_as_written_in_chunks(tmp_path):
    records = [(f"r{i:04d}", i, {"inputs": [i]}, None) for i in range(2 * spool.CHUNK + 3)]
    path = tmp_path / "0.records"
    spool.write_records(path, iter(records))
    assert list(spool.read_records(path, lambda *r: r)) == records
    spool.write_records(tmp_path / "empty", iter(()))
    assert list(spool.read_records(tmp_path / "empty", lambda *r: r)) == []
    with pytest.raises(FileExistsError):  # a new file each time
        spool.write_records(path, iter(records))


def test_the_lazy_merge_is_heapqs_merge():
    """Overlapping, equal and empty sources: the order of `heapq.merge`, ties in the order of
    the sources."""
    rng = random.Random(7)
    for _ in range(200):
        lists = [
            sorted(Rec((rng.choice("abcde"), rng.randrange(4)), i) for _ in range(rng.randrange(6)))
            for i in range(rng.randrange(1, 6))
        ]
        sources = [(rows[0].key if rows else None, lambda rows=rows: iter(rows)) for rows in lists]
        assert list(spool.merge_lazily(sources)) == list(heapq.merge(*lists, key=lambda r: r.key))


def test_the_lazy_merge_opens_a_source_when_it_reaches_its_first_key():
    """Stacks whose names do not interleave (each domain's resources are named after it): one
    source open at a time, whatever their number."""
    open_now, most = set(), 0

    def opener(i: int, rows: list[Rec]):
        def records():
            nonlocal most
            open_now.add(i)
            most = max(most, len(open_now))
            yield from rows
            open_now.discard(i)

        return records

    lists = [[Rec((f"d{i:03d}", n), i) for n in range(5)] for i in range(300)]
    sources = [(rows[0].key, opener(i, rows)) for i, rows in reversed(list(enumerate(lists)))]
    merged = list(spool.merge_lazily(sources))
    assert [r.key for r in merged] == sorted(r.key for rows in lists for r in rows)
    assert most == 1


def _spools(tmp_path) -> list:
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("mesh-plan-"))


def test_the_stacks_files_live_until_the_plan_is_closed(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    mesh = load_mesh(SAMPLE, today=TODAY).mesh
    graph = stackplan.planned_graph(mesh, StackSettings(), TODAY, workers=2)
    (spooled,) = _spools(tmp_path)
    files = sorted(p.name for p in (tmp_path / spooled).iterdir())
    assert files == [f"{i}.records" for i in range(6)]  # the platform and five domains
    first = list(graph.resources)
    assert list(graph.resources) == first  # read again from the files
    assert len(first) == len(graph.resources) == sum(graph.counts().values())
    assert [r.key for r in first] == sorted(r.key for r in first)
    # what the parent holds of the mesh's resources: what the graph rules read
    kept = graph.kept.resources
    assert {r.type for r in kept} >= {T.BUCKET, T.BUCKET_POLICY, T.ROLE, T.TABLE, T.GRANT}
    assert not {r.type for r in kept} & {T.PROVIDER, T.LIFECYCLE, T.PUBLIC_ACCESS_BLOCK, T.KEY}
    table = kept[[r.type for r in kept].index(T.TABLE)]
    assert sorted(table.props) == ["databaseName", "name", "parameters"]
    graph.close()
    assert _spools(tmp_path) == []


def test_the_stacks_files_are_removed_when_a_stack_fails(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    break_finance(monkeypatch)
    mesh = load_mesh(SINGLE, today=TODAY).mesh
    with pytest.raises(WorkerFailed, match="finance"):
        stackplan.planned_graph(mesh, StackSettings(), TODAY, workers=2)
    assert _spools(tmp_path) == []


@pytest.mark.parametrize("options", [[], ["--format", "json"]])
def test_mesh_plan_removes_the_stacks_files(options, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr(stackplan, "PER_STACK_FROM", 0)
    made = []
    original = stackplan.SpooledGraph.__init__

    def spy(self, *args):
        original(self, *args)
        made.append(_spools(tmp_path))

    monkeypatch.setattr(stackplan.SpooledGraph, "__init__", spy)
    result = CliRunner().invoke(app, ["plan", str(SAMPLE), *options])
    assert result.exit_code == 0, result.stderr
    assert len(made) == 1 and len(made[0]) == 1
    assert _spools(tmp_path) == []


def test_a_stack_whose_records_are_not_sorted_is_an_error():
    a = stackplan.Planned("t", "b", None, "1", {}, False, [], True, {})
    b = stackplan.Planned("t", "a", None, "1", {}, False, [], True, {})
    with pytest.raises(stackrun.SliceMismatch, match="'a' comes after 'b': not sorted"):
        list(stackrun.merge_sorted([[a, b]]))
