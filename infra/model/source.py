"""Where a value is in a blueprint file: its display path, and the line of every field.

A parsed file keeps its plain data and the lines its parse recorded
(`infra.blueprints.yaml_safe._Builder`: the line of every mapping key and sequence item, in
document order), not its node tree (~30 objects per line of YAML). A field's line is found by
walking the data, so locating an error never parses the file again; problems name the file, the
line and the field path (`format_path`).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from infra.errors import Problem, Severity

Loc = tuple[str | int, ...]


def format_path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(slots=True)
class SourceFile:
    """One blueprint file: its display path, its text (to tell identical files apart), and its
    plain data with the lines its parse recorded (to locate a field). A file refused before it
    was built (YAML syntax, a tag) has neither: its problems carry their line already."""

    path: str
    text: str | None = field(default=None, repr=False)
    data: Any = field(default=None, repr=False)
    lines: array | None = field(default=None, repr=False)  # see `_Builder.lines`
    _positions: dict[int, Any] | None = field(default=None, repr=False)

    def line_of(self, loc: Loc) -> int | None:
        if self.lines is None:
            return None
        if self._positions is None:
            self._positions = _positions(self.data)
        return _recorded_line(self.data, self.lines, self._positions, loc)

    def problem(
        self, loc: Loc, code: str, message: str, severity: Severity | None = None
    ) -> Problem:
        """A problem at `loc` of this file; its severity is its code's unless demoted."""
        return Problem(self.path, self.line_of(loc), format_path(loc), code, message, severity)


def _positions(data: Any) -> dict[int, Any]:
    """id(container) -> where each of its keys (a dict) or items (a list) is in the recorded
    lines: built once per file, on its first located problem (the error path only). The
    builder gives every occurrence its own container, aliases included, so ids are unique."""
    out: dict[int, Any] = {}
    at = 0

    def walk(node: Any) -> None:
        nonlocal at
        if type(node) is dict:
            keys: dict[str, int] = {}
            out[id(node)] = keys
            for key, value in node.items():
                at += 1
                keys[key] = at
                walk(value)
        elif type(node) is list:
            items: list[int] = []
            out[id(node)] = items
            for value in node:
                at += 1
                items.append(at)
                walk(value)

    walk(data)
    return out


def _recorded_line(data: Any, lines: array, positions: dict[int, Any], loc: Loc) -> int:
    """`SourceFile.line_of` from the recorded lines: the line of the deepest key or item of
    `loc` that exists (the mapping's own line for a missing key), as the node tree gives it."""
    line = lines[0] + 1  # the document's first node
    node = data
    for part in loc:
        in_dict = type(node) is dict and isinstance(part, str) and part in node
        in_list = type(node) is list and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            return line
        line = lines[positions[id(node)][part]] + 1
        node = node[part]
    return line
