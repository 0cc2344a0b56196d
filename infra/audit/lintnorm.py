"""Policy documents normalised for linting: the mesh's physical names replaced by placeholders, so
that documents that differ only in names are linted by parliament once (issue 27: at 1,000
products 2,400 documents, ~660 distinct apart from names), and each finding mapped back to every
document it stands for.

What is replaced (only in the string *values* under a statement's `Resource`, `NotResource`,
`Principal`, `NotPrincipal` and `Condition`, and its `Sid`; never a key, an action, an effect):

- in an ARN of a service whose ARN formats are "delimiter-bounded" (below): the account (12
  digits) and every segment of the resource part (between `/` and `:`) that is a plain name
  (letters, digits, `_.+=,@-`) and not a word of any ARN format parliament knows (`role`, `key`,
  `table`, `default`, ...); partition, service and region are kept;
- a whole value that is a plain name (a tag value such as a domain name, an account id), or a
  date-time (`2027-04-19T00:00:00Z`, a grant's last day; its placeholder is a date-time too);
- a Sid of letters and digits (`DirectReadObjectsUntil20270714`): parliament only checks that a
  Sid is letters and digits and compares Sids with each other (DUPLICATE_SID); its placeholder
  (`zs000001`) is letters and digits, one per distinct Sid.

Why parliament cannot tell the difference (the test `test_lint_dedup_*` checks it on every
fixture tree, the sample and a generated mesh, finding by finding):

- the ARN's shape is kept: the same parts, the same delimiters and wildcards (`*`, `/`, `:`),
  the same partition, service, region; an account stays 12 digits;
- parliament matches a resource against the ARN formats of its service (`is_arn_match`,
  `is_arn_strictly_valid`): a format's literals are whole words between delimiters (for the
  services normalised here: :data:`SAFE_SERVICES` is computed from parliament's own data), so a
  segment can only match a format word by being equal to it — such segments are never replaced,
  and no placeholder is one — or be covered by a wildcard, which matches any segment;
- parliament compares resources with each other (`resource in refs`, `resource + "/*"`): names
  map one-to-one to placeholders within a document, and no placeholder occurs in the original;
- a value is checked against fixed patterns (condition types, principal forms, `"*"`,
  `"false"`): a value is changed only if every such pattern matches it before exactly when it
  does after (:func:`_signature`); otherwise it is left as it is.

Findings name what they are about in their detail and location (`{"string": ...}`, an action's
resource): placeholders there are replaced by the original names, and a location's column (the
JSON node's position) is shifted by the length differences of the names before it on its line.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

with warnings.catch_warnings():  # parliament imports pkg_resources, which warns on import
    warnings.simplefilter("ignore")
    import parliament

ELEMENTS = frozenset({"Resource", "NotResource", "Principal", "NotPrincipal", "Condition"})
NAME = re.compile(r"[A-Za-z0-9_.+=,@-]+")
ACCOUNT = re.compile(r"[0-9]{12}")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
SID = re.compile(r"[0-9A-Za-z]+")
PLACEHOLDER = re.compile(r"z[-bs][0-9]{6}|[0-9]{12}|0000-00-00T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_TOKEN = re.compile(
    r'\s*(?:("(?:[^"\\\n]|\\.)*")|([{}\[\],:])|(-?[0-9][0-9.eE+-]*|true|false|null))'
)
_VAR = re.compile(r"\$\{.*?\}")

# the patterns parliament applies to a value (statement.py: is_value_in_correct_format_for_type,
# _check_principal; the Bool/Null checks compare with "true"/"false")
_VALUE_PATTERNS = tuple(
    re.compile(p)
    for p in (
        "^arn:.*:.*:.*:.*:.*$",
        "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
        "^(true)|(false)$",
        r"^\d{4}-\d{2}-\d{2}T\d\d:\d\d:\d\dZ$",
        r"^(\d+.\d+.\d+.\d+(/\d+)?)|\d*:\d*:\d*:\d*:\d*:\d*(/\d+)?$",
        r"^\d+$",
        r"^\d{12}$",
        r"^arn:[-a-z\*]*:iam::(\d{12}|cloudfront|):.*$",
        r"^arn:[-a-z\*]*:iam::\d{12}:saml-provider/.*$",
        "^([a-z]{2}|us-gov)-[a-z]+-[0-9]$",
    )
)
_FEDERATION = ("cognito-identity.amazonaws.com", "www.amazon.com", "graph.facebook.com")


def _signature(value: str) -> tuple[bool, ...]:
    lowered = value.lower()
    return (
        value in ("*", "*:*", "accounts.google.com", *_FEDERATION),
        lowered in ("true", "false"),
        value in ("true", "false"),
        *(p.match(value) is not None for p in _VALUE_PATTERNS),
    )


def _format_words_and_safe_services() -> tuple[frozenset[str], frozenset[str]]:
    """Every literal word of parliament's ARN formats (lower case), and the services whose
    formats (and those with a variable service, which apply to any) have only literals bounded
    by `/`, `:` or the end, next to their variables."""
    words: set[str] = set()
    services: set[str] = set()
    unbounded: set[str] = set()
    for service in parliament.iam_definition:
        for resource in service["resources"]:
            parts = resource["arn"].split(":")
            if len(parts) < 6:
                continue
            target = "*" if "$" in parts[2] or "*" in parts[2] else parts[2]
            services.add(target)
            fragments = _VAR.split(":".join(parts[5:]))
            for i, fragment in enumerate(fragments):
                words.update(w.lower() for w in re.split(r"[:/]", fragment) if w)
                glued_left = i > 0 and fragment and fragment[0] not in ":/"
                glued_right = i < len(fragments) - 1 and fragment and fragment[-1] not in ":/"
                if glued_left or glued_right:
                    unbounded.add(target)
    if "*" in unbounded:
        return frozenset(words), frozenset()
    return frozenset(words), frozenset(services - unbounded - {"*"})


FORMAT_WORDS, SAFE_SERVICES = _format_words_and_safe_services()
assert not any(PLACEHOLDER.fullmatch(w) for w in FORMAT_WORDS)


@dataclass(frozen=True)
class Normalised:
    """A document's text with names replaced, and what is needed to map findings back."""

    text: str
    names: dict[str, str]  # placeholder -> original
    shifts: tuple[tuple[int, int, int], ...]  # (line, column of the placeholder, length change)

    def restore(self, value: str) -> str:
        if not self.names:
            return value
        return PLACEHOLDER.sub(lambda m: self.names.get(m.group(0), m.group(0)), value)

    def column(self, line: Any, column: Any) -> Any:
        """The original column of a JSON node at (line, column) of the normalised text (jsoncfg:
        lines from 1, columns from 1; a node never starts inside a string's content)."""
        if not isinstance(line, int) or not isinstance(column, int):
            return column
        return column + sum(d for ln, col, d in self.shifts if ln == line and col < column)


