"""The type table of `mesh contract import` (infra/contracts/typetable.py): one case per source
type, each with the Glue type that holds it and whether the mapping changes anything (CW06)."""

from __future__ import annotations

import pytest

from infra.contracts import types as T
from infra.contracts import typetable as TT

EXACT, NOTE = False, True

# (dialect, physicalType, Glue type, lossy): written out here, not read from the table
PHYSICAL_CASES = [
    # PostgreSQL
    ("postgres", "smallint", "smallint", EXACT),
    ("postgres", "int2", "smallint", EXACT),
    ("postgres", "integer", "int", EXACT),
    ("postgres", "int4", "int", EXACT),
    ("postgres", "bigint", "bigint", EXACT),
    ("postgres", "int8", "bigint", EXACT),
    ("postgres", "smallserial", "smallint", EXACT),
    ("postgres", "serial", "int", EXACT),
    ("postgres", "bigserial", "bigint", EXACT),
    ("postgres", "real", "float", EXACT),
    ("postgres", "double precision", "double", EXACT),
    ("postgres", "numeric", "decimal(38,18)", NOTE),
    ("postgres", "numeric(12,2)", "decimal(12,2)", EXACT),
    ("postgres", "decimal(5)", "decimal(5,0)", EXACT),
    ("postgres", "numeric(50,10)", "decimal(38,10)", NOTE),
    ("postgres", "money", "decimal(19,2)", EXACT),
    ("postgres", "text", "string", EXACT),
    ("postgres", "varchar", "string", EXACT),
    ("postgres", "varchar(40)", "varchar(40)", EXACT),
    ("postgres", "varchar[15]", "varchar(15)", EXACT),
    ("postgres", "character varying(80)", "varchar(80)", EXACT),
    ("postgres", "varchar[2147483647]", "string", EXACT),
    ("postgres", "char(3)", "char(3)", EXACT),
    ("postgres", "bpchar", "string", EXACT),
    ("postgres", "uuid", "string", EXACT),
    ("postgres", "json", "string", EXACT),
    ("postgres", "jsonb", "string", EXACT),
    ("postgres", "xml", "string", EXACT),
    ("postgres", "bytea", "binary", EXACT),
    ("postgres", "boolean", "boolean", EXACT),
    ("postgres", "date", "date", EXACT),
    ("postgres", "timestamp", "timestamp", EXACT),
    ("postgres", "timestamp(6) without time zone", "timestamp", EXACT),
    ("postgres", "timestamptz", "timestamp", NOTE),
    ("postgres", "timestamp with time zone", "timestamp", NOTE),
    ("postgres", "time", "string", NOTE),
    ("postgres", "time(3) with time zone", "string", NOTE),
    ("postgres", "interval", "string", NOTE),
    ("postgres", "inet", "string", EXACT),
    ("postgres", "hstore", "map<string,string>", EXACT),
    ("postgres", "int[]", "array<int>", EXACT),
    ("postgres", "text[]", "array<string>", EXACT),
    ("postgres", "geometry", "string", NOTE),
    # MySQL
    ("mysql", "tinyint", "tinyint", EXACT),
    ("mysql", "tinyint unsigned", "smallint", EXACT),
    ("mysql", "smallint unsigned", "int", EXACT),
    ("mysql", "mediumint", "int", EXACT),
    ("mysql", "int(11)", "int", EXACT),
    ("mysql", "int unsigned", "bigint", EXACT),
    ("mysql", "bigint unsigned", "decimal(20,0)", EXACT),
    ("mysql", "decimal", "decimal(10,0)", EXACT),
    ("mysql", "decimal(10,2)", "decimal(10,2)", EXACT),
    ("mysql", "float", "float", EXACT),
    ("mysql", "double", "double", EXACT),
    ("mysql", "bit(1)", "binary", EXACT),
    ("mysql", "year", "smallint", EXACT),
    ("mysql", "datetime", "timestamp", EXACT),
    ("mysql", "time", "string", NOTE),
    ("mysql", "varchar(255)", "varchar(255)", EXACT),
    ("mysql", "longtext", "string", EXACT),
    ("mysql", "longblob", "binary", EXACT),
    ("mysql", "enum", "string", EXACT),
    ("mysql", "json", "string", EXACT),
    # Snowflake
    ("snowflake", "NUMBER", "decimal(38,0)", EXACT),
    ("snowflake", "NUMBER(38,0)", "decimal(38,0)", EXACT),
    ("snowflake", "NUMBER(10,2)", "decimal(10,2)", EXACT),
    ("snowflake", "INTEGER", "bigint", NOTE),
    ("snowflake", "FLOAT", "double", EXACT),
    ("snowflake", "VARCHAR(16777216)", "string", EXACT),
    ("snowflake", "VARCHAR(100)", "varchar(100)", EXACT),
    ("snowflake", "TEXT", "string", EXACT),
    ("snowflake", "BINARY", "binary", EXACT),
    ("snowflake", "BOOLEAN", "boolean", EXACT),
    ("snowflake", "DATE", "date", EXACT),
    ("snowflake", "TIMESTAMP_NTZ(9)", "timestamp", EXACT),
    ("snowflake", "TIMESTAMP_LTZ", "timestamp", EXACT),
    ("snowflake", "TIMESTAMP_TZ", "timestamp", NOTE),
    ("snowflake", "TIME", "string", NOTE),
    ("snowflake", "VARIANT", "string", NOTE),
    ("snowflake", "GEOGRAPHY", "string", NOTE),
    # BigQuery
    ("bigquery", "INT64", "bigint", EXACT),
    ("bigquery", "INTEGER", "bigint", EXACT),
    ("bigquery", "FLOAT64", "double", EXACT),
    ("bigquery", "NUMERIC", "decimal(38,9)", EXACT),
    ("bigquery", "NUMERIC(10,2)", "decimal(10,2)", EXACT),
    ("bigquery", "BIGNUMERIC", "decimal(38,18)", NOTE),
    ("bigquery", "BOOL", "boolean", EXACT),
    ("bigquery", "STRING", "string", EXACT),
    ("bigquery", "STRING(10)", "varchar(10)", EXACT),
    ("bigquery", "BYTES", "binary", EXACT),
    ("bigquery", "DATE", "date", EXACT),
    ("bigquery", "DATETIME", "timestamp", EXACT),
    ("bigquery", "TIMESTAMP", "timestamp", EXACT),
    ("bigquery", "TIME", "string", NOTE),
    ("bigquery", "GEOGRAPHY", "string", NOTE),
    ("bigquery", "JSON", "string", EXACT),
    ("bigquery", "INTERVAL", "string", NOTE),
    ("bigquery", "ARRAY<INT64>", "array<bigint>", EXACT),
    ("bigquery", "STRUCT<name STRING, age INT64>", "struct<name:string,age:bigint>", EXACT),
    # Spark / Databricks
    ("spark", "byte", "tinyint", EXACT),
    ("spark", "short", "smallint", EXACT),
    ("spark", "long", "bigint", EXACT),
    ("spark", "float", "float", EXACT),
    ("spark", "decimal", "decimal(10,0)", EXACT),
    ("spark", "decimal(18,4)", "decimal(18,4)", EXACT),
    ("spark", "string", "string", EXACT),
    ("spark", "timestamp_ntz", "timestamp", EXACT),
    ("spark", "interval", "string", NOTE),
    ("spark", "array<string>", "array<string>", EXACT),
    ("spark", "map<string,int>", "map<string,int>", EXACT),
    ("spark", "struct<a:int,b:string>", "struct<a:int,b:string>", EXACT),
    ("spark", "variant", "string", NOTE),
    # Trino / Presto
    ("trino", "integer", "int", EXACT),
    ("trino", "real", "float", EXACT),
    ("trino", "decimal", "decimal(38,0)", EXACT),
    ("trino", "varchar", "string", EXACT),
    ("trino", "varbinary", "binary", EXACT),
    ("trino", "timestamp(3)", "timestamp", EXACT),
    ("trino", "timestamp(3) with time zone", "timestamp", NOTE),
    ("trino", "time", "string", NOTE),
    ("trino", "interval day to second", "string", NOTE),
    ("trino", "array(varchar)", "array<string>", EXACT),
    ("trino", "map(varchar, bigint)", "map<string,bigint>", EXACT),
    ("trino", "row(x integer, y double)", "struct<x:int,y:double>", EXACT),
    ("trino", "uuid", "string", EXACT),
    ("trino", "ipaddress", "string", EXACT),
    # Oracle
    ("oracle", "NUMBER", "decimal(38,18)", NOTE),
    ("oracle", "NUMBER(9)", "decimal(9,0)", EXACT),
    ("oracle", "VARCHAR2(120)", "varchar(120)", EXACT),
    ("oracle", "NVARCHAR2(50)", "varchar(50)", EXACT),
    ("oracle", "DATE", "timestamp", EXACT),
    ("oracle", "BINARY_FLOAT", "float", EXACT),
    ("oracle", "BINARY_DOUBLE", "double", EXACT),
    ("oracle", "FLOAT(126)", "double", EXACT),
    ("oracle", "RAW", "binary", EXACT),
    ("oracle", "LONG", "string", EXACT),
    ("oracle", "CLOB", "string", EXACT),
    ("oracle", "NCLOB", "string", EXACT),
    ("oracle", "ROWID", "string", EXACT),
    ("oracle", "INTERVAL YEAR(2) TO MONTH", "string", NOTE),
    ("oracle", "TIMESTAMP(6) WITH LOCAL TIME ZONE", "timestamp", EXACT),
    # SQL Server
    ("sqlserver", "decimal", "decimal(18,0)", EXACT),
    ("sqlserver", "nvarchar(max)", "string", EXACT),
    ("sqlserver", "datetime2(7)", "timestamp", EXACT),
    ("sqlserver", "datetimeoffset", "timestamp", NOTE),
    ("sqlserver", "uniqueidentifier", "string", EXACT),
    ("sqlserver", "smallmoney", "decimal(10,4)", EXACT),
    # a contract that names no database: Glue's own spellings first
    (None, "decimal", "decimal(10,0)", EXACT),
    (None, "float", "float", EXACT),
    (None, "numeric", "decimal(38,18)", NOTE),
    (None, "hugeint", "decimal(38,0)", NOTE),
]


