"""Glue column types <-> ODCS v3 logical and physical types.

Export (`odcs_type`): every Glue type has one ODCS rendering: `logicalType`, the Glue type as
`physicalType` (normalised, as `infra.model.gluetypes` spells it), `logicalTypeOptions` where the
standard has a word for the detail (string length, integer and float width), and the element
types of `array`, `map` and `struct` as `items`, `map.key`/`map.value` and `properties`.

Import (`glue_type`): a property's `physicalType` decides when it is a Glue type or a type of
the type table (`typetable`: the common physical types of the databases contracts come from,
read in the dialect of the contract's servers); otherwise the `logicalType` (with
`logicalTypeOptions`, and `precision`/`scale` custom properties as datacontract-cli writes them)
does. A domain type is resolved through the `baseType` custom property where the contract gives
it, and held as text where it does not. Every mapping that does not hold each value exactly as
the source does (a time of day as text, an unbounded decimal as decimal(38,18), ...) comes
with a note (`Mapped.notes`) that the import reports as a warning naming the column; a shape no
Glue type has (an array without items, a map with a complex key, a vector of half floats) is
a `TypeMappingError` naming the property's path. Pure functions: no ODCS import, plain dicts
in. The README's "Data contracts (ODCS)" table is this module in prose.

Why one module (~500 lines): the two directions of one mapping; a type added on one side must
be added on the other, and the round-trip tests read it as one table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from infra.contracts import typetable as TT
from infra.model.gluetypes import PRIMITIVES, GlueTypeError, normalize_glue_type

Loc = tuple[str | int, ...]

LOGICAL_TYPES = (
    "string", "date", "timestamp", "time", "number", "integer", "object", "array", "boolean",
    "map", "vector",
)  # fmt: skip
_INTEGER_FORMATS = {
    "i8": "tinyint",
    "i16": "smallint",
    "i32": "int",
    "i64": "bigint",
    "u8": "smallint",
    "u16": "int",
    "u32": "bigint",
    "u64": "decimal(20,0)",
}
_INTEGER_FORMAT_OF = {"tinyint": "i8", "smallint": "i16", "int": "i32", "bigint": "i64"}
_NUMBER_FORMATS = {"f32": "float", "f64": "double"}
_VECTOR_ELEMENTS = {"float32": "float", "float64": "double", "int8": "tinyint", "uint8": "smallint"}
# defaults when the contract says no more than the logical type
DEFAULT_INTEGER = "bigint"  # holds every integer format up to i64: never truncates
DEFAULT_NUMBER = "double"

_BARE_COMPLEX = frozenset(
    {"array", "list", "struct", "object", "record", "row", "map", "dict", "vector"}
)
_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")


class TypeMappingError(ValueError):
    """A property whose type has no Glue column type. `loc` is relative to the property."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc, self.message = loc, message


@dataclass
class Mapped:
    """The Glue type of an ODCS property and the keys (relative locations) the mapping read
    besides the type fields themselves, e.g. the `precision` custom property."""

    type: str
    consumed: list[Loc] = field(default_factory=list)
    notes: list[tuple[Loc, str]] = field(default_factory=list)  # what the Glue type changes


# ----------------------------------------------------------------- Glue type trees


