"""ODCS v3 contracts written by others (datacontract-cli's test fixtures): each one that has a
schema imports with at most --classification, --retention-days and --purpose, the mesh
validates, every product exports (valid against the v3.2.0 and v3.1.0 schemas) and its export
imports back unchanged and exports identically; a contract without a schema is refused cleanly.

The contracts are not part of the repository (tests/fixtures/odcs/wild/NOTICE.md says where they
come from and why): the test reads them from $MESH_ODCS_WILD, tests/fixtures/odcs/wild/ or the
shared/odcs/wild/ folder beside the repository, and is skipped, with that reason, without them.
A refusal that mesh's own rules make (governance, reserved names) is listed in REFUSED with its
codes; any other failure fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from typer.testing import CliRunner

from infra.cli import app
from infra.contracts import mapping, versions

OPTIONS = (
    *("--classification", "internal", "--retention-days", "365"),
    *("--purpose", "Data of the wild domain, imported from a contract its team wrote"),
)
DOMAIN = """\
domain: wild
description: Contracts written by other teams, imported as they are
owner: {team: wild-data, email: wild-data@example.com}
cost_center: CC-9000
"""
# contracts mesh refuses by its own rules, with the codes of the refusal (not import errors)
REFUSED = {
    # a restricted product needs a freshness SLO (GOV-007) and the contract has no latency
    "lint_valid-3.1.0.odcs.yaml": {"GOV-007", "C008"},
    "lint_valid.odcs.yaml": {"GOV-007", "C008"},
    "excel_shipments-odcs.odcs.yaml": {"GOV-007", "C008"},
}


def _folder() -> Path | None:
    for candidate in (
        os.environ.get("MESH_ODCS_WILD"),
        Path(__file__).parent / "fixtures" / "odcs" / "wild",
        ROOT.parent / "shared" / "odcs" / "wild",
    ):
        if candidate and Path(candidate).is_dir() and list(Path(candidate).glob("*.yaml")):
            return Path(candidate)
    return None


FOLDER = _folder()
CONTRACTS = sorted(FOLDER.glob("*.yaml")) if FOLDER else []
pytestmark = pytest.mark.skipif(
    FOLDER is None,
    reason="no contracts of others here: put datacontract-cli's ODCS fixtures in "
    "tests/fixtures/odcs/wild/ or $MESH_ODCS_WILD (see tests/fixtures/odcs/wild/NOTICE.md)",
)


def cli(*args: str):
    run = CliRunner().invoke(app, list(args))
    assert "Traceback" not in run.output and "internal error" not in run.output
    return run


def import_json(contract: Path, into: Path, *extra: str) -> tuple[int, dict]:
    run = cli("contract", "import", str(contract), "--into", str(into), "--domain", "wild",
              "--format", "json", *extra)  # fmt: skip
    return run.exit_code, json.loads(run.stdout)


@pytest.mark.parametrize("contract", CONTRACTS, ids=[p.name for p in CONTRACTS])
def test_a_contract_written_by_others(tmp_path, contract):
    into = tmp_path / "blueprints"
    into.mkdir()
    (into / "wild.yaml").write_text(DOMAIN)
    raw = yaml.safe_load(contract.read_text())
    code, out = import_json(contract, into, *OPTIONS)
    if not raw.get("schema"):
        assert code == 1
        assert [(e["code"], e["path"]) for e in out["errors"]] == [("C003", "schema")]
        assert (into / "wild.yaml").read_text() == DOMAIN
        return
    if contract.name in REFUSED:
        assert code == 1 and {e["code"] for e in out["errors"]} <= REFUSED[contract.name]
        assert (into / "wild.yaml").read_text() == DOMAIN  # nothing written
        return
    assert code == 0, [(e["code"], e["path"], e["message"]) for e in out["errors"]]
    assert len(out["products"]) == len(raw["schema"])
    assert cli("validate", str(into)).exit_code == 0
    # every product: exported (valid in both versions), imported back unchanged, exported again
    first = tmp_path / "first"
    assert cli("contract", "export", str(into), "--out", str(first)).exit_code == 0
    old = tmp_path / "v310"
    run = cli("contract", "export", str(into), "--out", str(old), "--odcs-version", "v3.1.0")
    assert run.exit_code == 0, run.output
    for path in sorted(first.iterdir()):
        exported = yaml.safe_load(path.read_text())
        assert mapping.schema_errors(exported) == [], path.name
        as_310 = versions.for_version(exported, "v3.1.0")
        assert mapping.schema_errors(as_310, version="v3.1.0") == [], path.name
        code, again = import_json(path, into)
        assert (code, again["action"]) == (0, "unchanged"), (path.name, again["errors"])
        assert [w for w in again["warnings"] if w["code"].startswith("CW")] == [], path.name
    second = tmp_path / "second"
    assert cli("contract", "export", str(into), "--out", str(second)).exit_code == 0
    for path in first.iterdir():
        assert (second / path.name).read_text() == path.read_text(), path.name
    shutil.rmtree(tmp_path / "first")
