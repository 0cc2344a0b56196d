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
import re
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from infra.audit.effective import Difference, EffectiveAccess, annotate, compare, compute
from infra.audit.layout import (
    MATRIX_FILE,
    POLICIES_DIR,
    POLICY_INDEX,
    REPORT_HTML,
    REPORT_MD,
    principal_file_name,
)
from infra.audit.lint import LintFinding, LintResult, lint
from infra.audit.report import build, render_html, render_markdown
from infra.audit.view import LfPermission, MeshGraph, PolicyDoc, Role, index
from infra.model.access import AccessModel, Grant, declared_access
from infra.model.mesh import Mesh
from infra.util.gcpause import gc_paused

_ARN_STRING = re.compile(r'"(arn:[^"\\]+)"')  # a JSON string holding an ARN (no escapes)


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

    @cached_property
    def _by_principal(self) -> _PrincipalIndex:
        return _PrincipalIndex.build(self)

    def principal_documents(self, principal: str) -> list[tuple[PolicyDoc, str]]:
        """Every document that concerns `principal`, in graph order, with its relation (see
        `_relation`). Linear in what it returns: candidates come from indexes built once."""
        ix = self._by_principal
        role = ix.roles[principal]
        reached = {
            g.product for g in ix.grants.get(principal, ()) if g.s3_direct or g.access == "write"
        }
        buckets = {b for product in reached for b in ix.buckets_of_product.get(product, ())}
        keys = {self.graph.bucket_keys[b] for b in buckets if b in self.graph.bucket_keys}
        candidates = set(ix.attached.get(role.name, ())) | set(ix.naming.get(role.arn, ()))
        for name in buckets:
            candidates.update(ix.governing.get(("bucket", name), ()))
        for arn in keys:
            candidates.update(ix.governing.get(("key", arn), ()))
        out = []
        for position in sorted(candidates):
            doc = self.graph.documents[position]
            relation = _relation(doc, role.name, role.arn, buckets, keys)
            if relation is not None:
                out.append((doc, relation))
        return out

    def role_of(self, principal: str) -> Role:
        return self._by_principal.roles[principal]

    def lint_of(self, doc_id: str) -> list[LintFinding]:
        return self._by_principal.lint.get(doc_id, [])

    def principal_grants(self, principal: str) -> list[Grant]:
        return self._by_principal.grants.get(principal, [])

    def principal_json(self, principal: str) -> dict[str, Any]:
        role = self._by_principal.roles[principal]
        docs = [
            {
                "id": doc.id,
                "kind": doc.kind,
                "relation": relation,
                "resource": {"type": doc.resource_type, "name": doc.resource_name},
                "attached_to": doc.attached_to,
                "policy_name": doc.policy_name,
                "document": doc.document,
                "lint": [f.as_json() for f in self.lint_of(doc.id)],
            }
            for doc, relation in self.principal_documents(principal)
        ]
        lf = [
            {
                "resource": p.logical,
                "permissions": list(p.permissions),
                "database": p.database,
                "table": p.table,
                "columns": list(p.columns) if p.columns is not None else None,
            }
            for p in self._by_principal.lf.get(role.arn, ())
        ]
        return {
            "principal": principal,
            "role": {"name": role.name, "arn": role.arn},
            "documents": docs,
            "lakeformation_permissions": lf,
            "effective_access": [g.as_json() for g in self.principal_grants(principal)],
        }

    def policy_index(self) -> dict[str, Any]:
        """policies/index.json: principal id -> its file name in policies/."""
        return {"principals": {p: principal_file_name(p) for p in self.principals()}}


@dataclass
class _PrincipalIndex:
    """What `principal_json` looks up, indexed once per audit (was a scan of every document,
    grant and bucket per principal: principals x documents)."""

    roles: dict[str, Role]
    grants: dict[str, list[Grant]]
    buckets_of_product: dict[str, list[str]]
    attached: dict[str, list[int]]  # role name -> positions of its trust and inline documents
    naming: dict[str, list[int]]  # ARN -> positions of the documents holding it as a string
    governing: dict[tuple[str, str], list[int]]  # ("bucket", name) / ("key", arn) -> positions
    lf: dict[str, list[LfPermission]]  # principal ARN -> its Lake Formation permissions
    lint: dict[str, list[LintFinding]]  # document id -> its findings

    @classmethod
    def build(cls, result: AuditResult) -> _PrincipalIndex:
        graph = result.graph
        ix = cls({}, {}, {}, {}, {}, {}, {}, {})
        for role in graph.roles.values():
            ix.roles[role.principal] = role
        for g in result.effective:
            ix.grants.setdefault(g.principal, []).append(g)
        for bucket in graph.buckets.values():
            if bucket.product is not None:
                ix.buckets_of_product.setdefault(bucket.product, []).append(bucket.name)
        for position, doc in enumerate(graph.documents):
            if doc.kind in ("trust", "inline"):
                ix.attached.setdefault(doc.attached_to, []).append(position)
            else:
                ix.governing.setdefault((doc.kind, doc.attached_to), []).append(position)
            for arn in set(_ARN_STRING.findall(doc.text)):
                ix.naming.setdefault(arn, []).append(position)
        for perm in graph.lf_permissions:
            ix.lf.setdefault(perm.principal_arn, []).append(perm)
        for finding in result.lint.findings:
            ix.lint.setdefault(finding.document, []).append(finding)
        return ix


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
        from infra.governance.evaluate import active_exceptions as governance_active  # type: ignore
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
