"""Small CLI contracts not owned by a feature's own tests."""

from __future__ import annotations

from typer.testing import CliRunner

from infra.cli import app


def test_an_invalid_pinned_date_is_a_usage_error(sample_dir, monkeypatch):
    monkeypatch.setenv("MESH_TODAY", "25/11/2026")
    result = CliRunner().invoke(app, ["validate", str(sample_dir)])
    assert result.exit_code == 2
    assert "MESH_TODAY='25/11/2026' is not an ISO date (YYYY-MM-DD)" in result.output
    assert "Traceback" not in result.output
