"""The audit report's view model: plain rows and counts that `infra.audit.report.build` fills
once from an `AuditResult`, and both renderings read (`report.render_html` through the Jinja2
template, `infra.audit.report_md.render_markdown`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup

from infra.audit import svg

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
