"""The Glue column type parser: canonical spellings, precise errors, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.model.gluetypes import MAX_DEPTH, PRIMITIVES, GlueTypeError, normalize_glue_type


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("string", "string"),
        ("STRING", "string"),
        ("  bigint ", "bigint"),
        ("integer", "int"),
        ("INTEGER", "int"),
        ("Timestamp", "timestamp"),
        ("decimal", "decimal(10,0)"),
        ("decimal(5)", "decimal(5,0)"),
        ("DECIMAL( 12 , 2 )", "decimal(12,2)"),
        ("decimal(38,38)", "decimal(38,38)"),
        ("decimal(1,0)", "decimal(1,0)"),
        ("varchar(1)", "varchar(1)"),
        ("VARCHAR ( 65535 )", "varchar(65535)"),
        ("char(255)", "char(255)"),
        ("array<string>", "array<string>"),
        ("ARRAY < INTEGER >", "array<int>"),
        ("array<array<decimal(4,1)>>", "array<array<decimal(4,1)>>"),
        ("map<string,int>", "map<string,int>"),
        ("map< integer , array<string> >", "map<int,array<string>>"),
        ("struct<a:int>", "struct<a:int>"),
        ("STRUCT< Sku : STRING , Qty : INTEGER >", "struct<sku:string,qty:int>"),
        ("struct<_a:int,b2:struct<c:date>>", "struct<_a:int,b2:struct<c:date>>"),
        (
            "array<struct<channel:string,seen_at:timestamp>>",
            "array<struct<channel:string,seen_at:timestamp>>",
        ),
        (
            "struct<line:map<string,array<decimal(10,2)>>>",
            "struct<line:map<string,array<decimal(10,2)>>>",
        ),
        ("string\n", "string"),
        (
            "array<" * MAX_DEPTH + "int" + ">" * MAX_DEPTH,
            "array<" * MAX_DEPTH + "int" + ">" * MAX_DEPTH,
        ),
    ],
)
def test_canonical_forms(text, canonical):
    assert normalize_glue_type(text) == canonical
    assert normalize_glue_type(canonical) == canonical  # canonical forms are fixed points


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_every_primitive(name):
    assert normalize_glue_type(name) == ("int" if name == "integer" else name)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "non-empty"),
        ("   ", "non-empty"),
        ("x" * 2049, "longer than 2048"),
        ("strnig", "unknown type 'strnig'"),
        ("varchar", "expected '('"),
        ("varchar(0)", "varchar length must be 1..65535, got 0"),
        ("varchar(65536)", "varchar length must be 1..65535"),
        ("char(256)", "char length must be 1..255"),
        ("decimal(0)", "decimal precision must be 1..38, got 0"),
        ("decimal(39,2)", "decimal precision must be 1..38, got 39"),
        ("decimal(10,11)", "decimal scale must be 0..10, got 11"),
        ("decimal(10,-1)", "expected a number for decimal scale"),
        ("decimal(p,s)", "expected a number for decimal precision"),
        ("decimal(12,2", "expected ')'"),
        ("decimal(12.5)", "expected ')'"),
        ("decimal(²,2)", "expected a number for decimal precision"),  # not a digit for int()
        ("decimal(١٢,2)", "expected a number for decimal precision"),  # not an ASCII digit
        ("array", "unexpected end of type"),
        ("array<>", "unknown type '>'"),
        ("array<int", "unexpected end of type 'array<int', expected '>'"),
        ("array<int>>", "unexpected '>' after 'array<int>'"),
        ("array(int)", "expected '<'"),
        ("map<string>", "expected ','"),
        ("map<array<int>,string>", "map keys must be a primitive type"),
        ("map<decimal(5,2),string>", "map keys must be a primitive type"),
        ("struct<>", "invalid struct field name '>'"),
        ("struct<a>", "expected ':'"),
        ("struct<a int>", "expected ':'"),
        ("struct<1a:int>", "invalid struct field name '1'"),
        ("struct<a:int,A:string>", "struct field 'a' repeats"),
        ("struct<a:int,>", "invalid struct field name '>'"),
        ("string junk", "unexpected 'junk' after 'string'"),
        ("int,", "unexpected ','"),
        ("%%%", "unknown type '%'"),
        ("strıng", "unknown type 'str'"),  # a dotless i is not an i
        ("array<" * (MAX_DEPTH + 1) + "int" + ">" * (MAX_DEPTH + 1), "nests deeper than 16"),
    ],
)
def test_errors_say_what_was_expected(text, message):
    with pytest.raises(GlueTypeError) as info:
        normalize_glue_type(text)
    assert message in str(info.value)


def test_non_string_is_a_type_error_not_a_crash():
    with pytest.raises(GlueTypeError):
        normalize_glue_type(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- properties

_field = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
_primitive = st.sampled_from(sorted(PRIMITIVES))
_decimal = st.tuples(st.integers(1, 38), st.integers(0, 38)).map(
    lambda ps: f"decimal({ps[0]},{min(ps)})"
)
_types = st.recursive(
    _primitive | _decimal | st.integers(1, 65535).map(lambda n: f"varchar({n})"),
    lambda inner: (
        inner.map(lambda t: f"array<{t}>")
        | st.tuples(_primitive, inner).map(lambda kv: f"map<{kv[0]},{kv[1]}>")
        | st.dictionaries(_field, inner, min_size=1, max_size=4).map(
            lambda d: "struct<" + ",".join(f"{k}:{v}" for k, v in d.items()) + ">"
        )
    ),
    max_leaves=12,
)


def _respell(text: str, data: st.DataObject) -> str:
    """The same type with random case and blanks around every token."""
    out = []
    for ch in text:
        if ch in "<>(),:":
            out.append(data.draw(st.sampled_from(["", " ", "  "])) + ch)
            out.append(data.draw(st.sampled_from(["", " ", "\t"])))
        else:
            out.append(ch.upper() if data.draw(st.booleans()) else ch)
    return "".join(out)


@settings(max_examples=200, deadline=None)
@given(_types, st.data())
def test_canonical_form_is_stable_under_case_and_spacing(text, data):
    canonical = normalize_glue_type(text)
    assert " " not in canonical
    assert canonical == canonical.lower()
    assert normalize_glue_type(canonical) == canonical
    assert normalize_glue_type(_respell(text, data)) == canonical


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80) | _types.map(lambda t: t[:-1]))
def test_any_text_is_a_type_or_a_glue_type_error(text):
    try:
        result = normalize_glue_type(text)
    except GlueTypeError as exc:
        assert str(exc)
    else:
        assert normalize_glue_type(result) == result
