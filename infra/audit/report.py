"""report.md and report.html from an `AuditResult`. Formatting only: no audit logic here.

`build(result)` turns the audit into a plain view model (`Report`) once; `render_html` fills the
Jinja2 template `templates/report.html.j2` with it (autoescaped), `render_markdown` writes it as
Markdown (every cell through `md_cell`). Everything is linear in grants + domains + principals:
no picture or table is principals x products.

The HTML is one self-contained file (inline CSS and SVG, one small inline script that only
filters the grant table, no external reference) so it can be attached to a CI run or mailed to
an auditor and still render; without the script every row is there, and it prints.

Why one module (~780 lines): the view model and its two renderings; the Markdown and the
HTML template must show the same facts, and their numbers are reconciled in tests.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from infra.audit import svg
from infra.audit.effective import ASSUMPTIONS
from infra.audit.layout import MATRIX_FILE, POLICIES_DIR, POLICY_INDEX, principal_href
from infra.audit.lint import FAIL_AT, IGNORED, SEVERITIES
from infra.audit.markdown import md_cell, until_text
from infra.model.access import DeclaredGrant

if TYPE_CHECKING:
    from infra.audit.result import AuditResult

EXPIRING_DAYS = 30  # "expiring soon": the grant's last day is at most this many days ahead
MATRIX_MAX_DOMAINS = 30  # above this the domain matrix is not drawn (the tables carry it)
COLLAPSE_ABOVE = 12  # more domains: the per-domain sections show one at a time (drill-down)
BANNER_LINES = 50

TAG_LABELS = {
    "write": "write",
    "full": "every column",
    "limited": "some columns",
    "pii": "incl. PII",
    "expired": "expired",
}


# ------------------------------------------------------------------ the view model


@dataclass(frozen=True)
class Col:
    name: str
    pii: bool


@dataclass(frozen=True)
class GrantRow:
    domain: str  # the product's (producing) domain
    product: str  # product id
    principal: str
    access: str
    kind: str  # write | full | limited | pii | expired
    columns: tuple[Col, ...]
    total_columns: int
    pii: bool
    via: str
    rows: str  # the row filter ("" every row)
    engines: str  # what can query it: athena, glue-etl, redshift-spectrum, s3
    until: str
    days_left: int | None  # days from the audit's clock to the last day of access
    approved_by: str
    justification: str
    differs: bool
    # tag-based access: the expression a tag grant reaches it by (`key=value` terms, space
    # separated, "" for a named grant) and the product's LF-tags (`key=value`, space separated):
    # what the report's LF-tag filter matches
    via_tags: str = ""
    lf_tags: str = ""

    @property
    def kind_label(self) -> str:
        return TAG_LABELS[self.kind]

    @property
    def kind_title(self) -> str:
        return svg.KINDS[self.kind][0]


@dataclass
class ProductRow:
    id: str
    name: str
    classification: str
    columns: int
    pii_columns: tuple[str, ...]
    retired: str | None  # "decommissioned <date>" once the date has come
    readers: list[GrantRow] = field(default_factory=list)  # active consumer grants
    expired: int = 0


@dataclass(frozen=True)
class PrincipalRow:
    id: str
    kind: str
    role: str
    arn: str
    href: str
    file: str
    documents: int
    grants: int
    lint: int  # findings not ignored, over its documents
    service: str | None


@dataclass
class DomainRow:
    name: str
    owner: str
    email: str
    description: str
    products: list[ProductRow]
    sources: list[svg.Edge]  # domains it reads from
    targets: list[svg.Edge]  # domains that read its products
    principals: list[PrincipalRow]
    rows: list[GrantRow]  # effective grants on its products (its part of the grant table)
    differences: int
    star: Markup = field(default_factory=Markup)

    @property
    def grants_given(self) -> int:
        return sum(e.grants for e in self.targets)

    @property
    def pii_given(self) -> int:
        return sum(e.pii for e in self.targets)

    @property
    def grants_received(self) -> int:
        return sum(e.grants for e in self.sources)

    @property
    def expiring(self) -> int:
        return sum(e.expiring for e in self.targets)

    @property
    def pii_products(self) -> int:
        return sum(1 for p in self.products if p.pii_columns)


@dataclass(frozen=True)
class LintGroup:
    severity: str
    issue: str
    detail: str
    findings: int
    documents: tuple[str, ...]


@dataclass(frozen=True)
class IgnoredGroup:
    issue: str
    findings: int
    justification: str


@dataclass
class Counts:
    """The header's numbers. Each equals the length of a table on the page (tests check it)."""

    domains: int
    products: int
    effective: int  # every effective grant = writes + consumer
    writes: int  # producers' write grants, one per product
    consumer: int  # consumer (read) grants between domains
    pii: int  # consumer grants that include PII
    expiring: int  # consumer grants whose last day is within EXPIRING_DAYS
    expired: int  # declared grants past their expiry (grant nothing)
    differences: int
    problems: int
    lint_by_severity: dict[str, int]  # findings not ignored
    lint_findings: int
    lint_failing: int
    lint_ignored: int
    documents: int
    principals: int


