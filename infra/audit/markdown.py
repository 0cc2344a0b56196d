"""Text shared by the Markdown that `mesh diff` and `mesh audit` write."""

from __future__ import annotations

from infra.access import Grant

# Markdown and the HTML a Markdown renderer lets through: a backslash first (so no escape
# below can be undone), then what would end a table cell, start a tag or an entity, or make a
# link or an image out of blueprint text.
_ESCAPES = (
    ("\\", "\\\\"),
    ("|", "\\|"),
    ("&", "&amp;"),
    ("<", "&lt;"),
    ("[", "\\["),
    ("]", "\\]"),
)


def md_cell(text: object) -> str:
    """`text` safe inside a Markdown table cell (and a list item): one line, no column break,
    no HTML tag or entity, no `[..](..)` link or image; it renders as the same characters. (A
    bare URL stays text here, and GitHub's renderer still autolinks it.)"""
    out = " ".join(str(text).splitlines())  # \n, \r\n, \r, and the Unicode line breaks
    for char, escaped in _ESCAPES:
        out = out.replace(char, escaped)
    return out


def until_text(g: Grant) -> str:
    """When a grant ends."""
    return g.expires.isoformat() if g.expires else "no expiry"
