"""Text shared by the Markdown that `mesh diff` and `mesh audit` write."""

from __future__ import annotations

from infra.access import Grant


def md_cell(text: object) -> str:
    """`text` safe inside a Markdown table cell: no column break, one line."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def until_text(g: Grant) -> str:
    """When a grant ends."""
    return g.expires.isoformat() if g.expires else "no expiry"
