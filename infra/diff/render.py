"""The renderings of a `mesh diff` result (`infra.diff.access_diff.DiffResult`): the text of a
terminal or CI log, and the Markdown of the PR comment with its approvals checklist. Blueprint
text is escaped wherever it is printed (`infra.util.textsafe`): one line per log entry, no raw
HTML, table-cell break, code span or mention in Markdown. The JSON is `DiffResult.as_json`."""

from __future__ import annotations

import dataclasses

from infra.audit.markdown import md_cell, until_text
from infra.diff.access_diff import DiffResult, Entry
from infra.errors import Problem
from infra.model.access import DeclaredGrant
from infra.util.textsafe import md_code, md_wrap, one_line


def _cols(g: DeclaredGrant) -> str:
    return ", ".join(g.columns) if g.columns else "(none)"


def _problem_text(p: Problem) -> str:
    return one_line(f"  {p.where}: {p.severity.value} {p.code} {p.message}")


def _product_summary(result: DiffResult, name, arrow: str) -> list[str]:
    """New, removed and renamed products, one line each (text and markdown quote names apart)."""
    lines = []
    if result.new_products:
        lines.append(
            "new products (owner write only): "
            + ", ".join(name(g.product) for g in result.new_products)
        )
    if result.removed_products:
        lines.append(
            "removed products: " + ", ".join(name(g.product) for g in result.removed_products)
        )
    if result.renamed_products:
        lines.append(
            "renamed products: "
            + ", ".join(
                f"{name(a)} {arrow} {name(b)}" for a, b in sorted(result.renamed_products.items())
            )
        )
    if result.renamed_columns:
        lines.append(
            "renamed columns: "
            + ", ".join(
                f"{name(f'{pid}.{old}')} {arrow} {name(new)}"
                for pid, cols in sorted(result.renamed_columns.items())
                for old, new in sorted(cols.items())
            )
        )
    return lines


def not_computed(side: str = "HEAD") -> str:
    return f"Access changes wait until {side} is valid."


NOT_COMPUTED = not_computed()


def _approvers_of(result: DiffResult) -> dict[str, tuple[str, ...]]:
    """approver -> the handles that may give its approval, in order of first need."""
    out: dict[str, tuple[str, ...]] = {}
    for a in result.required_approvals:
        out.setdefault(a.approver, a.handles)
    return out


def _who(approver: str, handles: tuple[str, ...], name=str) -> str:
    """`privacy (@acme/privacy-office)`; a domain's owning team is its own handle."""
    others = [h for h in handles if h != approver]
    if others:
        return f"{name(approver)} ({', '.join(name(h) for h in others)})"
    return name(approver)


def _nobody(result: DiffResult) -> str | None:
    """A note on the approvers nobody can give (no platform file, or a group without members)."""
    empty = [a for a, h in _approvers_of(result).items() if not h]
    if not empty:
        return None
    return (
        f"no member of {', '.join(empty)} is known: the platform file (_mesh.yaml) names the "
        "members of the approver groups"
    )


def _approval_lines_text(result: DiffResult) -> list[str]:
    required, missing = result.required_approvals, result.missing_approvals
    if missing is None:
        lines = [f"APPROVALS REQUIRED: {len(required)}"]
    else:
        lines = [f"APPROVALS REQUIRED: {len(required)}, {len(missing)} missing"]
    for a in required:
        if missing is None:
            mark = "*"
        else:
            mark = "MISSING" if a in missing else "ok"
        lines.append(one_line(f"  {mark} {_who(a.approver, a.handles)}: {a.reason}"))
    note = _nobody(result)
    if note:
        lines.append(f"  ({note})")
    if missing:
        needed = _approvers_of(dataclasses.replace(result, required_approvals=missing))
        lines.append(
            one_line(
                "MISSING APPROVALS (blocks the merge): "
                + "; ".join(_who(a, h) for a, h in needed.items())
            )
        )
    return lines


