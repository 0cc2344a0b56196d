"""`mesh doctor`: against the kept local mesh (`mesh up --local --keep`), exit 0 with everything in
place, and exit 1 naming the piece when one is removed, each in turn; against "AWS" (moto in
this process), the deployer and the deploy roles of a fresh Organization."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import yaml
from conftest import ROOT, SAMPLE
from typer.testing import CliRunner

from infra.cli import app

MESH = [sys.executable, "-m", "infra.cli"]
PLATFORM, SALES, SHARED = "123456789012", "111122223333", "444455556666"
runner = CliRunner()


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """`mesh up --local --keep` on the sample mesh, until its state file is written."""
    state = tmp_path_factory.mktemp("doctor") / "local.json"
    env = {**os.environ, "MESH_LOCAL_STATE": str(state)}
    process = subprocess.Popen(
        [*MESH, "up", "--local", "--keep"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600

    def ready() -> bool:  # written "starting" first, "ready" once the mesh is kept
        try:
            return json.loads(state.read_text()).get("status") == "ready"
        except (OSError, ValueError):
            return False

    while not ready():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(0.5)  # the state file is written, then enforcement switched on
    try:
        yield json.loads(state.read_text()), state
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def admin(kept, service: str, account: str):
    state, _ = kept
    creds = state["admins"][account]["credentials"]
    return boto3.session.Session(region_name=state["region"], **creds).client(
        service, endpoint_url=state["endpoint"]
    )


def doctor(kept, directory: Path = SAMPLE) -> tuple[int, dict]:
    _, path = kept
    run = runner.invoke(
        app,
        ["doctor", str(directory), "--local", "--format", "json"],
        env={"MESH_LOCAL_STATE": str(path)},
    )
    assert run.exit_code in (0, 1), run.output
    return run.exit_code, json.loads(run.stdout)


def missing(doc: dict) -> list[tuple[str, str]]:
    return [(m["account"], m["check"]) for m in doc["missing"]]


def test_everything_in_place(kept):
    code, doc = doctor(kept)
    assert (code, doc["ok"], doc["missing"]) == (0, True, [])
    checked = {(c["account"], c["check"]) for c in doc["checks"]}
    for account in (SALES, SHARED):
        for check in ("deploy-role", "deploy-permissions", "lf-admins", "lf-defaults",
                      "cross-account-version", "bucket-name"):  # fmt: skip
            assert (account, check) in checked
    assert (PLATFORM, "ram-sharing") in checked
    assert (SALES, "glue-policy") in checked  # no catalog policy: nothing to add
    # Service Quotas of S3 and IAM are not in the emulator: said, never passed
    assert {(n["account"], n["check"]) for n in doc["notes"]} == {
        (a, "quota") for a in (PLATFORM, SALES, SHARED)
    }


def test_text_output_names_the_missing_piece_and_its_fix(kept):
    iam = admin(kept, "iam", SALES)
    policy = iam.get_role_policy(RoleName="mesh-deployer", PolicyName="mesh-deploy")
    iam.delete_role_policy(RoleName="mesh-deployer", PolicyName="mesh-deploy")
    try:
        _, path = kept
        run = runner.invoke(app, ["doctor", "--local"], env={"MESH_LOCAL_STATE": str(path)})
        assert run.exit_code == 1
        line = next(x for x in run.output.splitlines() if x.startswith("MISSING"))
        assert line.startswith(f"MISSING {SALES} deploy-permissions: role mesh-deployer may not: ")
        assert "ram:CreateResourceShare" in line and "fix: give the role the bootstrap" in line
        assert run.output.splitlines()[-1].startswith("NOT READY")
    finally:
        iam.put_role_policy(
            RoleName="mesh-deployer",
            PolicyName="mesh-deploy",
            PolicyDocument=json.dumps(policy["PolicyDocument"]),
        )


def test_a_deploy_role_without_the_ram_permissions(kept):
    """AWSLakeFormationCrossAccountManager's actions are required across accounts."""
    iam = admin(kept, "iam", SHARED)
    doc = iam.get_role_policy(RoleName="mesh-deployer", PolicyName="mesh-deploy")["PolicyDocument"]
    reduced = {
        **doc,
        "Statement": [s for s in doc["Statement"] if not s["Sid"].startswith("Share")],
    }
    iam.put_role_policy(
        RoleName="mesh-deployer", PolicyName="mesh-deploy", PolicyDocument=json.dumps(reduced)
    )
    try:
        code, report = doctor(kept)
        assert (code, missing(report)) == (1, [(SHARED, "deploy-permissions")])
        message = report["missing"][0]["message"]
        for action in ("ram:CreateResourceShare", "ram:AssociateResourceShare", "glue:PutResourcePolicy"):  # fmt: skip
            assert action in message
    finally:
        iam.put_role_policy(
            RoleName="mesh-deployer", PolicyName="mesh-deploy", PolicyDocument=json.dumps(doc)
        )
    assert doctor(kept)[0] == 0


