"""Lake Formation settings that do not clobber: what the platform declares is merged with what
each account needs, nothing configured is dropped, and the settings are protected."""

from __future__ import annotations

import yaml
from conftest import ROOT, SAMPLE, TODAY
from typer.testing import CliRunner

from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.engines.recording import run_program
from infra.engines.stack_config import read_stack_config
from infra.provision import types as T
from infra.provision.lake_settings import declarations

PLATFORM, SALES, SHARED = "123456789012", "111122223333", "444455556666"


def role(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def test_each_principal_goes_to_its_accounts_settings_after_what_the_account_needs():
    lake = declarations(
        PLATFORM,
        {SALES: role(SALES, "mesh-deployer"), SHARED: role(SHARED, "mesh-deployer")},
        admins=[role(PLATFORM, "platform-deployer"), role(SALES, "data-steward")],
        read_only_admins=[role(SHARED, "auditor"), "arn:aws:iam::999999999999:role/outsider"],
        trusted_owners=[SALES, "777766665555"],
    )
    assert lake[PLATFORM].admins == (role(PLATFORM, "platform-deployer"),)
    assert lake[SALES].admins == (role(SALES, "mesh-deployer"), role(SALES, "data-steward"))
    assert lake[SHARED].admins == (role(SHARED, "mesh-deployer"),)
    assert lake[SHARED].read_only_admins == (role(SHARED, "auditor"),)
    # a principal of an account the stack has no settings for stays where it was: the platform's
    assert lake[PLATFORM].read_only_admins == ("arn:aws:iam::999999999999:role/outsider",)
    assert lake[SALES].trusted_owners == ("777766665555",)  # never itself
    assert lake[PLATFORM].trusted_owners == (SALES, "777766665555")


def _dev_with(tmp_path, **extra):
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    config["config"].update({"mesh:blueprints": str(SAMPLE), **extra})
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _settings(path):
    settings = read_stack_config(path)
    mesh = load_mesh(settings.blueprints, today=TODAY).mesh
    graph = run_program(mesh, settings, TODAY)
    return {r.name: r for r in graph.by_type(T.LF_SETTINGS)}


def test_the_declared_lists_reach_each_accounts_settings_protected(tmp_path):
    path = _dev_with(
        tmp_path,
        **{
            "mesh:lakeFormationAdmins": [
                role(PLATFORM, "platform-deployer"),
                role(SALES, "data-steward"),
            ],
            "mesh:lakeFormationReadOnlyAdmins": [role(PLATFORM, "auditor")],
            "mesh:lakeFormationTrustedOwners": [SHARED],
        },
    )
    held = _settings(path)
    platform, sales = held["platform-lake-settings"], held[f"platform-lake-settings-{SALES}"]
    assert platform.inputs == {
        "admins": [role(PLATFORM, "platform-deployer")],
        "readOnlyAdmins": [role(PLATFORM, "auditor")],
        "trustedResourceOwners": [SHARED],
        "createDatabaseDefaultPermissions": [],
        "createTableDefaultPermissions": [],
        "parameters": {"CROSS_ACCOUNT_VERSION": "4"},
    }
    assert sales.inputs["admins"] == [role(SALES, "mesh-deployer"), role(SALES, "data-steward")]
    assert sales.inputs["trustedResourceOwners"] == [SHARED]
    assert held[f"platform-lake-settings-{SHARED}"].inputs.get("trustedResourceOwners") is None
    for r in held.values():  # a deletion or replacement would clear the admins
        assert (r.protect, r.retain_on_delete) == (True, True), r.name


def test_without_the_new_lists_the_settings_inputs_are_unchanged(tmp_path):
    """An existing stack: its settings keep exactly their inputs (only protect is new)."""
    held = _settings(ROOT / "Pulumi.dev.yaml")
    assert held["platform-lake-settings"].inputs == {
        "admins": [role(PLATFORM, "platform-deployer")],
        "createDatabaseDefaultPermissions": [],
        "createTableDefaultPermissions": [],
        "parameters": {"CROSS_ACCOUNT_VERSION": "4"},
    }


def test_a_trusted_owner_that_is_no_account_is_refused(tmp_path):
    path = _dev_with(tmp_path, **{"mesh:lakeFormationTrustedOwners": ["acme"]})
    run = CliRunner().invoke(app, ["plan", str(SAMPLE), "--config", str(path)])
    assert run.exit_code == 2
    assert "mesh:lakeFormationTrustedOwners: 'acme' is not an AWS account id" in run.output
