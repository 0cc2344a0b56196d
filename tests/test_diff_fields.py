"""Every field of the blueprint format, changed in a pull request, is new access, a change to
review, unsafe (blocked), a breaking schema change, or none of those — decided here, field by
field, through the PR check (`mesh diff BASE HEAD --validate --format json`).

`FIELDS` must name every field the pydantic models of `infra.model.spec` define
(`test_every_field_is_classified`): a field added to the format fails this module until someone
decides what changing it means, and writes the mutation that shows it.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import typing
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import TODAY
from pydantic import BaseModel
from typer.testing import CliRunner

from infra.cli import app
from infra.model.spec import Blueprint, QualityRule

OPAQUE = {QualityRule}  # carried as a whole: its keys are ODCS's, not access decisions
DAY = dt.timedelta(days=1)


def field_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """`products[].consumers[].columns`-style paths of every field, nested models expanded."""
    out = set()
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or name}"
        out.add(key)
        inner = _model_of(info.annotation)
        if inner is not None and inner not in OPAQUE:
            many = typing.get_origin(info.annotation) is list
            out |= field_paths(inner, f"{key}[]." if many else f"{key}.")
    return out


def _model_of(annotation) -> type[BaseModel] | None:
    """The pydantic model an annotation holds (`list[Column]`, `Decommission | None`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        inner = _model_of(arg)
        if inner is not None:
            return inner
    return None


def consumer(name: str) -> dict:
    return {
        "domain": name,
        "description": f"The {name} domain, a consumer",
        "owner": {"team": f"{name}-team", "email": f"{name}@example.com"},
        "cost_center": "CC-2000",
    }


def base() -> dict[str, dict]:
    shop = {
        "domain": "shop",
        "description": "Orders of the web shop",
        "owner": {"team": "shop-data", "email": "shop-data@example.com"},
        "cost_center": "CC-1001",
        "products": [
            {
                "name": "orders",
                "description": "One row per order line",
                "classification": "internal",
                "format": "parquet",
                "retention_days": 365,
                "freshness_slo_hours": 24,
                "schema": [
                    {"name": "order_id", "type": "string", "description": "Order number"},
                    {"name": "email", "type": "string", "pii": True},
                    {"name": "amount", "type": "decimal(12,2)", "previous_names": ["total"]},
                    {"name": "currency", "type": "string"},
                ],
                "partition_keys": [{"name": "dt", "type": "string", "description": "Day"}],
                "quality": [{"type": "library", "metric": "rowCount", "mustBeGreaterThan": 0}],
                "consumers": [
                    {
                        "domain": "bi",
                        "columns": ["order_id", "amount"],
                        "approved_by": "bi-lead@example.com",
                        "expires": str(TODAY + 100 * DAY),
                        "justification": "revenue dashboards",
                    },
                    {
                        "domain": "crm",
                        "approved_by": "crm-lead@example.com",
                        "expires": str(TODAY + 100 * DAY),
                        "rows": "order_id LIKE 'EU-%' AND amount > 0",
                        "justification": "campaign attribution",
                    },
                    {
                        "domain": "audit",
                        "include_pii": True,
                        "approved_by": "privacy@example.com",
                        "expires": str(TODAY + 100 * DAY),
                        "justification": "subject access requests",
                    },
                ],
                "tags": {"team": "shop"},
                "previous_names": ["order_lines"],
            },
            {
                "name": "legacy",
                "description": "The order feed before the rewrite",
                "classification": "internal",
                "retention_days": 365,
                "freshness_slo_hours": 24,
                "schema": [{"name": "id", "type": "string"}],
                "decommission": {
                    "date": str(TODAY + 60 * DAY),
                    "reason": "replaced by orders",
                    "data": "retain",
                },
            },
        ],
        "policies": {
            "max_grant_days": 200,
            "allowed_consumer_domains": ["bi", "crm", "audit", "ops"],
            "require_freshness_slo": True,
            "max_retention_days": 3000,
            "min_retention_days": 60,
            "grant_expiry_from": "internal",
            "require_approval": True,
        },
        "exceptions": [
            {
                "policy": "GOV-007",
                "product": "orders",
                "justification": "SLO under review",
                "expires": str(TODAY + 30 * DAY),
                "approved_by": "cdo@example.com",
            }
        ],
    }
    return {"shop": shop, **{d: consumer(d) for d in ("bi", "crm", "audit", "ops", "risk")}}


def _p(bps, i=0):
    return bps["shop"]["products"][i]


def _set(getter: Callable[[dict], dict], key: str, value) -> Callable[[dict], None]:
    return lambda bps: getter(bps).__setitem__(key, value)


def _add_allowed(bps):
    bps["shop"]["policies"]["allowed_consumer_domains"].append("risk")


Mutation = Callable[[dict], None]
_TAG_GRANT = {"domain": "bi", "lf_tags": {"classification": ["internal"]}, "justification": "kpis"}
# field path -> (what changing it is, the change)
FIELDS: dict[str, tuple[set[str], Mutation]] = {
    "domain": ({"unsafe"}, _set(lambda b: b["shop"], "domain", "shop_eu")),  # E020
    "description": (set(), _set(lambda b: b["shop"], "description", "Orders of the EU shop")),
    "owner": ({"review"}, _set(lambda b: b["shop"], "owner", {"team": "eu-shop", "email": "eu@example.com"})),
    "owner.team": ({"review"}, _set(lambda b: b["shop"]["owner"], "team", "eu-shop")),
    "owner.email": ({"review"}, _set(lambda b: b["shop"]["owner"], "email", "eu@example.com")),
    "owner.github": ({"review"}, _set(lambda b: b["shop"]["owner"], "github", "@acme/eu-shop")),
    "cost_center": (set(), _set(lambda b: b["shop"], "cost_center", "CC-1002")),
    # a domain retired (domain-level decommission): every product's decommission, reviewed
    "decommission": ({"review"}, _set(lambda b: b["shop"], "decommission", {"date": str(TODAY + 45 * DAY), "reason": "shop closes"})),
    "decommission.date": ({"review"}, _set(lambda b: b["shop"], "decommission", {"date": str(TODAY + 90 * DAY), "reason": "shop closes"})),
    "decommission.reason": ({"review"}, _set(lambda b: b["shop"], "decommission", {"date": str(TODAY + 45 * DAY), "reason": "merged"})),
    "decommission.data": ({"review"}, _set(lambda b: b["shop"], "decommission", {"date": str(TODAY + 45 * DAY), "reason": "shop closes", "data": "delete"})),
    # a domain moving accounts is created anew there: refused unless stated (E053), then reviewed
    "account": ({"unsafe"}, _set(lambda b: b["shop"], "account", "111122223333")),
    "previous_account": ({"review"}, lambda b: b["shop"].update(account="111122223333", previous_account="123456789012")),
    "products": ({"new_access"}, lambda b: _p(b, 1).update(
        consumers=[{"domain": "bi", "approved_by": "x@example.com", "expires": str(TODAY + 30 * DAY), "justification": "history"}])),
    "products[].name": ({"unsafe"}, _set(_p, "name", "order_items")),  # removed without notice: E040
    "products[].description": (set(), _set(_p, "description", "One row per order line, EU")),
    "products[].classification": ({"review"}, _set(_p, "classification", "public")),
    "products[].format": ({"unsafe"}, _set(_p, "format", "json")),  # E073: objects misread
    "products[].retention_days": ({"review"}, _set(_p, "retention_days", 200)),
    "products[].freshness_slo_hours": (set(), _set(_p, "freshness_slo_hours", 48)),
    "products[].schema": ({"new_access"}, lambda b: _p(b)["schema"].append({"name": "country", "type": "string"})),
    # a rename without previous_names: the old column is gone for bi, a new one for crm
    "products[].schema[].name": ({"new_access", "breaking"}, lambda b: (
        _p(b)["schema"][3].update(name="iso_currency"))),
    "products[].schema[].type": ({"breaking"}, lambda b: _p(b)["schema"][2].update(type="double")),
    "products[].schema[].pii": ({"review", "new_access"}, lambda b: _p(b)["schema"][1].pop("pii")),
    "products[].schema[].description": (set(), lambda b: _p(b)["schema"][0].update(description="The order number")),
    "products[].schema[].previous_names": (set(), lambda b: _p(b)["schema"][2].update(previous_names=["total", "sum"])),
    "products[].partition_keys": ({"new_access"}, lambda b: _p(b)["partition_keys"].append({"name": "region", "type": "string"})),
    "products[].partition_keys[].name": ({"new_access", "breaking"}, lambda b: _p(b)["partition_keys"][0].update(name="day")),
    "products[].partition_keys[].type": ({"breaking"}, lambda b: _p(b)["partition_keys"][0].update(type="date")),
    "products[].partition_keys[].pii": ({"unsafe"}, lambda b: _p(b)["partition_keys"][0].update(pii=True)),  # E046
    "products[].partition_keys[].description": (set(), lambda b: _p(b)["partition_keys"][0].update(description="The day")),
    "products[].partition_keys[].previous_names": (set(), lambda b: _p(b)["partition_keys"][0].update(previous_names=["date_key"])),
    "products[].consumers": ({"new_access"}, lambda b: _p(b)["consumers"].append(
        {"domain": "ops", "approved_by": "ops@example.com", "expires": str(TODAY + 30 * DAY),
         "justification": "on-call"})),
    "products[].consumers[].domain": ({"new_access"}, lambda b: _p(b)["consumers"][1].update(domain="ops")),
    "products[].consumers[].columns": ({"new_access"}, lambda b: _p(b)["consumers"][0]["columns"].append("currency")),
    "products[].consumers[].include_pii": (set(), lambda b: _p(b)["consumers"][2].update(include_pii=False)),  # narrower
    "products[].consumers[].approved_by": (set(), lambda b: _p(b)["consumers"][2].update(approved_by="dpo@example.com")),
    "products[].consumers[].expires": ({"new_access"}, lambda b: _p(b)["consumers"][0].update(expires=str(TODAY + 150 * DAY))),
    "products[].consumers[].justification": (set(), lambda b: _p(b)["consumers"][0].update(justification="board dashboards")),
    "products[].consumers[].s3_direct": ({"new_access"}, lambda b: _p(b)["consumers"][2].update(s3_direct=True)),
    # dropping a condition of the row filter gives rows it did not: new access (narrowing,
    # adding one, is a change: test_row_filter_changes)
    "products[].consumers[].rows": ({"new_access"}, lambda b: _p(b)["consumers"][1].update(rows="order_id LIKE 'EU-%'")),
    "products[].tags": (set(), _set(_p, "tags", {"team": "shop-eu"})),
    "products[].previous_names": (set(), _set(_p, "previous_names", ["order_lines", "lines"])),
    "products[].quality": (set(), _set(_p, "quality", [{"type": "library", "metric": "rowCount", "mustBeGreaterThan": 10}])),
    "products[].decommission": ({"review"}, _set(_p, "decommission", {"date": str(TODAY + 45 * DAY), "reason": "merged into legacy"})),
    "products[].decommission.date": ({"review"}, lambda b: _p(b, 1)["decommission"].update(date=str(TODAY + 90 * DAY))),
    "products[].decommission.reason": ({"review"}, lambda b: _p(b, 1)["decommission"].update(reason="replaced")),
    "products[].decommission.data": ({"review"}, lambda b: _p(b, 1)["decommission"].update(data="delete")),
    "policies": ({"review"}, _set(lambda b: b["shop"], "policies", {})),
    "policies.max_grant_days": ({"review"}, lambda b: b["shop"]["policies"].update(max_grant_days=300)),
    "policies.allowed_consumer_domains": ({"review"}, _add_allowed),
    "policies.require_freshness_slo": ({"review"}, lambda b: b["shop"]["policies"].update(require_freshness_slo=False)),
    "policies.max_retention_days": ({"review"}, lambda b: b["shop"]["policies"].update(max_retention_days=3650)),
    "policies.min_retention_days": ({"review"}, lambda b: b["shop"]["policies"].update(min_retention_days=40)),
    "policies.grant_expiry_from": ({"review"}, lambda b: b["shop"]["policies"].update(grant_expiry_from="confidential")),
    "policies.require_approval": ({"review"}, lambda b: b["shop"]["policies"].update(require_approval=False)),
    "policies.allowed_consumer_accounts": (set(), lambda b: b["shop"]["policies"].update(allowed_consumer_accounts=["123456789012"])),  # tightening
    "exceptions": ({"review"}, lambda b: b["shop"]["exceptions"].append(
        {"policy": "GOV-007", "product": "legacy", "justification": "retired anyway", "expires": str(TODAY + 30 * DAY)})),
    "exceptions[].policy": ({"review"}, lambda b: b["shop"]["exceptions"][0].update(policy="GOV-006")),
    "exceptions[].product": ({"review"}, lambda b: b["shop"]["exceptions"][0].update(product="legacy")),
    "exceptions[].justification": (set(), lambda b: b["shop"]["exceptions"][0].update(justification="SLO under review, Q1")),
    "exceptions[].expires": ({"review"}, lambda b: b["shop"]["exceptions"][0].update(expires=str(TODAY + 60 * DAY))),
    "exceptions[].approved_by": ({"review"}, lambda b: b["shop"]["exceptions"][0].update(approved_by="ciso@example.com")),
    "exceptions[].consumers": ({"review"}, lambda b: b["shop"]["exceptions"][0].update(consumers=["bi"])),
    "exceptions[].retention_days": ({"review"}, lambda b: b["shop"]["exceptions"][0].update(retention_days=30)),
    # tag-based access (issue 29): this tree has no _mesh.yaml, so it is off and each of these
    # is refused (E100/E102/E108); with an ontology, tests/test_lftags_diff.py shows each
    # change as the access it adds and the approvals it needs
    "tag_grants": ({"unsafe"}, _set(lambda b: b["shop"], "tag_grants", [_TAG_GRANT])),
    "tag_grants[].domain": ({"unsafe"}, _set(lambda b: b["shop"], "tag_grants", [{**_TAG_GRANT, "domain": "crm"}])),
    "tag_grants[].lf_tags": ({"unsafe"}, _set(lambda b: b["shop"], "tag_grants", [{**_TAG_GRANT, "lf_tags": {"classification": ["public"]}}])),
    "tag_grants[].justification": ({"unsafe"}, _set(lambda b: b["shop"], "tag_grants", [{**_TAG_GRANT, "justification": "x y z"}])),
    "tag_grants[].expires": ({"unsafe"}, _set(lambda b: b["shop"], "tag_grants", [{**_TAG_GRANT, "expires": str(TODAY + 9 * DAY)}])),
    "tag_grants[].include_pii": ({"unsafe"}, _set(lambda b: b["shop"], "tag_grants", [{**_TAG_GRANT, "include_pii": True}])),
    "tag_grants[].approved_by": ({"unsafe"}, _set(lambda b: b["shop"], "tag_grants", [{**_TAG_GRANT, "approved_by": "dpo@example.com"}])),
    "products[].lf_tags": ({"unsafe"}, _set(_p, "lf_tags", {"sensitivity": "low"})),
    "products[].lf_tags_approved_by": (set(), _set(_p, "lf_tags_approved_by", "dpo@example.com")),
    "products[].schema[].lf_tags": ({"unsafe"}, lambda b: _p(b)["schema"][0].update(lf_tags={"domain": "x"})),
    "products[].partition_keys[].lf_tags": ({"unsafe"}, lambda b: _p(b)["partition_keys"][0].update(lf_tags={"pii": "true"})),
}  # fmt: skip


def test_every_field_is_classified():
    assert set(FIELDS) == field_paths(Blueprint)


def _write(directory: Path, bps: dict[str, dict]) -> Path:
    directory.mkdir(parents=True)
    for name, bp in bps.items():
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(bp, sort_keys=False))
    return directory


