"""`mesh diff --validate`: the whole PR check in one process. Its problems are exactly those of
`mesh validate HEAD --base BASE`; its access changes exactly those of `mesh diff`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import DIFF_PAIRS, FIXTURES, SINGLE, TODAY
from typer.testing import CliRunner

from infra.cli import app
from infra.diff.render import NOT_COMPUTED

ACCESS_KEYS = (
    "new_access",
    "removed_access",
    "changed",
    "breaking_schema",
    "new_products",
    "renamed_products",
    "renamed_columns",
)


def _run(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(app, [str(a) for a in args], env={"MESH_TODAY": TODAY.isoformat()})
    return done.exit_code, done.stdout


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize(("base", "head"), DIFF_PAIRS)
def test_one_process_check_equals_validate_then_diff(tmp_path, base, head):
    base_dir = _copy(FIXTURES / base, tmp_path / "base")
    head_dir = _copy(FIXTURES / head, tmp_path / "head")
    code, out = _run("diff", base_dir, head_dir, "--validate", "--format", "json")
    one = json.loads(out)
    v_code, v_out = _run("validate", head_dir, "--base", base_dir, "--format", "json")
    validated = json.loads(v_out)
    assert (one["errors"], one["warnings"]) == (validated["errors"], validated["warnings"])
    if validated["errors"]:
        assert code == v_code == 1
        assert all(one[k] in ([], {}) for k in ACCESS_KEYS)  # not computed on an invalid HEAD
        return
    d_code, d_out = _run("diff", base_dir, head_dir, "--format", "json")
    plain = json.loads(d_out)
    assert {k: one[k] for k in ACCESS_KEYS} == {k: plain[k] for k in ACCESS_KEYS}
    assert code == d_code


def test_the_sample_against_itself_is_clean():
    code, out = _run("diff", SINGLE, SINGLE, "--validate", "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert doc["errors"] == [] and doc["new_access"] == []
    assert [w["code"] for w in doc["warnings"]] == ["W002"]  # the sample's expired grant


@pytest.fixture
def governance_error(tmp_path) -> tuple[Path, Path]:
    """HEAD adds a confidential grant without an expiry date (GOV-005)."""
    base = _copy(SINGLE, tmp_path / "base")
    head = _copy(SINGLE, tmp_path / "head")
    sales = head / "sales.yaml"
    text = sales.read_text()
    marker = "      - domain: marketing\n"
    assert text.count(marker) == 1
    sales.write_text(
        text.replace(marker, "      - domain: analytics\n        justification: churn\n" + marker)
    )
    return base, head


def test_a_governance_error_blocks_and_the_diff_waits(governance_error):
    base, head = governance_error
    code, out = _run("diff", base, head, "--validate", "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert [(e["code"], Path(e["file"]).name, e["line"]) for e in doc["errors"]] == [
        ("GOV-005", "sales.yaml", 24)
    ]
    assert doc["new_access"] == []
    for fmt in ("text", "markdown"):
        code, out = _run("diff", base, head, "--validate", "--format", fmt)
        assert code == 1
        assert "GOV-005" in out and out.rstrip().endswith(NOT_COMPUTED)
        assert "No new access" not in out and "NEW ACCESS" not in out
    # without --validate the diff does not run governance: it reports the new access
    code, out = _run("diff", base, head, "--format", "json")
    assert code == 3 and json.loads(out)["errors"] == []


def test_a_valid_change_reports_new_access_and_head_warnings(governance_error):
    base, head = governance_error
    sales = head / "sales.yaml"
    sales.write_text(
        sales.read_text().replace(
            "        justification: churn\n",
            "        expires: 2027-03-31\n        justification: churn\n",
        )
    )
    code, out = _run("diff", base, head, "--validate", "--format", "json")
    doc = json.loads(out)
    assert code == 3
    assert [(g["principal"], g["product"]) for g in doc["new_access"]] == [
        ("analytics:consumer", "sales.orders")
    ]
    assert [w["code"] for w in doc["warnings"]] == ["W002"]
