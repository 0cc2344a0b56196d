"""Text shared by the Markdown that `mesh diff` and `mesh audit` write."""

from __future__ import annotations

from infra.model.access import DeclaredGrant
from infra.util.textsafe import md_text


def md_cell(text: object) -> str:
    """`text` safe inside a Markdown table cell (or a list item): literal, one line, no HTML,
    no column break (`infra.util.textsafe.md_text`)."""
    return md_text(text)


def until_text(g: DeclaredGrant) -> str:
    """When a grant ends."""
    return g.expires.isoformat() if g.expires else "no expiry"