def classify(doc: dict, exit_code: int) -> set[str]:
    found = set()
    if exit_code == 1:
        found.add("unsafe")
    if doc.get("new_access"):
        found.add("new_access")
    if doc.get("review_required"):
        found.add("review")
    if doc.get("breaking_schema"):
        found.add("breaking")
    return found


def test_the_base_is_clean(tmp_path):
    b = _write(tmp_path / "base", base())
    run = CliRunner().invoke(
        app,
        ["diff", str(b), str(b), "--validate", "--format", "json"],
        env={"MESH_TODAY": str(TODAY)},
    )
    doc = json.loads(run.stdout)
    assert run.exit_code == 0 and doc["errors"] == [], run.output


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_changing_a_field(tmp_path, field):
    expected, mutate = FIELDS[field]
    exit_code, doc = _diff(tmp_path, mutate)
    if "unsafe" not in expected:
        assert doc["errors"] == [], doc["errors"]
    assert classify(doc, exit_code) == expected, json.dumps(
        {k: doc[k] for k in ("new_access", "review_required", "breaking_schema", "errors")},
        indent=1,
    )
    assert exit_code == (
        1 if "unsafe" in expected else 3 if expected & {"new_access", "review"} else 0
    )


# A format that maps columns by position (csv): each schema change decided on its own. The
# base product is `orders` in csv; bi reads order_id and amount, crm every non-PII column.
POSITIONAL: dict[str, tuple[set[str], Mutation]] = {
    "append a column": ({"new_access"}, lambda b: _p(b)["schema"].append({"name": "country", "type": "string"})),
    "drop the last column": ({"breaking"}, lambda b: _p(b)["schema"].pop()),  # crm read currency
    "rename in place": ({"breaking"}, lambda b: _p(b)["schema"][3].update(name="iso", previous_names=["currency"])),
    "reorder columns": ({"unsafe"}, lambda b: _p(b)["schema"].insert(0, _p(b)["schema"].pop(2))),  # E072
    "drop a column before the end": ({"unsafe"}, lambda b: _p(b)["schema"].pop(0)),  # E072
    "insert before the end": ({"unsafe"}, lambda b: _p(b)["schema"].insert(1, {"name": "country", "type": "string"})),  # E072
    "change the format": ({"unsafe"}, _set(_p, "format", "parquet")),  # E073
    # a PII column before the end: refused first (E072); dropped last, a privacy review below
    "drop the PII column": ({"unsafe"}, lambda b: _p(b)["schema"].pop(1)),
}  # fmt: skip

