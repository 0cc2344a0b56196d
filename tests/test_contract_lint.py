"""datacontract-cli's own `lint` on the sample's exports, in both ODCS versions.

datacontract-cli is not a dependency of the project (it is not in the lock: it pulls in dozens
of database drivers). The test runs the `datacontract` executable of a separate environment,
named by $MESH_DATACONTRACT_CLI or found on PATH, and is skipped with that reason without one:

    python3 -m venv /tmp/datacontract && /tmp/datacontract/bin/pip install datacontract-cli
    MESH_DATACONTRACT_CLI=/tmp/datacontract/bin/datacontract pytest tests/test_contract_lint.py
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from conftest import ROOT
from typer.testing import CliRunner

from infra.cli import app

CLI = os.environ.get("MESH_DATACONTRACT_CLI") or shutil.which("datacontract")
pytestmark = pytest.mark.skipif(
    not CLI or not os.access(CLI, os.X_OK),
    reason="datacontract-cli is not installed (not in the project's lock): install it into a "
    "separate venv and set MESH_DATACONTRACT_CLI (see this module's docstring)",
)
SAMPLE = ROOT / "blueprints"


@pytest.mark.parametrize("version", ["v3.2.0", "v3.1.0"])
def test_datacontract_lint_accepts_the_samples_exports(tmp_path, version):
    out = tmp_path / "contracts"
    run = CliRunner().invoke(
        app, ["contract", "export", str(SAMPLE), "--out", str(out), "--odcs-version", version]
    )
    assert run.exit_code == 0, run.output
    files = sorted(out.glob("*.odcs.yaml"))
    assert len(files) >= 8
    for path in files:
        lint = subprocess.run(
            [CLI, "lint", str(path)],
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "NO_COLOR": "1"},
        )
        assert lint.returncode == 0, (path.name, lint.stdout[-2000:], lint.stderr[-2000:])
        assert "valid" in lint.stdout.lower(), (path.name, lint.stdout[-2000:])
