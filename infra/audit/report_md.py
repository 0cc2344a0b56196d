"""report.md: the audit report's view model (`infra.audit.report.build`) as Markdown, every
cell of blueprint text through `md_cell`. It shows the same facts as report.html; their numbers
are reconciled in tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.audit.layout import MATRIX_FILE, POLICIES_DIR, POLICY_INDEX
from infra.audit.lint import FAIL_AT
from infra.audit.markdown import md_cell
from infra.audit.report import build
from infra.audit.report_model import BANNER_LINES, GrantRow, Report

if TYPE_CHECKING:
    from infra.audit.result import AuditResult


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