@pytest.mark.parametrize(
    "dialect, physical, glue, lossy",
    PHYSICAL_CASES,
    ids=[f"{d or 'any'}:{p}" for d, p, _g, _l in PHYSICAL_CASES],
)
def test_physical_type(dialect, physical, glue, lossy):
    mapped = T.glue_type({"physicalType": physical}, dialect=dialect)
    assert mapped.type == glue
    assert bool(mapped.notes) is lossy, mapped.notes
    if lossy:
        assert mapped.notes[0][0] == ("physicalType",)


LOGICAL_CASES = [
    ({"logicalType": "string"}, "string", EXACT),
    ({"logicalType": "string", "logicalTypeOptions": {"format": "binary"}}, "binary", EXACT),
    ({"logicalType": "date"}, "date", EXACT),
    ({"logicalType": "timestamp"}, "timestamp", EXACT),
    ({"logicalType": "time"}, "string", NOTE),
    ({"logicalType": "number"}, "double", EXACT),
    ({"logicalType": "number", "logicalTypeOptions": {"format": "f32"}}, "float", EXACT),
    ({"logicalType": "integer"}, "bigint", EXACT),
    ({"logicalType": "integer", "logicalTypeOptions": {"format": "i32"}}, "int", EXACT),
    ({"logicalType": "integer", "logicalTypeOptions": {"format": "u128"}}, "decimal(38,0)", NOTE),
    (
        {"logicalType": "object", "properties": [{"name": "a", "logicalType": "date"}]},
        "struct<a:date>",
        EXACT,
    ),
    ({"logicalType": "array", "items": {"logicalType": "boolean"}}, "array<boolean>", EXACT),
    ({"logicalType": "boolean"}, "boolean", EXACT),
    (
        {
            "logicalType": "map",
            "map": {"key": {"logicalType": "string"}, "value": {"logicalType": "integer"}},
        },
        "map<string,bigint>",
        EXACT,
    ),
    (
        {"logicalType": "vector", "logicalTypeOptions": {"elementType": "float64"}},
        "array<double>",
        EXACT,
    ),
]


