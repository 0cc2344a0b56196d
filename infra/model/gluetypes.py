"""Parser for Glue / Hive column types.

The blueprint's ``type`` is checked, not passed through: a typo such as ``decimal(40,2)`` or
``array<strnig>`` is reported at validation time instead of failing inside AWS Glue.

Grammar (what Glue's Hive-compatible catalog accepts for data products)::

    type      := primitive | decimal | varchar | char | array | map | struct
    primitive := string | int | integer | bigint | smallint | tinyint | double | float
               | boolean | date | timestamp | binary
    decimal   := "decimal" [ "(" p [ "," s ] ")" ]        1 <= p <= 38, 0 <= s <= p
    varchar   := "varchar" "(" n ")"                      1 <= n <= 65535
    char      := "char" "(" n ")"                         1 <= n <= 255
    array     := "array" "<" type ">"
    map       := "map" "<" primitive "," type ">"
    struct    := "struct" "<" name ":" type { "," name ":" type } ">"
"""

from __future__ import annotations

import re
from functools import lru_cache

PRIMITIVES = frozenset(
    {
        "string",
        "int",
        "integer",
        "bigint",
        "smallint",
        "tinyint",
        "double",
        "float",
        "boolean",
        "date",
        "timestamp",
        "binary",
    }
)

_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|([0-9]+)|(.))")
_FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
MAX_DEPTH = 16


class GlueTypeError(ValueError):
    """A column type that Glue would not accept; the message says what was expected."""


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[str] = []
        for m in _TOKEN.finditer(text):
            tok = m.group(1) or m.group(2) or m.group(3)
            if tok is None or tok.isspace():
                continue
            self.tokens.append(tok)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None:
            raise GlueTypeError(
                f"unexpected end of type {self.text!r}"
                + (f", expected {expected!r}" if expected else "")
            )
        if expected is not None and tok != expected:
            raise GlueTypeError(f"expected {expected!r} in type {self.text!r}, found {tok!r}")
        self.pos += 1
        return tok

    def number(self, what: str) -> int:
        tok = self.take()
        if not (tok.isascii() and tok.isdigit()):
            raise GlueTypeError(
                f"expected a number for {what} in type {self.text!r}, found {tok!r}"
            )
        return int(tok)

    def parse(self) -> str:
        out = self.type_(0)
        if self.peek() is not None:
            raise GlueTypeError(f"unexpected {self.peek()!r} after {out!r} in type {self.text!r}")
        return out

    def type_(self, depth: int) -> str:
        if depth > MAX_DEPTH:
            raise GlueTypeError(f"type {self.text[:60]!r}... nests deeper than {MAX_DEPTH} levels")
        word = self.take().lower()
        if word in PRIMITIVES:
            return "int" if word == "integer" else word
        if word == "decimal":
            if self.peek() != "(":
                return "decimal(10,0)"
            self.take("(")
            p = self.number("decimal precision")
            s = 0
            if self.peek() == ",":
                self.take(",")
                s = self.number("decimal scale")
            self.take(")")
            if not 1 <= p <= 38:
                raise GlueTypeError(f"decimal precision must be 1..38, got {p} in {self.text!r}")
            if not 0 <= s <= p:
                raise GlueTypeError(f"decimal scale must be 0..{p}, got {s} in {self.text!r}")
            return f"decimal({p},{s})"
        if word in ("varchar", "char"):
            limit = 65535 if word == "varchar" else 255
            self.take("(")
            n = self.number(f"{word} length")
            self.take(")")
            if not 1 <= n <= limit:
                raise GlueTypeError(f"{word} length must be 1..{limit}, got {n} in {self.text!r}")
            return f"{word}({n})"
        if word == "array":
            self.take("<")
            inner = self.type_(depth + 1)
            self.take(">")
            return f"array<{inner}>"
        if word == "map":
            self.take("<")
            key = self.type_(depth + 1)
            if key not in PRIMITIVES:
                raise GlueTypeError(
                    f"map keys must be a primitive type, got {key!r} in {self.text!r}"
                )
            self.take(",")
            value = self.type_(depth + 1)
            self.take(">")
            return f"map<{key},{value}>"
        if word == "struct":
            self.take("<")
            fields: list[str] = []
            seen: set[str] = set()
            while True:
                name = self.take().lower()
                if not _FIELD_NAME.match(name):
                    raise GlueTypeError(f"invalid struct field name {name!r} in {self.text!r}")
                if name in seen:
                    raise GlueTypeError(f"struct field {name!r} repeats in {self.text!r}")
                seen.add(name)
                self.take(":")
                fields.append(f"{name}:{self.type_(depth + 1)}")
                if self.peek() == ",":
                    self.take(",")
                    continue
                self.take(">")
                break
            return f"struct<{','.join(fields)}>"
        raise GlueTypeError(
            f"unknown type {word!r} in {self.text!r}; expected one of "
            f"{', '.join(sorted(PRIMITIVES))}, decimal(p,s), varchar(n), char(n), "
            "array<..>, map<..,..>, struct<name:type,..>"
        )


@lru_cache(maxsize=4096)
def normalize_glue_type(text: str) -> str:
    """Return the canonical spelling of a Glue type, or raise GlueTypeError."""
    if not isinstance(text, str) or not text.strip():
        raise GlueTypeError("column type must be a non-empty string")
    if len(text) > 2048:
        raise GlueTypeError("column type is longer than 2048 characters")
    return _Parser(text).parse()
