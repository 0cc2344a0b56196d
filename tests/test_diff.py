"""`mesh diff BASE HEAD`: each kind of new access alone, benign changes that must not be flagged,
breaking schema changes for existing consumers, the JSON contract and the exit codes.

Every case starts from tests/fixtures/diff/base (shop shares orders and returns with crm and bi;
crm owns contacts; bi owns nothing) and applies one edit to a copy, so each test names exactly
the change it is about.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, ROOT, TODAY
from typer.testing import CliRunner

from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.diff.access_diff import _compare, _is_widening, diff_meshes
from infra.model.access import DeclaredGrant

BASE = FIXTURES / "diff" / "base"
CONTRACT_ENTRY_KEYS = {"principal", "product", "access", "columns", "pii", "expires"}

Blueprints = dict[str, dict]


def _load(directory: Path):
    result = load_mesh(directory, today=TODAY)
    assert result.errors == [], result.errors
    return result.mesh


def _head(tmp_path: Path, edit: Callable[[Blueprints], None]) -> Path:
    """A copy of BASE with `edit` applied to the blueprints (as plain data)."""
    blueprints = {p.stem: yaml.safe_load(p.read_text()) for p in sorted(BASE.glob("*.yaml"))}
    edit(blueprints)
    head = tmp_path / "head"
    head.mkdir()
    for name, data in blueprints.items():
        (head / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return head


def _diff(tmp_path: Path, edit: Callable[[Blueprints], None]):
    return diff_meshes(_load(BASE), _load(_head(tmp_path, edit)), TODAY)


def _product(bps: Blueprints, pid: str) -> dict:
    domain, name = pid.split(".")
    return next(p for p in bps[domain]["products"] if p["name"] == name)


def _consumer(bps: Blueprints, pid: str, domain: str) -> dict:
    return next(c for c in _product(bps, pid)["consumers"] if c["domain"] == domain)


def _only_new(result, reason: str, principal: str, product: str) -> dict:
    assert result.removed_access == [] and result.changed == []
    assert [(e.grant.principal, e.grant.product) for e in result.new_access] == [
        (principal, product)
    ]
    entry = result.new_access[0].as_json()
    assert reason in entry["reasons"], entry
    assert result.exit_code == 3
    return entry


# ---------------------------------------------------------------- each kind of new access alone


def test_new_consumer(tmp_path):
    def edit(bps):
        _product(bps, "crm.contacts")["consumers"] = [
            {
                "domain": "bi",
                "columns": ["contact_id", "country"],
                "expires": dt.date(2027, 6, 30),
                "justification": "customers per country",
            }
        ]

    entry = _only_new(_diff(tmp_path, edit), "new_consumer", "bi:consumer", "crm.contacts")
    assert entry["columns"] == ["contact_id", "country"] and entry["pii"] is False
    assert entry["expires"] == "2027-06-30" and entry["why"] == "new consumer"


def test_new_product_already_shared(tmp_path):
    def edit(bps):
        bps["shop"]["products"].append(
            {
                "name": "refunds",
                "description": "Refunds paid",
                "classification": "internal",
                "retention_days": 365,
                "schema": [{"name": "refund_id", "type": "string"}],
                "consumers": [{"domain": "crm", "justification": "refund follow-up"}],
            }
        )

    result = _diff(tmp_path, edit)
    _only_new(result, "new_product_shared", "crm:consumer", "shop.refunds")
    assert [g.product for g in result.new_products] == ["shop.refunds"]  # owner write: not new


def test_new_product_not_shared_is_not_new_access(tmp_path):
    def edit(bps):
        bps["bi"]["products"].append(
            {
                "name": "kpis",
                "description": "Company KPIs",
                "classification": "internal",
                "retention_days": 365,
                "schema": [{"name": "kpi", "type": "string"}],
            }
        )

    result = _diff(tmp_path, edit)
    assert result.new_access == [] and result.exit_code == 0
    assert [g.product for g in result.new_products] == ["bi.kpis"]


def test_more_columns_on_an_existing_grant_is_new_access(tmp_path):
    def edit(bps):
        _consumer(bps, "shop.orders", "crm")["columns"].append("sku")

    entry = _only_new(_diff(tmp_path, edit), "more_columns", "crm:consumer", "shop.orders")
    assert entry["why"] == "more columns (+sku)"
    assert entry["before"]["columns"] == ["amount", "order_date", "order_id"]
    assert entry["columns"] == ["amount", "order_date", "order_id", "sku"]


def test_schema_column_added_to_a_product_shared_without_a_column_list(tmp_path):
    def edit(bps):
        _product(bps, "shop.orders")["schema"].append({"name": "channel", "type": "string"})

    result = _diff(tmp_path, edit)
    entry = _only_new(result, "more_columns", "bi:consumer", "shop.orders")
    assert "+channel" in entry["why"]
    assert result.breaking_schema == []


def test_pii_now_included(tmp_path):
    def edit(bps):
        grant = _consumer(bps, "shop.orders", "bi")
        grant["include_pii"] = True
        grant["approved_by"] = "privacy@example.com"

    entry = _only_new(_diff(tmp_path, edit), "pii_now_included", "bi:consumer", "shop.orders")
    assert entry["pii"] is True and entry["before"]["pii"] is False
    assert "customer_email" in entry["columns"] and "PII now included" in entry["why"]


def test_longer_expiry(tmp_path):
    def edit(bps):
        _consumer(bps, "shop.orders", "crm")["expires"] = dt.date(2027, 9, 30)

    entry = _only_new(_diff(tmp_path, edit), "longer_expiry", "crm:consumer", "shop.orders")
    assert entry["why"] == "longer expiry (2027-06-30 -> 2027-09-30)"
    assert entry["reasons"] == ["longer_expiry"]


def test_expiry_removed(tmp_path):
    def edit(bps):
        del _consumer(bps, "shop.orders", "crm")["expires"]

    entry = _only_new(_diff(tmp_path, edit), "expiry_removed", "crm:consumer", "shop.orders")
    assert entry["expires"] is None


def test_expired_grant_renewed(tmp_path):
    def edit(bps):
        _consumer(bps, "shop.returns", "crm")["expires"] = dt.date(2027, 1, 31)

    entry = _only_new(_diff(tmp_path, edit), "renewed", "crm:consumer", "shop.returns")
    assert entry["why"] == "expired grant renewed (expired on 2026-01-31)"


def test_write_instead_of_read_is_widening():
    """The declared model gives consumers read only, so this comes from the comparison rule."""
    read = DeclaredGrant(
        "x:consumer", "a.b", "read", ("c",), False, None, False, ("lakeformation",)
    )
    write = DeclaredGrant(
        "x:consumer", "a.b", "write", ("c",), False, None, True, ("lakeformation", "s3")
    )
    reasons, _ = _compare(read, write, frozenset())
    assert reasons == ["write_instead_of_read", "direct_s3_read"] and _is_widening(reasons)
    reasons, _ = _compare(write, read, frozenset())
    assert "read_instead_of_write" in reasons and not _is_widening(reasons)


# ---------------------------------------------------------------- benign changes


def test_description_and_justification_edits_are_not_reported(tmp_path):
    def edit(bps):
        bps["shop"]["description"] = "Orders and returns of the web shop, EU only"
        _product(bps, "shop.orders")["description"] = "One row per order line, as booked"
        _product(bps, "shop.orders")["schema"][0]["description"] = "Shop order number"
        _consumer(bps, "shop.orders", "crm")["justification"] = "attribution of campaigns"

    result = _diff(tmp_path, edit)
    assert result.as_json() == {
        "new_access": [],
        "removed_access": [],
        "changed": [],
        "breaking_schema": [],
        "new_products": [],
        "removed_products": [],
        "renamed_products": {},
        "renamed_columns": {},
        "errors": [],
        "warnings": [],
        "review_required": [],
        "platform_file_change": None,
        "lf_tag_changes": [],
        "required_approvals": [],
        "missing_approvals": None,
    }
    assert result.exit_code == 0


def test_reordering_is_not_reported(tmp_path):
    def edit(bps):
        bps["shop"]["products"].reverse()
        orders = _product(bps, "shop.orders")
        orders["schema"].reverse()
        orders["consumers"].reverse()
        _consumer(bps, "shop.orders", "crm")["columns"].reverse()

    result = _diff(tmp_path, edit)
    assert (result.new_access, result.removed_access, result.changed) == ([], [], [])
    assert result.breaking_schema == [] and result.exit_code == 0


def test_removed_consumer_is_removed_access_only(tmp_path):
    def edit(bps):
        orders = _product(bps, "shop.orders")
        orders["consumers"] = [c for c in orders["consumers"] if c["domain"] != "crm"]

    result = _diff(tmp_path, edit)
    assert result.new_access == [] and result.changed == [] and result.exit_code == 0
    assert [(e.grant.principal, e.reasons) for e in result.removed_access] == [
        ("crm:consumer", ["consumer_removed"])
    ]


def test_removing_an_already_expired_grant_changes_nothing(tmp_path):
    def edit(bps):
        returns = _product(bps, "shop.returns")
        returns["consumers"] = [c for c in returns["consumers"] if c["domain"] != "crm"]

    result = _diff(tmp_path, edit)
    assert (result.new_access, result.removed_access, result.changed) == ([], [], [])


def test_shortened_expiry_is_a_change_not_new_access(tmp_path):
    def edit(bps):
        _consumer(bps, "shop.orders", "crm")["expires"] = dt.date(2027, 3, 31)

    result = _diff(tmp_path, edit)
    assert result.new_access == [] and result.exit_code == 0
    assert [e.as_json()["why"] for e in result.changed] == [
        "shorter expiry (2027-06-30 -> 2027-03-31)"
    ]


def test_fewer_columns_is_a_change(tmp_path):
    def edit(bps):
        _consumer(bps, "shop.orders", "crm")["columns"] = ["order_id", "amount"]

    result = _diff(tmp_path, edit)
    assert result.new_access == []
    assert [e.reasons for e in result.changed] == [["fewer_columns"]]


def test_grant_that_expired_in_head_is_removed_access(tmp_path):
    def edit(bps):
        _consumer(bps, "shop.orders", "crm")["expires"] = dt.date(2026, 11, 1)

    result = _diff(tmp_path, edit)
    assert result.new_access == []
    assert [e.reasons for e in result.removed_access] == [["grant_expired"]]


def test_declared_product_rename_is_not_new_access(tmp_path):
    def edit(bps):
        orders = _product(bps, "shop.orders")
        orders["previous_names"] = ["orders"]
        orders["name"] = "order_lines"

    result = _diff(tmp_path, edit)
    assert (result.new_access, result.removed_access, result.changed) == ([], [], [])
    assert result.renamed_products == {"shop.orders": "shop.order_lines"}


# ---------------------------------------------------------------- breaking schema changes


def test_removed_column_read_by_a_consumer_is_breaking(tmp_path):
    def edit(bps):
        schema = _product(bps, "shop.returns")["schema"]
        _product(bps, "shop.returns")["schema"] = [c for c in schema if c["name"] != "reason"]

    result = _diff(tmp_path, edit)
    assert [b.as_json() for b in result.breaking_schema] == [
        {
            "product": "shop.returns",
            "column": "reason",
            "change": "removed",
            "partition_key": False,
            "before_type": "string",
            "after_type": None,
            "after_name": None,
            "consumers": ["bi:consumer"],  # crm's grant expired: not an existing consumer
        }
    ]
    assert result.new_access == [] and result.exit_code == 0
    assert [e.grant.principal for e in result.changed] == ["bi:consumer"]  # the owner is not listed


def test_retyped_column_is_breaking_for_every_consumer_reading_it(tmp_path):
    def edit(bps):
        for col in _product(bps, "shop.orders")["schema"]:
            if col["name"] == "amount":
                col["type"] = "decimal(14,2)"

    result = _diff(tmp_path, edit)
    (breaking,) = result.breaking_schema
    assert (breaking.column, breaking.change, breaking.before_type, breaking.after_type) == (
        "amount",
        "retyped",
        "decimal(12,2)",
        "decimal(14,2)",
    )
    assert breaking.consumers == ["bi:consumer", "crm:consumer"]
    assert result.new_access == [] and result.changed == []


def test_declared_column_rename_is_breaking_but_not_new_access(tmp_path):
    def edit(bps):
        for col in _product(bps, "shop.orders")["schema"]:
            if col["name"] == "amount":
                col["name"] = "gross_amount"
                col["previous_names"] = ["amount"]
        _consumer(bps, "shop.orders", "crm")["columns"] = ["order_id", "gross_amount", "order_date"]

    result = _diff(tmp_path, edit)
    assert result.new_access == [] and result.changed == []
    assert [(b.column, b.change, b.after_name) for b in result.breaking_schema] == [
        ("amount", "renamed", "gross_amount")
    ]


def test_partition_key_retyped_is_breaking(tmp_path):
    def edit(bps):
        _product(bps, "shop.orders")["partition_keys"] = [{"name": "dt", "type": "date"}]

    (breaking,) = _diff(tmp_path, edit).breaking_schema
    assert breaking.partition_key and breaking.change == "retyped"
    assert breaking.consumers == ["bi:consumer", "crm:consumer"]


def test_removing_a_column_nobody_reads_is_not_breaking(tmp_path):
    def edit(bps):
        schema = _product(bps, "crm.contacts")["schema"]
        _product(bps, "crm.contacts")["schema"] = [c for c in schema if c["name"] != "country"]

    assert _diff(tmp_path, edit).breaking_schema == []


# ---------------------------------------------------------------- CLI contract and exit codes


def _cli(*args: str):
    return CliRunner().invoke(app, ["diff", *args])


def test_cli_json_contract_and_exit_3_on_new_access():
    run = _cli(str(BASE), str(FIXTURES / "diff" / "head_pr"), "--format", "json")
    assert run.exit_code == 3, run.output
    doc = json.loads(run.stdout)
    assert list(doc)[:3] == ["new_access", "removed_access", "changed"]
    for key in ("new_access", "removed_access", "changed"):
        for entry in doc[key]:
            assert CONTRACT_ENTRY_KEYS <= set(entry) and entry["why"]
    assert [(e["principal"], e["product"], e["reasons"]) for e in doc["new_access"]] == [
        ("bi:consumer", "crm.contacts", ["new_consumer"]),
        ("crm:consumer", "shop.orders", ["more_columns"]),
    ]
    assert [(b["product"], b["column"], b["change"]) for b in doc["breaking_schema"]] == [
        ("shop.returns", "reason", "removed")
    ]


def test_cli_exit_0_and_text_on_benign_changes():
    run = _cli(str(BASE), str(FIXTURES / "diff" / "head_benign"))
    assert run.exit_code == 0, run.output
    assert "NEW ACCESS (review required): 0" in run.stdout
    assert "shorter expiry" in run.stdout


def test_cli_markdown_is_a_pr_comment():
    run = _cli(str(BASE), str(FIXTURES / "diff" / "head_pr"), "--format", "markdown")
    assert run.exit_code == 3
    md = run.stdout
    assert md.startswith("### Data mesh access changes")
    assert "**2 new access grant(s): a data owner must review this change.**" in md
    assert (
        "| <code>crm:consumer</code> | <code>shop.orders</code> | read | "
        "amount, order_date, order_id, sku |" in md
    )
    assert "#### Breaking schema changes for existing consumers" in md


def test_cli_exit_0_when_identical():
    run = _cli(str(BASE), str(BASE), "--format", "json")
    assert run.exit_code == 0
    assert json.loads(run.stdout)["new_access"] == []


def test_cli_exit_1_on_invalid_blueprints(tmp_path):
    head = tmp_path / "head"
    shutil.copytree(BASE, head)
    (head / "crm.yaml").write_text(
        (head / "crm.yaml").read_text().replace("domain: crm", "domain: CRM")
    )
    run = _cli(str(BASE), str(head), "--format", "json")
    assert run.exit_code == 1
    doc = json.loads(run.stdout)  # still one JSON document: the errors, no access computed
    assert [(e["code"], Path(e["file"]).name, e["path"]) for e in doc["errors"]] == [
        ("E013", "crm.yaml", "domain")
    ]
    assert doc["new_access"] == [] and doc["required_approvals"] == []
    assert "head:" in run.stderr
    run = _cli(str(BASE), str(head))
    assert (run.exit_code, run.stdout) == (1, "")  # text: the errors on stderr, as before
    run = _cli(str(BASE), str(head), "--format", "markdown")
    assert run.exit_code == 1
    assert "E013" in run.stdout and run.stdout.rstrip().endswith(
        "Access changes wait until HEAD is valid."
    )
    run = _cli(str(head), str(BASE), "--format", "markdown")  # an invalid BASE: said so
    assert run.exit_code == 1
    assert run.stdout.rstrip().endswith("Access changes wait until BASE is valid.")


def test_cli_exit_2_on_usage_errors(tmp_path):
    assert _cli(str(BASE), str(tmp_path / "missing")).exit_code == 2
    assert _cli(str(BASE)).exit_code == 2
    assert _cli(str(BASE), str(BASE), "--format", "yaml").exit_code == 2


def test_diff_does_not_load_pulumi():
    """Pure model comparison: importing and running it must not pull in the Pulumi engine."""
    code = (
        "import sys, datetime as dt\n"
        "from infra.blueprints.load import load_mesh\n"
        "from infra.diff.access_diff import diff_meshes\n"
        f"m = load_mesh({str(BASE)!r}, today=dt.date(2026, 11, 25)).mesh\n"
        "diff_meshes(m, m, dt.date(2026, 11, 25))\n"
        "print(sorted(x for x in sys.modules if x.split('.')[0] in ('pulumi', 'pulumi_aws')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("sample", ["blueprints"])
def test_sample_mesh_against_itself_is_empty(sample):
    mesh = _load(ROOT / sample)
    result = diff_meshes(mesh, mesh, TODAY)
    assert result.exit_code == 0 and result.as_json()["new_access"] == []
