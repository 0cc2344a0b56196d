"""Tag-based access in the program: exact LfTag, ResourceLfTags and tag-policy Permissions of
the sample mesh (its ontology in _mesh.yaml, logistics' tag grant to analytics across accounts,
the mesh-wide grant to marketing), and what changes them (`infra.provision.lftags`)."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from conftest import SAMPLE, TODAY

from infra import api
from infra.blueprints.load import load_mesh
from infra.engines.recording import run_program
from infra.provision import types as T
from infra.provision.program import StackSettings

PLATFORM = StackSettings().account  # 123456789012: logistics
SALES, OTHER = "111122223333", "444455556666"
ANALYTICS_ROLE = f"arn:aws:iam::{OTHER}:role/mesh-analytics-consumer"
MARKETING_ROLE = f"arn:aws:iam::{OTHER}:role/mesh-marketing-consumer"


@pytest.fixture(scope="module")
def mesh():
    report = api.validate(SAMPLE, today=TODAY)
    assert report.errors == [], report.errors
    return report.mesh


@pytest.fixture(scope="module")
def graph(mesh):
    return run_program(mesh, StackSettings(), TODAY)


def test_every_account_gets_the_ontology(graph):
    tags = {(r.account, r.inputs["key"]): r for r in graph.by_type(T.LF_TAG)}
    assert sorted(tags) == [
        (a, k)
        for a in (SALES, PLATFORM, OTHER)
        for k in ("classification", "domain", "pii", "sensitivity")
    ]
    one = tags[(OTHER, "domain")]
    assert one.name == f"platform-lftag-{OTHER}-domain" and one.parent == "platform"
    assert one.inputs == {
        "catalogId": OTHER,
        "key": "domain",
        "values": ["analytics", "finance", "marketing"],  # the domains of that account
    }
    assert one.depends_on == [f"platform-lake-settings-{OTHER}"]
    assert tags[(SALES, "sensitivity")].inputs["values"] == ["low", "high"]
    assert tags[(SALES, "classification")].inputs["values"] == [
        "public", "internal", "confidential", "restricted",
    ]  # fmt: skip
    assert tags[(PLATFORM, "pii")].inputs["values"] == ["false", "true"]


def test_tables_carry_their_tags_and_columns_what_they_override(graph):
    table = graph.get(T.LF_RESOURCE_TAGS, "sales.orders-lftags")
    assert (table.parent, table.account) == ("sales.orders", SALES)
    assert table.inputs == {
        "catalogId": SALES,
        "table": {"catalogId": SALES, "databaseName": "mesh_sales", "name": "orders"},
        "lfTags": [
            {"key": "classification", "value": "confidential"},
            {"key": "domain", "value": "sales"},
            {"key": "pii", "value": "false"},
            {"key": "sensitivity", "value": "low"},
        ],
    }
    assert "sales.orders-table" in table.depends_on
    assert f"platform-lftag-{SALES}-sensitivity" in table.depends_on
    column = graph.get(T.LF_RESOURCE_TAGS, "sales.orders-lftags-customer_email")
    assert column.inputs == {
        "catalogId": SALES,
        "tableWithColumns": {
            "catalogId": SALES,
            "databaseName": "mesh_sales",
            "name": "orders",
            "columnNames": ["customer_email"],
        },
        "lfTags": [{"key": "pii", "value": "true"}, {"key": "sensitivity", "value": "high"}],
    }
    # one per table, one per column that overrides (PII columns: pii=true), none on databases
    names = sorted(r.name for r in graph.by_type(T.LF_RESOURCE_TAGS))
    assert [n for n in names if "-lftags-" in n] == [
        "finance.invoices-lftags-billing_name",
        "finance.payroll-lftags-employee_id",
        "logistics.shipments-lftags-delivery_address",
        "sales.customers-lftags-email",
        "sales.customers-lftags-full_name",
        "sales.orders-lftags-customer_email",
    ]
    assert len(names) == 10 + 6
    assert all(
        "table" in r.inputs or "tableWithColumns" in r.inputs
        for r in graph.by_type(T.LF_RESOURCE_TAGS)
    )


def test_a_cross_account_tag_grant_in_the_plan(graph):
    """logistics (the platform account) grants analytics (444455556666) every internal product
    of its own: a permission on the tag expression in logistics' catalog to analytics' consumer
    role, the resource link into analytics' account and DESCRIBE on it."""
    [grant] = [
        r for r in graph.by_type(T.LF_PERMISSIONS) if r.name.startswith("logistics@analytics-tags-")
    ]
    assert (grant.parent, grant.account) == ("logistics", PLATFORM)
    assert grant.inputs == {
        "principal": ANALYTICS_ROLE,
        "permissions": ["SELECT"],
        "catalogId": PLATFORM,
        "lfTagPolicy": {
            "resourceType": "TABLE",
            "catalogId": PLATFORM,
            "expressions": [
                {"key": "classification", "values": ["internal"]},
                {"key": "domain", "values": ["logistics"]},  # over its own products only
                {"key": "pii", "values": ["false"]},  # no PII without privacy's approval
            ],
        },
    }
    assert grant.delete_before_replace
    assert {"analytics-consumer", f"platform-lftag-{PLATFORM}-domain"} <= set(grant.depends_on)
    link = graph.get(T.DATABASE, f"logistics-link-{OTHER}")
    assert link.account == OTHER
    describe = graph.get(T.LF_PERMISSIONS, "logistics@analytics-link-describe")
    assert describe.inputs["principal"] == ANALYTICS_ROLE