@dataclass
class Report:
    generated_at: str
    today: str
    ok: bool
    verdict: str
    failures: list[str]
    counts: Counts
    expiring_days: int
    differences: list[dict[str, str]]
    expiring: list[GrantRow]
    domains: list[DomainRow]
    edges: list[svg.Edge]
    matrix: Markup | None
    collapsed: bool
    expired: list[GrantRow]
    expired_ended: list[str]
    exceptions: list[dict[str, str]]
    exceptions_source: str
    lint_groups: list[LintGroup]
    ignored: list[IgnoredGroup]
    assumptions: list[str]
    uncertain: list[str]
    approvers: list[str]
    files: dict[str, str]

    @property
    def grant_rows(self) -> int:
        return sum(len(d.rows) for d in self.domains)


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


# ------------------------------------------------------------------ markdown


class _Links(str):
    """A Markdown cell built here, already escaped where it holds blueprint text (links from
    validated principal ids, `layout.principal_file_name`, or `_md_columns`): not escaped again."""


def _md_columns(row: GrantRow) -> _Links:
    """The columns, each name escaped, PII ones in bold."""
    return _Links(
        ", ".join(f"**{md_cell(c.name)}** (PII)" if c.pii else md_cell(c.name) for c in row.columns)
        or "(none)"
    )


def _md_table(head: list[str], rows: list[list[object]]) -> list[str]:
    """A Markdown table; every cell but `_Links` goes through `md_cell` (blueprint text is
    untrusted)."""
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *(
            "| " + " | ".join(c if isinstance(c, _Links) else md_cell(c) for c in cells) + " |"
            for cells in rows
        ),
    ]


