"""A multi-account mesh deployed into the emulator: each domain's resources created in its own
account (moto keeps IAM, Glue, KMS and Lake Formation per account), the cross-account grants in
the producer's account on its catalog, the resource links and DESCRIBE in the consumer's."""

from __future__ import annotations

import pytest
from conftest import SAMPLE, TODAY

from infra import api
from infra.engines.moto import LocalAws
from infra.engines.moto_deploy import deploy
from infra.engines.readback import resource_links
from infra.engines.verify import verify
from infra.provision.program import StackSettings

MULTI = SAMPLE  # the sample mesh: five domains in three accounts
SETTINGS = StackSettings()
PLATFORM, SALES, SHARED = SETTINGS.account, "111122223333", "444455556666"


@pytest.fixture(scope="module")
def deployed():
    mesh = api.validate(MULTI, today=TODAY).mesh
    local = LocalAws(SETTINGS.region, SETTINGS.deploy_role_name)
    try:
        deployment = deploy(mesh, SETTINGS, TODAY, local)
        result = verify(mesh, SETTINGS, TODAY, local, deployment.graph)
        yield local, deployment, result
    finally:
        local.stop()


def test_the_multi_account_mesh_verifies(deployed):
    _, _, result = deployed
    assert result.failed_checks == []
    assert result.mismatches == []
    subjects = {(c.kind, c.subject) for c in result.checks}
    # read back in every account: settings with cross-account sharing, links in consumers
    assert {
        ("lakeformation", SALES),
        ("lakeformation", SHARED),
        ("lakeformation", "platform"),
    } <= subjects
    assert {
        ("glue", f"{SHARED}:mesh_sales"),
        ("glue", f"{PLATFORM}:mesh_sales"),
        ("glue", f"{SALES}:mesh_logistics"),
    } <= subjects


def _roles(local: LocalAws, account: str) -> set[str]:
    return {r["RoleName"] for r in local.in_account("iam", account).list_roles()["Roles"]}


def test_each_domain_lives_in_its_account(deployed):
    local, _, _ = deployed
    assert _roles(local, SALES) == {
        "mesh-deployer",  # the bootstrap stack's deploy role, deployed first
        "mesh-sales-consumer",
        "mesh-sales-lf-access",
        "mesh-sales-producer",
    }
    shared = _roles(local, SHARED)
    assert "mesh-analytics-consumer" in shared and "mesh-sales-consumer" not in shared
    databases = {
        a: {d["Name"] for d in local.in_account("glue", a).get_databases()["DatabaseList"]}
        for a in (PLATFORM, SALES, SHARED)
    }
    # each domain's database in its account, plus the resource links its consumers read through
    assert databases[SALES] == {"mesh_sales", "mesh_logistics"}
    assert databases[PLATFORM] == {"mesh_logistics", "mesh_sales"}
    assert databases[SHARED] == {  # mesh_logistics: analytics's tag grant from logistics
        "mesh_analytics", "mesh_finance", "mesh_marketing", "mesh_sales", "mesh_logistics",
    }  # fmt: skip
    link = local.in_account("glue", SHARED).get_database(Name="mesh_sales")["Database"]
    assert link["TargetDatabase"] == {"CatalogId": SALES, "DatabaseName": "mesh_sales"}
    keys = local.in_account("kms", SALES).list_keys()["Keys"]
    assert len(keys) == 1  # sales' domain key, and no other


def test_a_cross_account_grant_is_held_by_the_producers_account(deployed):
    local, _, _ = deployed
    consumer = f"arn:aws:iam::{SHARED}:role/mesh-analytics-consumer"

    def granted(account: str) -> list[dict]:
        entries = local.in_account("lakeformation", account).list_permissions()[
            "PrincipalResourcePermissions"
        ]
        return [
            e["Resource"]
            for e in entries
            if e["Principal"]["DataLakePrincipalIdentifier"] == consumer
        ]

    assert {
        "Table": {"CatalogId": SALES, "DatabaseName": "mesh_sales", "Name": "returns"}
    } in granted(SALES)
    # in its own account: its own domain's tables? none; DESCRIBE on the link to sales
    assert {"Database": {"CatalogId": SHARED, "Name": "mesh_sales"}} in granted(SHARED)


def test_the_verifier_sees_a_resource_link_that_is_gone(deployed):
    local, deployment, _ = deployed
    glue = local.in_account("glue", PLATFORM)
    glue.delete_database(Name="mesh_sales")  # the link logistics reads sales through
    try:
        failed = [c for c in resource_links(local, deployment.graph) if not c.ok]
        assert [c.subject for c in failed] == [f"{PLATFORM}:mesh_sales"]
    finally:
        glue.create_database(
            DatabaseInput={
                "Name": "mesh_sales",
                "TargetDatabase": {"CatalogId": SALES, "DatabaseName": "mesh_sales"},
            }
        )


def test_up_local_states_what_it_verified_in_each_account(deployed):
    from rich.console import Console

    from infra.cli.up_view import render_accounts

    _, deployment, result = deployed
    console = Console(width=200, record=True)
    mesh = api.validate(MULTI, today=TODAY).mesh
    render_accounts(result, deployment.graph, SETTINGS.accounts(mesh), console)
    rows = {
        cells[0]: cells[1:]
        for line in console.export_text().splitlines()
        if len(cells := [c.strip() for c in line.split("│")[1:-1]]) == 4
    }
    # 52 before the query path: + its results bucket (and 5 guards), workgroup, 2 query
    # policies, 2 DESCRIBE on default, and the data cells filters of its 2 limited grants; then
    # tag-based access: 4 LF-tags, 6 assignments (3 tables, 3 PII columns) and marketing's
    # mesh-wide tag grant, read back as 1 ontology and 6 assignment checks, and 4 checks that
    # nothing is assigned where the program assigns none (the database; the untagged columns
    # of each of its 3 tables, one read per table)
    assert rows[SALES] == [
        "sales",
        str(52 + 11 + 2 + 4 + 6 + 1),
        "athena 2/2, bucket 21/21, glue 7/7, kms 2/2, lakeformation 15/15",
    ]
    assert rows[PLATFORM][0] == "logistics"
    assert rows[SHARED][0] == "analytics, finance, marketing"
    assert {a: r[1] for a, r in rows.items()} == {
        a: str(
            sum(
                r.account == a
                for r in deployment.graph.resources
                if not r.type.startswith("pulumi:providers")
            )
        )
        for a in (SALES, PLATFORM, SHARED)
    }
