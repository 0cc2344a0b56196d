"""report.md and report.html of `mesh audit`: hostile blueprint text stays text, the header's
numbers equal the tables, and the page holds at 100 domains (linear size, a domain-level view)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from infra.audit.markdown import md_cell

# ---------------------------------------------------------------- Markdown cells


def _delimiters(line: str) -> int:
    """`|` that end a Markdown table cell: those not escaped by an odd run of backslashes."""
    return sum(1 for m in re.finditer(r"(\\*)\|", line) if len(m.group(1)) % 2 == 0)


def test_md_cell_keeps_hostile_text_in_its_cell():
    hostile = "a | b\\| c\n<img src=x onerror=alert(1)> &amp; [x](http://evil.example) ![i](y)\r\nz"
    cell = md_cell(hostile)
    assert "\n" not in cell and "\r" not in cell
    assert _delimiters(f"| {cell} |") == 2  # the row's own two, none from the text
    assert "<" not in cell and "&amp;amp;" in cell  # no tag, no entity of its own
    assert "](" not in cell.replace("\\](", "")  # no link or image: brackets are escaped
    assert cell.startswith("a \\| b\\\\\\| c ")


@given(st.text())
def test_md_cell_never_breaks_a_table_row(text):
    cell = md_cell(text)
    assert _delimiters(f"| {cell} | next |") == 3
    assert len(cell.splitlines()) <= 1 and "<" not in cell
