"""Blueprint-level governance: every policy with a compliant and a violating fixture, domain
tightening and loosening, exceptions with a fixed clock, and the sample mesh."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import FIXTURES, TODAY

from infra.blueprints.load import load_mesh
from infra.errors import Severity
from infra.governance import catalogue as cat
from infra.governance.domain_limits import effective
from infra.governance.evaluate import (
    active_exceptions,
    check_blueprints,
    govern_blueprints,
    with_governance,
)

CASES = FIXTURES / "governance" / "blueprint"


def findings(case: str, today: dt.date = TODAY) -> list[tuple[str, str, int | None, str]]:
    """(policy, file name, line, field path) of every finding in force for a fixture mesh."""
    result = load_mesh(CASES / case, today=today)
    assert result.mesh.domains == ["crm", "shop"], result.errors
    return [
        (f.policy, f.file.rsplit("/", 1)[-1], f.line, f.path)
        for f in check_blueprints(result.mesh, today)
    ]


CONSUMER = "products[0].consumers[0]"

# case -> the exact findings (policy, file, line, path); [] = compliant
EXPECTED: dict[str, list[tuple[str, str, int, str]]] = {
    "base": [],
    # GOV-001 owner-required
    "owner-bad": [
        ("GOV-001", "shop.yaml", 3, "owner.email"),
        ("GOV-001", "shop.yaml", 3, "owner.team"),
    ],
    # GOV-002 description-required
    "description-bad": [
        ("GOV-002", "shop.yaml", 2, "description"),
        ("GOV-002", "shop.yaml", 7, "products[0].description"),
    ],
    # GOV-003 pii-approval
    "pii-bad": [],  # structural: E027 (test_structural_faults_are_reported_once)
    "pii-ok": [],
    "approval-tightened-bad": [("GOV-003", "shop.yaml", 16, CONSUMER)],
    "approval-tightened-ok": [],
    # GOV-004 restricted-stays-in-domain (an expired grant grants nothing: compliant)
    "restricted-bad": [("GOV-004", "shop.yaml", 16, f"{CONSUMER}.domain")],
    "restricted-ok": [],
    # GOV-005 grant-expiry: 366 days is one too many, 365 is fine
    "expiry-bad": [("GOV-005", "shop.yaml", 18, f"{CONSUMER}.expires")],
    "expiry-ok": [],
    "expiry-missing-bad": [("GOV-005", "shop.yaml", 16, f"{CONSUMER}.expires")],
    "expiry-tightened-bad": [("GOV-005", "shop.yaml", 18, f"{CONSUMER}.expires")],
    "expiry-tightened-ok": [],
    "expiry-from-internal-bad": [("GOV-005", "shop.yaml", 16, f"{CONSUMER}.expires")],
    "expiry-from-internal-ok": [],
    # GOV-006 retention-bounds
    "retention-bad": [("GOV-006", "shop.yaml", 9, "products[0].retention_days")],
    "retention-ok": [],
    "retention-tightened-bad": [("GOV-006", "shop.yaml", 9, "products[0].retention_days")],
    "retention-tightened-ok": [],
    # GOV-007 freshness-slo (line of the product: the key is missing)
    "freshness-bad": [("GOV-007", "shop.yaml", 6, "products[0].freshness_slo_hours")],
    "freshness-ok": [],
    "freshness-tightened-bad": [("GOV-007", "shop.yaml", 6, "products[0].freshness_slo_hours")],
    # GOV-013 grant-target-exists
    "target-bad": [],  # structural: E025 (test_structural_faults_are_reported_once)
    "target-allowed-bad": [
        ("GOV-013", "shop.yaml", 16, f"{CONSUMER}.domain"),
        ("GOV-013", "shop.yaml", 20, "policies.allowed_consumer_domains[0]"),
    ],
    "target-allowed-ok": [],
    # GOV-014 tighten-only
    "loosen-bad": [
        ("GOV-014", "shop.yaml", 21, "policies.max_grant_days"),
        ("GOV-014", "shop.yaml", 22, "policies.max_retention_days"),
        ("GOV-014", "shop.yaml", 23, "policies.grant_expiry_from"),
    ],
    "loosen-minmax-bad": [("GOV-014", "shop.yaml", 21, "policies.min_retention_days")],
    "tighten-ok": [],
    # GOV-015 pii-tag-floor: a PII column's LF-tag below its product's (values least
    # sensitive first); a non-PII column may go lower, a PII one higher
    "pii-tag-floor-bad": [
        ("GOV-015", "shop.yaml", 15, "products[0].schema[1].lf_tags.sensitivity")
    ],
    "pii-tag-floor-ok": [],
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_fixture_findings(case):
    assert findings(case) == EXPECTED[case]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("pii-bad", [("E028", 16, f"{CONSUMER}.approved_by")]),
        ("target-bad", [("E025", 16, f"{CONSUMER}.domain")]),
    ],
)
def test_structural_faults_are_reported_once(case, expected):
    """PII shared without include_pii or approved_by and a consumer domain that does not exist are
    faults of the blueprint's structure: the checks report them (E027/E028, E025), the policies
    (GOV-003, GOV-013) do not report them again."""
    result = with_governance(load_mesh(CASES / case, today=TODAY), TODAY)
    assert [(p.code, p.line, p.path) for p in result.errors] == expected


def test_every_blueprint_policy_has_a_compliant_and_a_violating_fixture():
    violated = {f[0] for expected in EXPECTED.values() for f in expected}
    blueprint_level = {p.id for p in cat.CATALOGUE if cat.Level.blueprint in p.levels}
    assert blueprint_level <= violated
    for policy in blueprint_level:
        compliant = [c for c, exp in EXPECTED.items() if exp == [] and c.startswith(_stem(policy))]
        assert compliant or policy in {"GOV-001", "GOV-002"}, policy  # those: "base"


def _stem(policy: str) -> str:
    return {
        "GOV-003": "pii",
        "GOV-004": "restricted",
        "GOV-005": "expiry",
        "GOV-006": "retention",
        "GOV-007": "freshness",
        "GOV-013": "target",
        "GOV-014": "tighten",
        "GOV-015": "pii-tag-floor",
    }.get(policy, "base")


def test_findings_carry_messages_a_reviewer_can_act_on():
    result = load_mesh(CASES / "expiry-tightened-bad", today=TODAY)
    (f,) = check_blueprints(result.mesh, TODAY)
    assert f.message == (
        "grant of shop.orders to crm (confidential) expires on 2027-06-30, 217 days from "
        "2026-11-25: domain shop allows at most 200 days (policies.max_grant_days)"
    )
    assert f.severity is Severity.error and f.product == "shop.orders"
    result = load_mesh(CASES / "loosen-bad", today=TODAY)
    messages = [f.message for f in check_blueprints(result.mesh, TODAY)]
    assert messages[0] == (
        "max_grant_days 400 loosens the global maximum of 365 days; a domain may only lower it"
    )


# ------------------------------------------------------------------------------ tightening


def test_loosening_never_takes_effect():
    result = load_mesh(CASES / "loosen-bad", today=TODAY)
    eff = effective(result.mesh.blueprint("shop"))
    assert eff.max_grant_days == cat.MAX_GRANT_DAYS
    assert eff.grant_expiry_from == cat.GRANT_EXPIRY_FROM
    assert eff.retention_bounds(cat.Classification.confidential) == (90, 3650)


def test_tightening_takes_effect():
    result = load_mesh(CASES / "tighten-ok", today=TODAY)
    eff = effective(result.mesh.blueprint("shop"))
    assert eff.max_grant_days == 300
    assert eff.grant_expiry_from is cat.Classification.internal
    assert eff.retention_bounds(cat.Classification.confidential) == (365, 1000)
    assert eff.retention_bounds(cat.Classification.public) == (365, 1000)
    assert eff.freshness_required(cat.Classification.public)
    assert eff.allowed_consumers == frozenset({"crm"})


def test_a_domain_policy_binds_only_its_own_domain():
    result = load_mesh(CASES / "expiry-tightened-bad", today=TODAY)
    assert effective(result.mesh.blueprint("crm")).max_grant_days == cat.MAX_GRANT_DAYS


# ------------------------------------------------------------------------------ exceptions


def test_an_exception_waives_until_its_expiry_date_and_not_after():
    result = load_mesh(CASES / "exception-active", today=TODAY)
    mesh = result.mesh
    for today in (TODAY, dt.date(2027, 3, 31)):  # expires: 2027-03-31 is the last waived day
        report = govern_blueprints(mesh, today)
        assert [(f.policy, f.line, f.path, f.severity) for f in report.findings] == [
            ("GOV-X01", 22, "exceptions[0]", Severity.warning)
        ]
        assert [(f.policy, f.line) for f in report.waived] == [("GOV-004", 16)]
        assert "waived for shop.orders until 2027-03-31" in report.findings[0].message
    report = govern_blueprints(mesh, dt.date(2027, 4, 1))
    assert [(f.policy, f.line, f.path, f.severity) for f in report.findings] == [
        ("GOV-004", 16, f"{CONSUMER}.domain", Severity.error),
        ("GOV-X02", 25, "exceptions[0].expires", Severity.warning),
    ]
    assert report.waived == []


def test_active_exceptions_for_the_audit_report():
    mesh = load_mesh(CASES / "exception-active", today=TODAY).mesh
    (active,) = active_exceptions(mesh, TODAY)
    doc = active.as_json()
    assert doc["policy"] == "GOV-004" and doc["product"] == "shop.orders"
    assert doc["expires"] == "2027-03-31" and doc["approved_by"] == "ciso@example.com"
    assert doc["state"] == "active" and doc["file"].endswith("shop.yaml")
    assert [w["policy"] for w in doc["waives"]] == ["GOV-004"]
    assert active_exceptions(mesh, dt.date(2027, 4, 1)) == []


def test_invalid_exceptions_are_errors():
    assert findings("exception-invalid") == [
        ("GOV-X03", "shop.yaml", 22, "exceptions[0].policy"),  # GOV-009 is not waivable
        ("GOV-X03", "shop.yaml", 23, "exceptions[1].policy"),  # no such policy
        ("GOV-X03", "shop.yaml", 24, "exceptions[2].expires"),  # more than a year ahead
    ]


def test_an_unused_exception_says_so():
    mesh = load_mesh(CASES / "exception-unused", today=TODAY).mesh
    (f,) = check_blueprints(mesh, TODAY)
    assert f.policy == "GOV-X01" and "waives nothing at present" in f.message


def test_only_waivable_policies_are_waived():
    assert cat.WAIVABLE == {"GOV-004", "GOV-005", "GOV-006", "GOV-007"}


# ------------------------------------------------------------------------------ validate


def test_validate_result_shows_each_fault_once():
    """The loader already reports E028/E025; the governance finding at the same place is not
    listed a second time."""
    for case, code in (("pii-bad", "E028"), ("target-bad", "E025")):
        loaded = load_mesh(CASES / case, today=TODAY)
        merged = with_governance(loaded, TODAY)
        assert [p.code for p in merged.errors] == [code]


def test_validate_result_appends_findings_as_problems():
    merged = with_governance(load_mesh(CASES / "exception-active", today=TODAY), TODAY)
    assert merged.ok and merged.errors == []
    assert [(w.code, w.line) for w in merged.warnings] == [("GOV-X01", 22)]
    merged = with_governance(load_mesh(CASES / "retention-bad", today=TODAY), TODAY)
    assert not merged.ok
    (p,) = merged.errors
    assert p.as_json() == {
        "file": str(CASES / "retention-bad" / "shop.yaml"),
        "line": 9,
        "path": "products[0].retention_days",
        "code": "GOV-006",
        "message": "retention_days 30 of shop.orders (confidential) is outside 90..3650 days "
        "(the global bounds)",
    }


# ------------------------------------------------------------------------------ the sample


def test_sample_mesh_passes_blueprint_governance(sample_dir, today):
    mesh = load_mesh(sample_dir, today=today).mesh
    report = govern_blueprints(mesh, today)
    assert report.findings == []
    assert report.waived == []
    assert active_exceptions(mesh, today) == []