def test_a_mesh_wide_tag_grant_is_one_permission_per_account_in_the_grantees_stack(graph):
    grants = sorted(
        (
            r
            for r in graph.by_type(T.LF_PERMISSIONS)
            if r.name.startswith("platform@marketing-tags-")
        ),
        key=lambda r: r.account,
    )
    assert [(r.account, r.parent, r.inputs["catalogId"]) for r in grants] == [
        (SALES, "marketing", SALES),
        (PLATFORM, "marketing", PLATFORM),
        (OTHER, "marketing", OTHER),
    ]
    assert all(r.name.endswith(f"-{r.account}") for r in grants)
    assert grants[0].inputs["lfTagPolicy"]["expressions"] == [
        {"key": "classification", "values": ["internal"]},
        {"key": "pii", "values": ["false"]},
        {"key": "sensitivity", "values": ["low"]},
    ]
    assert {r.inputs["principal"] for r in grants} == {MARKETING_ROLE}


def _tree(tmp_path, **edits):
    root = tmp_path / "blueprints"
    shutil.copytree(SAMPLE, root)
    for name, pairs in edits.items():
        path = root / f"{name}.yaml"
        text = path.read_text()
        for old, new in pairs:
            assert text.count(old) == 1, (name, old)
            text = text.replace(old, new)
        path.write_text(text)
    return root


def test_expired_tag_grants_and_decommissioned_products_get_nothing(tmp_path):
    root = _tree(
        tmp_path,
        logistics=[("    expires: 2027-10-31\n", "    expires: 2026-11-01\n")],
        sales=[
            (
                "    format: json\n    retention_days: 365\n",
                (
                    "    format: json\n    retention_days: 365\n"
                    "    decommission: {date: 2026-11-01, reason: replaced by returns_v2}\n"
                ),
            )
        ],
    )
    mesh = load_mesh(root, today=TODAY).mesh
    graph = run_program(mesh, StackSettings(), TODAY)
    names = {r.name for r in graph.by_type(T.LF_PERMISSIONS)}
    assert not any(n.startswith("logistics@analytics-tags-") for n in names)
    assert any(n.startswith("platform@marketing-tags-") for n in names)  # still live
    tagged = {r.name for r in graph.by_type(T.LF_RESOURCE_TAGS)}
    assert "sales.returns-lftags" not in tagged and "sales.orders-lftags" in tagged


def test_a_changed_expression_is_a_new_permission_name(tmp_path):
    root = _tree(
        tmp_path, logistics=[("classification: [internal]}", "classification: [internal, public]}")]
    )
    graph = run_program(load_mesh(root, today=TODAY).mesh, StackSettings(), TODAY)
    names = [
        r.name
        for r in graph.by_type(T.LF_PERMISSIONS)
        if r.name.startswith("logistics@analytics-tags-")
    ]
    assert names != ["logistics@analytics-tags-51d08394"] and len(names) == 1


def test_the_platform_stack_declares_the_ontology_and_a_domain_stack_its_own(mesh):
    platform = run_program(mesh, StackSettings(scope="platform"), TODAY)
    assert len(platform.by_type(T.LF_TAG)) == 12
    assert platform.by_type(T.LF_RESOURCE_TAGS) == []
    one = load_mesh(SAMPLE, today=TODAY, only="logistics").mesh
    logistics = run_program(one, StackSettings(scope="logistics"), TODAY)
    assert logistics.by_type(T.LF_TAG) == []
    assert sorted(r.name for r in logistics.by_type(T.LF_RESOURCE_TAGS)) == [
        "logistics.shipments-lftags",
        "logistics.shipments-lftags-delivery_address",
        "logistics.stock_levels-lftags",
    ]
    # what the catalog resources wait for: the platform stack's guard
    table = logistics.get(T.LF_RESOURCE_TAGS, "logistics.stock_levels-lftags")
    assert "platform-stack" in table.depends_on


def test_mesh_expiring_names_an_ended_tag_grant_and_its_stack():
    from infra.blueprints.stack_files import read_stack_configs
    from infra.provision.expiry import ended_grants
    from infra.provision.project import project_stacks

    mesh = load_mesh(SAMPLE, today=TODAY).mesh
    stacks = project_stacks(read_stack_configs(SAMPLE.parent).values())

    day_after = dt.date(2027, 5, 1)  # the mesh-wide grant to marketing's last day: 2027-04-30
    ended = [e for e in ended_grants(mesh, day_after, 1, stacks) if e.consumer == "marketing"]
    assert [(e.product, e.ended, e.expires) for e in ended] == [
        ("sales.returns", day_after, dt.date(2027, 4, 30))
    ]
    # in the grantee's stack (its mesh-wide tag grants are declared there) and the whole-mesh ones
    assert ended[0].stacks == ("dev", "marketing", "single")


def test_the_deploy_role_may_manage_lf_tags_and_mesh_doctor_checks_it():
    """Data lake administrators hold the Lake Formation permissions on LF-tags implicitly but
    need the IAM actions too (LF developer guide, "Adding LF-Tag creators"): the deploy role's
    policy has them, and `mesh doctor` checks every action of `required_requests`."""
    from infra.provision.deploy_role import required_requests
    from infra.provision.documents import AwsEnv

    actions = {a for a, _r, _c in required_requests(AwsEnv(SALES, "eu-west-1"), "mesh", True)}
    assert {
        "lakeformation:CreateLFTag",
        "lakeformation:UpdateLFTag",
        "lakeformation:DeleteLFTag",
        "lakeformation:AddLFTagsToResource",
        "lakeformation:RemoveLFTagsFromResource",
        "lakeformation:GetResourceLFTags",
    } <= actions