def render_text(result: DiffResult, computed: bool = True, side: str = "HEAD") -> str:
    """`computed` False: `side` (HEAD, or BASE) is not valid, only its problems."""
    lines = []
    if result.errors:
        lines.append(f"UNSAFE CHANGE (fix before merging): {len(result.errors)} error(s)")
        lines += [_problem_text(p) for p in result.errors]
    if result.warnings:
        lines.append(f"WARNINGS: {len(result.warnings)}")
        lines += [_problem_text(p) for p in result.warnings]
    if not computed:
        return "\n".join([*lines, not_computed(side)]) + "\n"
    sections = (
        ("NEW ACCESS (review required)", "+", result.new_access),
        ("REMOVED ACCESS", "-", result.removed_access),
        ("CHANGED ACCESS", "~", result.changed),
    )
    for title, mark, entries in sections:
        lines.append(f"{title}: {len(entries)}")
        for e in entries:
            g = e.grant
            lines.append(
                one_line(
                    f"  {mark} {g.principal} -> {g.product}: {g.access} [{_cols(g)}]"
                    f"{' PII' if g.pii else ''}, {until_text(g)} -- {e.why}"
                )
            )
    n_review = (
        len(result.review_required)
        + (result.platform_change is not None)
        + len(result.lf_tag_changes)
    )
    lines.append(f"REVIEW REQUIRED (no new access): {n_review}")
    for r in result.review_required:
        lines.append(one_line(f"  ? {r.where}: {r.change} {r.subject} -- {r.reason}"))
    if result.platform_change is not None:
        file, reason = result.platform_change
        lines.append(one_line(f"  ? {file}: platform file -- {reason}"))
    for c in result.lf_tag_changes:
        lines.append(one_line(f"  ? {c.product}: lf_tag_changed -- {c.why}"))
    lines.append(f"BREAKING SCHEMA CHANGES for existing consumers: {len(result.breaking_schema)}")
    for b in result.breaking_schema:
        lines.append(one_line(f"  ! {b.why} (read by {', '.join(b.consumers)})"))
    lines += [one_line(line) for line in _product_summary(result, name=str, arrow="->")]
    lines += _approval_lines_text(result)
    return "\n".join(lines) + "\n"


