"""Governance through the CLI: `mesh policies`, findings in `mesh validate`, checks in `mesh plan`."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES, SAMPLE, TODAY
from test_governance_resources import CASES, mutate, sample_graph
from typer.testing import CliRunner

from infra.cli import app
from infra.cli.plan import check_plan
from infra.engines import recording
from infra.governance import catalogue as cat

CASES_DIR = FIXTURES / "governance" / "blueprint"
PROBLEM_KEYS = {"file", "line", "path", "code", "message"}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_policies_text_lists_the_catalogue(runner):
    result = runner.invoke(app, ["policies"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "SEVERITY", "LEVEL", "WAIVABLE", "NAME"]
    assert lines[1].split() == ["GOV-001", "error", "blueprint,resource", "no", "owner-required"]
    for p in cat.CATALOGUE:
        assert any(line.startswith(f"{p.id}  ") and p.name in line for line in lines)
    assert "  grants on confidential+ data expire within 365 days" in lines
    assert "  retention_days of restricted products: 90..3650" in lines
    assert any(line.startswith("  GOV-X01  active exception") for line in lines)


def test_policies_json(runner):
    result = runner.invoke(app, ["policies", "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert [p["id"] for p in doc["policies"]] == [f"GOV-{i:03d}" for i in range(1, 16)]
    assert set(doc["policies"][0]) == {
        "id", "name", "severity", "levels", "description", "rationale", "waivable", "waived_by",
    }  # fmt: skip
    # the approver group (`_mesh.yaml`) an exception needs, by policy; none where none waives
    assert {p["id"]: p["waived_by"] for p in doc["policies"] if p["waivable"]} == {
        "GOV-004": "security", "GOV-005": "security", "GOV-006": "privacy", "GOV-007": "platform",
    }  # fmt: skip
    assert {p["waived_by"] for p in doc["policies"] if not p["waivable"]} == {None}
    assert doc["policies"][4]["levels"] == ["blueprint", "resource"]
    assert doc["limits"]["max_grant_days"] == 365
    assert doc["limits"]["retention_days"]["confidential"] == {"min": 90, "max": 3650}
    assert [c["code"] for c in doc["exception_codes"]] == ["GOV-X01", "GOV-X02", "GOV-X03"]


def test_policies_rejects_an_unknown_format(runner):
    assert runner.invoke(app, ["policies", "--format", "xml"]).exit_code == 2


def test_validate_json_reports_governance_errors(runner):
    result = runner.invoke(app, ["validate", str(CASES_DIR / "loosen-bad"), "-f", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert [(e["code"], e["line"], e["path"]) for e in doc["errors"]] == [
        ("GOV-014", 21, "policies.max_grant_days"),
        ("GOV-014", 22, "policies.max_retention_days"),
        ("GOV-014", 23, "policies.grant_expiry_from"),
    ]
    assert all(set(e) == PROBLEM_KEYS for e in doc["errors"] + doc["warnings"])


def test_validate_lists_active_exceptions_as_warnings(runner):
    case = CASES_DIR / "exception-active"
    result = runner.invoke(app, ["validate", str(case), "-f", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["errors"] == []
    (w,) = doc["warnings"]
    assert set(w) == PROBLEM_KEYS
    assert (w["code"], w["line"], w["path"]) == ("GOV-X01", 22, "exceptions[0]")
    text = runner.invoke(app, ["validate", str(case)]).stdout
    assert (
        f"{case / 'shop.yaml'}:22: warning GOV-X01 exceptions[0]: active exception: GOV-004" in text
    )
    assert text.rstrip().endswith("valid: 2 domain(s), 1 product(s), 0 error(s), 1 warning(s)")
    github = runner.invoke(app, ["validate", str(case), "-f", "github"]).stdout
    assert github.startswith(f"::warning file={case / 'shop.yaml'},line=22,title=GOV-X01::")


def test_validate_reports_an_expired_exception(runner, monkeypatch):
    monkeypatch.setenv("MESH_TODAY", "2027-04-01")
    result = runner.invoke(app, ["validate", str(CASES_DIR / "exception-active"), "-f", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [(e["code"], e["line"]) for e in doc["errors"]] == [("GOV-004", 16)]
    assert ("GOV-X02", 25) in [(w["code"], w["line"]) for w in doc["warnings"]]


def test_validate_sample_has_no_governance_findings(runner):
    result = runner.invoke(app, ["validate", str(SAMPLE), "-f", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["errors"] == [] and [w["code"] for w in doc["warnings"]] == ["W002"]


def test_plan_exits_1_on_resource_findings_and_keeps_stdout_json(runner, monkeypatch):
    def tampered(mesh, settings, today, *args, **kwargs):
        return recording.ResourceGraph(mutate(sample_graph()[1], CASES["key-rotation-off"][0]))

    monkeypatch.setattr(recording, "run_program", tampered)
    result = runner.invoke(app, ["plan", str(SAMPLE), "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)  # the contract shape, unchanged
    assert set(doc) == {"resources", "counts"}
    assert "aws:kms/key:Key sales-key: error GOV-008 key rotation is not enabled" in result.stderr
    assert "governance: 1 error(s), 0 warning(s), 0 waived" in result.stderr


def test_plan_of_the_sample_is_clean(runner):
    result = runner.invoke(app, ["plan", str(SAMPLE)])
    assert result.exit_code == 0
    assert "GOV-" not in result.stderr


def test_check_plan_prints_findings_on_stderr(capsys):
    mesh, resources = sample_graph()
    assert check_plan(recording.ResourceGraph(resources), mesh, TODAY) == 0
    assert capsys.readouterr().err == ""
    bad = mutate(resources, CASES["public-acl"][0])
    assert check_plan(bad, mesh, TODAY) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "aws:s3/bucket:Bucket sales.orders-bucket: error GOV-009 canned ACL 'public-read' makes "
        "the bucket public"
    )
