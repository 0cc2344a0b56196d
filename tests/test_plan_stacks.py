"""`mesh plan --stack/--config/--prefix/--account`: exactly one stack, as `pulumi up` plans it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE, SINGLE, TODAY
from typer.testing import CliRunner

from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.engines.moto_deploy import domain_of
from infra.engines.recording import PROVIDER_TYPE as PROVIDER
from infra.engines.recording import run_program
from infra.provision import types as T
from infra.provision.guard import REFERENCE
from infra.provision.program import StackSettings

MULTI = SAMPLE  # five domains in three accounts (tests/fixtures/single: the same in one)


def plan_json(*args: str, cwd: Path = ROOT) -> tuple[int, dict | None, str]:
    done = subprocess.run(
        [sys.executable, "-m", "infra.cli", "plan", "--format", "json", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )
    return done.returncode, json.loads(done.stdout) if done.stdout else None, done.stderr


def expected(directory: Path, settings: StackSettings) -> dict:
    """What the program registers for that stack, loaded as `pulumi up` loads it."""
    only = None if settings.includes_platform() else settings.scope
    mesh = load_mesh(directory, today=TODAY, only=only).mesh
    return json.loads(json.dumps(run_program(mesh, settings, TODAY).plan_json()))


def invoke(*args: str):
    return CliRunner().invoke(app, ["plan", *args])


def test_a_domain_stack_plans_that_domain_only():
    code, doc, err = plan_json("--stack", "sales")
    assert code == 0, err
    assert doc == expected(SAMPLE, StackSettings(scope="sales"))
    own = [r for r in doc["resources"] if r["type"] not in (PROVIDER, T.STACK_REFERENCE)]
    assert {domain_of(r["name"]) for r in own} == {"sales"}
    # and one reference to the platform stack, which its catalog waits for (test_lake_guard.py)
    assert [r["name"] for r in doc["resources"] if r["type"] == T.STACK_REFERENCE] == [REFERENCE]
    # the grants sales gives are in its stack; the roles they name are other stacks'
    assert "sales.orders@finance" in {r["name"] for r in doc["resources"]}
    assert "stack sales: prefix mesh, account 123456789012" in err


def test_a_stack_config_file_plans_as_pulumi_up_would():
    code, doc, err = plan_json("--stack", "sales", "--config", "Pulumi.sales.yaml")
    assert code == 0, err
    settings = StackSettings(prefix="acme-mesh", account="123456789012", scope="sales")
    assert doc == expected(SAMPLE, settings)
    buckets = {r["inputs"]["bucket"] for r in doc["resources"] if r["type"].endswith(":Bucket")}
    assert buckets == {
        "acme-mesh-sales-orders",
        "acme-mesh-sales-returns",
        "acme-mesh-sales-customers",
        "acme-mesh-sales-athena",  # its Athena results: its own, in its own stack
    }
    # the same without --stack: the file says which stack it is
    assert plan_json("--config", "Pulumi.sales.yaml")[1] == doc


def test_the_config_of_a_whole_mesh_stack_takes_its_admins_and_its_stack_name():
    result = invoke("--config", "Pulumi.dev.yaml", "--stack", "dev", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    settings = StackSettings(
        prefix="acme-mesh",
        lake_formation_admins=("arn:aws:iam::123456789012:role/platform-deployer",),
    )
    assert doc == expected(SAMPLE, settings)
    lake = next(
        r for r in doc["resources"] if r["type"].endswith("dataLakeSettings:DataLakeSettings")
    )
    assert lake["inputs"]["admins"] == ["arn:aws:iam::123456789012:role/platform-deployer"]


def test_prefix_and_account_without_a_config_file():
    result = invoke(str(SINGLE), "--prefix", "acme", "--account", "111122223333", "-f", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == expected(SINGLE, StackSettings(prefix="acme", account="111122223333"))
    assert {r["account"] for r in doc["resources"]} == {"111122223333"}
    roles = [r["inputs"]["name"] for r in doc["resources"] if r["type"] == "aws:iam/role:Role"]
    assert roles and all(name.startswith("acme-") for name in roles)


def test_with_several_accounts_a_stack_plans_what_it_creates_in_each():
    """Domains that name no account live in --account; the others in theirs, through the
    stack's provider for that account."""
    result = invoke(str(MULTI), "--account", "999988887777", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == expected(MULTI, StackSettings(account="999988887777"))
    storage: dict[str, set[str]] = {}  # a domain's roles, keys and buckets: in its account
    for r in doc["resources"]:
        if r["type"] in ("aws:iam/role:Role", "aws:kms/key:Key", "aws:s3/bucket:Bucket"):
            storage.setdefault(domain_of(r["name"]), set()).add(r["account"])
    assert storage == {
        "logistics": {"999988887777"},
        "sales": {"111122223333"},
        "analytics": {"444455556666"},
        "finance": {"444455556666"},
        "marketing": {"444455556666"},
    }
    # one domain's stack: its resources, in its own account, and nothing of the others
    result = invoke(str(MULTI), "--account", "999988887777", "--stack", "sales", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == expected(MULTI, StackSettings(account="999988887777", scope="sales"))
    own = [r for r in doc["resources"] if r["type"] not in (PROVIDER, T.STACK_REFERENCE)]
    assert {domain_of(r["name"]) for r in own} == {"sales"}
    assert {r["account"] for r in doc["resources"] if r["type"] == "aws:s3/bucket:Bucket"} == {
        "111122223333"
    }


def test_a_config_file_beside_its_own_blueprints(tmp_path):
    """mesh:blueprints is relative to the config's project, as for `pulumi up`; a DIR given
    on the command line is planned instead."""
    shutil.copytree(SAMPLE, tmp_path / "domains")
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.prod.yaml").write_text(
        "config:\n  aws:region: eu-central-1\n  mesh:prefix: prod\n"
        '  mesh:account: "210987654321"\n  mesh:blueprints: domains\n  mesh:stack: finance\n'
    )
    code, doc, err = plan_json("--config", str(tmp_path / "Pulumi.prod.yaml"))
    assert code == 0, err
    settings = StackSettings(
        prefix="prod", account="210987654321", region="eu-central-1", scope="finance"
    )
    assert doc == expected(tmp_path / "domains", settings)
    assert f"blueprints {tmp_path / 'domains'}" in err
    # DIR on the command line wins over mesh:blueprints
    assert plan_json(str(SAMPLE), "--config", str(tmp_path / "Pulumi.prod.yaml"))[1] == doc


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--stack", "sales", "--config", "Pulumi.platform.yaml"],
            "--stack sales, but Pulumi.platform.yaml is the config of stack platform",
        ),
        (
            ["--config", "Pulumi.sales.yaml", "--prefix", "other"],
            "--prefix other, but Pulumi.sales.yaml sets mesh:prefix: acme-mesh",
        ),
        (
            ["--config", "Pulumi.sales.yaml", "--account", "111122223333"],
            "--account 111122223333, but Pulumi.sales.yaml sets mesh:account: 123456789012",
        ),
        (["--stack", "nope"], "--stack nope is neither all, platform nor a domain of blueprints"),
        (["--stack", "dev"], "use --config Pulumi.dev.yaml"),
        (["--account", "12"], "'12' is not an AWS account id (12 digits)"),
        (["--prefix", "Bad_Prefix"], "Bad_Prefix"),
        (["--config", "Pulumi.nope.yaml"], "cannot read the stack config 'Pulumi.nope.yaml'"),
    ],
)
def test_a_stack_that_cannot_be_planned_is_a_usage_error(args, message):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert message in result.stderr
    assert result.stderr.startswith("error: ")