class _Namer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.by_name: dict[tuple[bool, str], str] = {}  # (a Sid?, name) -> placeholder
        self.ok = True

    def placeholder(self, name: str, sid: bool = False) -> str:
        known = self.by_name.get((sid, name))
        if known is not None:
            return known
        i = len(self.by_name) + 1
        if sid:  # letters and digits, as parliament requires of a Sid
            made = f"zs{i:06d}"
        elif ACCOUNT.fullmatch(name):
            made = f"{i:012d}"
        elif DATE.fullmatch(name):  # a grant's last day in a condition
            made = f"0000-00-00T{i // 3600 % 100:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"
        elif _VALUE_PATTERNS[1].match(name):  # a base64-shaped name keeps that shape
            made = f"zb{i:06d}"
        else:
            made = f"z-{i:06d}"
        if made in self.text:  # never confuse a placeholder with the document's own text
            self.ok = False
        self.by_name[(sid, name)] = made
        return made


def _replaceable(segment: str) -> bool:
    if not NAME.fullmatch(segment) or segment.lower() in FORMAT_WORDS:
        return False
    return not segment.isdigit() or len(segment) == 12


def _parts(value: str) -> list[str] | None:
    """`value` cut into literal text (even indices) and names (odd indices), or None if nothing
    in it is replaced."""
    if value.startswith("arn:"):
        parts = value.split(":")
        if len(parts) < 6 or parts[2] not in SAFE_SERVICES or any(c in value for c in "[]${}"):
            return None
        out = [":".join(parts[:4]) + ":"]
        if ACCOUNT.fullmatch(parts[4]):
            out += [parts[4], ":"]
        else:
            out[0] += parts[4] + ":"
        for i, piece in enumerate(re.split(r"([:/])", ":".join(parts[5:]))):
            if i % 2 == 0 and _replaceable(piece):
                out += [piece, ""]
            else:
                out[-1] += piece
        return out if len(out) > 1 else None
    return ["", value, ""] if _replaceable(value) or DATE.fullmatch(value) else None