def _md_table(entries: list[Entry]) -> list[str]:
    lines = [
        "| Principal | Product | Access | Columns | PII | Until | Why |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        g = e.grant
        lines.append(
            f"| {md_code(g.principal)} | {md_code(g.product)} | {g.access} | {md_cell(_cols(g))} "
            f"| {'**yes**' if g.pii else 'no'} | {md_cell(until_text(g))} | {md_cell(e.why)} |"
        )
    return lines


WRAP = 100  # characters per line of Markdown source: a comment reads well in the raw view too


def _md_problem(p: Problem, first: str, rest: str) -> list[str]:
    return md_wrap(f"{md_code(p.where)} {md_cell(p.code)}: {md_cell(p.message)}", WRAP, first, rest)


def _md_approvals(result: DiffResult) -> list[str]:
    """The approvals as a checklist, one item per approver with what it approves; ticked when
    the approvals were given (`--approvals`) and this one is among them."""
    required, missing = result.required_approvals, result.missing_approvals
    if not required:
        return []
    grants = {(e.grant.principal, e.grant.product): e.grant for e in result.new_access}
    lines = ["#### Approvals", ""]
    if missing:
        needed = _approvers_of(dataclasses.replace(result, required_approvals=missing))
        lines += md_wrap(
            f"**{len(needed)} approval(s) missing**, the merge is blocked: "
            + "; ".join(_who(a, h, md_code) for a, h in needed.items()),
            WRAP,
            "> [!CAUTION]\n> ",
            "> ",
        )
        lines.append("")
    elif missing is not None:
        lines += ["Every required approval is there.", ""]
    for approver, handles in _approvers_of(result).items():
        items = [a for a in required if a.approver == approver]
        done = missing is not None and not any(a in missing for a in items)
        lines.append(f"- [{'x' if done else ' '}] **{_who(approver, handles, md_code)}**")
        for a in items:
            text = md_cell(a.reason)
            g = grants.get((a.principal, a.product)) if a.principal else None
            if g is not None:
                text += f" · justification: {md_cell(g.justification or '(none)')}"
                text += f" · approved_by: {md_cell(g.approved_by or '(none)')}"
                if g.approved_by and not result.approvers_known:
                    text += " (not verified: no _mesh.yaml names the approvers)"
            lines += md_wrap(text, WRAP, "  - ", "    ")
    note = _nobody(result)
    if note:
        lines += ["", md_cell(note[0].upper() + note[1:]) + "."]
    if missing is None:
        lines += [
            "",
            (
                "<sub>Checked against the approving reviews by <code>mesh diff --approvals</code> "
                "(the PR workflow).</sub>"
            ),
        ]
    return [*lines, ""]


def render_markdown(result: DiffResult, computed: bool = True, side: str = "HEAD") -> str:
    """`computed` False: `side` (HEAD, or BASE) is not valid, only its problems. Warnings of
    files the change does not touch (`DiffResult.untouched`) are counted, not listed: the
    comment is about this change."""
    lines = ["### Data mesh access changes", ""]
    if result.errors:
        lines.append(
            f"> [!CAUTION]\n> **{len(result.errors)} unsafe change(s): fix before merging.**"
        )
        for p in result.errors:
            lines += _md_problem(p, "> - ", ">   ")
        lines.append("")
    shown = [p for p in result.warnings if p.file not in result.untouched]
    for p in shown:
        lines += _md_problem(p, "- :warning: ", "  ")
    hidden = len(result.warnings) - len(shown)
    if hidden:
        lines += md_wrap(
            f"{hidden} warning(s) in files this change does not touch, not repeated here "
            "(<code>mesh validate</code> lists them)",
            WRAP,
            "- ",
            "  ",
        )
    if result.warnings:
        lines.append("")
    if not computed:
        return "\n".join([*lines, not_computed(side)]) + "\n"
    if result.new_access:
        lines.append(
            f"> [!WARNING]\n> **{len(result.new_access)} new access grant(s): a data owner "
            "must review this change.**"
        )
    else:
        lines.append("No new access.")
    n_review = (
        len(result.review_required)
        + (result.platform_change is not None)
        + len(result.lf_tag_changes)
    )
    if n_review:
        lines.append("")
        lines.append(
            f"> [!IMPORTANT]\n> **{n_review} change(s) need review** although they add no access:"
        )
        for r in result.review_required:
            lines += md_wrap(
                f"{md_code(r.where)} {r.change}: {md_cell(r.subject)}: {md_cell(r.reason)}",
                WRAP,
                "> - ",
                ">   ",
            )
        if result.platform_change is not None:
            file, reason = result.platform_change
            lines += md_wrap(
                f"{md_code(file)} platform file: {md_cell(reason)}", WRAP, "> - ", ">   "
            )
        for c in result.lf_tag_changes:  # `infra.diff.tag_diff.Retag`
            lines += md_wrap(md_cell(c.why), WRAP, "> - ", ">   ")
    lines.append("")
    lines.append(
        f"New: **{len(result.new_access)}** · removed: {len(result.removed_access)} · "
        f"changed: {len(result.changed)} · breaking schema changes: "
        f"**{len(result.breaking_schema)}**"
    )
    lines.append("")
    if result.new_access:
        lines += ["#### New access", "", *_md_table(result.new_access), ""]
    if result.breaking_schema:
        lines += [
            "#### Breaking schema changes for existing consumers",
            "",
            "| Product | Column | Change | Consumers |",
            "|---|---|---|---|",
        ]
        for b in result.breaking_schema:
            what = {
                "retyped": f"retyped {md_code(b.before_type)} → {md_code(b.after_type)}",
                "renamed": f"renamed to {md_code(b.after_name)}",
                "removed": "removed",
            }[b.change]
            kind = " (partition key)" if b.partition_key else ""
            lines.append(
                f"| {md_code(b.product)} | {md_code(b.column)}{kind} | {what} "
                f"| {', '.join(md_code(c) for c in b.consumers)} |"
            )
        lines.append("")
    if result.removed_access:
        lines += ["#### Removed access", "", *_md_table(result.removed_access), ""]
    if result.changed:
        lines += [
            "#### Changed access (narrower or re-approved)",
            "",
            *_md_table(result.changed),
            "",
        ]
    extra = _product_summary(result, name=md_code, arrow="→")
    if extra:
        lines += [f"- {x}" for x in extra] + [""]
    lines += _md_approvals(result)
    lines.append(
        "<sub>Generated by <code>mesh diff</code> from the blueprints (declared access; "
        "run <code>mesh audit</code> for effective access).</sub>"
    )
    return "\n".join(lines) + "\n"
