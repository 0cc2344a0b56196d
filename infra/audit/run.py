"""The audit facade: run the program under recording mocks, read the resource graph, compute the
effective access, compare it with the declared access, lint every policy, and write OUT/.

Output layout (`mesh audit DIR --out OUT`):

    OUT/policies/<principal>.json   one file per principal id, named literally after it:
                                    `sales:producer.json`, `sales:consumer.json` (a `:` is a
                                    valid file-name character on Linux and macOS)
    OUT/access-matrix.json          {"generated_at", "grants", "expired"} (contract format;
                                    `grants` is the EFFECTIVE access, `expired` the declared
                                    grants past their expiry)
    OUT/report.md                   the same findings as text (PR/CI friendly)
    OUT/report.html                 self-contained: inline CSS and SVG, no script, no link
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.access import AccessModel, Grant, declared_access
from infra.audit.effective import Difference, EffectiveAccess, annotate, compare, compute
from infra.audit.graph import MeshGraph, PolicyDoc, index
from infra.audit.lint import LintResult, lint
from infra.loader import Mesh

MATRIX_FILE = "access-matrix.json"
POLICIES_DIR = "policies"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"


def principal_file_name(principal: str) -> str:
    """`<principal>.json`, literally (DESIGN.md): `sales:consumer.json`."""
    return f"{principal}.json"


@dataclass
class AuditResult:
    generated_at: str
    today: dt.date
    mesh: Mesh
    graph: MeshGraph
    declared: AccessModel
    detail: EffectiveAccess
    effective: list[Grant]
    differences: list[Difference]
    lint: LintResult
    exceptions: list[dict[str, Any]]
    exceptions_source: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.differences or self.lint.failing or self.detail.problems)

    def failures(self) -> list[str]:
        """One line per reason the audit fails (empty when it passes)."""
        lines = [
            f"ACCESS MISMATCH [{d.kind}] {d.principal} -> {d.product}: {d.message}"
            for d in self.differences
        ]
        lines += [f"RESOURCE PROBLEM: {p}" for p in self.detail.problems]
        lines += [
            f"LINT {f.severity} {f.issue} in {f.document}: {f.title}"
            + (f" ({f.detail})" if f.detail else "")
            for f in self.lint.failing
        ]
        return lines

    def matrix_json(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at,
            "grants": [g.as_json() for g in self.effective],
            "expired": [g.as_json() for g in self.declared.expired],
        }

    # ------------------------------------------------------------- per-principal documents

    def principals(self) -> list[str]:
        """Every role with a policies/<principal>.json file, service roles included."""
        return sorted(r.principal for r in self.graph.roles.values())

    def access_principals(self) -> list[str]:
        """The principals of the access model (roles people and jobs assume), not service roles."""
        return sorted(r.principal for r in self.graph.roles.values() if r.service is None)

    def principal_json(self, principal: str) -> dict[str, Any]:
        role = next(r for r in self.graph.roles.values() if r.principal == principal)
        grants = [g for g in self.effective if g.principal == principal]
        reached = {g.product for g in grants if g.s3_direct or g.access == "write"}
        buckets = {b.name for b in self.graph.buckets.values() if b.product in reached}
        keys = {self.graph.bucket_keys[b] for b in buckets if b in self.graph.bucket_keys}
        docs: list[dict[str, Any]] = []
        for doc in self.graph.documents:
            relation = _relation(doc, role.name, role.arn, buckets, keys)
            if relation is None:
                continue
            docs.append(
                {
                    "id": doc.id,
                    "kind": doc.kind,
                    "relation": relation,
                    "resource": {"type": doc.resource_type, "name": doc.resource_name},
                    "attached_to": doc.attached_to,
                    "policy_name": doc.policy_name,
                    "document": doc.document,
                    "lint": [f.as_json() for f in self.lint.by_document(doc.id)],
                }
            )
        lf = [
            {
                "resource": p.logical,
                "permissions": list(p.permissions),
                "database": p.database,
                "table": p.table,
                "columns": list(p.columns) if p.columns is not None else None,
            }
            for p in self.graph.lf_permissions
            if p.principal_arn == role.arn
        ]
        return {
            "principal": principal,
            "role": {"name": role.name, "arn": role.arn},
            "documents": docs,
            "lakeformation_permissions": lf,
            "effective_access": [g.as_json() for g in grants],
        }


def _relation(
    doc: PolicyDoc, role_name: str, role_arn: str, buckets: set[str], keys: set[str]
) -> str | None:
    """How a document concerns a principal: attached to its role, naming it, or governing a
    bucket/key whose objects it reaches directly (resource policies that apply to every caller,
    e.g. TLS-only; a Lake Formation-only reader never touches them)."""
    if doc.kind in ("trust", "inline") and doc.attached_to == role_name:
        return "attached"
    if f'"{role_arn}"' in doc.text:  # a JSON string equal to the ARN, not a prefix of one
        return "names-principal"
    if (doc.kind == "bucket" and doc.attached_to in buckets) or (
        doc.kind == "key" and doc.attached_to in keys
    ):
        return "governs-access"
    return None


def active_exceptions(mesh: Mesh, today: dt.date) -> tuple[list[dict[str, Any]], str]:
    """Active governance exceptions, from `infra.governance` when it provides them, else read
    from the blueprints (an exception is active up to and including its `expires` date)."""
    try:
        from infra.governance import active_exceptions as governance_active  # type: ignore
    except ImportError:
        governance_active = None
    if governance_active is not None:
        try:
            items = governance_active(mesh, today)
            return [i.as_json() if hasattr(i, "as_json") else dict(i) for i in items], (
                "infra.governance"
            )
        except (TypeError, AttributeError, ValueError):
            pass  # an API in flux: fall back to the blueprints
    out = []
    for bp in mesh.blueprints:
        for exc in bp.exceptions:
            if exc.expires >= today:
                out.append(
                    {
                        "policy": exc.policy,
                        "product": f"{bp.domain}.{exc.product}",
                        "justification": exc.justification,
                        "expires": exc.expires.isoformat(),
                        "approved_by": getattr(exc, "approved_by", None),
                    }
                )
    return out, "blueprints"


def audit(
    mesh: Mesh,
    resources: list[Any],
    today: dt.date,
    generated_at: str | None = None,
    timings: dict[str, float] | None = None,
) -> AuditResult:
    """Audit a recorded resource graph (`ResourceGraph.resources`) against the mesh."""
    import time

    t = {} if timings is None else dict(timings)
    start = time.perf_counter()
    graph = index(resources)
    declared = declared_access(mesh, today)
    detail = compute(graph, today)
    effective = annotate(detail, declared)
    differences = compare(effective, declared)
    t["effective_access"] = time.perf_counter() - start
    start = time.perf_counter()
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


def write(result: AuditResult, out: Path) -> list[Path]:
    """Write every output file; returns their paths."""
    from infra.audit.report import render_html, render_markdown

    out.mkdir(parents=True, exist_ok=True)
    policies = out / POLICIES_DIR
    policies.mkdir(exist_ok=True)
    for stale in policies.glob("*.json"):  # a principal that no longer exists
        stale.unlink()
    written = []
    for principal in result.principals():
        path = policies / principal_file_name(principal)
        path.write_text(json.dumps(result.principal_json(principal), indent=2) + "\n")
        written.append(path)
    matrix = out / MATRIX_FILE
    matrix.write_text(json.dumps(result.matrix_json(), indent=2) + "\n")
    md = out / REPORT_MD
    md.write_text(render_markdown(result))
    html = out / REPORT_HTML
    html.write_text(render_html(result))
    return [*written, matrix, md, html]