def render_markdown(result: AuditResult, report: Report | None = None) -> str:
    r = report or build(result)
    c = r.counts
    lines = [
        "# Mesh access audit",
        "",
        (
            f"Generated {md_cell(r.generated_at)} · clock {r.today} · {c.domains} domains, "
            f"{c.products} products, {c.documents} policy documents, {c.effective} effective grants "
            f"({c.writes} producer write + {c.consumer} consumer), {c.expired} expired"
        ),
        "",
        "## Verdict",
        "",
        f"**{md_cell(r.verdict)}**",
        "",
    ]
    lines += [f"- {md_cell(line)}" for line in r.failures[:BANNER_LINES]]
    if len(r.failures) > BANNER_LINES:
        lines.append(f"- … and {len(r.failures) - BANNER_LINES} more")
    if r.failures:
        lines.append("")

    lines += ["## Counts", ""]
    lines += _md_table(
        ["What", "Number", "Where"],
        [
            ["domains", c.domains, "Domains"],
            ["products", c.products, "Domains"],
            ["effective grants", c.effective, "Who can read which columns (every row)"],
            ["… producer write grants (one per product)", c.writes, "rows with access `write`"],
            ["… consumer grants (read, between domains)", c.consumer, "rows with access `read`"],
            ["consumer grants including PII", c.pii, "Domain → domain (PII column)"],
            [
                f"consumer grants ending within {r.expiring_days} days",
                c.expiring,
                "Expiring soon",
            ],
            ["expired grants (grant nothing)", c.expired, "Expired grants"],
            ["access differences", c.differences, "Effective vs declared access"],
            ["policy documents linted", c.documents, "Policy lint"],
            ["lint findings (not ignored)", c.lint_findings, "Policy lint (Findings column)"],
            [f"… of {FAIL_AT} or higher (fail the audit)", c.lint_failing, "Policy lint"],
            ["lint findings ignored with a justification", c.lint_ignored, "Policy lint"],
        ],
    )
    lines += [
        "",
        (
            "*Effective grants* are every access the generated resources give, computed from IAM, "
            "bucket and key policies and Lake Formation permissions: each producer's write access "
            "to its own products plus the *consumer grants*, read access one domain granted "
            "another. Expired grants are declared but give no access, so they count in neither."
        ),
        "",
    ]

    lines += ["## Effective vs declared access", ""]
    if r.differences:
        lines += _md_table(
            ["Kind", "Principal", "Product", "What differs"],
            [
                [f"**{d['kind']}**", d["principal"], d["product"], d["message"]]
                for d in r.differences
            ],
        )
    else:
        lines.append(
            f"Identical: all {c.effective} grants computed from IAM, bucket and key policies and "
            "Lake Formation permissions match the blueprints."
        )
    lines.append("")

    lines += [f"## Expiring soon (last day within {r.expiring_days} days of {r.today})", ""]
    if r.expiring:
        lines += _md_table(
            [
                "Until",
                "Days left",
                "Product",
                "Principal",
                "Columns",
                "Approved by",
                "Justification",
            ],
            [
                [
                    g.until,
                    g.days_left,
                    g.product,
                    g.principal,
                    len(g.columns),
                    g.approved_by,
                    g.justification,
                ]
                for g in r.expiring
            ],
        )
    else:
        lines.append("None.")
    lines.append("")

    lines += ["## Domains", ""]
    lines += _md_table(
        [
            "Domain",
            "Owner",
            "Products",
            "With PII",
            "Grants given",
            "PII given",
            f"Ending ≤ {r.expiring_days} d",
            "Grants received",
            "Policy files",
        ],
        [
            [
                d.name,
                d.owner,
                len(d.products),
                d.pii_products,
                d.grants_given,
                d.pii_given,
                d.expiring,
                d.grants_received,
                _Links(" · ".join(f"[{p.kind}]({p.href})" for p in d.principals)),
            ]
            for d in r.domains
        ],
    )
    lines += ["", "## Domain → domain", ""]
    if r.edges:
        lines += _md_table(
            [
                "From (products of)",
                "To (consumer role of)",
                "Grants",
                "Incl. PII",
                f"Ending ≤ {r.expiring_days} d",
            ],
            [[e.source, e.target, e.grants, e.pii, e.expiring] for e in r.edges],
        )
    else:
        lines.append("No consumer grants.")
    lines.append("")

    lines += [
        "## Who can read which columns of which product, until when, approved by whom",
        "",
    ]
    lines += _md_table(
        [
            "Product",
            "Principal",
            "Access",
            "Columns",
            "Rows",
            "Via",
            "Engines",
            "Until",
            "Approved by",
            "Justification",
        ],
        [
            [
                g.product,
                g.principal,
                g.access,
                _md_columns(g),
                g.rows or "all",
                g.via,
                g.engines,
                g.until,
                g.approved_by,
                g.justification,
            ]
            for d in r.domains
            for g in d.rows
        ],
    )
    lines.append("")

    lines += ["## Expired grants (grant nothing)", ""]
    if r.expired:
        lines += _md_table(
            ["Product", "Principal", "Columns", "Ended", "Justification"],
            [
                [g.product, g.principal, _md_columns(g), ended, g.justification]
                for g, ended in zip(r.expired, r.expired_ended, strict=True)
            ],
        )
    else:
        lines.append("None.")
    lines.append("")

    lines += [f"## Active governance exceptions (from {md_cell(r.exceptions_source)})", ""]
    if r.exceptions:
        lines += _md_table(
            ["Policy", "Product", "Until", "Approved by", "Justification"],
            [
                [e["policy"], e["product"], e["expires"], e["approved_by"], e["justification"]]
                for e in r.exceptions
            ],
        )
    else:
        lines.append("None.")
    lines.append("")

    severities = ", ".join(f"{n} {s}" for s, n in c.lint_by_severity.items()) or "no findings"
    lines += [
        "## Policy lint (parliament, community auditors included)",
        "",
        (
            f"{c.documents} documents linted: {c.lint_findings} finding(s) ({severities}), "
            f"{c.lint_failing} of {FAIL_AT} or higher (they fail the audit); {c.lint_ignored} "
            "ignored with a justification."
        ),
        "",
    ]
    if r.lint_groups:
        lines += _md_table(
            ["Severity", "Issue", "Detail", "Findings", "Documents"],
            [
                [
                    g.severity,
                    g.issue,
                    g.detail,
                    g.findings,
                    ", ".join(g.documents[:10])
                    + (f" … and {len(g.documents) - 10} more" if len(g.documents) > 10 else ""),
                ]
                for g in r.lint_groups
            ],
        )
        lines.append("")
    if r.ignored:
        lines += ["Ignored findings (parliament `ignore_locations`), with their justification:", ""]
        lines += _md_table(
            ["Issue", "Findings", "Justification"],
            [[i.issue, i.findings, i.justification] for i in r.ignored],
        )
        lines.append("")

    lines += ["## How effective access is computed", ""]
    lines += [f"- {md_cell(a)}" for a in r.assumptions]
    lines += [f"- Undecided condition: {md_cell(u)}" for u in r.uncertain]
    lines += [
        "",
        "## Files",
        "",
        (
            f"- `{POLICIES_DIR}/<domain>.<kind>.json`: {c.principals} files, one per role (principal "
            f"`sales:consumer` → `{POLICIES_DIR}/sales.consumer.json`); "
            f"`{POLICIES_DIR}/{POLICY_INDEX}` maps every principal id to its file"
        ),
        f"- `{MATRIX_FILE}`: the effective access matrix (contract format)",
        "- `report.html`: this report with the domain pictures and a filter on the grant table",
        "",
    ]
    return "\n".join(lines)