def _split_top(text: str) -> list[str]:
    """`text` split at the commas outside <> and ()."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def split_glue(glue: str) -> tuple[str, list]:
    """A normalised Glue type as (kind, parts): ("array", [element]), ("map", [key, value]),
    ("struct", [(name, type), ...]) or (the primitive type itself, [])."""
    for kind in ("array", "map", "struct"):
        if glue.startswith(kind + "<") and glue.endswith(">"):
            inner = glue[len(kind) + 1 : -1]
            if kind == "array":
                return kind, [inner]
            if kind == "map":
                return kind, _split_top(inner)
            return kind, [tuple(f.split(":", 1)) for f in _split_top(inner)]
    return glue, []


# ----------------------------------------------------------------- export


def odcs_type(glue: str) -> dict[str, Any]:
    """The ODCS type fields of a (normalised) Glue type."""
    glue = normalize_glue_type(glue)
    kind, parts = split_glue(glue)
    if kind == "array":
        return {"logicalType": "array", "physicalType": glue, "items": odcs_type(parts[0])}
    if kind == "map":
        return {
            "logicalType": "map",
            "physicalType": glue,
            "map": {"key": odcs_type(parts[0]), "value": odcs_type(parts[1])},
        }
    if kind == "struct":
        return {
            "logicalType": "object",
            "physicalType": glue,
            "properties": [{"name": n, **odcs_type(t)} for n, t in parts],
        }
    if glue in _INTEGER_FORMAT_OF:
        options = {"format": _INTEGER_FORMAT_OF[glue]}
        return {"logicalType": "integer", "logicalTypeOptions": options, "physicalType": glue}
    if glue in ("float", "double"):
        options = {"format": "f32" if glue == "float" else "f64"}
        return {"logicalType": "number", "logicalTypeOptions": options, "physicalType": glue}
    if glue.startswith("decimal("):
        return {"logicalType": "number", "physicalType": glue}
    if glue.startswith(("varchar(", "char(")):
        n = int(glue[glue.index("(") + 1 : -1])
        return {
            "logicalType": "string",
            "logicalTypeOptions": {"maxLength": n},
            "physicalType": glue,
        }
    if glue == "binary":
        return {
            "logicalType": "string",
            "logicalTypeOptions": {"format": "binary"},
            "physicalType": glue,
        }
    # string, boolean, date, timestamp
    return {"logicalType": glue, "physicalType": glue}


# ----------------------------------------------------------------- import


def physical_glue(text: str, dialect: str | None = None) -> TT.Resolved | None:
    """The Glue type a physicalType names (`typetable`), or None when the table does not know
    it (a domain type, a bare `array`/`struct` whose nested definitions say what is inside).
    Raises TypeMappingError for a shape no Glue type has."""
    words = TT.words(text)
    if not words or _bare_complex(words):
        return None
    if dialect in (None, "spark"):  # Glue's own spelling first: what export writes
        try:
            return TT.Resolved(normalize_glue_type(words))
        except GlueTypeError:
            pass
    try:
        found = TT.resolve(words, dialect)
        if found is None and dialect not in (None, "spark"):
            found = TT.Resolved(normalize_glue_type(words))
    except TT.TypeTableError as exc:
        raise TypeMappingError(("physicalType",), f"physicalType {text[:60]!r}: {exc}") from None
    except GlueTypeError:
        return None
    return found


def _bare_complex(words: str) -> bool:
    """`array`, `struct`, `object` alone (not `array<int>`): the nested definitions decide."""
    return words in _BARE_COMPLEX


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _precision_scale(prop: dict) -> tuple[int | None, int | None, list[Loc]]:
    """`precision`/`scale` from logicalTypeOptions or custom properties (datacontract-cli)."""
    precision = scale = None
    consumed: list[Loc] = []
    options = prop.get("logicalTypeOptions") or {}
    for key in ("precision", "scale"):
        if _int(options.get(key)) is not None:
            if key == "precision":
                precision = _int(options[key])
            else:
                scale = _int(options[key])
            consumed.append(("logicalTypeOptions", key))
    for i, cp in enumerate(prop.get("customProperties") or []):
        key = str(cp.get("property") or "").lower()
        if key in ("precision", "scale") and _int(cp.get("value")) is not None:
            if key == "precision" and precision is None:
                precision = _int(cp["value"])
            elif key == "scale" and scale is None:
                scale = _int(cp["value"])
            consumed.append(("customProperties", i))
    return precision, scale, consumed


def nested_name(prop: dict) -> str | None:
    """The Glue name of a property: physicalName when set, else name; lower-cased (the Glue
    catalog folds names to lower case itself)."""
    name = prop.get("physicalName") or prop.get("name")
    return name.strip().lower() if isinstance(name, str) and name.strip() else None


_BASE_TYPE_KEYS = ("basetype", "basephysicaltype", "domainbasetype", "underlyingtype")


def _base_type(prop: dict) -> tuple[str, Loc] | None:
    """The base type of a domain type, where the contract gives it: a custom property
    `baseType` (or `basePhysicalType`, `domainBaseType`, `underlyingType`)."""
    for i, cp in enumerate(prop.get("customProperties") or []):
        key = str(cp.get("property") or "").strip().lower()
        if key in _BASE_TYPE_KEYS and isinstance(cp.get("value"), str) and cp["value"].strip():
            return cp["value"], ("customProperties", i)
    return None


def glue_type(prop: dict, depth: int = 0, dialect: str | None = None) -> Mapped:
    """The Glue type of an ODCS property (a plain dict, the ODCS model's dump); `dialect` is
    the database the contract's physical types are written for (`typetable.dialect_of`)."""
    if depth > 16:
        raise TypeMappingError((), "the type nests deeper than 16 levels (Glue's limit here)")
    logical_raw = prop.get("logicalType")
    logical = TT.words(logical_raw) if isinstance(logical_raw, str) else None
    physical = prop.get("physicalType")
    found = physical_glue(physical, dialect) if isinstance(physical, str) else None
    precision, scale, consumed = _precision_scale(prop)
    at: Loc = ("physicalType",)
    base = _base_type(prop) if found is None else None
    if base is not None:  # a domain type resolved through the base type the contract gives
        found = physical_glue(base[0], dialect)
        if found is not None:
            consumed.append(base[1])
            at = base[1]
    from_physical = found.glue if found is not None else None
    nested = _nested(prop, logical, from_physical, depth, dialect)
    if nested is not None:
        consumed += nested.consumed
        complex_physical = from_physical is not None and split_glue(from_physical)[0] in (
            "array",
            "map",
            "struct",
        )
        if complex_physical and from_physical != nested.type:
            raise TypeMappingError(
                ("physicalType",),
                f"physicalType {from_physical!r} does not match the nested definitions of "
                f"the property ({nested.type!r}): fix one of the two",
            )
        if from_physical is None or complex_physical:
            return Mapped(nested.type, consumed, nested.notes)
    if found is not None:
        notes = [(at, n) for n in found.notes]
        bare = re.sub(r"\s*[(\[].*$", "", TT.words(physical)) in TT.DECIMAL_NAMES
        if bare and "(" not in physical and precision is not None:
            # a bare `decimal` with precision and scale beside it (datacontract-cli)
            return _decimal(precision, scale, consumed)
        if bare and logical == "integer" and TT.NOTE_UNBOUNDED in found.notes:
            return Mapped("decimal(38,0)", consumed, [(at, TT.NOTE_UNBOUNDED_INTEGER)])
        return Mapped(found.glue, consumed, notes)
    words = TT.words(physical) if isinstance(physical, str) else ""
    unknown = bool(words) and not _bare_complex(words)
    if unknown and logical in ("object", None):
        # a domain or user-defined type (PostgreSQL `Name`, `Phone`) the contract does not
        # resolve: its values are held as their text
        note = (
            f"physicalType {physical[:60]!r} is not a type the type table knows (a domain or "
            "user-defined type?): held as its text; give its base type as the custom property "
            "baseType to type it"
        )
        return Mapped("string", consumed, [(("physicalType",), note)])
    shapeless = not words or _bare_complex(words)  # no physical type, or `array`, `object`
    if shapeless and nested is None and logical in ("object", "array", "map", None):
        # a semi-structured value whose shape the contract does not declare (JSON, VARIANT,
        # an untyped field): its values are held as their text
        note = TT.NOTE_UNTYPED if logical is None and not words else TT.NOTE_JSON
        return Mapped(
            "string", consumed, [((("physicalType",) if words else ("logicalType",)), note)]
        )
    glue, notes = _logical(prop, logical, logical_raw, precision, scale, dialect)
    if glue.startswith("decimal(") and precision is not None:
        return _decimal(precision, scale, consumed)
    return Mapped(glue, consumed, [(("logicalType",), n) for n in notes])


def _decimal(precision: int, scale: int | None, consumed: list[Loc]) -> Mapped:
    try:
        found = TT.decimal(precision, scale or 0)
    except TT.TypeTableError as exc:
        raise TypeMappingError(("customProperties",), str(exc)) from None
    return Mapped(found.glue, consumed, [(("customProperties",), n) for n in found.notes])


def _logical(
    prop: dict, logical: str, raw: str, precision: int | None, scale: int | None, dialect
) -> tuple[str, list[str]]:
    """The Glue type of a logical type (with its options) and the notes of what changes."""
    options = prop.get("logicalTypeOptions") or {}
    fmt = options.get("format")
    fmt = fmt.strip().lower() if isinstance(fmt, str) else None
    if logical == "string":
        return ("binary" if fmt == "binary" else "string"), []
    if logical == "integer":
        if fmt is None:
            return DEFAULT_INTEGER, []
        if fmt in _INTEGER_FORMATS:
            return _INTEGER_FORMATS[fmt], []
        if fmt in ("i128", "u128"):
            return "decimal(38,0)", [TT.NOTE_128]
        raise TypeMappingError(
            ("logicalTypeOptions", "format"),
            f"unknown integer format {fmt!r}: expected one of {', '.join(_INTEGER_FORMATS)}",
        )
    if logical == "number":
        if precision is not None:
            return "decimal(10,0)", []  # the caller applies precision and scale
        if fmt is None:
            return DEFAULT_NUMBER, []
        if fmt in _NUMBER_FORMATS:
            return _NUMBER_FORMATS[fmt], []
        raise TypeMappingError(
            ("logicalTypeOptions", "format"),
            f"unknown number format {fmt!r}: expected f32 or f64 (or precision and scale)",
        )
    if logical in ("boolean", "date", "timestamp"):
        return logical, []
    if logical == "time":
        return TT.TIME_TYPE, [TT.NOTE_TIME]
    if logical in ("array", "object", "map", "vector"):
        what = {
            "array": "items (the element type)",
            "object": "properties (Glue struct fields)",
            "map": "map.key and map.value",
            "vector": "logicalTypeOptions.elementType",
        }[logical]
        raise TypeMappingError(
            ("logicalType",), f"logicalType {logical} needs {what} to become a Glue type"
        )
    # not a logical type of the standard: a Glue or SQL type name written as one?
    try:
        found = physical_glue(raw, dialect)
    except TypeMappingError as exc:
        raise TypeMappingError(("logicalType",), exc.message.replace("physicalType", "logicalType"))
    if found is not None:
        return found.glue, found.notes
    raise TypeMappingError(
        ("logicalType",),
        f"unknown logicalType {raw[:60]!r}: expected one of {', '.join(LOGICAL_TYPES)}",
    )


def _nested(
    prop: dict, logical: str | None, physical: str | None, depth: int, dialect: str | None
) -> Mapped | None:
    """The Glue type built from `items`, `properties` or `map`, when the property is complex
    and has them; None otherwise (a flat property, or a complex physicalType alone)."""
    kind = split_glue(physical)[0] if physical else None
    if logical == "vector" and physical is None:
        options = prop.get("logicalTypeOptions") or {}
        element = str(options.get("elementType") or "float32").lower()
        if element not in _VECTOR_ELEMENTS:
            raise TypeMappingError(
                ("logicalTypeOptions", "elementType"),
                f"vector elementType {element!r} cannot be held by a Glue column (no "
                f"half-precision or bit types); expected one of {', '.join(_VECTOR_ELEMENTS)}",
            )
        return Mapped(f"array<{_VECTOR_ELEMENTS[element]}>")
    if (logical == "array" or kind == "array") and isinstance(prop.get("items"), dict):
        inner = _inner(prop["items"], ("items",), depth, dialect)
        return Mapped(f"array<{inner.type}>", inner.consumed, inner.notes)
    if (logical == "map" or kind == "map") and isinstance(prop.get("map"), dict):
        definition = prop["map"]
        if not isinstance(definition.get("key"), dict) or not isinstance(
            definition.get("value"), dict
        ):
            raise TypeMappingError(("map",), "a map needs map.key and map.value")
        key = _inner(definition["key"], ("map", "key"), depth, dialect)
        if key.type not in PRIMITIVES:
            raise TypeMappingError(
                ("map", "key"),
                f"map keys must be a primitive Glue type, got {key.type!r} (Glue/Hive maps "
                "have primitive keys)",
            )
        value = _inner(definition["value"], ("map", "value"), depth, dialect)
        return Mapped(
            f"map<{key.type},{value.type}>",
            key.consumed + value.consumed,
            key.notes + value.notes,
        )
    if (logical == "object" or kind == "struct") and prop.get("properties"):
        fields, seen, consumed, notes = [], set(), [], []
        for i, child in enumerate(prop["properties"]):
            name = nested_name(child)
            if name is None or not _FIELD.match(name):
                raise TypeMappingError(
                    ("properties", i, "name"),
                    f"struct field name {name!r} is not valid in Glue: expected lower-case "
                    "letters, digits and _",
                )
            if name in seen:
                raise TypeMappingError(
                    ("properties", i, "name"), f"struct field {name!r} is defined twice"
                )
            seen.add(name)
            inner = _inner(child, ("properties", i), depth, dialect)
            fields.append(f"{name}:{inner.type}")
            consumed += inner.consumed
            notes += inner.notes
        return Mapped(f"struct<{','.join(fields)}>", consumed, notes)
    return None


def _inner(prop: dict, at: Loc, depth: int, dialect: str | None) -> Mapped:
    try:
        mapped = glue_type(prop, depth + 1, dialect)
    except TypeMappingError as exc:
        raise TypeMappingError(at + exc.loc, exc.message) from None
    return Mapped(
        mapped.type,
        [at + loc for loc in mapped.consumed],
        [(at + loc, note) for loc, note in mapped.notes],
    )


def check_glue(glue: str, loc: Loc) -> str:
    """`glue` normalised, or a TypeMappingError at `loc` (a type too long or too deep)."""
    try:
        return normalize_glue_type(glue)
    except GlueTypeError as exc:
        raise TypeMappingError(loc, str(exc)) from None
