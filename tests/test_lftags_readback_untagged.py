"""The local deploy's read-back checks what the program must NOT tag (`lf_tags_read_back`,
`infra.engines.readback_lftags.untagged_reads`, the reads `mesh drift` makes): nothing on a
database (tables, never databases), nothing on a decommissioned product's table, nothing on a
column that overrides none of its table's tags. The sample mesh plus one decommissioned
product of sales, deployed into the emulator; then tags assigned by hand, as in the console,
and exactly those checks fail, each named."""

from __future__ import annotations

import shutil

import pytest
from conftest import SAMPLE, TODAY

from infra import api
from infra.engines.moto import LocalAws
from infra.engines.moto_deploy import deploy
from infra.engines.readback_lftags import lf_tags_read_back
from infra.provision.program import StackSettings

SETTINGS = StackSettings()
SALES = "111122223333"
ARCHIVE = """\
  - name: archive
    description: Orders before the shop moved, kept for audits
    classification: internal
    retention_days: 365
    schema:
      - {name: order_id, type: string}
      - {name: booked_at, type: timestamp}
    consumers: []
    decommission: {date: 2026-01-31, reason: replaced by orders, data: retain}
"""
DATABASE = "no LF-tags on a database (the program tags tables, never databases)"
TABLE = "no LF-tags on a table the program leaves untagged (decommissioned, or retired)"


def columns(n: int) -> str:
    return f"no LF-tags on its {n} column(s) the program does not tag"


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """The mesh deployed into an emulator kept running for the module."""
    root = tmp_path_factory.mktemp("untagged") / "blueprints"
    shutil.copytree(SAMPLE, root)
    sales = root / "sales.yaml"
    text = sales.read_text()
    sales.write_text(text.replace("\npolicies:", f"\n{ARCHIVE}policies:", 1))
    mesh = api.validate(root, today=TODAY).mesh
    local = LocalAws(SETTINGS.region, SETTINGS.deploy_role_name)
    try:
        yield local, deploy(mesh, SETTINGS, TODAY, local).graph
    finally:
        local.stop()


def _sales_untagged(checks) -> list[tuple[str, str, bool]]:
    return [
        (c.subject, c.what, c.ok)
        for c in checks
        if c.account == SALES and c.what.startswith("no LF-tags")
    ]


def test_right_after_the_deploy_nothing_is_assigned_where_the_program_assigns_none(kept):
    local, graph = kept
    checks = lf_tags_read_back(local, graph, SETTINGS.account)
    assert [c for c in checks if not c.ok] == []
    assert _sales_untagged(checks) == [
        (f"{SALES}:mesh_sales", DATABASE, True),
        (f"{SALES}:mesh_sales.archive", TABLE, True),  # decommissioned: no assignment
        (f"{SALES}:mesh_sales.archive", columns(2), True),
        (f"{SALES}:mesh_sales.customers", columns(3), True),  # + 2 PII columns, tagged
        (f"{SALES}:mesh_sales.orders", columns(8), True),  # + customer_email, tagged
        (f"{SALES}:mesh_sales.returns", columns(6), True),
    ]
    # the program's own assignments in sales, read back as before: 3 tables, 3 PII columns
    assert sum(c.account == SALES and c.what.startswith("LF-tags ") for c in checks) == 6


def test_a_tag_assigned_by_hand_where_the_program_assigns_none_fails_its_check(kept):
    local, graph = kept
    lf = local.in_account("lakeformation", SALES)
    archive = {"Table": {"DatabaseName": "mesh_sales", "Name": "archive"}}
    by_hand = [
        (archive, "classification", "public"),  # the decommissioned product's table
        ({"Database": {"Name": "mesh_sales"}}, "pii", "true"),
        (
            {"TableWithColumns": {**archive["Table"], "ColumnNames": ["booked_at"]}},
            "sensitivity",
            "low",
        ),
        (
            {
                "TableWithColumns": {
                    "DatabaseName": "mesh_sales",
                    "Name": "returns",
                    "ColumnNames": ["reason"],
                }
            },
            "sensitivity",
            "high",
        ),
    ]
    for resource, key, value in by_hand:
        lf.add_lf_tags_to_resource(Resource=resource, LFTags=[{"TagKey": key, "TagValues": [value]}])  # fmt: skip
    try:
        failed = [c for c in lf_tags_read_back(local, graph, SETTINGS.account) if not c.ok]
    finally:
        for resource, key, value in by_hand:
            lf.remove_lf_tags_from_resource(
                Resource=resource, LFTags=[{"TagKey": key, "TagValues": [value]}]
            )
    assert [(c.kind, c.account, c.subject, c.what, c.detail) for c in failed] == [
        ("lakeformation", SALES, f"{SALES}:mesh_sales", DATABASE, "got {'pii': 'true'}"),
        (
            "lakeformation",
            SALES,
            f"{SALES}:mesh_sales.archive",
            TABLE,
            "got {'classification': 'public'}",
        ),
        (
            "lakeformation",
            SALES,
            f"{SALES}:mesh_sales.archive",
            columns(2),
            "got {'booked_at': {'sensitivity': 'low'}}",
        ),
        (
            "lakeformation",
            SALES,
            f"{SALES}:mesh_sales.returns",
            columns(6),
            "got {'reason': {'sensitivity': 'high'}}",
        ),
    ]
    # removed again: every check passes
    assert all(c.ok for c in lf_tags_read_back(local, graph, SETTINGS.account))
