"""Glue column types <-> ODCS v3 logical and physical types.

Export (`odcs_type`): every Glue type has one ODCS rendering: `logicalType`, the Glue type as
`physicalType` (normalised, as `infra.model.gluetypes` spells it), `logicalTypeOptions` where the
standard has a word for the detail (string length, integer and float width), and the element
types of `array`, `map` and `struct` as `items`, `map.key`/`map.value` and `properties`.

Import (`glue_type`): a property's `physicalType` decides when it is a Glue type, or a common
SQL spelling of one (`PHYSICAL_ALIASES`: `VARCHAR2(20)`, `NUMERIC(10,2)`, `TIMESTAMPTZ`, ...);
otherwise the `logicalType` (with `logicalTypeOptions`, and `precision`/`scale` custom properties
as datacontract-cli writes them) does. A type Glue cannot hold (a time of day, an interval, a
geometry, a 128-bit integer, a vector of half floats, ...) is a `TypeMappingError` naming the
property's path and what would work instead. Pure functions: no ODCS import, plain dicts in.
The README's "Data contracts (ODCS)" table is this module in prose.

Why one module (~500 lines): the two directions of one mapping; a type added on one side must
be added on the other, and the round-trip tests read it as one table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

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

# SQL spellings of Glue types (lower case, single spaces; `(n)`/`(p,s)` handled below)
PHYSICAL_ALIASES = {
    "text": "string",
    "varchar": "string",
    "nvarchar": "string",
    "character varying": "string",
    "clob": "string",
    "uuid": "string",
    "json": "string",
    "jsonb": "string",
    "xml": "string",
    "int1": "tinyint",
    "byte": "tinyint",
    "int2": "smallint",
    "int16": "smallint",
    "short": "smallint",
    "int4": "int",
    "int32": "int",
    "mediumint": "int",
    "int8": "bigint",
    "int64": "bigint",
    "long": "bigint",
    "real": "float",
    "float4": "float",
    "float32": "float",
    "float8": "double",
    "float64": "double",
    "double precision": "double",
    "bool": "boolean",
    "datetime": "timestamp",
    "datetime2": "timestamp",
    "smalldatetime": "timestamp",
    "timestamp_ntz": "timestamp",
    "timestamp_ltz": "timestamp",
    "timestamp_tz": "timestamp",
    "timestamptz": "timestamp",
    "timestamp with time zone": "timestamp",
    "timestamp without time zone": "timestamp",
    "bytea": "binary",
    "bytes": "binary",
    "varbinary": "binary",
    "blob": "binary",
    "image": "binary",
}
_SIZED_ALIASES = {  # name(n) -> Glue
    "varchar2": "varchar",
    "nvarchar": "varchar",
    "nvarchar2": "varchar",
    "character varying": "varchar",
    "character": "char",
    "nchar": "char",
    "bpchar": "char",
    "binary": "binary",
    "varbinary": "binary",
    "timestamp": "timestamp",
    "datetime2": "timestamp",
    "timestamptz": "timestamp",
}
_DECIMAL_ALIASES = ("numeric", "number", "dec")
# physical types no Glue column type can hold, with what to write instead
UNHOLDABLE = {
    "time": "Glue has no time-of-day type: store it as string (physicalType: string) or as a "
    "timestamp",
    "timetz": "Glue has no time-of-day type: store it as string (physicalType: string)",
    "time with time zone": "Glue has no time-of-day type: store it as string",
    "time without time zone": "Glue has no time-of-day type: store it as string",
    "interval": "Glue has no interval type: store it as a number of seconds (bigint) or a string",
    "geography": "Glue has no geospatial type: store it as WKT string or WKB binary",
    "geometry": "Glue has no geospatial type: store it as WKT string or WKB binary",
    "hugeint": "Glue's widest integer is decimal(38,0), which cannot hold every 128-bit integer",
    "int128": "Glue's widest integer is decimal(38,0), which cannot hold every 128-bit integer",
    "uint128": "Glue's widest integer is decimal(38,0), which cannot hold every 128-bit integer",
}
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


def _words(text: str) -> str:
    return " ".join(text.strip().lower().split())


def physical_glue(text: str) -> str | None:
    """The Glue type a physicalType names (a Glue type or a `PHYSICAL_ALIASES` spelling), or
    None when it is neither. Raises TypeMappingError for types Glue cannot hold."""
    words = _words(text)
    if not words:
        return None
    base = re.sub(r"\s*\(.*$", "", words)
    if base in UNHOLDABLE or words in UNHOLDABLE:
        raise TypeMappingError(
            ("physicalType",),
            f"physicalType {text[:60]!r} cannot be held by a Glue column: "
            f"{UNHOLDABLE.get(words) or UNHOLDABLE[base]}",
        )
    if base.startswith("interval"):
        raise TypeMappingError(
            ("physicalType",),
            f"physicalType {text[:60]!r} cannot be held by a Glue column: {UNHOLDABLE['interval']}",
        )
    if base in _BARE_COMPLEX:
        return None  # `array`, `struct`, ...: the nested definitions say what is inside
    try:
        return normalize_glue_type(words)
    except GlueTypeError:
        pass
    if words in PHYSICAL_ALIASES:
        return PHYSICAL_ALIASES[words]
    sized = re.fullmatch(r"([a-z0-9_ ]+?)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)", words)
    if sized:
        name, n, scale = sized.group(1), int(sized.group(2)), sized.group(3)
        if name in _DECIMAL_ALIASES:
            return _decimal(n, int(scale or 0), ("physicalType",))
        if scale is None and name in _SIZED_ALIASES:
            target = _SIZED_ALIASES[name]
            if target == "varchar":
                return f"varchar({n})" if 1 <= n <= 65535 else "string"
            if target == "char":
                return f"char({n})" if 1 <= n <= 255 else "string"
            return target  # binary(n), timestamp(precision)
    return None


def _decimal(precision: int, scale: int, loc: Loc) -> str:
    if not 1 <= precision <= 38 or not 0 <= scale <= precision:
        raise TypeMappingError(
            loc,
            f"decimal({precision},{scale}) cannot be held by a Glue column: Glue decimals have "
            "a precision of 1..38 and a scale of 0..precision",
        )
    return f"decimal({precision},{scale})"


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


def glue_type(prop: dict, depth: int = 0) -> Mapped:
    """The Glue type of an ODCS property (a plain dict, the ODCS model's dump)."""
    if depth > 16:
        raise TypeMappingError((), "the type nests deeper than 16 levels (Glue's limit here)")
    logical_raw = prop.get("logicalType")
    logical = _words(logical_raw) if isinstance(logical_raw, str) else None
    physical = prop.get("physicalType")
    from_physical = physical_glue(physical) if isinstance(physical, str) else None
    precision, scale, consumed = _precision_scale(prop)
    nested = _nested(prop, logical, from_physical, depth)
    if nested is not None:
        built, nested_consumed = nested
        consumed += nested_consumed
        complex_physical = from_physical is not None and split_glue(from_physical)[0] in (
            "array",
            "map",
            "struct",
        )
        if complex_physical and from_physical != built:
            raise TypeMappingError(
                ("physicalType",),
                f"physicalType {from_physical!r} does not match the nested definitions of "
                f"the property ({built!r}): fix one of the two",
            )
        if from_physical is None or complex_physical:
            return Mapped(built, consumed)
    if from_physical is not None:
        if from_physical == "decimal(10,0)" and precision is not None and "(" not in physical:
            # a bare `decimal` with precision and scale beside it (datacontract-cli)
            return Mapped(_decimal(precision, scale or 0, ("customProperties",)), consumed)
        return Mapped(from_physical, consumed)
    if logical is None:
        if isinstance(physical, str) and physical.strip():
            raise TypeMappingError(
                ("physicalType",),
                f"physicalType {physical[:60]!r} is not a type Glue knows and the property has "
                "no logicalType: set logicalType (string, integer, number, boolean, date, "
                "timestamp, array, object, map) or a Glue physicalType (e.g. string, bigint, "
                "decimal(12,2))",
            )
        raise TypeMappingError(
            ("logicalType",),
            "the property has no type: set logicalType (string, integer, number, boolean, "
            "date, timestamp, array, object, map) or a Glue physicalType",
        )
    return Mapped(_logical(prop, logical, logical_raw, precision, scale), consumed)


def _logical(prop: dict, logical: str, raw: str, precision: int | None, scale: int | None) -> str:
    options = prop.get("logicalTypeOptions") or {}
    fmt = options.get("format")
    fmt = fmt.strip().lower() if isinstance(fmt, str) else None
    if logical == "string":
        return "binary" if fmt == "binary" else "string"
    if logical == "integer":
        if fmt is None:
            return DEFAULT_INTEGER
        if fmt in _INTEGER_FORMATS:
            return _INTEGER_FORMATS[fmt]
        if fmt in ("i128", "u128"):
            raise TypeMappingError(
                ("logicalTypeOptions", "format"),
                f"integer format {fmt} cannot be held by a Glue column: "
                f"{UNHOLDABLE['int128']} (use decimal(38,0) if the values fit 38 digits)",
            )
        raise TypeMappingError(
            ("logicalTypeOptions", "format"),
            f"unknown integer format {fmt!r}: expected one of {', '.join(_INTEGER_FORMATS)}",
        )
    if logical == "number":
        if precision is not None:
            return _decimal(precision, scale or 0, ("customProperties",))
        if fmt is None:
            return DEFAULT_NUMBER
        if fmt in _NUMBER_FORMATS:
            return _NUMBER_FORMATS[fmt]
        raise TypeMappingError(
            ("logicalTypeOptions", "format"),
            f"unknown number format {fmt!r}: expected f32 or f64 (or precision and scale)",
        )
    if logical in ("boolean", "date", "timestamp"):
        return logical
    if logical == "time":
        raise TypeMappingError(
            ("logicalType",),
            f"logicalType time cannot be held by a Glue column: {UNHOLDABLE['time']}",
        )
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
        glue = physical_glue(raw)
    except TypeMappingError as exc:
        raise TypeMappingError(("logicalType",), exc.message.replace("physicalType", "logicalType"))
    if glue is not None:
        if glue == "decimal(10,0)" and precision is not None:
            return _decimal(precision, scale or 0, ("customProperties",))
        return glue
    raise TypeMappingError(
        ("logicalType",),
        f"unknown logicalType {raw[:60]!r}: expected one of {', '.join(LOGICAL_TYPES)}",
    )


def _nested(
    prop: dict, logical: str | None, physical: str | None, depth: int
) -> tuple[str, list[Loc]] | None:
    """The Glue type built from `items`, `properties` or `map`, when the property is complex
    and has them; None otherwise (a flat property, or a complex physicalType alone)."""
    kind = split_glue(physical)[0] if physical else None
    consumed: list[Loc] = []
    if logical == "vector" and physical is None:
        options = prop.get("logicalTypeOptions") or {}
        element = str(options.get("elementType") or "float32").lower()
        if element not in _VECTOR_ELEMENTS:
            raise TypeMappingError(
                ("logicalTypeOptions", "elementType"),
                f"vector elementType {element!r} cannot be held by a Glue column (no "
                f"half-precision or bit types); expected one of {', '.join(_VECTOR_ELEMENTS)}",
            )
        return f"array<{_VECTOR_ELEMENTS[element]}>", consumed
    if (logical == "array" or kind == "array") and isinstance(prop.get("items"), dict):
        inner = _inner(prop["items"], ("items",), depth)
        return f"array<{inner.type}>", consumed + inner.consumed
    if logical == "array" and physical is None:
        raise TypeMappingError(("items",), "an array needs items (the element type)")
    if (logical == "map" or kind == "map") and isinstance(prop.get("map"), dict):
        definition = prop["map"]
        if not isinstance(definition.get("key"), dict) or not isinstance(
            definition.get("value"), dict
        ):
            raise TypeMappingError(("map",), "a map needs map.key and map.value")
        key = _inner(definition["key"], ("map", "key"), depth)
        if key.type not in PRIMITIVES:
            raise TypeMappingError(
                ("map", "key"),
                f"map keys must be a primitive Glue type, got {key.type!r} (Glue/Hive maps "
                "have primitive keys)",
            )
        value = _inner(definition["value"], ("map", "value"), depth)
        return f"map<{key.type},{value.type}>", consumed + key.consumed + value.consumed
    if logical == "map" and physical is None:
        raise TypeMappingError(("map",), "a map needs map.key and map.value")
    if (logical == "object" or kind == "struct") and prop.get("properties"):
        fields, seen = [], set()
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
            inner = _inner(child, ("properties", i), depth)
            fields.append(f"{name}:{inner.type}")
            consumed += inner.consumed
        return f"struct<{','.join(fields)}>", consumed
    if logical == "object" and physical is None:
        raise TypeMappingError(
            ("properties",),
            "an object needs properties to become a Glue struct (or physicalType: string to "
            "keep it as JSON text)",
        )
    return None


def _inner(prop: dict, at: Loc, depth: int) -> Mapped:
    try:
        mapped = glue_type(prop, depth + 1)
    except TypeMappingError as exc:
        raise TypeMappingError(at + exc.loc, exc.message) from None
    return Mapped(mapped.type, [at + loc for loc in mapped.consumed])


def check_glue(glue: str, loc: Loc) -> str:
    """`glue` normalised, or a TypeMappingError at `loc` (a type too long or too deep)."""
    try:
        return normalize_glue_type(glue)
    except GlueTypeError as exc:
        raise TypeMappingError(loc, str(exc)) from None
