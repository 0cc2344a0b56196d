"""report.md and report.html from an `AuditResult`. Formatting only: no audit logic here.

The HTML is self-contained (inline CSS and SVG, no script, no external reference) so it can be
attached to a CI run or mailed to an auditor and still render.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from infra.access import Grant
from infra.audit import svg
from infra.audit.effective import ASSUMPTIONS
from infra.audit.layout import principal_file_name
from infra.audit.lint import FAIL_AT, IGNORED, SEVERITIES
from infra.audit.markdown import md_cell, until_text
from infra.audit.run import AuditResult


def _ended_on(result, grant) -> str:
    """When an ended grant stopped granting: its product's decommission date, or its expiry."""
    _, product = result.mesh.product(grant.product)
    retired = product.decommission
    if retired is not None and retired.date <= result.today:
        return f"decommissioned {retired.date.isoformat()}"
    return f"expired {grant.expires.isoformat()}" if grant.expires else "-"


def _products(result: AuditResult) -> list[svg.ProductInfo]:
    out = []
    for bp, product in result.mesh.products():
        out.append(
            svg.ProductInfo(
                id=f"{bp.domain}.{product.name}",
                domain=bp.domain,
                name=product.name,
                classification=product.classification.value,
                columns=len(product.columns),
                pii_columns=len(product.pii_columns),
            )
        )
    return out


def _pii_columns(result: AuditResult) -> dict[str, set[str]]:
    return {f"{bp.domain}.{p.name}": set(p.pii_columns) for bp, p in result.mesh.products()}


def _summary(result: AuditResult) -> str:
    n_products = sum(1 for _ in result.mesh.products())
    return (
        f"{len(result.mesh.blueprints)} domains, {n_products} products, "
        f"{len(result.graph.documents)} policy documents, {len(result.effective)} effective "
        f"grants, {len(result.declared.expired)} expired"
    )


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


def _severity_counts(result: AuditResult) -> str:
    counts = Counter(f.severity for f in result.lint.findings if f.ignored is None)
    ignored = sum(1 for f in result.lint.findings if f.ignored)
    shown = [f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts[s]]
    return (", ".join(shown) or "no findings") + (
        f"; {ignored} ignored with a justification" if ignored else ""
    )


def _read_rows(result: AuditResult) -> list[Grant]:
    return sorted(result.effective, key=lambda g: (g.product, g.access != "write", g.principal))


# ------------------------------------------------------------------ markdown


def _md_columns(g: Grant, pii: set[str]) -> str:
    return ", ".join(f"**{c}** (PII)" if c in pii else c for c in g.columns) or "(none)"


