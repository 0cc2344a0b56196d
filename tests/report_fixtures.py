"""Audit results for report tests at sizes where the real pipeline is too slow for the suite.

`declared_only(mesh, today)` is the AuditResult a clean audit of `mesh` would give (effective
access == declared access, no difference, three roles per domain) without running the Pulumi
program or parliament: at 100 domains those take over a minute (bench/report_bench.py measures
the real thing). It has no policy documents and no lint findings, so it exercises the report's
size, layout and filter, not its documents section.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from infra.audit.effective import EffectiveAccess
from infra.audit.lint import LintResult
from infra.audit.result import AuditResult
from infra.audit.view import MeshGraph, Role
from infra.blueprints.load import load_mesh
from infra.model.access import declared_access
from infra.model.mesh import Mesh

ACCOUNT = "123456789012"
GENERATED_AT = "2026-11-25T00:00:00Z"


def declared_only(mesh: Mesh, today: dt.date) -> AuditResult:
    graph = MeshGraph()
    for bp in mesh.blueprints:
        for kind in ("producer", "consumer", "lf-access"):
            name = f"mesh-{bp.domain}-{kind}"
            graph.roles[name] = Role(
                name,
                f"arn:aws:iam::{ACCOUNT}:role/{name}",
                f"{bp.domain}-{kind}",
                bp.domain,
                kind,
                "lakeformation.amazonaws.com" if kind == "lf-access" else None,
            )
    declared = declared_access(mesh, today)
    return AuditResult(
        GENERATED_AT,
        today,
        mesh,
        graph,
        declared,
        EffectiveAccess([]),
        list(declared.grants),
        [],
        LintResult(0, []),
        [],
        "blueprints",
    )


def generated_mesh(
    directory: Path, domains: int, consumers: int, today: dt.date, days_before: int = 20
) -> Mesh:
    """A meshgen mesh of `domains` x 5 products, generated `days_before` days before `today`
    (so some grants end within the report's 30 days) and loaded on `today`."""
    from bench.meshgen import generate

    made = today - dt.timedelta(days=days_before)
    generate(directory, domains, 5, consumers, today=made)
    result = load_mesh(directory, today=today)
    assert not result.errors, [str(e) for e in result.errors[:3]]
    return result.mesh
