"""Stack-per-domain mode: one `platform` stack plus one stack per domain equal the single stack."""

from __future__ import annotations

import json

import pytest

from infra.blueprints.load import load_mesh
from infra.engines.recording import ResourceGraph, run_program
from infra.provision.program import StackSettings

DOMAINS = ["analytics", "finance", "logistics", "marketing", "sales"]


@pytest.fixture(scope="module")
def mesh(single_dir, today):
    return load_mesh(single_dir, today=today).mesh


def plan(mesh, today, scope: str) -> ResourceGraph:
    return run_program(mesh, StackSettings(scope=scope), today)


def rows(graph: ResourceGraph) -> set[tuple]:
    """What a resource is, independent of the stack it lives in."""
    return {
        (r.type, r.name, r.parent, json.dumps(r.inputs, sort_keys=True), r.protect)
        for r in graph.resources
    }


def test_domain_stack_declares_exactly_that_domain(mesh, today):
    graph = plan(mesh, today, "sales")
    names = {r.name for r in graph.resources if r.type != "pulumi:pulumi:StackReference"}
    assert all(n == "sales" or n.startswith(("sales-", "sales.", "sales@")) for n in names), names
    assert "platform" not in names
    assert {r.name for r in graph.by_type("mesh:index:Grant")} == {
        "sales.orders@marketing",
        "sales.orders@finance",
        "sales.orders@logistics",
        "sales.returns@analytics",
    }
    # the consumer role of another domain is referenced by its deterministic name
    lf = graph.get(
        "aws:lakeformation/permissions:Permissions", "sales.orders@marketing-lakeformation"
    )
    assert lf.inputs["principal"] == "arn:aws:iam::123456789012:role/mesh-marketing-consumer"
    # nothing in the sales stack touches another domain's role: a grant is its LF permission
    roles = {r.inputs["role"] for r in graph.by_type("aws:iam/rolePolicy:RolePolicy")}
    assert roles == {"mesh-sales-consumer", "mesh-sales-lf-access", "mesh-sales-producer"}
    # 11 domain + 11 query path (results bucket and 5 guards, workgroup, 2 query policies,
    # 2 DESCRIBE on default) + 3 x 10 product + 4 x 2 grant (component + resource) + the
    # platform reference + the data cells filters of its 2 column-limited grants
    assert len(graph.resources) == 11 + 11 + 3 * 10 + 4 * 2 + 1 + 2
    assert graph.counts()["mesh:index:DataProduct"] == 3


def test_a_domain_stack_names_direct_readers_of_other_stacks_by_arn(mesh, today):
    """finance's key and bucket policy name analytics' consumer role (a direct read opt-in):
    by its deterministic ARN, without waiting for a role the finance stack does not create."""
    graph = plan(mesh, today, "finance")
    key = graph.get("aws:kms/key:Key", "finance-key")
    assert "arn:aws:iam::123456789012:role/mesh-analytics-consumer" in key.inputs["policy"]
    assert key.depends_on == []
    bucket_policy = graph.get("aws:s3/bucketPolicy:BucketPolicy", "finance.revenue_daily-policy")
    assert "analytics-consumer" not in bucket_policy.depends_on


def test_platform_stack_holds_only_account_level_settings(mesh, today):
    graph = plan(mesh, today, "platform")
    assert [(r.type, r.name) for r in graph.resources] == [
        ("mesh:index:Platform", "platform"),
        ("aws:lakeformation/dataLakeSettings:DataLakeSettings", "platform-lake-settings"),
    ]
    settings = graph.resources[1].inputs
    assert settings == {
        "admins": ["arn:aws:iam::123456789012:role/mesh-platform-deployer"],
        "createDatabaseDefaultPermissions": [],
        "createTableDefaultPermissions": [],
    }


def test_union_of_domain_stacks_and_platform_equals_the_single_stack(mesh, today):
    single = rows(plan(mesh, today, "all"))
    union: set[tuple] = set()
    for scope in ["platform", *DOMAINS]:
        part = rows(plan(mesh, today, scope))
        # beside its own resources, a domain stack reads the platform stack (its catalog
        # waits for it: tests/test_lake_guard.py); the single stack has the settings at hand
        refs = {r for r in part if r[0] == "pulumi:pulumi:StackReference"}
        assert len(refs) == (0 if scope == "platform" else 1), scope
        part -= refs
        assert not (union & part), f"{scope} repeats resources of another stack"
        union |= part
    assert union == single


def test_unknown_scope_is_refused(mesh, today):
    with pytest.raises(ValueError, match="'billing' is neither 'all', 'platform' nor a domain"):
        plan(mesh, today, "billing")


def test_domain_stack_loads_only_its_own_blueprint(single_dir, mesh, today):
    """A per-domain stack parses one file; other domains are known by file name, so the cost
    does not grow with the mesh, and the stack's resources are the same as from a full load."""
    alone = load_mesh(single_dir, today=today, only="sales")
    assert alone.errors == []
    assert alone.mesh.domains == ["sales"]
    assert alone.mesh.all_domains == frozenset(DOMAINS)
    assert rows(plan(alone.mesh, today, "sales")) == rows(plan(mesh, today, "sales"))


def test_loading_a_missing_domain_is_an_error(single_dir, today):
    [problem] = load_mesh(single_dir, today=today, only="billing").errors
    assert (problem.code, problem.message) == ("E031", f"no billing.yaml in {str(single_dir)!r}")
