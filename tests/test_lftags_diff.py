"""`mesh diff` of grants by tag expression: every expression expanded against BASE and HEAD,
the difference per principal and product, as new access with the expression that caused it
(`infra.diff.tag_diff`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import SAMPLE, TODAY
from typer.testing import CliRunner

from infra.cli import app

STOCK = "    retention_days: 180\n    freshness_slo_hours: 1\n"
SALES_GRANT = (
    "tag_grants:\n"
    "  - {domain: analytics, lf_tags: {sensitivity: [low]}, include_pii: true,\n"
    "     approved_by: privacy, justification: churn model, expires: 2027-06-30}\n"
    "products:\n"
)


def _trees(tmp_path: Path, base: dict | None = None, head: dict | None = None) -> tuple:
    out = []
    for name, edits in (("base", base or {}), ("head", head or {})):
        root = tmp_path / name
        shutil.copytree(SAMPLE, root)
        for domain, pairs in edits.items():
            path = root / f"{domain}.yaml"
            text = path.read_text()
            for old, new in pairs:
                assert text.count(old) == 1, (domain, old)
                text = text.replace(old, new)
            path.write_text(text)
        out.append(root)
    return tuple(out)


def _diff(base: Path, head: Path, fmt: str = "json"):
    run = CliRunner().invoke(
        app, ["diff", str(base), str(head), "--format", fmt], env={"MESH_TODAY": str(TODAY)}
    )
    return run.exit_code, (json.loads(run.stdout) if fmt == "json" else run.stdout)


def test_a_product_gaining_a_matching_tag_is_new_access_for_the_grantee(tmp_path):
    base, head = _trees(
        tmp_path,
        head={
            "logistics": [
                (
                    STOCK,
                    STOCK + "    lf_tags: {sensitivity: low}\n    lf_tags_approved_by: privacy\n",
                )
            ]
        },
    )
    code, doc = _diff(base, head)
    assert code == 3
    [entry] = doc["new_access"]
    assert (entry["principal"], entry["product"]) == (
        "marketing:consumer",
        "logistics.stock_levels",
    )
    assert entry["via_tags"] == {"classification": ["internal"], "sensitivity": ["low"]}
    assert entry["columns"] == ["on_hand", "sku", "snapshot_at", "warehouse"]
    assert entry["reasons"] == ["tag_product_retagged"]
    assert entry["why"] == (
        "the product's LF-tags changed (sensitivity: - -> low); via tags {classification: "
        "[internal], sensitivity: [low]} (" + f"{head}/_mesh.yaml:14 tag_grants[0])"
    )
    assert doc["lf_tag_changes"] == [
        {
            "product": "logistics.stock_levels",
            "column": None,
            "key": "sensitivity",
            "before": None,
            "after": "low",
            "assigned_by": "privacy",
        }
    ]
    assert [(a["approver"], a["principal"]) for a in doc["required_approvals"]] == [
        ("@acme/logistics-data", "marketing:consumer"),  # the producer's owners
        ("platform", "marketing:consumer"),  # the approver the mesh-wide grant names
        ("privacy", None),  # sensitivity is assigned by privacy
    ]
    # the text names the retag as a change to review
    code, text = _diff(base, head, "text")
    assert (
        "  ? logistics.stock_levels: lf_tag_changed -- LF-tag sensitivity of "
        "logistics.stock_levels: - -> low (assigned by privacy)"
    ) in text.splitlines()
    # the PR comment names the expression and where it is declared
    code, markdown = _diff(base, head, "markdown")
    assert (
        "> - LF-tag sensitivity of logistics.stock_levels: - -> low (assigned by privacy)"
    ) in markdown.splitlines()
    assert code == 3
    assert r"via tags {classification: \[internal\], sensitivity: \[low\]}" in markdown
    assert r"_mesh.yaml:14 tag_grants\[0\]" in markdown  # (brackets escaped in Markdown)


def test_retagging_a_pii_column_is_new_access_to_pii_needing_privacy(tmp_path):
    grant = [("products:\n", SALES_GRANT)]
    retag = (
        "{name: customer_email, type: string, pii: true, lf_tags: {sensitivity: high}}",
        "{name: customer_email, type: string, pii: true, lf_tags: {sensitivity: low}}",
    )
    base, head = _trees(tmp_path, base={"sales": grant}, head={"sales": [*grant, retag]})
    code, doc = _diff(base, head)
    assert code == 3
    [entry] = doc["new_access"]
    assert (entry["principal"], entry["product"]) == ("analytics:consumer", "sales.orders")
    assert entry["reasons"] == [
        "tag_column_retagged",
        "more_columns",
        "pii_now_included",
    ]
    assert entry["why"].startswith(
        "column LF-tags changed (customer_email sensitivity: high -> sensitivity: low); "
        "more columns (+customer_email); PII now included (customer_email); via tags "
        "{domain: [sales], sensitivity: [low]} ("
    )
    assert entry["pii"] is True and entry["before"]["pii"] is False
    assert entry["via_tags"] == {"domain": ["sales"], "sensitivity": ["low"]}
    approvers = [(a["approver"], a["reason"]) for a in doc["required_approvals"]]
    assert ("privacy", "PII (customer_email) for analytics:consumer on sales.orders") in approvers
    assert (
        "privacy",
        "LF-tag sensitivity of sales.orders.customer_email: high -> low (assigned by privacy)",
    ) in approvers
    assert approvers[0][0] == "@acme/sales-data"


def test_a_widened_expression_and_a_new_matching_product(tmp_path):
    new_product = (
        "products:\n",
        (
            "products:\n"
            "  - name: carriers\n"
            "    description: Every carrier with its service levels\n"
            "    classification: internal\n"
            "    retention_days: 365\n"
            "    schema:\n"
            "      - {name: carrier, type: string}\n"
            "      - {name: service_level, type: string}\n"
        ),
    )
    widened = (
        "lf_tags: {classification: [internal]}",
        "lf_tags: {classification: [internal, confidential]}",
    )
    base, head = _trees(tmp_path, head={"logistics": [widened, new_product]})
    code, doc = _diff(base, head)
    assert code == 3
    found = {(e["principal"], e["product"]): e for e in doc["new_access"]}
    # carriers is internal but has no sensitivity: the mesh-wide grant to marketing misses it
    assert set(found) == {
        ("analytics:consumer", "logistics.carriers"),
        ("analytics:consumer", "logistics.shipments"),
    }
    assert found[("analytics:consumer", "logistics.carriers")]["reasons"] == ["tag_new_product"]
    shipments = found[("analytics:consumer", "logistics.shipments")]
    assert shipments["reasons"] == ["tag_expression_widened"]
    assert shipments["why"].startswith(
        "tag expression changed ({classification: [internal], domain: [logistics]} -> "
        "{classification: [confidential, internal], domain: [logistics]})"
    )
    # the PII column stays out: no approval path for PII in the grant
    assert "delivery_address" not in shipments["columns"] and shipments["pii"] is False
    assert doc["new_products"] == ["logistics.carriers"]


def test_a_product_no_longer_matching_is_removed_access(tmp_path):
    tags = "    lf_tags: {sensitivity: low}\n    lf_tags_approved_by: privacy\npolicies:"
    base, head = _trees(tmp_path, head={"sales": [(tags, "policies:")]})
    code, doc = _diff(base, head)
    assert [(e["principal"], e["product"], e["reasons"]) for e in doc["removed_access"]] == [
        ("marketing:consumer", "sales.returns", ["tag_no_longer_matches"])
    ]
    assert doc["removed_access"][0]["via_tags"] == {
        "classification": ["internal"],
        "sensitivity": ["low"],
    }
    assert doc["new_access"] == []
    assert code == 3  # the privacy-assigned tag removed: privacy reviews it
    assert doc["lf_tag_changes"][0]["before"] == "low" and doc["lf_tag_changes"][0]["after"] is None


def test_an_unchanged_tree_reports_no_tag_access(tmp_path):
    base, head = _trees(tmp_path)
    code, doc = _diff(base, head)
    assert code == 0 and doc["new_access"] == [] and doc["lf_tag_changes"] == []


def test_a_column_a_tag_grantee_reads_removed_is_a_breaking_change_for_it(tmp_path):
    removed = ("      - {name: reason, type: string}\n", "")
    base, head = _trees(tmp_path, head={"sales": [removed]})
    code, doc = _diff(base, head)
    assert code == 0  # listed for its readers, as for a named grant; not by itself a block
    [breaking] = doc["breaking_schema"]
    assert (breaking["product"], breaking["column"], breaking["change"]) == (
        "sales.returns",
        "reason",
        "removed",
    )
    # analytics by its named grant, marketing by the mesh-wide tag grant
    assert breaking["consumers"] == ["analytics:consumer", "marketing:consumer"]
