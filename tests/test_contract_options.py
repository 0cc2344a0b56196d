"""`mesh contract import` options for what real contracts leave out: --classification,
--retention-days, --purpose (never silent defaults), and contracts that used to crash or
mislead the import (an empty `value:`, a frequency, a partition key listed first)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from conftest import SINGLE, TODAY
from typer.testing import CliRunner

from infra.blueprints.load import load_mesh
from infra.cli import app

ODCS = Path(__file__).parent / "fixtures" / "odcs"
NO_GOVERNANCE = ODCS / "no_classification.odcs.yaml"  # no classification, no retention


def run_import(contract: Path, into: Path, *extra: str) -> tuple[int, dict]:
    run = CliRunner().invoke(
        app,
        ["contract", "import", str(contract), "--into", str(into), "--format", "json", *extra],
    )
    assert "Traceback" not in run.output
    return run.exit_code, json.loads(run.stdout)


def blueprints(tmp_path: Path) -> Path:
    import shutil

    into = tmp_path / "blueprints"
    shutil.copytree(SINGLE, into)
    (into / "logistics.yaml").write_text(
        "domain: logistics\ndescription: Shipping and carriers\n"
        "owner: {team: logistics-data, email: logistics@example.com}\ncost_center: CC-7\n"
    )
    return into


def product(into: Path, product_id: str):
    result = load_mesh(into, today=TODAY)
    assert result.errors == []
    return result.mesh.product(product_id)[1]


def test_without_the_options_the_errors_name_the_option_that_supplies_the_field(tmp_path):
    into = blueprints(tmp_path)
    code, out = run_import(NO_GOVERNANCE, into)
    assert code == 1
    assert [(e["code"], e["path"]) for e in out["errors"]] == [
        ("C005", "schema[0].properties"),
        ("C005", "slaProperties"),
    ]
    assert "or pass --classification C" in out["errors"][0]["message"]
    assert "or pass --retention-days N" in out["errors"][1]["message"]
    gone = NO_GOVERNANCE.read_text().replace(
        "description:\n  purpose: Carrier rate cards per zone\n", ""
    )
    (tmp_path / "bare.odcs.yaml").write_text(gone)
    code, out = run_import(tmp_path / "bare.odcs.yaml", into)
    assert code == 1 and "or pass --purpose TEXT" in out["errors"][0]["message"]


def test_the_options_supply_what_the_contract_does_not_state(tmp_path):
    into = blueprints(tmp_path)
    code, out = run_import(
        NO_GOVERNANCE, into, "--classification", "internal", "--retention-days", "400"
    )
    assert code == 0, out
    got = product(into, "logistics.carrier_rates")
    assert (got.classification.value, got.retention_days) == ("internal", 400)
    given = [w["message"] for w in out["warnings"] if w["code"] == "CW08"]
    assert given == [
        (
            "classification of logistics.carrier_rates from --classification (the contract does "
            "not state it)"
        ),
        (
            "retention_days of logistics.carrier_rates from --retention-days (the contract does "
            "not state it)"
        ),
    ]


def test_a_classification_in_the_contract_wins_over_the_option(tmp_path):
    into = blueprints(tmp_path)
    text = NO_GOVERNANCE.read_text().replace(
        "      - name: zone\n        logicalType: string\n",
        "      - name: zone\n        logicalType: string\n        classification: internal\n",
    )
    (tmp_path / "c.odcs.yaml").write_text(text)
    code, out = run_import(
        tmp_path / "c.odcs.yaml", into, "--classification", "restricted", "--retention-days", "30"
    )
    assert code == 0
    assert product(into, "logistics.carrier_rates").classification.value == "internal"
    assert not [w for w in out["warnings"] if "--classification" in w["message"]]


def test_purpose_supplies_the_description(tmp_path):
    into = blueprints(tmp_path)
    text = NO_GOVERNANCE.read_text().replace(
        "description:\n  purpose: Carrier rate cards per zone\n", ""
    )
    (tmp_path / "p.odcs.yaml").write_text(text)
    code, _out = run_import(
        tmp_path / "p.odcs.yaml",
        into,
        *("--classification", "internal", "--retention-days", "30"),
        *("--purpose", "Rate cards of the carriers, per delivery zone"),
    )
    assert code == 0
    got = product(into, "logistics.carrier_rates")
    assert got.description == "Rate cards of the carriers, per delivery zone"


def test_bad_option_values_are_usage_errors(tmp_path):
    into = blueprints(tmp_path)
    for extra in (["--classification", "secret"], ["--retention-days", "0"], ["--purpose", " "]):
        run = CliRunner().invoke(
            app, ["contract", "import", str(NO_GOVERNANCE), "--into", str(into), *extra]
        )
        assert run.exit_code == 2, extra


EMPTY_VALUE = """\
apiVersion: v3.1.0
kind: DataContract
id: rates
version: 1.0.0
status: active
domain: logistics
description: {purpose: Carrier rate cards per zone}
schema:
  - name: rates
    properties:
      - name: zone
        logicalType: string
        classification: internal
        quality:
          - metric: nullValues
            type: library
            mustBe: 0
            value:
            customProperties:
              - property: owner
                value:
              - property: team
                value: logistics
slaProperties:
  - {property: retention, value: 1, unit: y}
  - {property: frequency, value: 1, unit: d}
