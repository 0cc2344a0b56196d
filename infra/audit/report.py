"""report.md and report.html from an `AuditResult`. Formatting only: no audit logic here.

`build(result)` turns the audit into a plain view model (`Report`, `infra.audit.report_model`)
once; `render_html` fills the Jinja2 template `templates/report.html.j2` with it (autoescaped),
`infra.audit.report_md.render_markdown` writes it as Markdown (every cell through `md_cell`). Everything is linear in grants + domains + principals:
no picture or table is principals x products.

The HTML is one self-contained file (inline CSS and SVG, one small inline script that only
filters the grant table, no external reference) so it can be attached to a CI run or mailed to
an auditor and still render; without the script every row is there, and it prints.

The Markdown and the HTML template show the same facts; their numbers are reconciled in tests.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from infra.audit import svg
from infra.audit.effective import ASSUMPTIONS
from infra.audit.layout import MATRIX_FILE, POLICIES_DIR, POLICY_INDEX, principal_href
from infra.audit.lint import FAIL_AT, IGNORED, SEVERITIES
from infra.audit.markdown import until_text
from infra.audit.report_model import (
    COLLAPSE_ABOVE,
    EXPIRING_DAYS,
    MATRIX_MAX_DOMAINS,
    Col,
    Counts,
    DomainRow,
    GrantRow,
    IgnoredGroup,
    LintGroup,
    PrincipalRow,
    ProductRow,
    Report,
)
from infra.model.access import DeclaredGrant

if TYPE_CHECKING:
    from infra.audit.result import AuditResult


def _verdict(result: AuditResult) -> str:
    if result.ok:
        return (
            "PASS: the effective access computed from the generated resources equals the "
            f"declared access, and parliament reports nothing of {FAIL_AT} or higher."
        )
    parts = []
    if result.differences:
        parts.append(
            f"{len(result.differences)} ACCESS DIFFERENCE(S) between effective and declared access"
        )
    if result.detail.problems:
        parts.append(f"{len(result.detail.problems)} resource problem(s)")
    if result.lint.failing:
        parts.append(f"{len(result.lint.failing)} parliament finding(s) of {FAIL_AT} or higher")
    return "FAIL: " + "; ".join(parts) + "."


def _domain_of(product_id: str) -> str:
    return product_id.partition(".")[0]


def _lint_groups(result: AuditResult) -> list[LintGroup]:
    """Findings not ignored, grouped by (severity, issue, detail): one row per distinct finding
    with how often it occurs and the documents it occurs in."""
    counts: Counter[tuple[str, str, str]] = Counter()
    docs: dict[tuple[str, str, str], dict[str, None]] = {}
    for f in result.lint.findings:
        if f.ignored is None:
            key = (f.severity, f.issue, f.detail or f.title)
            counts[key] += 1
            docs.setdefault(key, {})[f.document] = None
    return [LintGroup(*key, counts[key], tuple(docs[key])) for key in counts]


def _ignored_groups(result: AuditResult) -> list[IgnoredGroup]:
    n = Counter(f.ignored for f in result.lint.findings if f.ignored)
    return [
        IgnoredGroup(i.issue, n[i.justification], i.justification)
        for i in IGNORED
        if n[i.justification]
    ]


def _terms(pairs) -> str:
    return " ".join(f"{k}={v}" for k, values in pairs for v in values)


def _via_tags(result: AuditResult) -> dict[tuple[str, str], str]:
    """(principal, product) -> the expression(s) of the tag grants reaching it (declared:
    the effective grant of a tag policy is the same access), as `key=value` terms."""
    out: dict[tuple[str, str], str] = {}
    for g in (*result.declared.grants, *result.declared.expired):
        if g.via_tags is not None:
            key = (g.principal, g.product)
            text = _terms(g.via_tags)
            out[key] = text if key not in out or out[key] == text else f"{out[key]}; {text}"
    return out


def _product_tags(result: AuditResult) -> dict[str, str]:
    """product id -> its table's LF-tags as `key=value` terms (none: tag-based access off)."""
    from infra.model import lftags

    if not lftags.enabled(result.mesh):
        return {}
    return {
        f"{bp.domain}.{p.name}": _terms(
            (k, [v]) for k, v in lftags.product_tags(bp.domain, p).items()
        )
        for bp, p in result.mesh.products()
    }


