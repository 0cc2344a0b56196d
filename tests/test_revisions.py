"""A mesh changes every week: apply a sequence of blueprint revisions and check, after each step,
that no protected resource (bucket, key, database, table and the bucket's guards) would be
deleted or replaced by the engine.

"Deleted": a protected resource of step N has no counterpart in step N+1, where the counterpart is
the resource of the same type with the same logical name, or with the name it had before a declared
rename (the engine maps a component's alias onto children whose names start with the component's
name). "Replaced": a physical-name input (bucket, name, databaseName) changed.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import yaml

from infra.blueprints.load import load_mesh
from infra.engines.recording import ResourceGraph, run_program
from infra.provision.program import StackSettings

TODAY = dt.date(2026, 11, 25)
PHYSICAL_INPUTS = ("bucket", "name", "databaseName")

BASE = {
    "shop": {
        "domain": "shop",
        "description": "The web shop",
        "owner": {"team": "shop-data", "email": "shop-data@example.com"},
        "cost_center": "CC-1",
        "products": [
            {
                "name": "orders",
                "description": "Order lines",
                "classification": "internal",
                "format": "parquet",
                "retention_days": 365,
                "schema": [
                    {"name": "order_id", "type": "string"},
                    {"name": "email", "type": "string", "pii": True},
                    {"name": "amount", "type": "decimal(12,2)"},
                ],
                "consumers": [
                    {"domain": "bi", "columns": ["order_id", "amount"], "justification": "kpis"}
                ],
            }
        ],
        "policies": {},
        "exceptions": [],
    },
    "bi": {
        "domain": "bi",
        "description": "Dashboards",
        "owner": {"team": "bi-team", "email": "bi@example.com"},
        "cost_center": "CC-2",
        "products": [],
        "policies": {},
        "exceptions": [],
    },
}


def add_product(mesh):
    mesh["shop"]["products"].append(
        {
            "name": "refunds",
            "description": "Refunds",
            "classification": "internal",
            "format": "json",
            "retention_days": 365,
            "schema": [{"name": "refund_id", "type": "string"}, {"name": "amount", "type": "int"}],
        }
    )


def add_grant(mesh):
    mesh["shop"]["products"][1]["consumers"] = [{"domain": "bi", "justification": "refund rate"}]


def rename(mesh):
    orders = mesh["shop"]["products"][0]
    orders["name"] = "order_lines"
    orders["previous_names"] = ["orders"]
    orders["schema"][2] = {
        "name": "net_amount",
        "type": "decimal(12,2)",
        "previous_names": ["amount"],
    }
    orders["consumers"][0]["columns"] = ["order_id", "net_amount"]


def expire(mesh):
    mesh["shop"]["products"][0]["consumers"][0]["expires"] = dt.date(2026, 11, 1)


def decommission_retain(mesh):
    mesh["shop"]["products"][1]["decommission"] = {
        "date": dt.date(2026, 11, 20),
        "reason": "refunds moved to payments",
        "data": "retain",
    }


def decommission_delete(mesh):
    mesh["shop"]["products"][1]["decommission"]["data"] = "delete"


STEPS = [add_product, add_grant, rename, expire, decommission_retain, decommission_delete]


def write(mesh: dict, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for domain, blueprint in mesh.items():
        (directory / f"{domain}.yaml").write_text(yaml.safe_dump(blueprint, sort_keys=False))
    return directory


DEFAULT = StackSettings()


def plan(directory: Path, settings: StackSettings = DEFAULT) -> ResourceGraph:
    result = load_mesh(directory, today=TODAY)
    assert result.errors == [], result.errors
    return run_program(result.mesh, settings, TODAY)


def previous_names(graph: ResourceGraph) -> dict[tuple[str, str], set[str]]:
    """(type, name) -> the logical names the resource may have had before (own + renames)."""
    by_name = {r.name: r for r in graph.resources}
    out = {}
    for r in graph.resources:
        names = {r.name, *r.aliases}
        parent = by_name.get(r.parent) if r.parent else None
        while parent is not None:
            for alias in parent.aliases:
                if r.name.startswith(parent.name):
                    names.add(alias + r.name[len(parent.name) :])
            parent = by_name.get(parent.parent) if parent.parent else None
        out[(r.type, r.name)] = names
    return out


def lost_or_replaced(before: ResourceGraph, after: ResourceGraph) -> list[str]:
    candidates = previous_names(after)
    problems = []
    for old in (r for r in before.resources if r.protect):
        matches = [
            r
            for r in after.resources
            if r.type == old.type and old.name in candidates[(r.type, r.name)]
        ]
        if not matches:
            problems.append(f"deleted: {old.type} {old.name}")
            continue
        new = matches[0]
        for key in PHYSICAL_INPUTS:
            if old.inputs.get(key) != new.inputs.get(key):
                problems.append(f"replaced: {old.type} {old.name} ({key} changed)")
        if not new.protect:
            problems.append(f"unprotected: {old.type} {old.name} -> {new.name}")
    return problems


def test_revision_sequence_never_deletes_or_replaces_protected_resources(tmp_path):
    mesh = copy.deepcopy(BASE)
    previous = plan(write(mesh, tmp_path / "step0"))
    protected_counts = [sum(r.protect for r in previous.resources)]
    for index, step in enumerate(STEPS, start=1):
        step(mesh)
        current = plan(write(mesh, tmp_path / f"step{index}"))
        assert lost_or_replaced(previous, current) == [], step.__name__
        protected_counts.append(sum(r.protect for r in current.resources))
        previous = current
    # the account's Lake Formation settings + 2 domains x (key, database, query-results bucket
    # and its 5 guards) + 8 per product (bucket, 6 guards, table); nothing dropped
    assert protected_counts == [25, 33, 33, 33, 33, 33, 33]


def test_each_step_changes_what_it_should(tmp_path):
    mesh = copy.deepcopy(BASE)
    graphs = [plan(write(mesh, tmp_path / "step0"))]
    for index, step in enumerate(STEPS, start=1):
        step(mesh)
        graphs.append(plan(write(mesh, tmp_path / f"step{index}")))
    grants = [sorted(r.name for r in g.by_type("mesh:index:Grant")) for g in graphs]
    assert grants == [
        ["shop.orders@bi"],
        ["shop.orders@bi"],
        ["shop.orders@bi", "shop.refunds@bi"],
        ["shop.order_lines@bi", "shop.refunds@bi"],
        ["shop.refunds@bi"],  # expired on 2026-11-01
        [],  # refunds decommissioned on 2026-11-20: grants revoked
        [],
    ]
    renamed = graphs[3].get(
        "aws:lakeformation/permissions:Permissions", "shop.order_lines@bi-lakeformation"
    )
    # its data cells filter follows the rename's columns, on the table's unchanged name
    data_filter = graphs[3].get(
        "aws:lakeformation/dataCellsFilter:DataCellsFilter", "shop.order_lines@bi-data-filter"
    )
    assert data_filter.inputs["tableData"]["columnNames"][:2] == ["net_amount", "order_id"]
    assert data_filter.inputs["tableData"]["tableName"] == "orders"
    assert renamed.inputs["dataCellsFilter"]["name"] == data_filter.inputs["tableData"]["name"]
    assert graphs[3].get("aws:s3/bucket:Bucket", "shop.order_lines-bucket").inputs["bucket"] == (
        "mesh-shop-orders"
    )
    # decommissioned with data: delete, but the stack does not allow deletion: still protected
    assert graphs[6].get("aws:s3/bucket:Bucket", "shop.refunds-bucket").protect is True


def test_deletion_only_with_both_switches(tmp_path):
    mesh = copy.deepcopy(BASE)
    for step in STEPS:
        step(mesh)
    directory = write(mesh, tmp_path / "final")
    kept = plan(directory)
    allowed = plan(directory, StackSettings(allow_data_deletion=True))
    assert kept.get("aws:s3/bucket:Bucket", "shop.refunds-bucket").protect is True
    bucket = allowed.get("aws:s3/bucket:Bucket", "shop.refunds-bucket")
    assert (bucket.protect, bucket.retain_on_delete, bucket.inputs["forceDestroy"]) == (
        False,
        False,
        True,
    )
    # the detector sees the switch: going from kept to allowed unprotects exactly that product
    assert lost_or_replaced(kept, allowed) == [
        f"unprotected: {r.type} {r.name} -> {r.name}"
        for r in kept.resources
        if r.protect and r.name.startswith("shop.refunds")
    ]
