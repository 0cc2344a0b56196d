"""Bucket names that cannot collide (`mesh:bucketNamespace: account-regional`), chosen once per
stack: older stacks keep theirs; `mesh validate` refuses two stack configs of the project that
would create one name in two accounts (E049) or write one account's Lake Formation settings
differently (E090)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SAMPLE, TODAY
from typer.testing import CliRunner

from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.engines.recording import run_program
from infra.engines.stack_config import read_stack_config
from infra.provision import types as T
from infra.provision.names import Names, name_problems
from infra.provision.program import StackSettings

runner = CliRunner()
ENV = {"MESH_TODAY": str(TODAY)}


def buckets(config: Path) -> dict[str, dict]:
    settings = read_stack_config(config)
    mesh = load_mesh(settings.blueprints, today=TODAY).mesh
    graph = run_program(mesh, settings, TODAY)
    return {r.inputs["bucket"]: r.inputs for r in graph.by_type(T.BUCKET)}


def test_the_two_sample_stacks_share_no_bucket_name():
    """`mesh plan --config Pulumi.dev.yaml` and `--config Pulumi.single.yaml`: dev keeps the
    names it was deployed with (S3's global namespace), single's carry its account."""
    dev, single = buckets(ROOT / "Pulumi.dev.yaml"), buckets(ROOT / "Pulumi.single.yaml")
    assert len(dev) == len(single) == 10 + 5  # products, and each domain's query results
    assert set(dev) & set(single) == set()
    assert "acme-mesh-sales-athena" in dev
    assert "acme-mesh-sales-athena-999988887777-eu-west-1-an" in single
    assert "acme-mesh-sales-orders" in dev
    assert "bucketNamespace" not in dev["acme-mesh-sales-orders"]  # inputs as before
    orders = single["acme-mesh-sales-orders-999988887777-eu-west-1-an"]
    assert orders["bucketNamespace"] == "account-regional"
    assert all(b.endswith("-999988887777-eu-west-1-an") for b in single)


def test_an_existing_stack_keeps_its_names_without_the_switch(tmp_path):
    """A stack config from before the switch (no mesh:bucketNamespace) plans exactly what the
    same config with `global` plans: nothing is renamed, so nothing protected is replaced
    (tests/test_migration.py compares the whole plan with the previous release's)."""
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    assert config["config"].pop("mesh:bucketNamespace") == "global"
    config["config"]["mesh:blueprints"] = str(SAMPLE)
    old = tmp_path / "Pulumi.dev.yaml"
    old.write_text(yaml.safe_dump(config))
    assert buckets(old) == buckets(ROOT / "Pulumi.dev.yaml")


def test_a_wrong_namespace_is_refused(tmp_path):
    config = tmp_path / "Pulumi.x.yaml"
    config.write_text(
        "config:\n  aws:region: eu-west-1\n  mesh:prefix: acme\n  mesh:account: '123456789012'\n"
        "  mesh:stack: sales\n  mesh:bucketNamespace: regional\n"
    )
    run = runner.invoke(app, ["plan", str(SAMPLE), "--config", str(config)], env=ENV)
    assert run.exit_code == 2
    assert "mesh:bucketNamespace is 'regional': expected global or account-regional" in run.output


def test_regional_names_are_length_checked_with_their_suffix():
    """`-<account>-<region>-an` adds 26 characters in eu-west-1: E033 says so before deploy."""
    long = {"sales": [load_mesh(SAMPLE, today=TODAY).mesh.blueprint("sales").products[0]]}
    prefix = "p" * 20
    assert list(name_problems(Names(prefix), long)) == []
    # the domain's query-results bucket (`<prefix>-sales-athena`) carries the same suffix
    [results, (domain, index, code, message)] = name_problems(
        Names(prefix, "account-regional", "ap-southeast-2"), long
    )
    assert (domain, index, code) == ("sales", 0, "E033")
    assert "-000000000000-ap-southeast-2-an' is 64 characters" in message
    assert results[:3] == ("sales", None, "E033")
    assert "sales-athena-000000000000-ap-southeast-2-an' is 64 characters" in results[3]


# ------------------------------------------------------------------ the project's stack configs


def project(tmp_path: Path, configs: dict[str, dict]) -> Path:
    root = tmp_path / "project"
    shutil.copytree(SAMPLE, root / "blueprints")
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    for name, config in configs.items():
        (root / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": config}))
    return root / "blueprints"


def stack(account: str, **more) -> dict:
    return {
        "aws:region": "eu-west-1",
        "mesh:prefix": "acme-mesh",
        "mesh:account": account,
        "mesh:lakeFormationAdmins": [f"arn:aws:iam::{account}:role/platform-deployer"],
        **more,
    }


def validate(directory: Path) -> tuple[int, list[tuple]]:
    run = runner.invoke(app, ["validate", str(directory), "--format", "json"], env=ENV)
    doc = json.loads(run.stdout)
    return run.exit_code, sorted(
        (e["code"], Path(e["file"]).name, e["path"]) for e in doc["errors"]
    )


def test_two_configs_creating_one_bucket_name_in_two_accounts_are_refused(tmp_path):
    """The sample's old pair: the same prefix in S3's global namespace, sales deployed into
    111122223333 by one stack and into 123456789012 by the other (singleAccount)."""
    directory = project(
        tmp_path,
        {
            "dev": stack("123456789012"),
            "single": stack("123456789012", **{"mesh:singleAccount": True}),
        },
    )
    code, errors = validate(directory)
    assert code == 1
    e049 = [e for e in errors if e[0] == "E049"]
    # every product of sales (111122223333), finance and marketing (444455556666); logistics
    # is in 123456789012 in both, analytics has none
    assert e049 == [("E049", f"{d}.yaml", f"products[{i}].name") for d, n in
                    (("finance", 3), ("marketing", 2), ("sales", 3)) for i in range(n)]  # fmt: skip
    run = runner.invoke(app, ["validate", str(directory)], env=ENV)
    assert "bucket 'acme-mesh-sales-orders' of sales.orders would be created in account 123456789012 by Pulumi.single.yaml and in account 111122223333 by Pulumi.dev.yaml" in " ".join(run.output.split())  # fmt: skip


def test_regional_names_never_collide_across_accounts(tmp_path):
    regional = {"mesh:bucketNamespace": "account-regional"}
    directory = project(
        tmp_path,
        {
            "dev": stack("123456789012", **regional),
            "single": stack("999988887777", **regional, **{"mesh:singleAccount": True}),
        },
    )
    assert validate(directory) == (0, [])


def test_two_configs_writing_one_accounts_lake_formation_settings_are_refused(tmp_path):
    """dev and single in one account: single (one account, no cross-account version) would
    reset what dev declares; another deployment (another namespace) is refused too."""
    directory = project(
        tmp_path,
        {
            "dev": stack("123456789012"),
            "single": stack(
                "123456789012",
                **{"mesh:singleAccount": True, "mesh:bucketNamespace": "account-regional"},
            ),
        },
    )
    code, errors = validate(directory)
    assert code == 1
    assert errors == [("E090", "Pulumi.single.yaml", "config.mesh:account")]
    run = runner.invoke(app, ["validate", str(directory)], env=ENV)
    lines = (directory.parent / "Pulumi.single.yaml").read_text().splitlines()
    line = 1 + next(i for i, text in enumerate(lines) if "mesh:account:" in text)
    assert f"Pulumi.single.yaml:{line}: error E090" in run.output  # the line of mesh:account
    assert "another deployment" in run.output


def test_one_deployment_in_two_shapes_is_one_owner(tmp_path):
    """One stack for the mesh or a platform stack (plus one per domain): the same names and the
    same settings, only one of them deployed. The sample project is such a pair."""
    directory = project(
        tmp_path,
        {
            "dev": stack("123456789012"),
            "platform": stack("123456789012", **{"mesh:stack": "platform"}),
        },
    )
    assert validate(directory) == (0, [])
    # the same shapes declaring different administrators would overwrite each other
    other = stack("123456789012", **{"mesh:stack": "platform"})
    other["mesh:lakeFormationAdmins"].append("arn:aws:iam::123456789012:role/auditor")
    (directory.parent / "Pulumi.platform.yaml").write_text(yaml.safe_dump({"config": other}))
    assert validate(directory) == (1, [("E090", "Pulumi.platform.yaml", "config.mesh:account")])


def test_the_sample_project_validates():
    run = runner.invoke(app, ["validate", str(SAMPLE), "--format", "json"], env=ENV)
    assert run.exit_code == 0, run.stdout
    assert json.loads(run.stdout)["errors"] == []


@pytest.mark.parametrize("namespace", ["global", "account-regional"])
def test_plan_settings_read_the_namespace(namespace, tmp_path):
    config = tmp_path / "Pulumi.s.yaml"
    config.write_text(
        yaml.safe_dump({"config": stack("123456789012", **{"mesh:bucketNamespace": namespace})})
    )
    settings = read_stack_config(config)
    assert settings.bucket_namespace == namespace
    assert StackSettings().bucket_namespace == "global"  # the local engine's names


# ------------------------------------------------------------------ catalog patterns


@pytest.mark.parametrize(
    "eu",
    [
        {"mesh:stack": "sales"},  # sales' stack, in dev's accounts
        {"mesh:account": "999988887777", "mesh:singleAccount": True},  # dev's pattern spans all
    ],
    ids=["shared-accounts", "any-account"],
)
def test_a_prefix_extending_another_is_refused_where_its_databases_are_reachable(tmp_path, eu):
    directory = project(
        tmp_path,
        {
            "dev": stack("123456789012"),
            "eu": {**stack("123456789012"), "mesh:prefix": "acme-mesh-eu", **eu},
        },
    )
    code, errors = validate(directory)
    assert (code, errors) == (1, [("E091", "Pulumi.eu.yaml", "config.mesh:prefix")])
    run = runner.invoke(app, ["validate", str(directory)], env=ENV)
    assert "prefix 'acme-mesh-eu' (Pulumi.eu.yaml) gives databases acme_mesh_eu_*" in run.output
    assert "catalog pattern acme_mesh_*" in run.output


def test_a_prefix_extending_another_in_other_accounts_only_is_accepted(tmp_path):
    """Both single-account, in different accounts: each pattern names its own account."""
    one = {"mesh:singleAccount": True}
    directory = project(
        tmp_path,
        {
            "a": stack("123456789012", **one),
            "b": {**stack("999988887777", **one), "mesh:prefix": "acme-mesh-eu"},
        },
    )
    assert validate(directory) == (0, [])
