"""The whole-mesh `mesh plan` per stack (`infra.engines.stackplan`): each stack's slice of the
scope-`all` program (`infra.provision.slices`) runs in a worker; together the slices record what
the scope-`all` run records, field for field, and `mesh plan` prints the same bytes (stdout,
stderr, exit code) either way — on the sample (five domains in three accounts), the one-account
fixture, a generated hub mesh and the LF-tag mesh. The per-stack deploy programs and the
scope-`all` program declare what they declared before the slices existed (digests)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
from conftest import SAMPLE, SINGLE, TODAY
from typer.testing import CliRunner

from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.engines import recording, stackplan, stackrun
from infra.engines.parallel import WorkerFailed
from infra.engines.recording import run_program
from infra.governance.graph_index import CONFIGURING
from infra.governance.graph_rules import BUCKET_RULES_READ
from infra.governance.resource_rules import BUCKET_TYPES
from infra.model import tags
from infra.provision import program, slices
from infra.provision import types as T
from infra.provision.program import SCOPE_PLATFORM, StackSettings


@pytest.fixture(scope="module")
def hub_mesh(tmp_path_factory) -> Path:
    from bench.meshgen import generate

    directory = tmp_path_factory.mktemp("hub") / "blueprints"
    generate(directory, 6, 2, 2, today=TODAY, fan_in="hub")
    return directory


@pytest.fixture(scope="module")
def tagged_mesh(tmp_path_factory) -> Path:
    from lftags_fixtures import ANALYTICS, MESH_FILE, SALES, write

    directory = tmp_path_factory.mktemp("tags") / "blueprints"
    directory.mkdir()
    return write(directory, _mesh=MESH_FILE, sales=SALES, analytics=ANALYTICS)


@pytest.fixture
def trees(hub_mesh, tagged_mesh) -> dict[str, Path]:
    return {"sample": SAMPLE, "single": SINGLE, "hub": hub_mesh, "lf-tags": tagged_mesh}


TREES = ["sample", "single", "hub", "lf-tags"]


def _slices(mesh, settings, sliced=True) -> dict[str, list]:
    return {
        scope: run_program(
            mesh,
            dataclasses.replace(settings, scope=scope),
            TODAY,
            sliced=sliced and scope != SCOPE_PLATFORM,
        ).resources
        for scope in stackrun.scopes(mesh)
    }


@pytest.mark.parametrize("tree", TREES)
def test_the_slices_record_what_the_whole_program_records(tree, trees):
    mesh = load_mesh(trees[tree], today=TODAY).mesh
    settings = StackSettings()
    whole = {(r.name, r.type): r for r in run_program(mesh, settings, TODAY).resources}
    union: dict = {}
    for scope, resources in _slices(mesh, settings).items():
        for r in resources:
            # a resource in two slices is a provider, declared alike
            assert (r.name, r.type) not in union or (
                r.type == T.PROVIDER and union[(r.name, r.type)] == r
            ), (scope, r.name)
            union[(r.name, r.type)] = r
    assert union.keys() == whole.keys()
    # every field: type, name, URN, parent, inputs, outputs, id, account (its provider),
    # depends_on, protect, retain_on_delete, aliases, delete_before_replace
    assert [k for k in whole if union[k] != whole[k]] == []
    # each domain's slice is that domain's (and the providers it uses); a resource's parent is
    # in its slice (the workers of `mesh plan` name the product of a finding from its parents)
    for scope, resources in _slices(mesh, settings).items():
        if scope != SCOPE_PLATFORM:
            domains = {r.inputs.get("tags", {}).get("mesh:domain") for r in resources}
            assert domains <= {scope, None}
        names = {r.name for r in resources if not r.custom}
        assert {r.parent for r in resources} - {None} <= names


@pytest.mark.parametrize("tree", TREES)
def test_a_bucket_what_configures_it_and_its_domains_key_are_in_one_stack(tree, trees):
    """What lets the whole-mesh plan run the bucket rules (GOV-006/8/9/10) on each stack's
    slice (`stackplan`), and the graph rules read no more of the other resources."""
    mesh = load_mesh(trees[tree], today=TODAY).mesh
    buckets, keys, configs, bucket_domains = {}, {}, [], []
    for scope, resources in _slices(mesh, StackSettings()).items():
        for r in resources:
            assert r.type not in BUCKET_RULES_READ or r.type in (*CONFIGURING, T.KEY), r.type
            if r.type in BUCKET_TYPES:
                buckets[r.inputs["bucket"]] = scope
                bucket_domains.append((r.inputs["tags"]["mesh:domain"], scope))
            elif r.type == T.KEY:
                domain = r.inputs["tags"]["mesh:domain"]
                assert domain not in keys  # one key per domain
                keys[domain] = scope
            elif r.type in CONFIGURING:
                configs.append((r.inputs["bucket"], scope))
    assert buckets and configs and keys
    assert all(buckets[bucket] == scope for bucket, scope in configs)
    assert all(keys[domain] == scope for domain, scope in bucket_domains)


def test_the_domain_stacks_differ_from_their_slices_where_the_slices_stand_in():
    """What the slices exist for: a domain's own stack waits for the platform stack's
    reference and not for other stacks' consumer roles; its slice, as the whole program."""
    mesh = load_mesh(SAMPLE, today=TODAY).mesh
    stack = {r.name: r for r in _slices(mesh, StackSettings(), sliced=False)["finance"]}
    part = {r.name: r for r in _slices(mesh, StackSettings())["finance"]}
    assert stack.keys() - part.keys() == {"platform-stack"}
    assert stack["finance-database"].depends_on == ["platform-stack"]
    assert part["finance-database"].depends_on == ["platform-lake-settings-444455556666"]
    # the key policy and a bucket policy name another stack's consumer role
    assert stack["finance-key"].depends_on == []
    assert part["finance-key"].depends_on == ["analytics-consumer"]
    assert "analytics-consumer" in part["finance.revenue_daily-policy"].depends_on
    assert "marketing-consumer" in part["finance.revenue_daily@marketing-lakeformation"].depends_on
    # LF-tag assignments wait for the platform's LF-tags of their account
    assert "platform-stack" in stack["finance.payroll-lftags"].depends_on
    assert "platform-lftag-444455556666-pii" in part["finance.payroll-lftags"].depends_on
    whole = {r.name: r for r in run_program(mesh, StackSettings(), TODAY).resources}
    changed = [n for n in part if part[n].depends_on != stack[n].depends_on]
    assert len(changed) > 10
    assert all(part[n].depends_on == whole[n].depends_on for n in changed)