GLUE = f"arn:aws:glue:eu-west-1:{SALES}"
RAM_SHARE = {
    "Effect": "Allow",
    "Principal": {"Service": "ram.amazonaws.com"},
    "Action": "glue:ShareResource",
    "Resource": [f"{GLUE}:table/*/*", f"{GLUE}:database/*", f"{GLUE}:catalog"],
}
PARTNER = {  # a Glue-only cross-account grant, as a team may have made before the mesh
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
    "Action": "glue:GetTable",
    "Resource": f"{GLUE}:table/legacy/*",
}


@pytest.mark.parametrize(
    "statements, ready",
    [
        ([PARTNER], False),
        ([PARTNER, RAM_SHARE], True),
        ([PARTNER, {**RAM_SHARE, "Resource": f"arn:aws:glue:*:{SALES}:*"}], True),
        ([{**RAM_SHARE, "Resource": [f"{GLUE}:table/mesh_sales/*", f"{GLUE}:database/*"]}], False),
        ([RAM_SHARE, {**RAM_SHARE, "Effect": "Deny", "Resource": f"{GLUE}:catalog"}], False),
        ([{**RAM_SHARE, "Condition": {"StringEquals": {"aws:SourceAccount": SALES}}}], False),
    ],
    ids=["without-ram", "with-ram", "wildcards", "some-tables-only", "denied", "conditional"],
)
def test_a_data_catalog_policy_that_keeps_ram_from_sharing(kept, statements, ready):
    """Lake Formation shares named resources across accounts through AWS RAM: a Data Catalog
    resource policy must then let RAM share the account's tables, databases and catalog."""
    glue = admin(kept, "glue", SALES)
    policy = {"Version": "2012-10-17", "Statement": statements}
    glue.put_resource_policy(PolicyInJson=json.dumps(policy))
    try:
        code, report = doctor(kept)
        check = next(
            c for c in report["checks"] if (c["account"], c["check"]) == (SALES, "glue-policy")
        )
        assert (code, check["ok"]) == (0 if ready else 1, ready)
        if not ready:
            assert missing(report) == [(SALES, "glue-policy")]
            assert check["message"].startswith(
                "the Data Catalog resource policy does not let ram.amazonaws.com "
                "glue:ShareResource on "
            )
            assert check["fix"].startswith("add to the Data Catalog resource policy: Allow ")
    finally:
        glue.delete_resource_policy()
    assert doctor(kept)[0] == 0


def test_a_missing_deploy_role(kept):
    iam = admin(kept, "iam", SALES)
    role = iam.get_role(RoleName="mesh-deployer")["Role"]
    policy = iam.get_role_policy(RoleName="mesh-deployer", PolicyName="mesh-deploy")
    iam.delete_role_policy(RoleName="mesh-deployer", PolicyName="mesh-deploy")
    iam.delete_role(RoleName="mesh-deployer")
    try:
        code, report = doctor(kept)
        assert (code, missing(report)) == (1, [(SALES, "deploy-role")])
        assert "pulumi up --stack bootstrap" in report["missing"][0]["fix"]
    finally:
        iam.create_role(
            RoleName="mesh-deployer",
            AssumeRolePolicyDocument=json.dumps(role["AssumeRolePolicyDocument"]),
        )
        iam.put_role_policy(
            RoleName="mesh-deployer",
            PolicyName="mesh-deploy",
            PolicyDocument=json.dumps(policy["PolicyDocument"]),
        )
    assert doctor(kept)[0] == 0


def test_a_deploy_role_that_does_not_trust_the_platform(kept):
    iam = admin(kept, "iam", SHARED)
    trust = iam.get_role(RoleName="mesh-deployer")["Role"]["AssumeRolePolicyDocument"]
    stranger = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999988887777:role/stranger"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.update_assume_role_policy(RoleName="mesh-deployer", PolicyDocument=json.dumps(stranger))
    try:
        code, report = doctor(kept)
        assert (code, missing(report)) == (1, [(SHARED, "deploy-role")])
        assert (
            "does not trust arn:aws:iam::123456789012:role/mesh-platform-deployer"
            in (report["missing"][0]["message"])
        )
    finally:
        iam.update_assume_role_policy(RoleName="mesh-deployer", PolicyDocument=json.dumps(trust))


@pytest.mark.parametrize(
    ("change", "check"),
    [
        (lambda s: {**s, "DataLakeAdmins": []}, "lf-admins"),
        (
            lambda s: {
                **s,
                "CreateTableDefaultPermissions": [
                    {
                        "Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
                        "Permissions": ["ALL"],
                    }
                ],
            },
            "lf-defaults",
        ),
        (lambda s: {**s, "Parameters": {"CROSS_ACCOUNT_VERSION": "1"}}, "cross-account-version"),
    ],
    ids=["admins", "defaults", "version"],
)
def test_lake_formation_settings_not_in_place(kept, change, check):
    lf = admin(kept, "lakeformation", SALES)
    held = lf.get_data_lake_settings()["DataLakeSettings"]
    lf.put_data_lake_settings(DataLakeSettings=change(held))
    try:
        code, report = doctor(kept)
        assert (code, missing(report)) == (1, [(SALES, check)])
        assert (
            report["missing"][0]["fix"] == "deploy the platform stack (pulumi up --stack platform)"
        )
    finally:
        lf.put_data_lake_settings(DataLakeSettings=held)