PII_DROPPED: dict[str, tuple[set[str], Mutation]] = {
    "parquet: drop the PII column": ({"review", "breaking"}, lambda b: _p(b)["schema"].pop(1)),
    "parquet: rename it without previous_names": (
        {"review", "breaking"}, lambda b: _p(b)["schema"][1].update(name="e_mail"),
    ),
    "parquet: replace it by a non-PII column": (
        {"review", "breaking", "new_access"},
        lambda b: _p(b)["schema"].__setitem__(1, {"name": "contact", "type": "string"}),
    ),
}  # fmt: skip


def _csv(bps: dict) -> dict:
    _p(bps)["format"] = "csv"
    return bps


@pytest.mark.parametrize("change", sorted(POSITIONAL))
def test_a_positional_format_change(tmp_path, change):
    expected, mutate = POSITIONAL[change]
    head = _csv(base())
    mutate(head)
    b, h = _write(tmp_path / "base", _csv(base())), _write(tmp_path / "head", head)
    run = CliRunner().invoke(
        app, ["diff", str(b), str(h), "--validate", "--format", "json"],
        env={"MESH_TODAY": str(TODAY)},
    )  # fmt: skip
    doc = json.loads(run.stdout)
    assert classify(doc, run.exit_code) == expected, doc["errors"]
    codes = {e["code"] for e in doc["errors"]}
    if "unsafe" in expected:
        assert codes & {"E072", "E073"}, codes
    else:
        assert codes == set()