@pytest.mark.parametrize(
    "prop, glue, lossy",
    LOGICAL_CASES,
    ids=[c[0]["logicalType"] + str(i) for i, c in enumerate(LOGICAL_CASES)],
)
def test_every_odcs_logical_type(prop, glue, lossy):
    mapped = T.glue_type(prop)
    assert mapped.type == glue
    assert bool(mapped.notes) is lossy


@pytest.mark.parametrize(
    "prop",
    [{}, {"logicalType": "object"}, {"logicalType": "array"}, {"logicalType": "map"}],
    ids=["no-type", "object-without-properties", "array-without-items", "map-without-sides"],
)
def test_a_value_without_a_declared_shape_is_held_as_text_with_a_note(prop):
    mapped = T.glue_type(prop)
    assert mapped.type == "string"
    [(loc, note)] = mapped.notes
    assert loc == ("logicalType",) and "text" in note


def test_every_logical_type_of_the_standard_has_a_case():
    assert {c[0]["logicalType"] for c in LOGICAL_CASES} == set(T.LOGICAL_TYPES)


def test_a_domain_type_is_resolved_through_the_base_type_the_contract_gives():
    prop = {
        "logicalType": "object",
        "physicalType": "Phone",
        "customProperties": [{"property": "baseType", "value": "varchar(25)"}],
    }
    mapped = T.glue_type(prop, dialect="postgres")
    assert (mapped.type, mapped.notes) == ("varchar(25)", [])
    assert mapped.consumed == [("customProperties", 0)]


def test_a_domain_type_without_its_base_type_is_held_as_text_with_a_note():
    mapped = T.glue_type({"logicalType": "object", "physicalType": "Phone"}, dialect="postgres")
    assert mapped.type == "string"
    [(loc, note)] = mapped.notes
    assert loc == ("physicalType",) and "'Phone'" in note and "baseType" in note


def test_a_nested_lossy_type_is_noted_at_its_path():
    prop = {
        "logicalType": "object",
        "properties": [
            {"name": "at", "physicalType": "time"},
            {"name": "n", "physicalType": "int4"},
        ],
    }
    mapped = T.glue_type(prop, dialect="postgres")
    assert mapped.type == "struct<at:string,n:int>"
    assert [loc for loc, _note in mapped.notes] == [("properties", 0, "physicalType")]


def test_the_dialect_comes_from_the_contracts_servers():
    assert TT.dialect_of(["s3", "snowflake", "postgres"]) == "snowflake"
    assert TT.dialect_of(["postgresql"]) == "postgres"
    assert TT.dialect_of(["databricks"]) == "spark"
    assert TT.dialect_of(["kafka", "local"]) is None
