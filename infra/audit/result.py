"""What an audit found (`AuditResult`), and the per-principal views of it the policy files and
the report are written from. Data only: `infra.audit.audit` computes it, `infra.audit.report`
renders it."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from infra.audit.effective import Difference, EffectiveAccess
from infra.audit.layout import (
    principal_file_name,
)
from infra.audit.lint import LintFinding, LintResult
from infra.audit.view import LfPermission, MeshGraph, PolicyDoc, Role
from infra.model.access import AccessModel, DeclaredGrant
from infra.model.mesh import Mesh

_ARN_STRING = re.compile(r'"(arn:[^"\\]+)"')  # a JSON string holding an ARN (no escapes)


@dataclass
class AuditResult:
    generated_at: str
    today: dt.date
    mesh: Mesh
    graph: MeshGraph
    declared: AccessModel
    detail: EffectiveAccess
    effective: list[DeclaredGrant]
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
        """`access-matrix.json`: each grant with the account of its principal (`account`) and
        of the product (`product_account`), read from where the resources are created."""
        principals, products = self._accounts

        def row(g: DeclaredGrant) -> dict[str, Any]:
            return {
                **g.as_json(),
                "account": principals.get(g.principal),
                "product_account": products.get(g.product),
            }

        return {
            "generated_at": self.generated_at,
            "grants": [row(g) for g in self.effective],
            "expired": [row(g) for g in self.declared.expired],
        }

    @cached_property
    def _accounts(self) -> tuple[dict[str, str], dict[str, str]]:
        """principal -> its role's account, product -> the account of its table's catalog."""
        principals = {r.principal: r.account for r in self.graph.roles.values() if r.account}
        products = {}
        for table in self.graph.tables.values():
            bucket = self.graph.buckets.get(table.bucket or "")
            if bucket is not None and bucket.product and table.account:
                products[bucket.product] = table.account
        return principals, products

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
        # its domain's query results, which it writes and reads through Athena
        buckets |= {b for b, d in self.graph.results_buckets.items() if d == role.domain}
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

    def principal_grants(self, principal: str) -> list[DeclaredGrant]:
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
                "data_filter": p.data_filter,
                "row_filter": p.row_filter,
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
    grants: dict[str, list[DeclaredGrant]]
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
