"""`mesh audit` per stack (`infra.engines.stackrun`): the program runs as the mesh deploys, one
stack per worker process, and the audit built from what the workers send back writes exactly
the files of the single-process run of the whole mesh — on the sample (five domains in three
accounts), the one-account fixture and a generated mesh with a hub consumer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import SAMPLE, SINGLE, TODAY

from infra import api
from infra.audit.audit import write
from infra.blueprints.load import load_mesh
from infra.engines import stackrun
from infra.engines.parallel import WorkerFailed
from infra.engines.recording import run_program
from infra.provision.program import StackSettings

STAMP = "2026-11-25T00:00:00Z"


@pytest.fixture(scope="module")
def hub_mesh(tmp_path_factory) -> Path:
    from bench.meshgen import generate

    directory = tmp_path_factory.mktemp("hub") / "blueprints"
    generate(directory, 6, 2, 2, today=TODAY, fan_in="hub")
    return directory


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tagged_mesh(tmp_path_factory) -> Path:
    from lftags_fixtures import ANALYTICS, MESH_FILE, SALES, write

    directory = tmp_path_factory.mktemp("tags") / "blueprints"
    directory.mkdir()
    return write(directory, _mesh=MESH_FILE, sales=SALES, analytics=ANALYTICS)


@pytest.mark.parametrize("tree", ["sample", "single", "hub", "lf-tags"])
def test_per_stack_audit_writes_the_files_of_the_single_process_audit(
    tree, hub_mesh, tagged_mesh, tmp_path
):
    directory = {"sample": SAMPLE, "single": SINGLE, "hub": hub_mesh, "lf-tags": tagged_mesh}[tree]
    outputs = {}
    counts = {}
    for per_stack in (False, True):
        result, counts[per_stack] = api.audit(directory, per_stack=per_stack, generated_at=STAMP)
        out = tmp_path / f"per_stack_{per_stack}"
        write(result, out)
        outputs[per_stack] = _files(out)
    assert counts[True] == counts[False]
    assert outputs[True].keys() == outputs[False].keys()
    assert len(outputs[True]) >= 10
    for name, content in outputs[False].items():
        assert outputs[True][name] == content, name


def test_the_stacks_record_what_the_whole_program_records():
    mesh = load_mesh(SAMPLE, today=TODAY).mesh
    settings = StackSettings()
    whole = [
        (r.type, r.name, r.account, r.inputs, r.outputs.get("arn"))
        for r in run_program(mesh, settings, TODAY).resources
        if r.custom and r.type != "pulumi:providers:aws"
    ]
    stacks = stackrun.record_stacks(mesh, settings, TODAY, workers=2)
    assert [s.scope for s in stacks] == ["platform", *(bp.domain for bp in mesh.blueprints)]
    # each domain's stack holds only its own resources
    sales = next(s for s in stacks if s.scope == "sales")
    assert {r.inputs.get("tags", {}).get("mesh:domain") for r in sales.resources} <= {
        "sales",
        None,
    }
    assert stackrun.resource_count(stacks) == len(run_program(mesh, settings, TODAY).resources)
    merged = [
        (r.type, r.name, r.account, r.inputs, r.outputs.get("arn")) for r in stackrun.merged(stacks)
    ]
    assert merged == whole
    assert stacks == []  # consumed


def test_a_failing_stack_fails_the_run_naming_it(monkeypatch):
    mesh = load_mesh(SINGLE, today=TODAY).mesh

    def broken(mesh, settings, today, scope):
        if scope == "finance":
            raise ValueError("no finance today")
        return stackrun.StackRecords(scope, [])

    monkeypatch.setattr(stackrun, "record_stack", broken)
    with pytest.raises(WorkerFailed, match="'finance': ValueError: no finance today"):
        stackrun.record_stacks(mesh, StackSettings(), dt.date(2026, 11, 25), workers=2)


@pytest.mark.parametrize("tree", ["sample", "single", "empty"])
def test_plan_json_is_streamed_byte_for_byte_as_one_document(tree):
    import io
    import json

    from infra.cli.plan import write_plan_json
    from infra.engines.recording import ResourceGraph

    if tree == "empty":
        graph = ResourceGraph([])
    else:
        directory = SAMPLE if tree == "sample" else SINGLE
        graph = run_program(load_mesh(directory, today=TODAY).mesh, StackSettings(), TODAY)
    out = io.StringIO()
    write_plan_json(graph, out)
    assert out.getvalue() == json.dumps(graph.plan_json(), indent=2, sort_keys=True) + "\n"


def _spools(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("mesh-audit-"))


def test_the_audit_reads_the_stacks_records_from_files_it_removes(tmp_path, monkeypatch):
    """Each stack's records go to a file (`stackrun.audited_resources`), read back one by one
    into the audit's index: the directory lives until they are read, and no longer."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    mesh = load_mesh(SAMPLE, today=TODAY).mesh
    count, resources = stackrun.audited_resources(mesh, StackSettings(), TODAY)
    (spool,) = _spools(tmp_path)
    assert sorted(p.name for p in (tmp_path / spool).iterdir()) == [
        f"{i}.records" for i in range(6)
    ]
    read = [(r.type, r.name, r.account, r.inputs, r.outputs.get("arn")) for r in resources]
    assert _spools(tmp_path) == []
    whole = [
        (r.type, r.name, r.account, r.inputs, r.outputs.get("arn"))
        for r in run_program(mesh, StackSettings(), TODAY).resources
        if r.custom and r.type != "pulumi:providers:aws"
    ]
    assert read == whole
    assert count == len(run_program(mesh, StackSettings(), TODAY).resources)
    # through the api, and when a stack fails
    api.audit(SAMPLE, generated_at=STAMP)
    assert _spools(tmp_path) == []
    original = stackrun.record_stack

    def broken(mesh, settings, today, scope, path=None):
        if scope == "finance":
            raise ValueError("no finance today")
        return original(mesh, settings, today, scope, path)

    monkeypatch.setattr(stackrun, "record_stack", broken)
    with pytest.raises(WorkerFailed, match="finance"):
        stackrun.audited_resources(mesh, StackSettings(), TODAY)
    assert _spools(tmp_path) == []
