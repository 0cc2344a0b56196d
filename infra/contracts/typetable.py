"""The type table: every ODCS logical type and the common physical types of PostgreSQL, MySQL,
Snowflake, BigQuery, Spark/Databricks, Trino/Presto, Oracle and SQL Server, to the Glue type
that holds the data without loss.

`resolve(text, dialect)` reads one physicalType (sized forms `varchar(20)`, `varchar[20]`,
`numeric(12,2)`, `timestamp(6) with time zone`; MySQL `int unsigned`; arrays `text[]`,
`array<int64>`, `array(varchar)`; maps `map<k,v>`, `map(k,v)`; structs `struct<a:int>`,
`struct<a int64>`, `row(a integer)`) and returns the Glue type and, when the Glue type does not
hold every value exactly as the source does, a note saying what changes (the import turns each
note into a CW06 warning naming the column). `dialect` comes from the contract's servers
(`dialect_of`): the same word means different things in different databases (a bare `NUMBER`
is `NUMBER(38,0)` in Snowflake and a floating decimal in Oracle).

Decisions (the README's "Data contracts (ODCS)" section states them for users):
- A bare `numeric`/`decimal`/`number` without precision becomes the database's own default
  where it has one (Snowflake, Trino: decimal(38,0); MySQL, Spark, Hive: decimal(10,0);
  SQL Server: decimal(18,0); Redshift: decimal(18,0); BigQuery NUMERIC: decimal(38,9)), and
  `DEFAULT_DECIMAL` = decimal(38,18) where the precision is unbounded (PostgreSQL, Oracle, an
  unknown database), with a note: values over 20 integer or 18 fraction digits do not fit.
- A time of day becomes `TIME_TYPE` = string, holding ISO 8601 text `HH:MM:SS[.fffffffff]`
  (Glue and Athena have no time type; the text sorts and compares like the time).
- An interval becomes string (ISO 8601 duration text, e.g. `P1DT2H`); geospatial values
  string (WKT); semi-structured values without a declared shape (JSON, VARIANT, OBJECT) string
  (JSON text); timestamps with a time zone timestamp (the instant, in UTC; the zone of each
  value is not kept).
- Integers keep their width (`serial`/`int4` -> int, `bigserial` -> bigint); unsigned
  integers take the next signed width (`bigint unsigned` -> decimal(20,0)); Snowflake's
  integer names are NUMBER(38,0) and become bigint with a note.
- `varchar(n)`/`varchar[n]`/`char(n)` keep their length as the Glue type's (up to Glue's
  65,535 and 255; longer becomes string, which holds any length).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFAULT_DECIMAL = "decimal(38,18)"  # a decimal whose precision the source leaves unbounded
TIME_TYPE = "string"  # a time of day, as ISO 8601 text HH:MM:SS[.fffffffff]

NOTE_TIME = "a time of day is held as ISO 8601 text 'HH:MM:SS[.fffffffff]' (Glue has no time type)"
NOTE_TZ = "held as a timestamp (the instant, in UTC): the time zone of each value is not kept"
NOTE_INTERVAL = "an interval is held as ISO 8601 duration text (e.g. 'P1DT2H'): Glue has none"
NOTE_GEO = "a geospatial value is held as WKT text: Glue has no geospatial type"
NOTE_JSON = "a semi-structured value is held as JSON text (declare its fields to get a struct)"
NOTE_UNTYPED = "the contract states no type: its values are held as text"
NOTE_UNBOUNDED = (
    f"a decimal without a stated precision is held as {DEFAULT_DECIMAL}: values with more "
    "than 20 integer or 18 fraction digits do not fit (state numeric(p,s) to be exact)"
)
NOTE_UNBOUNDED_INTEGER = (
    "an integer of unbounded precision is held as decimal(38,0): values over 38 digits do not fit"
)
NOTE_128 = "a 128-bit integer is held as decimal(38,0): values over 38 digits do not fit"
NOTE_SNOWFLAKE_INT = (
    "a Snowflake integer is NUMBER(38,0): held as bigint, values over 19 digits do not fit "
    "(write NUMBER(38,0) to get decimal(38,0))"
)
NOTE_BIGNUMERIC = (
    f"BIGNUMERIC (76 digits) is held as {DEFAULT_DECIMAL}: Glue decimals have 38 digits"
)

_S, _N = "string", None
_TEXT = (
    "text", "varchar", "character varying", "nvarchar", "varchar2", "nvarchar2",
    "string", "clob", "nclob", "tinytext", "mediumtext", "longtext", "ntext",
    "uuid", "uniqueidentifier", "xml", "xmltype", "name", "citext", "enum", "set",
    "inet", "cidr", "macaddr", "macaddr8", "tsvector", "tsquery", "rowid", "urowid",
    "ipaddress", "bit varying", "varbit", "bit", "hierarchyid", "sysname", "bpchar",
    "char", "character", "nchar",
)  # fmt: skip
_BINARY = (
    "binary", "varbinary", "bytea", "bytes", "blob", "tinyblob", "mediumblob",
    "longblob", "raw", "long raw", "image", "hyperloglog",
)  # fmt: skip
_TIMESTAMP = (
    "timestamp", "datetime", "datetime2", "smalldatetime", "timestamp without time zone",
    "timestamp_ntz", "timestamp_ltz", "timestamp with local time zone",
)  # fmt: skip
_GEO = (
    "geography", "geometry", "point", "line", "lseg", "box", "path", "polygon",
    "circle", "linestring", "multipoint", "multilinestring", "multipolygon",
    "geometrycollection", "sdo_geometry",
)  # fmt: skip
# physical type name (lower case, single spaces) -> (Glue type, note); every dialect
PHYSICAL: dict[str, tuple[str, str | None]] = {
    # text
    **dict.fromkeys(_TEXT, (_S, _N)),
    **dict.fromkeys(("json", "jsonb"), (_S, _N)),  # JSON text is what they are
    **dict.fromkeys(("variant", "object", "super", "sql_variant"), (_S, NOTE_JSON)),
    # integers
    **dict.fromkeys(("tinyint", "int1", "byteint", "byte"), ("tinyint", _N)),
    **dict.fromkeys(
        ("smallint", "int2", "smallserial", "serial2", "short", "year"), ("smallint", _N)
    ),
    **dict.fromkeys(("int", "integer", "int4", "serial", "serial4", "mediumint"), ("int", _N)),
    **dict.fromkeys(
        ("bigint", "int8", "bigserial", "serial8", "long integer", "oid"), ("bigint", _N)
    ),
    **dict.fromkeys(("int64", "long"), ("bigint", _N)),
    **dict.fromkeys(("hugeint", "int128", "uint128", "uhugeint"), ("decimal(38,0)", NOTE_128)),
    # exact and floating numbers
    **dict.fromkeys(("numeric", "decimal", "number", "dec"), (DEFAULT_DECIMAL, NOTE_UNBOUNDED)),
    "bignumeric": (DEFAULT_DECIMAL, NOTE_BIGNUMERIC),
    "bigdecimal": (DEFAULT_DECIMAL, NOTE_BIGNUMERIC),
    "money": ("decimal(19,2)", _N),
    "smallmoney": ("decimal(10,4)", _N),
    **dict.fromkeys(("real", "float4", "binary_float"), ("float", _N)),
    **dict.fromkeys(
        ("double", "double precision", "float8", "float64", "binary_double", "float"),
        ("double", _N),
    ),
    # boolean, binary
    **dict.fromkeys(("boolean", "bool"), ("boolean", _N)),
    **dict.fromkeys(_BINARY, ("binary", _N)),
    # dates and times
    "date": ("date", _N),
    **dict.fromkeys(_TIMESTAMP, ("timestamp", _N)),
    **dict.fromkeys(
        ("timestamptz", "timestamp with time zone", "timestamp_tz", "datetimeoffset"),
        ("timestamp", NOTE_TZ),
    ),
    **dict.fromkeys(
        ("time", "time without time zone", "timetz", "time with time zone"),
        (TIME_TYPE, NOTE_TIME),
    ),
    **dict.fromkeys(
        ("interval", "interval year to month", "interval day to second"), (_S, NOTE_INTERVAL)
    ),
    **dict.fromkeys(_GEO, (_S, NOTE_GEO)),
    "hstore": ("map<string,string>", _N),
}

# what a word means in one database when it differs from PHYSICAL
DIALECTS: dict[str, dict[str, tuple[str, str | None]]] = {
    "snowflake": {
        **dict.fromkeys(
            ("number", "decimal", "numeric"), ("decimal(38,0)", _N)
        ),  # NUMBER = NUMBER(38,0)
        **dict.fromkeys(
            ("int", "integer", "bigint", "smallint", "tinyint", "byteint"),
            ("bigint", NOTE_SNOWFLAKE_INT),
        ),
        **dict.fromkeys(("float", "float4", "float8", "real", "double"), ("double", _N)),
        "array": (_S, NOTE_JSON),
        "timestamp": ("timestamp", _N),  # TIMESTAMP_NTZ by default
    },
    "bigquery": {
        **dict.fromkeys(("numeric", "decimal"), ("decimal(38,9)", _N)),
        **dict.fromkeys(("int", "integer", "smallint", "tinyint", "byteint"), ("bigint", _N)),
        "datetime": ("timestamp", _N),
        "timestamp": ("timestamp", _N),  # an instant, as Glue's
        "float": ("double", _N),
    },
    "mysql": {
        **dict.fromkeys(("decimal", "numeric", "dec"), ("decimal(10,0)", _N)),
        "float": ("float", _N),
        "timestamp": ("timestamp", _N),
        "bit": ("binary", _N),
    },
    "spark": {
        **dict.fromkeys(("decimal", "numeric", "dec"), ("decimal(10,0)", _N)),
        "float": ("float", _N),
        "interval": (_S, NOTE_INTERVAL),
    },
    "trino": {
        "decimal": ("decimal(38,0)", _N),
        "real": ("float", _N),
    },
    "sqlserver": {
        **dict.fromkeys(("decimal", "numeric"), ("decimal(18,0)", _N)),
        "float": ("double", _N),
        "timestamp": ("binary", _N),  # SQL Server's rowversion
    },
    "redshift": {
        **dict.fromkeys(("decimal", "numeric"), ("decimal(18,0)", _N)),
    },
    "oracle": {
        "date": ("timestamp", _N),  # an Oracle DATE has a time of day
        "float": ("double", _N),
        "long": (_S, _N),
    },
}
# server types of a contract -> the dialect whose words its physical types use
_SERVER_DIALECT = {
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "mysql": "mysql",
    "postgres": "postgres",
    "postgresql": "postgres",
    "cloudsql": "postgres",
    "redshift": "redshift",
    "databricks": "spark",
    "spark": "spark",
    "hive": "spark",
    "glue": "spark",
    "athena": "trino",
    "trino": "trino",
    "presto": "trino",
    "oracle": "oracle",
    "sqlserver": "sqlserver",
    "synapse": "sqlserver",
}

_INT_WIDTH = {"tinyint": "smallint", "smallint": "int", "int": "bigint", "bigint": "decimal(20,0)"}
_LENGTHED = {
    "varchar": "varchar", "character varying": "varchar", "nvarchar": "varchar",
    "varchar2": "varchar", "nvarchar2": "varchar", "string": "varchar", "text": "varchar",
    "char": "char", "character": "char", "nchar": "char", "bpchar": "char",
}  # fmt: skip
DECIMAL_NAMES = ("numeric", "decimal", "number", "dec", "bignumeric", "bigdecimal")
_SIZED = re.compile(r"^([a-z][a-z0-9_ ]*?)\s*[(\[]\s*(\d+|\*|max)\s*(?:,\s*(-?\d+)\s*)?[)\]](.*)$")
_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")


class TypeTableError(ValueError):
    """A physical type whose shape is wrong (a decimal of scale > precision, a map without a
    value type); the message says what was expected."""


@dataclass
class Resolved:
    glue: str
    notes: list[str] = field(default_factory=list)


def dialect_of(server_types: list[str]) -> str | None:
    """The dialect of a contract: the first server type that names a database we know."""
    for kind in server_types:
        found = _SERVER_DIALECT.get(str(kind).strip().lower())
        if found:
            return found
    return None


def words(text: str) -> str:
    return " ".join(text.strip().lower().split())


def resolve(text: str, dialect: str | None = None, depth: int = 0) -> Resolved | None:
    """The Glue type of a physical type, or None when the table does not know the name."""
    if depth > 16:
        raise TypeTableError("the type nests deeper than 16 levels (Glue's limit here)")
    t = words(text)
    if not t:
        return None
    nested = _complex(t, dialect, depth)
    if nested is not None:
        return nested
    for suffix in (" zerofill", " signed", " not null"):
        t = t.removesuffix(suffix)
    unsigned = t.endswith(" unsigned")
    t = t.removesuffix(" unsigned")
    sized = _SIZED.match(t)
    if sized is not None:
        out = _sized(sized, dialect)
    else:
        out = _named(t, dialect)
    if out is not None and unsigned:
        wider = _INT_WIDTH.get(out.glue)
        if wider is not None:
            out = Resolved(wider, out.notes)
    return out


def _named(t: str, dialect: str | None) -> Resolved | None:
    found = DIALECTS.get(dialect or "", {}).get(t) or PHYSICAL.get(t)
    if found is None:
        return None
    glue, note = found
    return Resolved(glue, [note] if note else [])


def _sized(m: re.Match, dialect: str | None) -> Resolved | None:
    name, size, scale, rest = m.group(1), m.group(2), m.group(3), m.group(4).strip()
    if rest:
        # `timestamp(6) with time zone`, `time(3) without time zone`: the precision is kept
        # by Glue's timestamp (to the microsecond) or by the text of a time
        return _named(f"{name} {rest}", dialect)
    if name in DECIMAL_NAMES and size.isdigit():
        return decimal(int(size), int(scale or 0))
    if name in ("float",) and size.isdigit() and scale is None:
        return Resolved("float" if int(size) <= 24 else "double")
    if name in _LENGTHED:
        if not size.isdigit():  # varchar(max)
            return Resolved("string")
        n = int(size)
        if _LENGTHED[name] == "varchar":
            return Resolved(f"varchar({n})" if 1 <= n <= 65535 else "string")
        return Resolved(f"char({n})" if 1 <= n <= 255 else "string")
    if name == "vector" and dialect == "snowflake":
        return None  # VECTOR(FLOAT, 256): the element type is a word, not read here
    # `timestamp(6)`, `datetime2(7)`, `int(11)` (a display width), `binary(16)`, `bit(8)`,
    # `time(3)`: the size is a precision or width that the base type already holds
    return _named(name, dialect)


def decimal(precision: int, scale: int) -> Resolved:
    if scale < 0 or scale > precision or precision < 1:
        raise TypeTableError(
            f"decimal({precision},{scale}) is not a decimal: expected a precision of at least "
            "1 and a scale between 0 and the precision"
        )
    if precision <= 38:
        return Resolved(f"decimal({precision},{scale})")
    kept = min(scale, 37)
    return Resolved(
        f"decimal(38,{kept})",
        [
            (
                f"decimal({precision},{scale}) is held as decimal(38,{kept}): Glue decimals "
                "have at most 38 digits; larger values do not fit"
            )
        ],
    )


def _split_top(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<([":
            depth += 1
        elif ch in ">)]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _inner(text: str, open_: str, close: str, t: str, head: str) -> str | None:
    if t.startswith(head + open_) and t.endswith(close):
        return t[len(head) + 1 : -1].strip()
    return None


def _complex(t: str, dialect: str | None, depth: int) -> Resolved | None:
    """array<T>, array(T), T[], map<K,V>, map(K,V), struct<a:T>, struct<a T>, row(a T)."""
    m = re.fullmatch(r"(.+?)\s*\[\s*(\d*)\s*\]", t)
    if m is not None:
        base, size = m.group(1), m.group(2)
        if size and base in _LENGTHED:
            return None  # varchar[15]: a length, read as varchar(15)
        return _wrap("array<{}>", [_element(base, dialect, depth)])
    for open_, close in (("<", ">"), ("(", ")")):
        inner = _inner(t, open_, close, t, "array")
        if inner is not None:
            return _wrap("array<{}>", [_element(inner, dialect, depth)])
        inner = _inner(t, open_, close, t, "map")
        if inner is not None:
            parts = _split_top(inner)
            if len(parts) != 2:
                raise TypeTableError(f"{t!r}: a map has a key type and a value type")
            key, value = (_element(p, dialect, depth) for p in parts)
            return _wrap("map<{},{}>", [key, value])
        for head in ("struct", "row", "record"):
            inner = _inner(t, open_, close, t, head)
            if inner is not None:
                return _struct(inner, dialect, depth)
    return None


def _element(text: str, dialect: str | None, depth: int) -> Resolved:
    found = resolve(text, dialect, depth + 1)
    if found is None:
        raise TypeTableError(f"{text[:60]!r} is not a type the type table knows")
    return found


def _wrap(pattern: str, parts: list[Resolved]) -> Resolved:
    return Resolved(pattern.format(*(p.glue for p in parts)), [n for p in parts for n in p.notes])


def _struct(inner: str, dialect: str | None, depth: int) -> Resolved:
    fields, notes = [], []
    for part in _split_top(inner):
        m = re.fullmatch(r'"?([a-z_][a-z0-9_]*)"?\s*:?\s*(.+)', part)
        if m is None or not _FIELD.match(m.group(1)):
            raise TypeTableError(f"struct field {part[:60]!r}: expected NAME TYPE or NAME:TYPE")
        found = _element(m.group(2), dialect, depth)
        fields.append(f"{m.group(1)}:{found.glue}")
        notes += found.notes
    return Resolved(f"struct<{','.join(fields)}>", notes)
