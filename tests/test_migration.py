"""Moving an existing stack to the Lake-Formation-gated access model replaces nothing that holds
data: the plan of the sample mesh against the plan the previous release recorded
(tests/fixtures/migration/plan-6c5e14c.json), resource by resource, as `pulumi preview` would
compare them (by logical name under the same parent, by type)."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES, SINGLE, TODAY

from infra.blueprints.load import load_mesh
from infra.engines.recording import run_program
from infra.provision.program import StackSettings

OLD = json.loads((FIXTURES / "migration/plan-6c5e14c.json").read_text())["resources"]


@pytest.fixture(scope="module")
def new():
    mesh = load_mesh(SINGLE, today=TODAY).mesh
    return {(r.type, r.name): r for r in run_program(mesh, StackSettings(), TODAY).resources}


def test_no_protected_resource_is_replaced_removed_or_unprotected(new):
    protected = [r for r in OLD if r["protect"]]
    assert len(protected) == 90  # buckets, keys, databases, tables and the bucket guards
    for old in protected:
        now = new.get((old["type"], old["name"]))
        assert now is not None, f"{old['type']} {old['name']} would be deleted"
        assert now.parent == old["parent"], old["name"]  # same parent: same URN
        assert now.protect and now.retain_on_delete, old["name"]
        changed = {k for k, v in old["inputs"].items() if now.inputs.get(k) != v}
        assert changed == set(), (old["name"], changed)  # names and other replace keys


def test_what_the_move_creates_and_deletes(new):
    """Created: one constant policy per consumer role. Deleted (after every create, as Pulumi
    orders a deployment): the nine per-(producer, consumer) policies and their components."""
    old = {(r["type"], r["name"]) for r in OLD}
    created = sorted(k for k in new if k not in old)
    deleted = sorted(k for k in old if k not in new)
    domains = ("analytics", "finance", "logistics", "marketing", "sales")
    # and (issue 23) each domain's query path, and a data cells filter per limited grant
    query_path = [
        ("aws:athena/workgroup:Workgroup", "{d}-workgroup"),
        ("aws:iam/rolePolicy:RolePolicy", "{d}-consumer-query"),
        ("aws:iam/rolePolicy:RolePolicy", "{d}-producer-query"),
        ("aws:lakeformation/permissions:Permissions", "{d}-consumer-default-describe"),
        ("aws:lakeformation/permissions:Permissions", "{d}-producer-default-describe"),
        ("aws:s3/bucket:Bucket", "{d}-query-results"),
        *(
            (t, f"{{d}}-query-results-{part}")
            for t, part in (
                ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "lifecycle"),
                ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "ownership"),
                ("aws:s3/bucketPolicy:BucketPolicy", "policy"),
                ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "public-access-block"),
                (
                    (
                        "aws:s3/bucketServerSideEncryptionConfiguration:"
                        "BucketServerSideEncryptionConfiguration"
                    ),
                    "encryption",
                ),
            )
        ),
    ]
    limited = [
        "finance.invoices@analytics", "logistics.shipments@sales", "sales.orders@logistics",
        "sales.orders@marketing",
    ]  # fmt: skip
    assert created == sorted(
        [("aws:iam/rolePolicy:RolePolicy", f"{d}-consumer-access") for d in domains]
        + [(t, n.format(d=d)) for d in domains for t, n in query_path]
        + [
            ("aws:lakeformation/dataCellsFilter:DataCellsFilter", f"{g}-data-filter")
            for g in limited
        ]
    )
    pairs = [
        "finance@analytics", "finance@marketing", "logistics@sales", "marketing@analytics",
        "marketing@finance", "sales@analytics", "sales@finance", "sales@logistics",
        "sales@marketing",
    ]  # fmt: skip
    assert deleted == sorted(
        [("aws:iam/rolePolicy:RolePolicy", f"{p}-iam") for p in pairs]
        + [("mesh:index:ConsumerAccess", p) for p in pairs]
    )
    assert not any(r["protect"] for r in OLD if (r["type"], r["name"]) in set(deleted))


def test_lake_formation_grants_are_not_replaced(new):
    """The whole-table grants keep their inputs: no revoke-and-grant of a Lake Formation
    permission on the way (a replaced permission's deletion revokes what it named). The
    column-limited ones become permissions on data cells filters (issue 23: Glue ETL honours
    only those): replaced, the old one deleted first, a moment without the grant."""
    lf = "aws:lakeformation/permissions:Permissions"
    old_grants = {r["name"]: r["inputs"] for r in OLD if r["type"] == lf}
    new_grants = {n: r.inputs for (t, n), r in new.items() if t == lf and n in old_grants}
    assert len(old_grants) == 17
    changed = sorted(n for n in old_grants if old_grants[n] != new_grants[n])
    assert changed == [
        "finance.invoices@analytics-lakeformation",
        "logistics.shipments@sales-lakeformation",
        "sales.orders@logistics-lakeformation",
        "sales.orders@marketing-lakeformation",
    ]
    for name in changed:
        assert "tableWithColumns" in old_grants[name] and "dataCellsFilter" in new_grants[name]
        assert new[(lf, name)].delete_before_replace