@pytest.mark.parametrize("tree", ["sample", "lf-tags"])
def test_the_stand_ins_carry_the_urns_of_the_whole_run(tree, trees, monkeypatch):
    made: list[str] = []
    original = slices.Slice.urn

    def spy(parent_type, type_, name):
        made.append(original(parent_type, type_, name))
        return made[-1]

    monkeypatch.setattr(slices.Slice, "urn", staticmethod(spy))
    mesh = load_mesh(trees[tree], today=TODAY).mesh
    whole = {r.urn for r in run_program(mesh, StackSettings(), TODAY).resources}
    _slices(mesh, StackSettings())
    assert made and set(made) <= whole
    if tree == "lf-tags":
        assert any("lfTag:LfTag::platform-lftag-" in urn for urn in made)


# what the scope-all program and each per-stack deploy program declared before the slices
# (plan JSON of `run_program`, as `mesh plan --stack` loads the tree): update on purpose only
PLANS = {
    ("sample", "all"): "73652224b5cfff4123c699eba400384e87dd35a4b31c15a75dd8f3a4e826ea5c",
    ("sample", "platform"): "efa9fc7b0aec55c1e89031477ec0fb11ee6c18e4e5ad04babd60d6ddcc8b0aa7",
    ("sample", "analytics"): "d1d8008cd04fe17dfb2c27dad1dbc1440635610704501cfd77a4a457c2e8322e",
    ("sample", "finance"): "e7831745c48d5a6b16b23c2a1b8e71dd8611fb86633b7a64f775963ed700a873",
    ("sample", "logistics"): "ff7ad4a82193c8db7a930f1878dee1f7cd8c60fd535dd589ad46a46955b3f5c3",
    ("sample", "marketing"): "40adb6b6f2d4c06deb1eb3c8509769d75bba505de01acb315dd9f35172f4187c",
    ("sample", "sales"): "54a5bf68ea45c13a05655b66ede0d50241387a572317ad6ce169c2db57ba485d",
    ("lf-tags", "all"): "97554ca2433aa28ea61240f4600cae4530ad074658611c8b093cd815dd2f5f64",
    ("lf-tags", "platform"): "9b2c587f61bf8e3c3cde4927e2fedd1858376b9dcb5c2d7da016e307ef618883",
    ("lf-tags", "analytics"): "8172c932f0111500951475dedfd6e12e56b6e326ee2d86b1feae8e11baf3e1b9",
    ("lf-tags", "sales"): "0bce07fb9561c2e519ea57a6308164188cffedbb9e65a3fb616204cbee6ae8c5",
}


