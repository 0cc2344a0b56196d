"""Safe ordering in every stack shape: no Glue database or table is created in an account whose
Lake Formation defaults are not yet "Lake Formation only" (`infra.provision.guard`)."""

from __future__ import annotations

import json

import pulumi
import pytest
from conftest import ROOT, SAMPLE, TODAY, run_pulumi_main

from infra.blueprints.load import load_mesh
from infra.engines.recording import (
    DeterministicMocks,
    ResourceGraph,
    UnmockedCall,
    run_program,
)
from infra.engines.stack_config import read_stack_config
from infra.provision import types as T
from infra.provision.guard import PLATFORM_OUTPUT, REFERENCE, NotLakeFormationOnly
from infra.provision.program import StackSettings

CATALOG = (T.DATABASE, T.TABLE)


def plan(settings: StackSettings, mocks=None) -> ResourceGraph:
    only = None if settings.includes_platform() else settings.scope
    mesh = load_mesh(settings.blueprints, today=TODAY, only=only).mesh
    return run_program(mesh, settings, TODAY, mocks=mocks)


def reaches(graph: ResourceGraph, name: str, target: str) -> bool:
    """Whether `name` waits for `target`: through what it depends on, transitively (a
    resource also waits for what its parent waits for)."""
    by_name = {r.name: r for r in graph.resources}
    seen, todo = set(), [name]
    while todo:
        r = by_name[todo.pop()]
        if r.name == target:
            return True
        if r.name in seen:
            continue
        seen.add(r.name)
        todo += [d for d in r.depends_on if d in by_name]
        if r.parent in by_name:
            todo.append(r.parent)
    return False


@pytest.fixture(scope="module")
def sales_stack() -> ResourceGraph:
    return plan(read_stack_config(ROOT / "Pulumi.sales.yaml"))


def test_every_catalog_resource_of_a_domain_stack_waits_for_the_platform(sales_stack):
    """`mesh plan --config Pulumi.sales.yaml`: one reference to the platform stack, and every
    database (sales' own and the resource links in the consumers' accounts) and every table
    waits for it."""
    [ref] = sales_stack.by_type(T.STACK_REFERENCE)
    assert (ref.name, ref.inputs) == (REFERENCE, {"name": "platform"})
    catalog = [r for r in sales_stack.resources if r.type in CATALOG]
    assert sorted((r.type, r.name, r.account) for r in catalog) == [
        (T.DATABASE, "sales-database", "111122223333"),
        (T.DATABASE, "sales-link-123456789012", "123456789012"),
        (T.DATABASE, "sales-link-444455556666", "444455556666"),
        (T.TABLE, "sales.customers-table", "111122223333"),
        (T.TABLE, "sales.orders-table", "111122223333"),
        (T.TABLE, "sales.returns-table", "111122223333"),
    ]
    for r in catalog:
        assert reaches(sales_stack, r.name, REFERENCE), r.name
    # directly: the databases; the tables through their database
    for r in sales_stack.by_type(T.DATABASE):
        assert REFERENCE in r.depends_on, r.name


def test_the_walk_sees_a_missing_dependency(sales_stack):
    """The check above fails when the dependency is removed: with the database's edge to the
    reference cut, neither it nor its tables reach the platform."""
    cut = ResourceGraph(
        [
            r
            if r.name != "sales-database"
            else type(r)(
                **{**r.__dict__, "depends_on": [d for d in r.depends_on if d != REFERENCE]}
            )
            for r in sales_stack.resources
        ]
    )
    assert not reaches(cut, "sales-database", REFERENCE)
    assert not reaches(cut, "sales.orders-table", REFERENCE)
    assert reaches(cut, "sales-link-444455556666", REFERENCE)  # the links keep their own edge


def test_a_domain_stack_stops_before_the_catalog_when_the_platform_has_not_applied_its_account():
    """The platform stack's output lists the accounts whose settings it applied; an account
    missing from it stops the domain stack with a clear error, and nothing of the catalog is
    registered."""
    settings = read_stack_config(ROOT / "Pulumi.sales.yaml")
    mocks = DeterministicMocks(settings, platform_accounts=["123456789012", "444455556666"])
    with pytest.raises(NotLakeFormationOnly, match=r"account 111122223333.*deploy the platform"):
        plan(settings, mocks)


def test_only_the_platform_stack_is_mocked():
    settings = StackSettings(scope="sales")
    mocks = DeterministicMocks(settings, platform_accounts=["123456789012"])
    args = pulumi.runtime.MockResourceArgs(
        typ=T.STACK_REFERENCE,
        name="other",
        inputs={"name": "prod"},
        provider=None,
        resource_id="prod",
    )
    with pytest.raises(UnmockedCall, match="'prod'"):
        mocks.new_resource(args)
    # and without a platform's state, not even the platform stack
    with pytest.raises(UnmockedCall):
        DeterministicMocks(settings).new_resource(
            pulumi.runtime.MockResourceArgs(
                typ=T.STACK_REFERENCE,
                name=REFERENCE,
                inputs={"name": "platform"},
                provider=None,
                resource_id="platform",
            )
        )


def test_the_platform_stack_exports_the_accounts_it_applied():
    """What `pulumi up --stack platform` exports: every account of the sample mesh."""
    config = {
        "mesh:prefix": "acme-mesh",
        "mesh:account": "123456789012",
        "aws:region": "eu-west-1",
        "mesh:stack": "platform",
        "mesh:blueprints": str(SAMPLE),
        "mesh:lakeFormationAdmins": json.dumps(
            ["arn:aws:iam::123456789012:role/platform-deployer"]
        ),
    }
    graph = run_pulumi_main(config, StackSettings(prefix="acme-mesh"))
    assert graph.outputs == {PLATFORM_OUTPUT: ["111122223333", "123456789012", "444455556666"]}
    assert not graph.by_type(T.STACK_REFERENCE)


def test_one_stack_for_the_mesh_waits_for_each_accounts_own_settings():
    """Without a platform stack: each database waits for the settings of its own account,
    a resource link for those of the consumer's account."""
    graph = plan(read_stack_config(ROOT / "Pulumi.dev.yaml"))
    assert not graph.by_type(T.STACK_REFERENCE)
    settings = {r.account: r.name for r in graph.by_type(T.LF_SETTINGS)}
    databases = graph.by_type(T.DATABASE)
    assert len(databases) == 9  # 5 domains, 4 links (one for analytics' tag grant)
    for r in databases:
        assert settings[r.account] in r.depends_on, r.name
    for r in graph.by_type(T.TABLE):
        assert reaches(graph, r.name, settings[r.account]), r.name