def test_a_config_without_what_pulumi_up_requires_is_refused_as_pulumi_up_refuses_it(tmp_path):
    config = tmp_path / "Pulumi.platform.yaml"
    config.write_text(
        "config:\n  aws:region: eu-west-1\n  mesh:prefix: p\n  mesh:account: '123456789012'\n"
        "  mesh:stack: platform\n"
    )
    result = invoke(str(SAMPLE), "--config", str(config))
    assert result.exit_code == 2
    assert "mesh:lakeFormationAdmins is required" in result.stderr
    secret = tmp_path / "Pulumi.s.yaml"
    secret.write_text("config:\n  mesh:prefix:\n    secure: AAABAxyz\n")
    result = invoke(str(SAMPLE), "--config", str(secret))
    assert result.exit_code == 2
    assert "mesh:prefix is a secret, which only the Pulumi CLI can decrypt" in result.stderr


@pytest.mark.parametrize(
    "principal",
    [
        "arn:aws:iam::123456789012:role/mesh-nobody-consumer",  # no such domain
        "arn:aws:iam::123456789012:role/other-finance-consumer",  # not this stack's prefix
        "arn:aws:iam::123456789012:role/mesh-finance-admin",  # not a role kind of the mesh
    ],
)
def test_a_domain_stack_still_refuses_grants_to_roles_outside_the_mesh(principal):
    """Another stack's role is known by its deterministic name: anything else is GOV-013."""
    from dataclasses import replace

    from infra.governance.evaluate import govern_resources

    mesh = load_mesh(SAMPLE, today=TODAY, only="sales").mesh
    graph = run_program(mesh, StackSettings(scope="sales"), TODAY)
    assert govern_resources(graph, mesh, TODAY).findings == []
    resources = [
        replace(r, inputs={**r.inputs, "principal": principal})
        if r.name == "sales.orders@finance-lakeformation"
        else r
        for r in graph.resources
    ]
    findings = govern_resources(resources, mesh, TODAY).findings
    assert [(f.policy, f.resource_name) for f in findings] == [
        ("GOV-013", "sales.orders@finance-lakeformation")
    ]