def build(result: AuditResult) -> Report:
    """The view model of both reports, in one pass over grants, products and principals."""
    today = result.today
    products: dict[str, ProductRow] = {}
    domains: dict[str, DomainRow] = {}
    for bp in result.mesh.blueprints:
        rows = []
        for p in bp.products:
            retired = p.decommission
            row = ProductRow(
                id=f"{bp.domain}.{p.name}",
                name=p.name,
                classification=p.classification.value,
                columns=len(p.columns),
                pii_columns=tuple(c.name for c in p.columns if c.pii),
                retired=(
                    f"decommissioned {retired.date.isoformat()}"
                    if retired is not None and retired.date <= today
                    else None
                ),
            )
            products[row.id] = row
            rows.append(row)
        domains[bp.domain] = DomainRow(
            bp.domain, bp.owner.team, bp.owner.email, bp.description, rows, [], [], [], [], 0
        )

    flagged = {(d.principal, d.product) for d in result.differences}
    pii_of = {pid: frozenset(p.pii_columns) for pid, p in products.items()}

    @cache
    def cols(product: str, columns: tuple[str, ...]) -> tuple[Col, ...]:
        pii = pii_of.get(product, frozenset())
        return tuple(Col(c, c in pii) for c in columns)

    by_tags = _via_tags(result)
    product_tags = _product_tags(result)

    def row_of(g: DeclaredGrant, kind: str | None = None) -> GrantRow:
        info = products.get(g.product)
        total = info.columns if info else len(g.columns)
        days = (g.expires - today).days if g.expires else None
        via_tags = by_tags.get((g.principal, g.product), "")
        via = ", ".join(g.via) + (f" (by LF-tags {via_tags})" if via_tags else "")
        return GrantRow(
            domain=_domain_of(g.product),
            product=g.product,
            principal=g.principal,
            access=g.access,
            kind=kind or svg.kind_of(g, total),
            columns=cols(g.product, g.columns),
            total_columns=total,
            pii=g.pii,
            via=via,
            rows=g.row_filter or "",
            engines=", ".join(g.engines),
            until=until_text(g),
            days_left=days,
            approved_by=g.approved_by or "",
            justification=g.justification or ("owning producer" if g.access == "write" else ""),
            differs=(g.principal, g.product) in flagged,
            via_tags=via_tags,
            lf_tags=product_tags.get(g.product, ""),
        )

    # (source domain, target domain) -> [grants, pii, expiring]
    pairs: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    expiring: list[GrantRow] = []
    ordered = sorted(result.effective, key=lambda g: (g.product, g.access != "write", g.principal))
    for g in ordered:
        row = row_of(g)
        owner = domains.get(row.domain)
        if owner is None:  # a product the blueprints do not know (a difference)
            owner = domains[row.domain] = DomainRow(
                row.domain, "?", "", "(not in the blueprints)", [], [], [], [], [], 0
            )
        owner.rows.append(row)
        if g.access != "read":
            continue
        if g.product in products:
            products[g.product].readers.append(row)
        soon = row.days_left is not None and 0 <= row.days_left <= EXPIRING_DAYS
        pair = pairs[(row.domain, g.principal.partition(":")[0])]
        pair[0] += 1
        pair[1] += g.pii
        pair[2] += soon
        if soon:
            expiring.append(row)
    expiring.sort(key=lambda r: (r.days_left, r.product, r.principal))

    edges = [svg.Edge(s, t, *n) for (s, t), n in sorted(pairs.items())]
    for e in edges:
        if e.source in domains:
            domains[e.source].targets.append(e)
        if e.target in domains:
            domains[e.target].sources.append(e)
    for d in result.differences:
        for name in {_domain_of(d.product), d.principal.partition(":")[0]}:
            if name in domains:
                domains[name].differences += 1

    expired_rows, ended = [], []
    for g in result.declared.expired:
        expired_rows.append(row_of(g, "expired"))
        info = products.get(g.product)
        if info is not None:
            info.expired += 1
        ended.append(
            info.retired
            if info is not None and info.retired
            else (f"expired {g.expires.isoformat()}" if g.expires else "-")
        )

    lint_per_doc = Counter(f.document for f in result.lint.findings if f.ignored is None)
    principals = result.principals()
    for principal in principals:
        role_domain, _, kind = principal.partition(":")
        role = result.role_of(principal)
        docs = result.principal_documents(principal)
        row = PrincipalRow(
            id=principal,
            kind=kind,
            role=role.name,
            arn=role.arn,
            href=principal_href(principal),
            file=principal_href(principal).rsplit("/", 1)[1],
            documents=len(docs),
            grants=len(result.principal_grants(principal)),
            lint=sum(lint_per_doc[doc.id] for doc, _ in docs),
            service=role.service,
        )
        if role_domain in domains:
            domains[role_domain].principals.append(row)

    ordered_domains = list(domains.values())
    for d in ordered_domains:
        d.star = svg.domain_star(d.name, len(d.products), d.sources, d.targets)
    names = [d.name for d in ordered_domains]

    lint_groups = _lint_groups(result)
    by_severity = Counter(f.severity for f in result.lint.findings if f.ignored is None)
    reads = [g for g in result.effective if g.access == "read"]
    counts = Counts(
        domains=len(result.mesh.blueprints),
        products=len(products),
        effective=len(result.effective),
        writes=sum(1 for g in result.effective if g.access == "write"),
        consumer=len(reads),
        pii=sum(1 for g in reads if g.pii),
        expiring=len(expiring),
        expired=len(result.declared.expired),
        differences=len(result.differences),
        problems=len(result.detail.problems),
        lint_by_severity={s: by_severity[s] for s in reversed(SEVERITIES) if by_severity[s]},
        lint_findings=sum(by_severity.values()),
        lint_failing=len(result.lint.failing),
        lint_ignored=sum(1 for f in result.lint.findings if f.ignored),
        documents=result.lint.documents,
        principals=len(principals),
    )
    approvers = sorted({r.approved_by for d in ordered_domains for r in d.rows if r.approved_by})
    return Report(
        generated_at=result.generated_at,
        today=today.isoformat(),
        ok=result.ok,
        verdict=_verdict(result),
        failures=result.failures(),
        counts=counts,
        expiring_days=EXPIRING_DAYS,
        differences=[
            {
                "kind": d.kind.upper(),
                "principal": d.principal,
                "product": d.product,
                "message": d.message,
            }
            for d in result.differences
        ],
        expiring=expiring,
        domains=ordered_domains,
        edges=edges,
        matrix=svg.domain_matrix(names, edges) if len(names) <= MATRIX_MAX_DOMAINS else None,
        collapsed=len(names) > COLLAPSE_ABOVE,
        expired=expired_rows,
        expired_ended=ended,
        exceptions=[
            {
                "policy": str(e.get("policy") or ""),
                "product": str(e.get("product") or ""),
                "expires": str(e.get("expires") or ""),
                "approved_by": str(e.get("approved_by") or ""),
                "justification": str(e.get("justification") or ""),
                "waives": str(len(e.get("waives") or [])),
            }
            for e in result.exceptions
        ],
        exceptions_source=result.exceptions_source,
        lint_groups=lint_groups,
        ignored=_ignored_groups(result),
        assumptions=list(ASSUMPTIONS),
        uncertain=list(result.detail.uncertain),
        approvers=approvers,
        files={
            "policies": POLICIES_DIR,
            "index": f"{POLICIES_DIR}/{POLICY_INDEX}",
            "matrix": MATRIX_FILE,
        },
    )


# ------------------------------------------------------------------ html


@lru_cache(maxsize=1)
def _template() -> tuple[Any, dict[str, Any]]:
    """The template and its static parts: the stylesheet and the script, inserted as they are,
    each allowed by the page's Content-Security-Policy through its SHA-256 (nothing else may
    load or run, whatever a blueprint says)."""
    import base64
    import hashlib
    from importlib.resources import files

    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("infra.audit", "templates"),
        autoescape=True,  # every {{ }} is HTML-escaped, attributes included
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    static: dict[str, Any] = {}
    for name, ext in (("css", "css"), ("js", "js")):
        text = (files("infra.audit") / "templates" / f"report.{ext}").read_text(encoding="utf-8")
        digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
        static[name] = Markup(text)
        static[f"{name}_hash"] = f"sha256-{digest}"
    return env.get_template("report.html.j2"), static


def render_html(result: AuditResult, report: Report | None = None) -> str:
    template, static = _template()
    return template.render(r=report or build(result), fail_at=FAIL_AT, **static)
