"""The bootstrap stack (`Pulumi.bootstrap.yaml`, `mesh:bootstrap: true`): each domain account's
deploy role with exactly the program's permissions, trusted by the platform's deployer."""

from __future__ import annotations

import json

import pulumi
import pytest
from conftest import ROOT, TODAY
from typer.testing import CliRunner

from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.engines.recording import run_program
from infra.engines.stack_config import read_stack_config
from infra.governance.evaluate import govern_resources
from infra.provision import types as T
from infra.provision.deploy_role import deploy_policy, required_requests
from infra.provision.documents import AwsEnv
from infra.provision.program import StackSettings

DEPLOYER = "arn:aws:iam::123456789012:role/platform-deployer"


@pytest.fixture(scope="module")
def graph():
    settings = read_stack_config(ROOT / "Pulumi.bootstrap.yaml")
    mesh = load_mesh(settings.blueprints, today=TODAY).mesh
    return run_program(mesh, settings, TODAY)


def test_one_deploy_role_per_domain_account_and_nothing_else(graph):
    assert sorted((r.type, r.name, r.account) for r in graph.resources if r.custom) == sorted(
        [
            (T.ROLE_POLICY, "bootstrap-111122223333-deploy-policy", "111122223333"),
            (T.ROLE, "bootstrap-111122223333-deploy-role", "111122223333"),
            (T.ROLE_POLICY, "bootstrap-444455556666-deploy-policy", "444455556666"),
            (T.ROLE, "bootstrap-444455556666-deploy-role", "444455556666"),
            (T.PROVIDER, "account-111122223333", "111122223333"),
            (T.PROVIDER, "account-444455556666", "444455556666"),
        ]
    )


def test_the_role_trusts_the_platform_deployer_and_holds_the_programs_permissions(graph):
    role = graph.get(T.ROLE, "bootstrap-111122223333-deploy-role")
    assert role.inputs["name"] == "mesh-deployer"
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"] == [
        {
            "Sid": "PlatformDeployer",
            "Effect": "Allow",
            "Principal": {"AWS": [DEPLOYER]},
            "Action": "sts:AssumeRole",
        }
    ]
    policy = graph.get(T.ROLE_POLICY, "bootstrap-111122223333-deploy-policy")
    doc = json.loads(policy.inputs["policy"])
    assert doc == deploy_policy(AwsEnv("111122223333", "eu-west-1"), "acme-mesh", True)
    sids = [s["Sid"] for s in doc["Statement"]]
    assert sids == ["Roles", "Buckets", "CreateKeys", "Keys", "Catalog", "LakeFormation",
                    "ShareCreate", "ShareManage", "SharePermissions", "ShareRead"]  # fmt: skip
    actions = {a for s in doc["Statement"] for a in s["Action"]}
    # AWSLakeFormationCrossAccountManager's (v9) actions, and what creating the mesh takes
    assert {"ram:CreateResourceShare", "ram:AssociateResourceShare", "glue:PutResourcePolicy",
            "iam:PassRole", "lakeformation:PutDataLakeSettings", "kms:CreateKey"} <= actions  # fmt: skip
    assert doc["Statement"][0]["Resource"] == "arn:aws:iam::111122223333:role/acme-mesh-*"
    # an inline policy AWS accepts: 10,240 characters without whitespace
    assert len(json.dumps(doc, separators=(",", ":"))) < 10240


def test_providers_reach_each_account_through_the_organizations_role(graph):
    provider = graph.get(T.PROVIDER, "account-444455556666")
    # a provider's inputs reach the engine as JSON strings
    assert json.loads(provider.inputs["assumeRoles"]) == [
        {
            "role_arn": "arn:aws:iam::444455556666:role/OrganizationAccountAccessRole",
            "session_name": "acme-mesh-bootstrap",
        }
    ]
    assert json.loads(provider.inputs["allowedAccountIds"]) == ["444455556666"]


def test_the_plan_passes_governance(graph):
    """The deploy role is control plane: prefix patterns, `*` only where AWS has no resource
    (exempted from the data rules with that reason: `resource_rules.CONTROL_PLANE`)."""
    assert govern_resources(graph, None, TODAY).findings == []
    run = CliRunner().invoke(app, ["plan", "--config", str(ROOT / "Pulumi.bootstrap.yaml")])
    assert run.exit_code == 0, run.output


def test_every_required_request_is_allowed_by_the_policy_it_comes_from():
    from infra.audit.iameval import Request, decide, evaluate

    env = AwsEnv("111122223333", "eu-west-1")
    doc = deploy_policy(env, "acme-mesh", True)
    requests = required_requests(env, "acme-mesh", True)
    assert len(requests) == sum(len(s["Action"]) for s in doc["Statement"])
    for action, resource, context in requests:
        hit = evaluate(doc, "deploy", Request(action, resource, dict(context)))
        assert decide([hit], [], resource_policy_required=False).allowed, action
    # one account: no AWS RAM
    assert not any(a.startswith("ram:") for a, _, _ in required_requests(env, "p", False))


def test_without_a_platform_role_to_trust_it_is_refused():
    settings = StackSettings(
        prefix="acme-mesh",
        bootstrap=True,
        lake_formation_admins=("arn:aws:iam::111122223333:role/elsewhere",),
    )
    mesh = load_mesh(ROOT / "blueprints", today=TODAY).mesh
    with pytest.raises(pulumi.RunError, match="IAM roles of account 123456789012"):
        run_program(mesh, settings, TODAY)