@pytest.mark.parametrize(("tree", "scope"), list(PLANS))
def test_the_deploy_programs_declare_what_they_declared(tree, scope, trees):
    settings = StackSettings(scope=scope)
    only = None if settings.includes_platform() else scope
    mesh = load_mesh(trees[tree], today=TODAY, only=only).mesh
    text = json.dumps(run_program(mesh, settings, TODAY).plan_json(), indent=2, sort_keys=True)
    assert hashlib.sha256(text.encode()).hexdigest() == PLANS[(tree, scope)]


def _plan(args: list[str], per_stack: bool, monkeypatch) -> tuple[int, str, str]:
    monkeypatch.setattr(stackplan, "PER_STACK_FROM", 0 if per_stack else 10**9)
    calls: list[int] = []
    original = stackplan.planned_graph

    def counted(*a, **k):
        calls.append(1)
        return original(*a, **k)

    monkeypatch.setattr(stackplan, "planned_graph", counted)
    result = CliRunner().invoke(app, ["plan", *args])
    assert bool(calls) == per_stack  # the path under test ran
    return result.exit_code, result.stdout, result.stderr


OPTIONS = {
    "text": [],
    "json": ["--format", "json"],
    "stack-all": ["--stack", "all", "-f", "json", "--prefix", "acme", "--account", "210987654321"],
}


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("options", list(OPTIONS))
def test_mesh_plan_per_stack_prints_the_bytes_of_the_single_run(tree, options, trees, monkeypatch):
    args = [str(trees[tree]), *OPTIONS[options]]
    single = _plan(args, False, monkeypatch)
    assert single[0] == 0, single[2]
    assert len(single[1]) > 1000
    assert _plan(args, True, monkeypatch) == single


def test_mesh_plan_with_a_config_of_the_whole_mesh(tmp_path, monkeypatch):
    config = tmp_path / "Pulumi.mesh.yaml"
    config.write_text(
        "config:\n  mesh:prefix: corp\n  mesh:account: '111122223333'\n  aws:region: eu-west-1\n"
        "  mesh:lakeFormationAdmins: ['arn:aws:iam::111122223333:role/admin']\n"
        f"  mesh:blueprints: {SAMPLE}\n"
    )
    args = ["--config", str(config), "--format", "json"]
    single = _plan(args, False, monkeypatch)
    assert single[0] == 0, single[2]
    assert '"corp-' in single[1]
    assert _plan(args, True, monkeypatch) == single


def test_governance_findings_per_stack_are_the_single_runs_in_order(monkeypatch):
    """Resources of three stacks without their owner tag: the same GOV lines, in the same
    order, the same summary, exit 1."""
    original = program._tags

    def untagged(bp, product):
        out = original(bp, product)
        if bp.domain in ("sales", "finance", "marketing"):
            out.pop(tags.OWNER)
        return out

    monkeypatch.setattr(program, "_tags", untagged)
    for options in ("text", "json"):
        args = [str(SAMPLE), *OPTIONS[options]]
        single = _plan(args, False, monkeypatch)
        assert single[0] == 1
        lines = single[2].splitlines()
        assert len([line for line in lines if " GOV-001 " in line]) > 20
        assert lines[-1].startswith("governance: ")
        assert _plan(args, True, monkeypatch) == single