def test_administrators_the_platform_would_drop_are_named(kept):
    lf = admin(kept, "lakeformation", PLATFORM)
    held = lf.get_data_lake_settings()["DataLakeSettings"]
    extra = {"DataLakePrincipalIdentifier": "arn:aws:iam::123456789012:role/data-steward"}
    lf.put_data_lake_settings(
        DataLakeSettings={**held, "DataLakeAdmins": [*held["DataLakeAdmins"], extra]}
    )
    try:
        code, report = doctor(kept)
        assert code == 0  # nothing missing, but said
        [note] = [n for n in report["notes"] if n["check"] == "lf-admins"]
        assert note["account"] == PLATFORM and "role/data-steward" in note["message"]
        assert note["fix"] == "keep them: add them to mesh:lakeFormationAdmins"
    finally:
        lf.put_data_lake_settings(DataLakeSettings=held)


def test_ram_sharing_with_the_organization_off(kept):
    orgs = admin(kept, "organizations", PLATFORM)
    orgs.disable_aws_service_access(ServicePrincipal="ram.amazonaws.com")
    try:
        code, report = doctor(kept)
        assert (code, missing(report)) == (1, [(PLATFORM, "ram-sharing")])
        assert "enable-sharing-with-aws-organization" in report["missing"][0]["fix"]
    finally:
        orgs.enable_aws_service_access(ServicePrincipal="ram.amazonaws.com")


def test_a_bucket_name_another_account_holds(kept, tmp_path):
    """A product sales adds, whose bucket name another account created meanwhile."""
    directory = tmp_path / "blueprints"
    shutil.copytree(SAMPLE, directory)
    sales = yaml.safe_load((directory / "sales.yaml").read_text())
    refunds = {**sales["products"][2], "name": "refunds", "consumers": []}
    sales["products"].append(refunds)
    (directory / "sales.yaml").write_text(yaml.safe_dump(sales, sort_keys=False))
    code, report = doctor(kept, directory)
    assert code == 0  # free: it will be created
    s3 = admin(kept, "s3", SHARED)
    s3.create_bucket(
        Bucket="mesh-sales-refunds", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    try:
        code, report = doctor(kept, directory)
        assert (code, missing(report)) == (1, [(SALES, "bucket-name")])
        assert "mesh-sales-refunds" in report["missing"][0]["message"]
        assert "account-regional" in report["missing"][0]["fix"]
    finally:
        s3.delete_bucket(Bucket="mesh-sales-refunds")


def test_without_a_kept_mesh(tmp_path):
    run = runner.invoke(
        app, ["doctor", "--local"], env={"MESH_LOCAL_STATE": str(tmp_path / "none.json")}
    )
    assert run.exit_code == 1
    assert "no local mesh is kept" in run.output


# ------------------------------------------------------------------ against AWS (moto here)


def test_a_fresh_organization_against_aws(tmp_path, monkeypatch):
    """The ambient credentials are not a Lake Formation administrator, no account has a deploy
    role, and nothing of the platform is deployed: each piece is named."""
    from moto import mock_aws

    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    config["config"]["mesh:blueprints"] = str(SAMPLE)
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(config))
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "MESH_STACK_CONFIG": str(path),
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        run = runner.invoke(app, ["doctor", str(SAMPLE), "--format", "json"])
    assert run.exit_code == 1, run.output
    doc = json.loads(run.stdout)
    assert sorted(missing(doc)) == [
        (SALES, "deploy-role"),
        (PLATFORM, "cross-account-version"),
        (PLATFORM, "deployer"),
        (PLATFORM, "lf-admins"),
        (PLATFORM, "lf-defaults"),
        (SHARED, "deploy-role"),
    ]
    deployer = next(m for m in doc["missing"] if m["check"] == "deployer")
    assert deployer["message"] == (
        "pulumi up runs as arn:aws:sts::123456789012:user/moto, which "
        "mesh:lakeFormationAdmins omits"
    )
    # not in an Organization: said, and the invitations the emulator cannot list
    assert (PLATFORM, "ram-sharing") in {(n["account"], n["check"]) for n in doc["notes"]}


def test_which_stack_against_aws_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.delenv("MESH_STACK_CONFIG", raising=False)
    monkeypatch.chdir(ROOT)
    run = runner.invoke(app, ["doctor", str(SAMPLE)])
    assert run.exit_code == 2
    assert "set MESH_STACK_CONFIG=Pulumi.<stack>.yaml" in run.output