@lru_cache(maxsize=1 << 16)
def _template(value: str) -> tuple[str, ...] | None:
    """`_parts(value)` if the value may change: every pattern parliament applies to a value
    gives the same answer with placeholders in it (placeholders of a name differ only in their
    digits, which no pattern tells apart, so one trial stands for all)."""
    parts = _parts(value)
    if parts is None:
        return None
    trial = _Namer("")
    changed = "".join(trial.placeholder(p) if i % 2 else p for i, p in enumerate(parts))
    return tuple(parts) if _signature(changed) == _signature(value) else None


def normalise(text: str) -> Normalised:
    """`text` with the names in it replaced (see the module docstring); the text unchanged if it
    is not JSON as this scanner reads it, or if anything is in doubt."""
    out: list[str] = []
    shifts: list[tuple[int, int, int]] = []
    namer = _Namer(text)
    copied = 0  # text[:copied] is in `out`
    line, counted, line_delta = 1, 0, 0  # line of text[counted]; length change on that line
    # a stack of [is_object, expecting_key, key of the current member]
    stack: list[list[Any]] = []
    last = 0
    for match in _TOKEN.finditer(text):
        if match.start() != last:
            return Normalised(text, {}, ())
        last = match.end()
        kind = match.lastindex
        if kind == 2:
            punct = text[last - 1]
            if punct in "{[":
                stack.append([punct == "{", True, None])
            elif punct in "}]":
                if not stack:
                    return Normalised(text, {}, ())
                stack.pop()
                if stack and stack[-1][0]:
                    stack[-1][2] = None
            elif stack and stack[-1][0]:
                stack[-1][1] = punct == ","
            continue
        if kind != 1:
            continue
        frame = stack[-1] if stack else None
        if frame is not None and frame[0] and frame[1]:
            frame[2] = match.group(1)[1:-1]
            continue
        if len(stack) < 2 or stack[0][2] != "Statement":
            continue
        path = [f[2] for f in stack if f[0]]
        if len(path) < 2:
            continue
        content_start, content_end = match.start(1) + 1, last - 1
        content = text[content_start:content_end]
        if path[1] == "Sid" and len(path) == 2:
            if not SID.fullmatch(content):
                continue
            new = namer.placeholder(content, sid=True)
        elif path[1] in ELEMENTS:
            parts = None if "\\" in content else _template(content)
            if parts is None:
                continue
            new = "".join(namer.placeholder(p) if i % 2 else p for i, p in enumerate(parts))
        else:
            continue
        newlines = text.count("\n", counted, content_start)
        if newlines:
            line, line_delta = line + newlines, 0
        counted = content_start
        column = content_start - text.rfind("\n", 0, content_start) - 1 - line_delta
        if len(new) != len(content):
            shifts.append((line, column, len(content) - len(new)))
            line_delta += len(content) - len(new)
        out += [text[copied:content_start], new]
        copied = content_end
    if text[last:].strip() or stack or not namer.by_name or not namer.ok:
        return Normalised(text, {}, ())
    out.append(text[copied:])
    names = {p: n for (_, n), p in namer.by_name.items()}
    return Normalised("".join(out), names, tuple(shifts))
