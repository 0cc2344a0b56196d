"""`mesh drift --local` against a kept local mesh (`mesh up --local --keep`): nothing after the
deploy; then each out-of-band change, made as an administrator would in the console, reported
exactly, and nothing else: a Lake Formation grant the mesh never made, an edited bucket
policy, a deleted resource link, an edited role policy, LF-tags assigned where the mesh
assigns none."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT
from test_local_sandbox import kept  # noqa: F401 - the module fixture: one kept mesh

from infra.engines.drift import local_client
from infra.engines.sandbox import read_state

MESH = [sys.executable, "-m", "infra.cli"]
SALES, ANALYTICS_ACCOUNT = "111122223333", "444455556666"


def drift(env: dict, *args: str) -> tuple[int, dict]:
    done = subprocess.run(
        [*MESH, "drift", "--local", "--format", "json", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


@pytest.fixture(scope="module")
def admin(kept):  # noqa: F811
    _, _, state, _ = kept  # the state file names the endpoint and each account's admin
    return local_client(read_state(state))


CONSOLE_GRANT = {
    "kind": "lakeformation",
    "account": SALES,
    "resource": "mesh_sales.customers",
    "detail": f"SELECT to arn:aws:iam::{ANALYTICS_ACCOUNT}:role/mesh-marketing-consumer",
}
OPEN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Partner", "Effect": "Allow",
                   "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                   "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mesh-sales-returns/*"}],
}  # fmt: skip


def test_drift_of_a_kept_mesh(kept, admin):  # noqa: F811
    _, env, _, _ = kept
    assert drift(env) == (0, {"unexpected": [], "missing": [], "changed": []})

    # a grant made in the Lake Formation console, on a table the mesh owns
    admin("lakeformation", SALES).grant_permissions(
        Principal={"DataLakePrincipalIdentifier": f"arn:aws:iam::{ANALYTICS_ACCOUNT}:role/mesh-marketing-consumer"},
        Resource={"Table": {"DatabaseName": "mesh_sales", "Name": "customers"}},
        Permissions=["SELECT"],
    )  # fmt: skip
    assert drift(env) == (1, {"unexpected": [CONSOLE_GRANT], "missing": [], "changed": []})

    # an edited bucket policy (locally the bucket holds no enforceable statement)
    admin("s3", SALES).put_bucket_policy(
        Bucket="mesh-sales-returns", Policy=json.dumps(OPEN_POLICY)
    )
    code, found = drift(env)
    policy = OPEN_POLICY["Statement"][0]
    assert found["unexpected"] == [
        {"kind": "bucket_policy", "account": SALES, "resource": "mesh-sales-returns",
         "detail": "policy " + json.dumps({"Statement": dict(sorted(policy.items())), "Version": "2012-10-17"})},
        CONSOLE_GRANT,
    ]  # fmt: skip

    # a deleted resource link: sales' database as the consumers of 4444... see it
    admin("glue", ANALYTICS_ACCOUNT).delete_database(Name="mesh_sales")
    code, found = drift(env)
    assert found["missing"] == [
        {"kind": "resource_link", "account": ANALYTICS_ACCOUNT, "resource": "mesh_sales",
         "detail": "no such database"},
    ]  # fmt: skip
    assert len(found["unexpected"]) == 2 and found["changed"] == []

    # a role policy edited by hand
    iam = admin("iam", SALES)
    name = iam.list_role_policies(RoleName="mesh-sales-consumer")["PolicyNames"][0]
    iam.put_role_policy(RoleName="mesh-sales-consumer", PolicyName=name, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))  # fmt: skip
    code, found = drift(env)
    assert code == 1
    assert found["changed"] == [
        {"kind": "role_policy", "account": SALES, "resource": f"mesh-sales-consumer/{name}",
         "detail": 'is {"Statement": {"Action": "s3:*", "Effect": "Allow", "Resource": "*"}, "Version": "2012-10-17"}'},
    ]  # fmt: skip

    # one stack: only what it declares (marketing's stack owns none of the above)
    assert drift(env, "--stack", "marketing") == (
        0,
        {"unexpected": [], "missing": [], "changed": []},
    )
    code, found = drift(env, "--stack", "sales")
    assert code == 1 and CONSOLE_GRANT in found["unexpected"] and len(found["missing"]) == 1

    # LF-tags assigned in the console where the mesh assigns none: on the sales database and
    # on a column of customers that is not tagged of its own (a tag grant on pii=true now
    # reaches them)
    lf = admin("lakeformation", SALES)
    customers = {"DatabaseName": "mesh_sales", "Name": "customers"}
    for resource in (
        {"Database": {"Name": "mesh_sales"}},
        {"TableWithColumns": {**customers, "ColumnNames": ["country"]}},
    ):
        lf.add_lf_tags_to_resource(Resource=resource, LFTags=[{"TagKey": "pii", "TagValues": ["true"]}])  # fmt: skip
    code, found = drift(env, "--stack", "sales")
    assert code == 1
    assert [f for f in found["unexpected"] if f["kind"] == "lf_tag_assignment"] == [
        {"kind": "lf_tag_assignment", "account": SALES, "resource": "mesh_sales", "detail": "pii=true"},
        {"kind": "lf_tag_assignment", "account": SALES, "resource": "mesh_sales.customers.country", "detail": "pii=true"},
    ]  # fmt: skip
    assert drift(env, "--stack", "marketing") == (0, {"unexpected": [], "missing": [], "changed": []})  # fmt: skip
