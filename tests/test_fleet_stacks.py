"""`mesh stacks`: the stacks a change touches, with their reasons, in waves; checked against
the recorded plans of every stack before and after (a stack is listed exactly when what it
declares changes), and the stack configs against the blueprints (`mesh init stacks`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, TODAY
from typer.testing import CliRunner

from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.diff.stack_configs import project_configs
from infra.diff.stacks import MATRIX_MAX, Rollout, Stack, layer
from infra.engines.recording import run_program
from infra.engines.stack_config import read_stack_config

ENV = {"MESH_TODAY": TODAY.isoformat()}


def run(*args) -> tuple[int, str, str]:
    done = CliRunner().invoke(app, [str(a) for a in args], env=ENV)
    return done.exit_code, done.stdout, done.stderr


def project(where: Path) -> Path:
    """A copy of the sample project (blueprints and stack configs) under `where`."""
    where.mkdir(parents=True)
    shutil.copytree(ROOT / "blueprints", where / "blueprints")
    for config in ROOT.glob("Pulumi*.yaml"):
        shutil.copy(config, where / config.name)
    return where / "blueprints"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


# the four changes of the issue, each a function of the HEAD blueprint directory
def producer_change(head: Path) -> None:  # a column added to one product
    edit(head / "sales.yaml", "      - {name: currency, type: string}\n",
         "      - {name: currency, type: string}\n      - {name: channel, type: string}\n")  # fmt: skip


def cross_account_grant(head: Path) -> None:  # logistics (stack account) -> marketing (4444...)
    edit(head / "logistics.yaml", "        justification: carrier benchmark (one-off study, ended)\n",
         "        justification: carrier benchmark (one-off study, ended)\n"
         "      - domain: marketing\n        columns: [shipment_id, carrier]\n"
         "        justification: delivery promise in campaigns\n")  # fmt: skip


def account_move(head: Path) -> None:  # logistics moves into a new account
    edit(head / "logistics.yaml", "cost_center: CC-4100\n",
         'cost_center: CC-4100\naccount: "777788889999"\nprevious_account: "123456789012"\n')  # fmt: skip


def platform_file_change(head: Path) -> None:  # a new member of the privacy group
    edit(
        head / "_mesh.yaml",
        'members: ["@acme/privacy-office"]',
        'members: ["@acme/privacy-office", "@acme/dpo"]',
    )


SCENARIOS = {
    "producer_change": (producer_change, [["sales"]], {"sales": ["blueprint changed"]}),
    "cross_account_grant": (
        cross_account_grant,
        [["logistics"]],
        {"logistics": ["blueprint changed"]},
    ),
    "account_move": (
        account_move,
        [["platform"], ["logistics", "marketing"], ["sales"]],
        {
            "platform": [
                "account 777788889999 joins the mesh (logistics): its Lake Formation settings"
            ],
            "logistics": ["blueprint changed", "moves from account 123456789012 to 777788889999"],
            # the sample's mesh-wide tag grant to marketing: one permission per account
            "marketing": [
                (
                    "the accounts of the mesh change: its mesh-wide tag grants are one permission "
                    "per account"
                )
            ],
            "sales": ["grants to logistics, whose role moves to account 777788889999"],
        },
    ),
    "platform_file_change": (platform_file_change, [], {}),
}


@pytest.fixture(params=sorted(SCENARIOS))
def scenario(request, tmp_path):
    change, waves, reasons = SCENARIOS[request.param]
    base, head = project(tmp_path / "base"), project(tmp_path / "head")
    change(head)
    return base, head, waves, reasons


def test_the_waves_of_each_change(scenario):
    base, head, waves, reasons = scenario
    code, out, err = run("stacks", head, "--base", base, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["waves"] == waves
    assert {s["name"]: s["reasons"] for s in doc["stacks"]} == reasons
    assert doc["problems"] == [] and doc["warnings"] == []


def _declared(blueprints: Path, config: Path) -> set[tuple]:
    """What the stack of `config` declares for the tree, as `pulumi up` would run it."""
    settings = read_stack_config(config)
    only = None if settings.scope in ("all", "platform") else settings.scope
    mesh = load_mesh(blueprints, today=TODAY, only=only).mesh
    graph = run_program(mesh, settings, TODAY)
    return {
        (r.type, r.name, r.account, json.dumps(r.inputs, sort_keys=True), r.protect)
        for r in graph.resources
    }


def test_a_stack_is_listed_exactly_when_what_it_declares_changes(scenario):
    """The reasons are the model's; the plans are the truth: every stack whose recorded
    resources differ between BASE and HEAD is listed, and no other."""
    base, head, waves, _ = scenario
    changed = set()
    for config in project_configs(head.parent):
        if config.scope == "all":
            continue  # whole-mesh example stacks are not part of a stack-per-domain rollout
        before = _declared(base, base.parent / config.path.name)
        if before != _declared(head, config.path):
            changed.add(config.name)
    assert changed == {s for wave in waves for s in wave}


def test_without_base_every_stack_platform_first(tmp_path):
    head = project(tmp_path / "p")
    code, out, err = run("stacks", head, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["waves"][0] == ["platform"]
    assert sorted(s for w in doc["waves"][1:] for s in w) == [
        "analytics", "finance", "logistics", "marketing", "sales",
    ]  # fmt: skip
    # a first deploy: a consumer's role before the stacks granting to it, where it can be
    # ordered (analytics reads from finance, logistics and sales; it grants to nobody)
    position = {s: i for i, w in enumerate(doc["waves"]) for s in w}
    assert position["analytics"] < position["finance"]
    code, out, _ = run("stacks", head, "--only", "sales", "--format", "json")
    assert json.loads(out)["waves"] == [["sales"]]
    code, _, err = run("stacks", head, "--only", "nope")
    assert code == 2 and "--only nope: not a stack of the project" in err


def test_waves_layer_dependencies_and_group_cycles():
    waves, cycles = layer(["a", "b", "c", "d"], {("a", "b"), ("b", "a"), ("b", "c"), ("d", "c")})
    assert waves == [["a", "b", "d"], ["c"]] and cycles == [["a", "b"]]
    waves, cycles = layer(["p", "x", "y"], {("p", "x"), ("p", "y"), ("x", "y")})
    assert waves == [["p"], ["x"], ["y"]] and cycles == []


def test_github_matrix_chunks_a_wave_to_256_jobs():
    names = [f"d{i:04d}" for i in range(600)]
    rollout = Rollout([Stack(n, "111122223333") for n in names], [["d0000"], names[1:]])
    matrices = rollout.matrices()
    assert [len(m["include"]) for m in matrices[1]] == [
        MATRIX_MAX,
        MATRIX_MAX,
        599 - 2 * MATRIX_MAX,
    ]
    assert matrices[0] == [
        {"include": [{"stack": "d0000", "account": "111122223333", "action": "up"}]}
    ]
    assert [r["stack"] for m in matrices[1] for r in m["include"]] == names[1:]


def test_stack_configs_are_checked_against_the_blueprints(tmp_path):
    head = project(tmp_path / "p")
    (head.parent / "Pulumi.marketing.yaml").unlink()
    (head.parent / "Pulumi.gone.yaml").write_text("config:\n  mesh:stack: gone\n")
    edit(head.parent / "Pulumi.finance.yaml", "mesh:prefix: acme-mesh", "mesh:prefix: other")
    code, out, err = run("stacks", head, "--format", "json")
    assert code == 1
    assert json.loads(out)["problems"] == [
        (
            "Pulumi.gone.yaml: stack gone is for domain 'gone', which has no blueprint (remove the "
            "stack config, or restore the blueprint)"
        ),
        "1 domain(s) without a stack config: marketing (mesh init stacks writes them)",
        (
            "Pulumi.finance.yaml: mesh:prefix is 'other', the platform stack's (Pulumi.platform.yaml) "
            "'acme-mesh': every stack of the mesh must share it"
        ),
    ]
    assert "error: 1 domain(s) without a stack config: marketing" in err
    # mesh init stacks writes the missing one, from the platform's shared values; reports the rest
    code, out, err = run("init", "stacks", head, "--check")
    assert code == 1 and out == "missing Pulumi.marketing.yaml\n"
    assert not (head.parent / "Pulumi.marketing.yaml").exists()
    code, out, err = run("init", "stacks", head)
    assert code == 1 and out == "wrote Pulumi.marketing.yaml\n"
    assert "Pulumi.gone.yaml: stack gone is for domain 'gone'" in err
    written = read_stack_config(head.parent / "Pulumi.marketing.yaml")
    platform = read_stack_config(head.parent / "Pulumi.platform.yaml")
    assert (written.scope, written.prefix, written.account, written.region) == (
        "marketing", platform.prefix, platform.account, platform.region,
    )  # fmt: skip
    assert written.blueprints == platform.blueprints


def test_the_shipped_project_has_a_stack_per_domain():
    code, out, err = run("init", "stacks", ROOT / "blueprints", "--check")
    assert (code, out) == (0, "every domain has its stack config\n"), err


def test_a_stack_gets_the_values_its_project_file_gives_every_stack(tmp_path):
    # Pulumi.yaml's `value:` and bare values reach every stack, as `pulumi up` applies them
    # (`mesh plan --config` and `mesh stacks` read them as the PR check does)
    project = (ROOT / "Pulumi.yaml").read_text()
    project = project.replace(
        "config:\n",
        "config:\n  aws:region:\n    value: eu-central-1\n  deployRoleName: x-deployer\n",
        1,
    )
    (tmp_path / "Pulumi.yaml").write_text(project)
    dev = (ROOT / "Pulumi.dev.yaml").read_text()
    own = ("  aws:region:", "  mesh:deployRoleName:")  # the stack leaves both to the project
    assert all(key in dev for key in own)
    dev = "\n".join(line for line in dev.splitlines() if not line.startswith(own)) + "\n"
    (tmp_path / "Pulumi.dev.yaml").write_text(dev)
    settings = read_stack_config(tmp_path / "Pulumi.dev.yaml")
    assert (settings.region, settings.deploy_role_name) == ("eu-central-1", "x-deployer")
    [listed] = [c for c in project_configs(tmp_path) if c.name == "dev"]
    assert listed.values["aws:region"] == "eu-central-1"
    assert listed.values["mesh:deployRoleName"] == "x-deployer"