def test_graph_rule_findings_per_stack_are_the_single_runs(monkeypatch):
    """A bucket without its public access block (a bucket rule: run on its stack's slice) and
    a consumer policy attached to a role the mesh does not have (a rule across stacks: run on
    the whole mesh in the parent): the same lines, summary and exit code either way."""

    def spoil(graph):
        graph.resources[:] = [
            r
            for r in graph.resources
            if (r.type, r.name) != (T.PUBLIC_ACCESS_BLOCK, "sales.orders-public-access-block")
        ]
        for r in graph.resources:
            if (r.type, r.name) == (T.ROLE_POLICY, "marketing-consumer-access"):
                r.inputs = {**r.inputs, "role": "intruder"}
        return graph

    for module in (stackrun, recording):
        monkeypatch.setattr(
            module, "run_program", lambda *a, run=module.run_program, **k: spoil(run(*a, **k))
        )
    for options in ("text", "json"):
        args = [str(SAMPLE), *OPTIONS[options]]
        single = _plan(args, False, monkeypatch)
        assert single[0] == 1
        lines = single[2].splitlines()
        assert [line.split()[1] for line in lines[:-1]] == [
            "marketing-consumer-access:",
            "sales.orders-bucket:",
        ]
        assert " GOV-013 attached to role 'intruder'" in lines[0]
        assert " GOV-009 no public access block" in lines[1]
        assert _plan(args, True, monkeypatch) == single


def break_finance(monkeypatch) -> None:
    """The `finance` stack's slice fails in its worker (ValueError "no finance today")."""
    original = stackplan.plan_stack

    def broken(mesh, settings, today, scope, path):
        if scope == "finance":
            raise ValueError("no finance today")
        return original(mesh, settings, today, scope, path)

    monkeypatch.setattr(stackplan, "plan_stack", broken)


def test_a_failing_slice_fails_the_plan_naming_its_stack(monkeypatch):
    break_finance(monkeypatch)
    mesh = load_mesh(SINGLE, today=TODAY).mesh
    with pytest.raises(WorkerFailed, match="'finance': ValueError: no finance today"):
        stackplan.planned_graph(mesh, StackSettings(), TODAY, workers=2)
    # through the CLI: its message, exit 1, no traceback
    monkeypatch.setattr(stackplan, "PER_STACK_FROM", 0)
    result = CliRunner().invoke(app, ["plan", str(SINGLE)])
    assert result.exit_code == 1
    assert "'finance': ValueError: no finance today" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_two_slices_declaring_one_resource_differently_is_an_error():
    a = stackplan.Planned("p", "account-1", None, "1", {"region": "x"}, False, [], True, {})
    b = dataclasses.replace(a, inputs={"region": "y"})
    with pytest.raises(stackrun.SliceMismatch, match="account-1"):
        list(stackrun.merge_sorted([[a], [b]]))
    assert list(stackrun.merge_sorted([[a], [dataclasses.replace(a)]])) == [a]


class _Counter:
    """A progress reporter that counts the ticks of each step."""

    def __init__(self) -> None:
        self.ticks: dict[str, int] = {}

    def begin(self, label: str) -> str:
        self.ticks[label] = 0
        return label

    def advance(self, task: str, n: int) -> None:
        self.ticks[task] += n

    def end(self, task: str) -> None:
        pass


def test_the_workers_resources_are_counted_in_the_progress_of_the_parent():
    """Every registration of every slice counts once on a terminal: those of the stack run
    here as they happen, a worker's when its result arrives (its own ticks stay in it)."""
    from infra.util import progress

    mesh = load_mesh(SAMPLE, today=TODAY).mesh
    expected = sum(len(r) for r in _slices(mesh, StackSettings()).values())
    counter = _Counter()
    with progress.reporting(counter), progress.step("plan"):
        graph = stackplan.planned_graph(mesh, StackSettings(), TODAY, workers=2)
    assert counter.ticks == {"plan": expected}
    assert expected > len(graph.resources)  # the providers of several stacks, counted in each
    counter = _Counter()
    with progress.reporting(counter), progress.step("audit"):
        stacks = stackrun.record_stacks(mesh, StackSettings(), TODAY, workers=2)
    assert counter.ticks == {"audit": expected}
    assert stackrun.resource_count(stacks) == len(graph.resources)
