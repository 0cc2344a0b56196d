"""`mesh policies`: the governance catalogue, the global limits and the exception codes."""

from __future__ import annotations

import textwrap
from typing import Annotated

import typer

from infra.cli.common import TextOrJson, emit_json


def policies(
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
) -> None:
    """List the global policy catalogue: id, severity, level, description, rationale, limits.

    Example: mesh policies --format json | jq -r '.policies[].id'
    """
    if format is TextOrJson.json:
        emit_json(catalogue_json())
        return
    for line in catalogue_lines():
        typer.echo(line)


def catalogue_json() -> dict:
    from infra.governance import catalogue as cat
    from infra.governance.approvals import WHO_APPROVES
    from infra.model import access

    return {
        "policies": [p.as_json() for p in cat.CATALOGUE],
        "exception_codes": [
            {"code": code, "description": text} for code, text in cat.EXCEPTION_CODES.items()
        ],
        "limits": cat.limits_json(),
        "approvals": [{"change": c.strip(" ."), "approvers": who} for c, who in WHO_APPROVES],
        "engines": [{"engine": e, "needs": text} for e, text in access.ENGINES.items()],
    }


def catalogue_lines(width: int = 100) -> list[str]:
    from infra.governance import catalogue as cat
    from infra.governance.approvals import WHO_APPROVES
    from infra.model import access

    wrap = lambda text, indent: textwrap.wrap(
        text, width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
    )
    lines = [f"{'ID':<8} {'SEVERITY':<8} {'LEVEL':<18} {'WAIVABLE':<8} NAME"]
    for p in cat.CATALOGUE:
        levels = ",".join(lv.value for lv in p.levels)
        waivable = "yes" if p.waivable else "no"
        lines.append(f"{p.id:<8} {p.severity.value:<8} {levels:<18} {waivable:<8} {p.name}")
        lines += wrap(p.description, "    ")
        lines += wrap(f"Why: {p.rationale}", "    ")
        if p.waivable:
            lines += wrap(f"Exceptions need the approval of: {p.waived_by} (_mesh.yaml)", "    ")
    lines.append("")
    lines.append("Global limits (domains may only tighten them in their policies: block):")
    lines.append(f"  grants on {cat.GRANT_EXPIRY_FROM.value}+ data expire within "
                 f"{cat.MAX_GRANT_DAYS} days")  # fmt: skip
    lines.append(f"  freshness_slo_hours required from {cat.FRESHNESS_SLO_FROM.value} up")
    for c, (lo, hi) in cat.RETENTION_BOUNDS.items():
        lines.append(f"  retention_days of {c.value} products: {lo}..{hi}")
    lines.append(f"  exceptions expire within {cat.MAX_EXCEPTION_DAYS} days")
    lines.append(
        f"  a decommission date a change adds or brings forward lies at least "
        f"{cat.DECOMMISSION_NOTICE_DAYS} days ahead"
    )
    lines.append("")
    lines.append("Who approves a change (mesh diff: required_approvals; groups of _mesh.yaml):")
    for change, who in WHO_APPROVES:
        lines += wrap(f"{change}: {who}", "  ")
    lines.append("")
    lines.append("Exception codes (in mesh validate output):")
    for code, text in cat.EXCEPTION_CODES.items():
        lines.append(f"  {code}  {text}")
    lines.append("")
    lines.append("What a consumer can run on a grant, and what each engine needs:")
    for engine, text in access.ENGINES.items():
        lines += wrap(f"{engine}: {text}", "  ")
    return lines