@pytest.mark.parametrize("change", sorted(PII_DROPPED))
def test_a_pii_column_leaving_is_a_privacy_review(tmp_path, change):
    expected, mutate = PII_DROPPED[change]
    head = copy.deepcopy(base())
    mutate(head)
    # audit reads the PII column: its grant must drop it first, which is not the point here
    head["shop"]["products"][0]["consumers"][2]["include_pii"] = False
    b, h = _write(tmp_path / "base", base()), _write(tmp_path / "head", head)
    run = CliRunner().invoke(
        app, ["diff", str(b), str(h), "--validate", "--format", "json"],
        env={"MESH_TODAY": str(TODAY)},
    )  # fmt: skip
    doc = json.loads(run.stdout)
    assert doc["errors"] == []
    assert classify(doc, run.exit_code) == expected
    assert "pii_column_dropped" in {r["change"] for r in doc["review_required"]}
    assert "privacy" in {a["approver"] for a in doc["required_approvals"]}


def _diff(tmp_path, mutate) -> tuple[int, dict]:
    head = copy.deepcopy(base())
    mutate(head)
    b, h = _write(tmp_path / "base", base()), _write(tmp_path / "head", head)
    run = CliRunner().invoke(
        app,
        ["diff", str(b), str(h), "--validate", "--format", "json"],
        env={"MESH_TODAY": str(TODAY)},
    )
    return run.exit_code, json.loads(run.stdout)