"""


def test_an_empty_value_in_a_quality_rule_imports_and_round_trips(tmp_path):
    into = blueprints(tmp_path)
    (tmp_path / "e.odcs.yaml").write_text(EMPTY_VALUE)
    code, out = run_import(tmp_path / "e.odcs.yaml", into)
    assert code == 0, out
    [rule] = product(into, "logistics.rates").quality
    assert rule.customProperties == [{"property": "team", "value": "logistics"}]
    dropped = [w for w in out["warnings"] if w["code"] == "CW01"]
    assert [w["path"] for w in dropped] == [
        "schema[0].properties[0].quality[0].customProperties[0]"
    ]
    # a frequency stands in for the missing latency, and says so
    assert product(into, "logistics.rates").freshness_slo_hours == 24
    [freq] = [w for w in out["warnings"] if w["path"] == "slaProperties[1].property"]
    assert freq["code"] == "CW02" and "frequency becomes latency" in freq["message"]
    out_dir = tmp_path / "out"
    run = CliRunner().invoke(
        app,
        ["contract", "export", str(into), "--out", str(out_dir), "--product", "logistics.rates"],
    )
    assert run.exit_code == 0, run.output
    exported = yaml.safe_load((out_dir / "logistics.rates.odcs.yaml").read_text())
    assert exported["slaProperties"] == [
        {"property": "latency", "value": 24, "unit": "h"},
        {"property": "retention", "value": 365, "unit": "d"},
    ]  # no frequency: the blueprint has none
    code, again = run_import(out_dir / "logistics.rates.odcs.yaml", into)
    assert code == 0 and again["action"] == "unchanged"


def test_an_export_error_is_a_c009_not_a_crash(tmp_path):
    into = blueprints(tmp_path)
    (into / "logistics.yaml").write_text(
        (into / "logistics.yaml").read_text()
        + "products:\n  - name: rates\n    description: Carrier rate cards per zone\n"
        "    classification: internal\n    format: parquet\n    retention_days: 30\n"
        "    schema: [{name: zone, type: string}]\n"
        "    quality:\n      - {type: library, metric: nullValues, mustBe: 0, column: zone,\n"
        "         customProperties: [{property: owner, value: null}]}\n"
    )
    run = CliRunner().invoke(app, ["contract", "export", str(into), "--out", str(tmp_path / "o")])
    assert run.exit_code == 1
    assert "C009" in run.output and "does not keep the contract of logistics.rates" in run.output


def test_a_latency_in_milliseconds_and_a_unit_written_into_the_value(tmp_path):
    into = blueprints(tmp_path)
    text = EMPTY_VALUE.replace(
        "  - {property: frequency, value: 1, unit: d}\n", "  - {property: latency, value: 500ms}\n"
    )
    (tmp_path / "ms.odcs.yaml").write_text(text)
    code, out = run_import(tmp_path / "ms.odcs.yaml", into)
    assert code == 0, out["errors"]
    assert product(into, "logistics.rates").freshness_slo_hours == 1
    [rounded] = [w for w in out["warnings"] if w["path"] == "slaProperties[1].value"]
    assert rounded["code"] == "CW02" and "rounded up to 1" in rounded["message"]


def test_an_object_without_properties_among_several_is_left_out(tmp_path):
    into = blueprints(tmp_path)
    text = EMPTY_VALUE.replace(
        "slaProperties:", "  - name: notes\n    description: Not a table yet\nslaProperties:"
    )
    (tmp_path / "two.odcs.yaml").write_text(text)
    code, out = run_import(tmp_path / "two.odcs.yaml", into)
    assert code == 0, out["errors"]
    assert [p["product"] for p in out["products"]] == ["logistics.rates"]
    [left] = [w for w in out["warnings"] if w["path"] == "schema[1]" and w["code"] == "CW01"]
    assert left["code"] == "CW01" and "no properties" in left["message"]


def test_a_purpose_over_the_description_limit_is_shortened_with_a_warning(tmp_path):
    into = blueprints(tmp_path)
    text = NO_GOVERNANCE.read_text().replace(
        "description:\n  purpose: Carrier rate cards per zone\n", ""
    )
    (tmp_path / "p.odcs.yaml").write_text(text)
    code, out = run_import(
        tmp_path / "p.odcs.yaml",
        into,
        *("--classification", "internal", "--retention-days", "30", "--purpose", "rate " * 600),
    )
    assert code == 0
    assert len(product(into, "logistics.carrier_rates").description) <= 2048
    assert any("shortened to 2,048" in w["message"] for w in out["warnings"])


def test_the_name_rules_of_products_and_columns():
    from infra.contracts.selecting import fit, fit_column

    assert fit("Orders Table") == "orders_table"
    assert fit("order") == "order_data"  # the Glue table: a reserved word of Athena SQL
    assert fit("2024 changes") == "t_2024_changes"
    long = "athena_iceberg_table_partitioned"
    assert fit(long) == fit(long) and len(fit(long)) == 31 and fit(long).startswith(long[:26])
    assert fit_column("E-Mail Address") == "e_mail_address"
    assert fit_column("group") == "group_value"
    assert fit_column("2nd") == "c_2nd"
    assert fit_column("_ok") == "_ok"
    assert len(fit_column("x" * 200)) == 128