def render_markdown(result: AuditResult) -> str:
    pii = _pii_columns(result)
    lines = [
        "# Mesh access audit",
        "",
        f"Generated {result.generated_at} · clock {result.today.isoformat()} · {_summary(result)}",
        "",
        "## Verdict",
        "",
        f"**{_verdict(result)}**",
        "",
    ]
    for line in result.failures():
        lines.append(f"- {md_cell(line)}")
    if result.failures():
        lines.append("")

    lines += ["## Effective vs declared access", ""]
    if result.differences:
        lines += [
            "| Kind | Principal | Product | What differs |",
            "|---|---|---|---|",
        ]
        for d in result.differences:
            lines.append(
                f"| **{d.kind.upper()}** | {d.principal} | {d.product} | {md_cell(d.message)} |"
            )
    else:
        lines.append(
            f"Identical: all {len(result.effective)} grants computed from IAM, bucket and key "
            "policies and Lake Formation permissions match the blueprints."
        )
    lines.append("")

    lines += [
        "## Who can read which columns of which product, until when, approved by whom",
        "",
        "| Product | Principal | Access | Columns | Via | Until | Approved by | Justification |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for g in _read_rows(result):
        lines.append(
            f"| {g.product} | {g.principal} | {g.access} | {md_cell(_md_columns(g, pii[g.product]))} "
            f"| {', '.join(g.via)} | {until_text(g)} | {md_cell(g.approved_by or '')} "
            f"| {md_cell(g.justification or ('owning producer' if g.access == 'write' else ''))} |"
        )
    lines.append("")

    lines += ["## Expired grants (grant nothing)", ""]
    if result.declared.expired:
        lines += [
            "| Product | Principal | Columns | Ended | Justification |",
            "|---|---|---|---|---|",
        ]
        for g in result.declared.expired:
            lines.append(
                f"| {g.product} | {g.principal} | {md_cell(_md_columns(g, pii[g.product]))} "
                f"| {_ended_on(result, g)} | {md_cell(g.justification or '')} |"
            )
    else:
        lines.append("None.")
    lines.append("")

    lines += [f"## Active governance exceptions (from {result.exceptions_source})", ""]
    if result.exceptions:
        lines += [
            "| Policy | Product | Until | Approved by | Justification |",
            "|---|---|---|---|---|",
        ]
        for e in result.exceptions:
            lines.append(
                f"| {md_cell(e.get('policy'))} | {md_cell(e.get('product'))} | {md_cell(e.get('expires'))} "
                f"| {md_cell(e.get('approved_by') or '')} | {md_cell(e.get('justification'))} |"
            )
    else:
        lines.append("None.")
    lines.append("")

    lines += [
        "## Policy lint (parliament, community auditors included)",
        "",
        (
            f"{result.lint.documents} documents linted: {_severity_counts(result)}. "
            f"Findings of {FAIL_AT} or higher fail the audit."
        ),
        "",
    ]
    groups = _lint_groups(result)
    if groups:
        lines += ["| Severity | Issue | Detail | Documents |", "|---|---|---|---|"]
        for sev, issue, detail, docs in groups:
            lines.append(f"| {sev} | {issue} | {md_cell(detail)} | {md_cell(', '.join(docs))} |")
        lines.append("")
    if any(f.ignored for f in result.lint.findings):
        lines += ["Ignored findings (parliament `ignore_locations`), with their justification:", ""]
        for ignore in IGNORED:
            n = sum(1 for f in result.lint.findings if f.ignored == ignore.justification)
            if n:
                lines.append(f"- `{ignore.issue}` × {n}: {ignore.justification}")
        lines.append("")

    lines += ["## How effective access is computed", ""]
    lines += [f"- {a}" for a in ASSUMPTIONS]
    lines += [f"- Undecided condition: {u}" for u in result.detail.uncertain]
    lines += [
        "",
        "## Files",
        "",
        f"- `policies/<domain>.<kind>.json`: {len(result.principals())} files "
        f"(e.g. `policies/{principal_file_name(result.principals()[0])}`), "
        "`policies/index.json` maps every principal id to its file"
        if result.principals()
        else "- `policies/`: no principals",
        "- `access-matrix.json`: the effective access matrix (contract format)",
        "- `report.html`: this report with the topology and heatmap pictures",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ html

CSS = """
:root{--ok:#2e8540;--bad:#c62828;--ink:#1d2330;--mute:#5b6475;--line:#dde1e8}
*{box-sizing:border-box}
body{margin:0;background:#f6f7f9;color:var(--ink);
 font:14px/1.45 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}
main{max-width:1340px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:19px;margin:34px 0 10px;padding-bottom:6px;border-bottom:2px solid var(--line)}
.meta{color:var(--mute);margin-bottom:16px}
.banner{padding:14px 18px;border-radius:8px;font-size:16px;font-weight:600;color:#fff}
.banner.pass{background:var(--ok)}
.banner.fail{background:var(--bad);font-size:18px}
.banner ul{margin:8px 0 0 0;padding-left:20px;font-weight:500;font-size:14px}
.cards{display:flex;gap:12px;margin:16px 0 0;flex-wrap:wrap}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 16px;
 min-width:150px}
.card b{display:block;font-size:22px}
.card span{color:var(--mute);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.figure{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px;
 overflow-x:auto}
.figure svg{display:block;max-width:100%;height:auto}
.note{color:var(--mute);font-size:13px;margin:6px 0 0}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);
 font-size:13px}
th,td{padding:7px 9px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600;white-space:nowrap}
tr:nth-child(even) td{background:#fafbfc}
.nowrap{white-space:nowrap}
.chip{display:inline-block;margin:1px 3px 1px 0;padding:0 6px;border-radius:10px;
 background:#eef1f5;font:12px/18px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.chip.pii{background:#fde7e7;color:#a31515;font-weight:600}
.tag{white-space:nowrap;display:inline-block;padding:0 7px;border-radius:10px;font-size:12px;font-weight:600;
 color:#fff}
.tag.write{background:#1f5fa8}.tag.full{background:#2e8540}.tag.limited{background:#b98500}
.tag.pii{background:#c62828}.tag.expired{background:#8a8a8a}
.sev{font-weight:700}.sev.HIGH,.sev.CRITICAL,.sev.MEDIUM{color:var(--bad)}
.sev.LOW,.sev.INFO{color:var(--mute)}
.diff td{background:#fff4f4 !important}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
"""


def _h(text: object) -> str:
    return escape(str(text), quote=True)


def _chips(columns: tuple[str, ...] | list[str], pii: set[str]) -> str:
    if not columns:
        return '<span class="note">(none)</span>'
    return "".join(
        f'<span class="chip{" pii" if c in pii else ""}">{_h(c)}{" · PII" if c in pii else ""}'
        "</span>"
        for c in columns
    )


TAG_LABELS = {
    "write": "write",
    "full": "every column",
    "limited": "some columns",
    "pii": "incl. PII",
    "expired": "expired",
}


def _kind_tag(g: Grant, total: int, expired: bool = False) -> str:
    kind = "expired" if expired else svg.kind_of(g, total)
    return (
        f'<span class="tag {kind}" title="{_h(svg.KINDS[kind][0])}">{_h(TAG_LABELS[kind])}</span>'
    )


def _lint_groups(result: AuditResult) -> list[tuple[str, str, str, list[str]]]:
    """Findings not ignored, grouped by (severity, issue, detail): one row per distinct
    finding with the documents it occurs in."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for f in result.lint.findings:
        if f.ignored is None:
            docs = groups.setdefault((f.severity, f.issue, f.detail or f.title), [])
            if f.document not in docs:
                docs.append(f.document)
    return [(sev, issue, detail, docs) for (sev, issue, detail), docs in groups.items()]


def _table(head: list[str], rows: list[list[str]], row_class: str = "") -> str:
    cls = f' class="{row_class}"' if row_class else ""
    return (
        "<table><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
        + "</tbody></table>"
    )


def render_html(result: AuditResult) -> str:
    products = _products(result)
    totals = {p.id: p.columns for p in products}
    pii = _pii_columns(result)
    domains = [bp.domain for bp in result.mesh.blueprints]
    owners = {bp.domain: bp.owner.team for bp in result.mesh.blueprints}
    body: list[str] = []

    body.append("<h1>Mesh access audit</h1>")
    body.append(
        f'<div class="meta">Generated {_h(result.generated_at)} · clock '
        f"{_h(result.today.isoformat())} · {_h(_summary(result))}</div>"
    )
    failures = result.failures()
    banner_items = "".join(f"<li>{_h(line)}</li>" for line in failures[:50])
    more = f"<li>… and {len(failures) - 50} more</li>" if len(failures) > 50 else ""
    body.append(
        f'<div class="banner {"pass" if result.ok else "fail"}">{_h(_verdict(result))}'
        + (f"<ul>{banner_items}{more}</ul>" if failures else "")
        + "</div>"
    )
    reads = [g for g in result.effective if g.access == "read"]
    cards = [
        (len(domains), "domains"),
        (len(products), "products"),
        (len(reads), "consumer grants"),
        (sum(1 for g in reads if g.pii), "PII grants"),
        (len(result.declared.expired), "expired grants"),
        (len(result.differences), "access differences"),
        (len(result.lint.failing), f"lint ≥ {FAIL_AT}"),
    ]
    body.append(
        '<div class="cards">'
        + "".join(
            f'<div class="card"><b>{n}</b><span>{_h(label)}</span></div>' for n, label in cards
        )
        + "</div>"
    )

    body.append("<h2>Effective vs declared access</h2>")
    if result.differences:
        rows = [
            [f"<b>{_h(d.kind.upper())}</b>", _h(d.principal), _h(d.product), _h(d.message)]
            for d in result.differences
        ]
        body.append(_table(["Kind", "Principal", "Product", "What differs"], rows, "diff"))
    else:
        body.append(
            f"<p>Identical: all {len(result.effective)} grants computed from IAM role policies, "
            "bucket policies, key policies and Lake Formation permissions match the "
            "blueprints.</p>"
        )

    flagged = frozenset((d.principal, d.product) for d in result.differences)
    body.append("<h2>Mesh topology</h2>")
    body.append(
        '<div class="figure">'
        + svg.topology(
            domains,
            owners,
            products,
            result.effective,
            list(result.declared.expired),
            flagged=flagged,
        )
        + "</div>"
    )
    body.append(
        '<p class="note">Each edge is a consumer grant (effective access). Thick red edges '
        "include PII; dashed amber edges are limited to some columns (Lake Formation only, no "
        "direct S3 read); grey dotted edges are expired grants; a black dashed halo marks "
        "access that differs from the blueprints. Hover for details.</p>"
    )

    body.append("<h2>Access heatmap</h2>")
    principals = sorted(
        {g.principal for g in result.effective}
        | {g.principal for g in result.declared.expired}
        | set(result.access_principals()),
        key=lambda p: (p.split(":")[0], p),
    )
    body.append(
        '<div class="figure">'
        + svg.heatmap(
            principals,
            products,
            result.effective,
            list(result.declared.expired),
            domains,
            flagged=flagged,
        )
        + "</div>"
    )
    body.append(
        '<p class="note">Cell text: readable columns / all columns; W = write; a black frame '
        "marks a difference between effective and declared access.</p>"
    )

    body.append(
        "<h2>Who can read which columns of which product, until when, approved by whom</h2>"
    )
    rows = []
    for g in _read_rows(result):
        rows.append(
            [
                f"<b>{_h(g.product)}</b>",
                _h(g.principal),
                _kind_tag(g, totals.get(g.product, 0)),
                _chips(g.columns, pii.get(g.product, set())),
                f'<span class="nowrap">{_h(", ".join(g.via))}</span>',
                f'<span class="nowrap">{_h(until_text(g))}</span>',
                _h(g.approved_by or ""),
                _h(g.justification or ("owning producer" if g.access == "write" else "")),
            ]
        )
    body.append(
        _table(
            [
                "Product",
                "Principal",
                "Access",
                "Columns",
                "Via",
                "Until",
                "Approved by",
                "Justification",
            ],
            rows,
        )
    )

    body.append("<h2>Expired grants</h2>")
    if result.declared.expired:
        rows = [
            [
                _h(g.product),
                _h(g.principal),
                _kind_tag(g, 0, expired=True),
                _chips(g.columns, pii.get(g.product, set())),
                _h(_ended_on(result, g)),
                _h(g.justification or ""),
            ]
            for g in result.declared.expired
        ]
        body.append(
            _table(["Product", "Principal", "State", "Columns", "Ended", "Justification"], rows)
        )
    else:
        body.append("<p>None.</p>")

    body.append("<h2>Active governance exceptions</h2>")
    if result.exceptions:
        rows = [
            [
                _h(e.get("policy")),
                _h(e.get("product")),
                _h(e.get("expires")),
                _h(e.get("approved_by") or ""),
                _h(e.get("justification")),
                str(len(e.get("waives") or [])),
            ]
            for e in result.exceptions
        ]
        body.append(
            _table(["Policy", "Product", "Until", "Approved by", "Justification", "Waives"], rows)
        )
    else:
        body.append("<p>None.</p>")
    body.append(f'<p class="note">Source: {_h(result.exceptions_source)}.</p>')

    body.append("<h2>Policy lint (parliament)</h2>")
    body.append(
        f"<p>{result.lint.documents} documents linted with parliament and its community "
        f"auditors: {_h(_severity_counts(result))}. Findings of {FAIL_AT} or higher fail the "
        "audit.</p>"
    )
    groups = _lint_groups(result)
    if groups:
        rows = [
            [
                f'<span class="sev {_h(sev)}">{_h(sev)}</span>',
                _h(issue),
                _h(detail),
                str(len(docs)),
                " ".join(f"<code>{_h(d)}</code>" for d in docs),
            ]
            for sev, issue, detail, docs in groups
        ]
        body.append(_table(["Severity", "Issue", "Detail", "Count", "Documents"], rows))
    ignored_rows = []
    for ignore in IGNORED:
        n = sum(1 for f in result.lint.findings if f.ignored == ignore.justification)
        if n:
            ignored_rows.append([_h(ignore.issue), str(n), _h(ignore.justification)])
    if ignored_rows:
        body.append(
            '<p class="note">Ignored through parliament\'s <code>ignore_locations</code>, '
            "each with its justification:</p>"
        )
        body.append(_table(["Issue", "Findings", "Justification"], ignored_rows))

    body.append("<h2>How effective access is computed</h2><ul>")
    body.extend(f"<li>{_h(a)}</li>" for a in ASSUMPTIONS)
    body.extend(f"<li>Undecided condition: {_h(u)}</li>" for u in result.detail.uncertain)
    body.append("</ul>")
    body.append(
        '<p class="note">Every policy document per principal: <code>policies/&lt;domain&gt;.'
        "&lt;kind&gt;.json</code> (<code>policies/index.json</code> maps principal ids to files); "
        "the matrix: <code>access-matrix.json</code>.</p>"
    )

    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Mesh access audit · {_h(result.today.isoformat())}</title>"
        f"<style>{CSS}</style></head><body><main>" + "\n".join(body) + "</main></body></html>\n"
    )
