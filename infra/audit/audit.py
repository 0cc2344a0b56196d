"""The audit facade: run the program under recording mocks, read the resource graph, compute the
effective access, compare it with the declared access, lint every policy, and write OUT/.

Output layout (`mesh audit DIR --out OUT`, file names in `infra.audit.layout`):

    OUT/policies/<domain>.<kind>.json   one file per role: `sales.producer.json`,
                                        `sales.consumer.json`, `sales.lf-access.json` (no `:`
                                        in a file name; before 2026-12 they were named
                                        `sales:consumer.json`)
    OUT/policies/index.json             {"principals": {"sales:consumer": "sales.consumer.json"}}
    OUT/access-matrix.json              {"generated_at", "grants", "expired"} (contract format;
                                        `grants` is the EFFECTIVE access, `expired` the declared
                                        grants past their expiry)
    OUT/report.md                       the same findings as text (PR/CI friendly)
    OUT/report.html                     self-contained: inline CSS and SVG, one inline script
                                        that only filters the grant table, no external reference
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from infra.audit.effective import annotate, compare, compute
from infra.audit.layout import (
    MATRIX_FILE,
    POLICIES_DIR,
    POLICY_INDEX,
    REPORT_HTML,
    REPORT_MD,
    principal_file_name,
)
from infra.audit.lint import lint
from infra.audit.report import build, render_html
from infra.audit.report_md import render_markdown
from infra.audit.result import AuditResult
from infra.audit.view import index
from infra.model.access import declared_access
from infra.model.mesh import Mesh
from infra.util import progress
from infra.util.gcpause import gc_paused


def active_exceptions(mesh: Mesh, today: dt.date) -> tuple[list[dict[str, Any]], str]:
    """Active governance exceptions (each with the findings it waives) and where they come
    from, for the report."""
    from infra.governance.evaluate import active_exceptions as governance_active

    return [s.as_json() for s in governance_active(mesh, today)], "infra.governance"


def audit(
    mesh: Mesh,
    resources: list[Any],
    today: dt.date,
    generated_at: str | None = None,
    timings: dict[str, float] | None = None,
) -> AuditResult:
    """Audit a recorded resource graph (`ResourceGraph.resources`) against the mesh."""
    t = {} if timings is None else dict(timings)
    start = time.perf_counter()
    with progress.step("compute effective access"):
        graph = index(resources)
        declared = declared_access(mesh, today)
        detail = compute(graph, today)
        effective = annotate(detail, declared)
        differences = compare(effective, declared)
    t["effective_access"] = time.perf_counter() - start
    start = time.perf_counter()
    with progress.step("lint every policy with parliament"):
        lint_result = lint(graph)
    t["lint"] = time.perf_counter() - start
    exceptions, source = active_exceptions(mesh, today)
    stamp = generated_at or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace(
        "+00:00", "Z"
    )
    return AuditResult(
        stamp,
        today,
        mesh,
        graph,
        declared,
        detail,
        effective,
        differences,
        lint_result,
        exceptions,
        source,
        t,
    )


@gc_paused  # thousands of small dicts per report, over the heap of the recorded graph
def write(result: AuditResult, out: Path, timings: dict[str, float] | None = None) -> list[Path]:
    """Write every output file; returns their paths. `timings` (if given) receives the seconds
    spent on the policy files and matrix (`files`) and on each report (`report_md`,
    `report_html`)."""
    t = timings if timings is not None else {}
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    policies = out / POLICIES_DIR
    policies.mkdir(exist_ok=True)
    for stale in policies.glob("*.json"):  # a principal that no longer exists, an old-style name
        stale.unlink()
    written = []
    for principal in result.principals():
        path = policies / principal_file_name(principal)
        path.write_text(json.dumps(result.principal_json(principal), indent=2) + "\n")
        written.append(path)
    index_file = policies / POLICY_INDEX
    index_file.write_text(json.dumps(result.policy_index(), indent=2) + "\n")
    matrix = out / MATRIX_FILE
    matrix.write_text(json.dumps(result.matrix_json(), indent=2) + "\n")
    t["files"] = time.perf_counter() - start
    start = time.perf_counter()
    report = build(result)  # one view model for both reports
    t["report_model"] = time.perf_counter() - start
    start = time.perf_counter()
    md = out / REPORT_MD
    md.write_text(render_markdown(result, report), encoding="utf-8")
    t["report_md"] = time.perf_counter() - start
    start = time.perf_counter()
    html = out / REPORT_HTML
    html.write_text(render_html(result, report), encoding="utf-8")
    t["report_html"] = time.perf_counter() - start
    return [*written, index_file, matrix, md, html]