@pytest.mark.parametrize(
    ("rows", "kind", "reason"),
    [
        # more conditions: fewer rows, a change (exit 0)
        ("order_id LIKE 'EU-%' AND amount > 0 AND amount < 1000", "changed", "row_filter_narrowed"),
        # the same conditions, reordered and reformatted: no change at all
        ("(amount > 0) and order_id like 'EU-%'", None, None),
        # a condition dropped: more rows, new access (exit 3)
        ("amount > 0", "new_access", "row_filter_widened"),
        # another condition: cannot be ordered, counts as new access
        ("order_id LIKE 'US-%' AND amount > 0", "new_access", "row_filter_widened"),
        # no filter: every row, new access
        (None, "new_access", "row_filter_removed"),
    ],
)
def test_row_filter_changes(tmp_path, rows, kind, reason):
    def mutate(b):
        grant = _p(b)["consumers"][1]
        if rows is None:
            del grant["rows"]
        else:
            grant["rows"] = rows

    code, doc = _diff(tmp_path, mutate)
    assert doc["errors"] == []
    entries = {k: [e for e in doc[k] if e["principal"] == "crm:consumer"] for k in (
        "new_access", "changed")}  # fmt: skip
    if kind is None:
        assert entries == {"new_access": [], "changed": []} and code == 0
        return
    [entry] = entries[kind]
    assert entry["reasons"] == [reason]
    assert entry["row_filter"] == rows
    assert entry["before"]["row_filter"] == "order_id LIKE 'EU-%' AND amount > 0"
    assert code == (3 if kind == "new_access" else 0)


def test_adding_a_row_filter_is_a_narrowing_change(tmp_path):
    code, doc = _diff(tmp_path, lambda b: _p(b)["consumers"][0].update(rows="currency = 'EUR'"))
    [entry] = doc["changed"]
    assert (entry["principal"], entry["reasons"]) == ("bi:consumer", ["row_filter_added"])
    assert doc["new_access"] == [] and code == 0
