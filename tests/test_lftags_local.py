"""LF-tags in the local engine (`infra.engines.moto_lftags`, `infra.engines.readback_lftags`):
the ontology, tag assignments on a database, a table and columns, and a permission on a tag
expression applied to moto exactly as pulumi_aws records them, read back and compared."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest

from infra.engines.drift import drift
from infra.engines.moto import ApplyError, LocalAws
from infra.engines.moto_deploy import MotoMocks
from infra.engines.moto_lftags import declared_policies
from infra.engines.readback import permissions
from infra.engines.readback_lftags import lf_tags_read_back
from infra.engines.recording import run_program
from infra.provision.program import StackSettings

SETTINGS = StackSettings()
ACCOUNT = SETTINGS.account  # moto's default account: the platform's
ROLE = f"arn:aws:iam::{ACCOUNT}:role/mesh-analytics-consumer"


def _program(value: str = "high"):
    def program() -> None:
        tags = [
            aws.lakeformation.LfTag(
                "lf-tag-classification", key="classification", values=["internal", "public"]
            ),
            aws.lakeformation.LfTag(
                "lf-tag-sensitivity", key="sensitivity", values=["low", "high"]
            ),
        ]
        after = pulumi.ResourceOptions(depends_on=tags)  # as the program's: the tags first
        aws.lakeformation.ResourceLfTags(
            "sales-lf-tags",
            database={"name": "mesh_sales"},
            lf_tags=[{"key": "classification", "value": "internal"}],
            opts=after,
        )
        aws.lakeformation.ResourceLfTags(
            "sales.orders-lf-tags",
            table={"database_name": "mesh_sales", "name": "orders"},
            lf_tags=[{"key": "sensitivity", "value": "low"}],
            opts=after,
        )
        aws.lakeformation.ResourceLfTags(
            "sales.orders-pii-lf-tags",
            table_with_columns={
                "database_name": "mesh_sales",
                "name": "orders",
                "column_names": ["customer_email", "customer_name"],
            },
            lf_tags=[{"key": "sensitivity", "value": value}],
            opts=after,
        )
        aws.lakeformation.ResourceLfTags(  # a second assignment on one column adds to it
            "sales.orders-email-lf-tags",
            table_with_columns={
                "database_name": "mesh_sales",
                "name": "orders",
                "column_names": ["customer_email"],
            },
            lf_tags=[{"key": "classification", "value": "public"}],
            opts=after,
        )
        aws.lakeformation.Permissions(
            "analytics-tags-0",
            principal=ROLE,
            permissions=["SELECT"],
            lf_tag_policy={
                "resource_type": "TABLE",
                "expressions": [
                    {"key": "sensitivity", "values": ["low"]},
                    {"key": "classification", "values": ["public", "internal"]},
                ],
            },
            opts=after,
        )

    return program


@pytest.fixture(scope="module")
def local():
    emulator = LocalAws(SETTINGS.region)
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def deployed(local, today):
    return run_program(None, SETTINGS, today, mocks=MotoMocks(local, SETTINGS), program=_program())  # type: ignore[arg-type]


def test_lf_tags_assignments_and_the_tag_grant_read_back_as_planned(local, deployed):
    checks = lf_tags_read_back(local, deployed, ACCOUNT)
    assert [(c.subject, c.what, c.ok) for c in checks] == [
        (f"{ACCOUNT}:lf-tags", "2 LF-tags with their values as declared", True),
        (f"{ACCOUNT}:mesh_sales", "LF-tags {'classification': 'internal'}", True),
        (f"{ACCOUNT}:mesh_sales.orders", "LF-tags {'sensitivity': 'low'}", True),
        (
            f"{ACCOUNT}:mesh_sales.orders.customer_email",
            "LF-tags {'classification': 'public', 'sensitivity': 'high'}",
            True,
        ),
        (f"{ACCOUNT}:mesh_sales.orders.customer_name", "LF-tags {'sensitivity': 'high'}", True),
    ]
    assert all(c.account == ACCOUNT for c in checks)


def test_the_permission_on_the_expression_is_held_as_declared(local, deployed):
    held = {(ACCOUNT, *e) for e in permissions(local.in_account("lakeformation", ACCOUNT))}
    expected = (
        ACCOUNT,
        ROLE,
        'tags TABLE [["classification", ["internal", "public"]], ["sensitivity", ["low"]]]',
        "",
        None,
        ("SELECT",),
        None,
    )
    assert declared_policies(deployed.resources, ACCOUNT) == {expected}
    assert expected in held


@pytest.fixture
def fresh(today):
    """A deployment of its own, for a test that changes it."""
    emulator = LocalAws(SETTINGS.region)
    try:
        yield emulator, run_program(None, SETTINGS, today, mocks=MotoMocks(emulator, SETTINGS), program=_program())  # type: ignore[arg-type]  # fmt: skip
    finally:
        emulator.stop()


def test_a_tag_removed_by_hand_is_a_failed_check(fresh):
    local, deployed = fresh
    lf = local.in_account("lakeformation", ACCOUNT)
    lf.remove_lf_tags_from_resource(
        Resource={"Table": {"DatabaseName": "mesh_sales", "Name": "orders"}},
        LFTags=[{"TagKey": "sensitivity", "TagValues": ["low"]}],
    )
    failed = [c for c in lf_tags_read_back(local, deployed, ACCOUNT) if not c.ok]
    assert [(c.subject, c.detail) for c in failed] == [(f"{ACCOUNT}:mesh_sales.orders", "got {}")]


def test_drift_sees_a_permission_on_an_expression_revoked_or_widened_by_hand(fresh):
    local, deployed = fresh
    client = lambda service, account: local.in_account(service, account)
    assert drift(deployed, SETTINGS, [ACCOUNT], client).as_json()["missing"] == []
    lf = local.in_account("lakeformation", ACCOUNT)
    policy = {
        "ResourceType": "TABLE",
        "Expression": [
            {"TagKey": "classification", "TagValues": ["internal", "public"]},
            {"TagKey": "sensitivity", "TagValues": ["low"]},
        ],
    }
    principal = {"DataLakePrincipalIdentifier": ROLE}
    lf.revoke_permissions(Principal=principal, Resource={"LFTagPolicy": policy}, Permissions=["SELECT"])  # fmt: skip
    wider = {**policy, "Expression": [{"TagKey": "sensitivity", "TagValues": ["low", "high"]}]}
    lf.grant_permissions(Principal=principal, Resource={"LFTagPolicy": wider}, Permissions=["SELECT"])  # fmt: skip
    found = drift(deployed, SETTINGS, [ACCOUNT], client).as_json()
    tags = '[["classification", ["internal", "public"]], ["sensitivity", ["low"]]]'
    assert [(f["resource"], f["detail"]) for f in found["missing"]] == [
        (f"tags TABLE {tags}", f"SELECT to {ROLE}")
    ]
    assert [(f["resource"], f["detail"]) for f in found["unexpected"]] == [
        ('tags TABLE [["sensitivity", ["high", "low"]]]', f"SELECT to {ROLE}")
    ]


def test_a_value_outside_the_ontology_is_refused_as_aws_refuses_it(today):
    emulator = LocalAws(SETTINGS.region)
    try:
        with pytest.raises(ApplyError, match=r"sales.orders-pii-lf-tags.*sensitivity=secret"):
            run_program(None, SETTINGS, today, mocks=MotoMocks(emulator, SETTINGS), program=_program("secret"))  # type: ignore[arg-type]  # fmt: skip
    finally:
        emulator.stop()


def test_drift_sees_lf_tags_and_assignments_changed_by_hand(fresh):
    local, deployed = fresh
    client = lambda service, account: local.in_account(service, account)
    kinds = ("lf_tag", "lf_tag_assignment")

    def tag_drift() -> dict:
        found = drift(deployed, SETTINGS, [ACCOUNT], client).as_json()
        return {
            group: [
                (f["kind"], f["resource"], f["detail"]) for f in found[group] if f["kind"] in kinds
            ]
            for group in found
        }

    assert tag_drift() == {"unexpected": [], "missing": [], "changed": []}
    lf = local.in_account("lakeformation", ACCOUNT)
    lf.update_lf_tag(TagKey="sensitivity", TagValuesToAdd=["medium"])  # a value added
    lf.create_lf_tag(TagKey="owner", TagValues=["finance"])  # a key the mesh does not know
    orders = {"Table": {"DatabaseName": "mesh_sales", "Name": "orders"}}
    lf.remove_lf_tags_from_resource(
        Resource=orders, LFTags=[{"TagKey": "sensitivity", "TagValues": ["low"]}]
    )
    lf.add_lf_tags_to_resource(Resource=orders, LFTags=[{"TagKey": "owner", "TagValues": ["finance"]}])  # fmt: skip
    name = {"TableWithColumns": {**orders["Table"], "ColumnNames": ["customer_name"]}}
    lf.add_lf_tags_to_resource(Resource=name, LFTags=[{"TagKey": "sensitivity", "TagValues": ["low"]}])  # fmt: skip
    assert tag_drift() == {
        "unexpected": [
            ("lf_tag", "owner", "values finance"),
            ("lf_tag_assignment", "mesh_sales.orders", "owner=finance"),
        ],
        "missing": [("lf_tag_assignment", "mesh_sales.orders", "sensitivity=low")],
        "changed": [
            ("lf_tag", "sensitivity", "values high, low, medium; declared values high, low"),
            (
                "lf_tag_assignment",
                "mesh_sales.orders.customer_name",
                "sensitivity=low; declared sensitivity=high",
            ),
        ],
    }
