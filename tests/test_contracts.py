"""ODCS v3 data contracts: `mesh contract export` and `mesh contract import` (infra/contracts).

The contracts under tests/fixtures/odcs/ are written for these tests; each covers what real
contracts use (partitioning, quality rules, SLA properties, several servers, PII, nested objects
and arrays, types Glue cannot hold, other tools' layouts). Every import runs the real command
(typer's CliRunner on `infra.cli.app`) on a copy of a blueprint directory.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, ROOT, SINGLE, TODAY
from typer.testing import CliRunner

from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.contracts import export, mapping
from infra.contracts import types as T
from infra.model.spec import GLUE_PARAMETER_MAX, Product, QualityRule
from infra.provision.names import Names
from infra.provision.program import StackSettings, product_args

ODCS = FIXTURES / "odcs"
MESH = ODCS / "mesh"  # a blueprint mesh whose products use every blueprint field
NAMES = Names("mesh")
ACCOUNT = StackSettings().account


def mesh(args: list[str]):
    return CliRunner().invoke(app, args)


def copy_of(directory: Path, tmp_path: Path, name: str = "blueprints") -> Path:
    target = tmp_path / name
    shutil.copytree(directory, target)
    return target


def import_json(contract: Path, into: Path, *extra: str) -> tuple[int, dict]:
    run = mesh(
        ["contract", "import", str(contract), "--into", str(into), "--format", "json", *extra]
    )
    assert "Traceback" not in run.output
    return run.exit_code, json.loads(run.stdout)


def dropped(out: dict) -> list[dict]:
    """The import's own warnings (CW..), not the blueprint's (W001 grant expires soon, ...)."""
    return [w for w in out["warnings"] if w["code"].startswith("CW")]


def codes(problems: list[dict]) -> list[tuple[str, str]]:
    return [(p["code"], p["path"]) for p in problems]


def export_all(directory: Path, out: Path, *extra: str) -> dict[str, dict]:
    run = mesh(["contract", "export", str(directory), "--out", str(out), *extra])
    assert run.exit_code == 0, run.output
    return {p.name.removesuffix(".odcs.yaml"): yaml.safe_load(p.read_text()) for p in out.iterdir()}


def product_of(directory: Path, product_id: str) -> Product:
    result = load_mesh(directory, today=TODAY)
    assert result.errors == []
    return result.mesh.product(product_id)[1]


# ====================================================================== type mapping


@pytest.mark.parametrize(
    "glue, expected",
    [
        ("string", {"logicalType": "string", "physicalType": "string"}),
        (
            "varchar(20)",
            {
                "logicalType": "string",
                "logicalTypeOptions": {"maxLength": 20},
                "physicalType": "varchar(20)",
            },
        ),
        (
            "char(2)",
            {
                "logicalType": "string",
                "logicalTypeOptions": {"maxLength": 2},
                "physicalType": "char(2)",
            },
        ),
        (
            "binary",
            {
                "logicalType": "string",
                "logicalTypeOptions": {"format": "binary"},
                "physicalType": "binary",
            },
        ),
        (
            "tinyint",
            {
                "logicalType": "integer",
                "logicalTypeOptions": {"format": "i8"},
                "physicalType": "tinyint",
            },
        ),
        (
            "smallint",
            {
                "logicalType": "integer",
                "logicalTypeOptions": {"format": "i16"},
                "physicalType": "smallint",
            },
        ),
        (
            "int",
            {
                "logicalType": "integer",
                "logicalTypeOptions": {"format": "i32"},
                "physicalType": "int",
            },
        ),
        (
            "bigint",
            {
                "logicalType": "integer",
                "logicalTypeOptions": {"format": "i64"},
                "physicalType": "bigint",
            },
        ),
        (
            "float",
            {
                "logicalType": "number",
                "logicalTypeOptions": {"format": "f32"},
                "physicalType": "float",
            },
        ),
        (
            "double",
            {
                "logicalType": "number",
                "logicalTypeOptions": {"format": "f64"},
                "physicalType": "double",
            },
        ),
        ("decimal(12,2)", {"logicalType": "number", "physicalType": "decimal(12,2)"}),
        ("boolean", {"logicalType": "boolean", "physicalType": "boolean"}),
        ("date", {"logicalType": "date", "physicalType": "date"}),
        ("timestamp", {"logicalType": "timestamp", "physicalType": "timestamp"}),
        (
            "array<string>",
            {
                "logicalType": "array",
                "physicalType": "array<string>",
                "items": {"logicalType": "string", "physicalType": "string"},
            },
        ),
        (
            "map<string,boolean>",
            {
                "logicalType": "map",
                "physicalType": "map<string,boolean>",
                "map": {
                    "key": {"logicalType": "string", "physicalType": "string"},
                    "value": {"logicalType": "boolean", "physicalType": "boolean"},
                },
            },
        ),
        (
            "struct<sku:string,price:decimal(10,2)>",
            {
                "logicalType": "object",
                "physicalType": "struct<sku:string,price:decimal(10,2)>",
                "properties": [
                    {"name": "sku", "logicalType": "string", "physicalType": "string"},
                    {"name": "price", "logicalType": "number", "physicalType": "decimal(10,2)"},
                ],
            },
        ),
    ],
)
def test_every_glue_type_has_one_odcs_rendering_that_maps_back(glue, expected):
    assert T.odcs_type(glue) == expected
    assert T.glue_type(expected).type == glue


@pytest.mark.parametrize(
    "prop, glue",
    [
        # physicalType decides when it is a Glue type or a SQL spelling of one
        ({"logicalType": "string", "physicalType": "VARCHAR(18)"}, "varchar(18)"),
        ({"logicalType": "string", "physicalType": "varchar2(120)"}, "varchar(120)"),
        ({"logicalType": "string", "physicalType": "TEXT"}, "string"),
        ({"logicalType": "string", "physicalType": "uuid"}, "string"),
        ({"logicalType": "number", "physicalType": "NUMERIC(10,2)"}, "decimal(10,2)"),
        ({"logicalType": "number", "physicalType": "number(38,0)"}, "decimal(38,0)"),
        ({"logicalType": "integer", "physicalType": "INTEGER"}, "int"),
        ({"logicalType": "integer", "physicalType": "int8"}, "bigint"),
        ({"logicalType": "number", "physicalType": "double precision"}, "double"),
        ({"logicalType": "number", "physicalType": "REAL"}, "float"),
        ({"logicalType": "timestamp", "physicalType": "TIMESTAMP WITH TIME ZONE"}, "timestamp"),
        ({"logicalType": "timestamp", "physicalType": "timestamp_ntz"}, "timestamp"),
        ({"logicalType": "timestamp", "physicalType": "datetime2(7)"}, "timestamp"),
        ({"logicalType": "string", "physicalType": "bytea"}, "binary"),
        ({"logicalType": "boolean", "physicalType": "BOOL"}, "boolean"),
        # a physical string holds what the logical type describes (dates in a CSV file)
        ({"logicalType": "date", "physicalType": "string"}, "string"),
        ({"logicalType": "string", "physicalType": "NVARCHAR(MAX)"}, "string"),
        # an integer of unbounded precision (Oracle NUMBER): the widest exact Glue integer
        ({"logicalType": "integer", "physicalType": "NUMBER"}, "decimal(38,0)"),
        # the logical type alone, with its options
        ({"logicalType": "string"}, "string"),
        ({"logicalType": "string", "logicalTypeOptions": {"format": "binary"}}, "binary"),
        ({"logicalType": "integer"}, "bigint"),
        ({"logicalType": "integer", "logicalTypeOptions": {"format": "i16"}}, "smallint"),
        ({"logicalType": "integer", "logicalTypeOptions": {"format": "u32"}}, "bigint"),
        ({"logicalType": "integer", "logicalTypeOptions": {"format": "u64"}}, "decimal(20,0)"),
        ({"logicalType": "number"}, "double"),
        ({"logicalType": "number", "logicalTypeOptions": {"format": "f32"}}, "float"),
        (
            {
                "logicalType": "number",
                "customProperties": [
                    {"property": "precision", "value": 10},
                    {"property": "scale", "value": 2},
                ],
            },
            "decimal(10,2)",
        ),
        (
            {
                "physicalType": "decimal",
                "customProperties": [{"property": "precision", "value": 8}],
            },
            "decimal(8,0)",
        ),
        ({"logicalType": "boolean"}, "boolean"),
        ({"logicalType": "date"}, "date"),
        ({"logicalType": "timestamp"}, "timestamp"),
        ({"logicalType": "Timestamp"}, "timestamp"),
        ({"logicalType": "long"}, "bigint"),  # not a logical type: read as a type name
        ({"logicalType": "vector", "logicalTypeOptions": {"dimensions": 3}}, "array<float>"),
        (
            {
                "logicalType": "array",
                "items": {"logicalType": "integer", "logicalTypeOptions": {"format": "i32"}},
            },
            "array<int>",
        ),
        (
            {"logicalType": "array", "physicalType": "array", "items": {"logicalType": "string"}},
            "array<string>",
        ),
        ({"logicalType": "array", "physicalType": "array<date>"}, "array<date>"),
        (
            {"logicalType": "object", "properties": [{"name": "Zip", "logicalType": "string"}]},
            "struct<zip:string>",
        ),
        (
            {
                "logicalType": "object",
                "physicalType": "string",
                "properties": [{"name": "a", "logicalType": "string"}],
            },
            "string",
        ),
        (
            {
                "logicalType": "map",
                "map": {
                    "key": {"logicalType": "string"},
                    "value": {"logicalType": "array", "items": {"logicalType": "date"}},
                },
            },
            "map<string,array<date>>",
        ),
    ],
)
def test_import_type_mapping(prop, glue):
    assert T.glue_type(prop).type == glue


@pytest.mark.parametrize(
    "prop, loc, message",
    [
        (
            {"logicalType": "vector", "logicalTypeOptions": {"elementType": "bfloat16"}},
            ("logicalTypeOptions", "elementType"),
            "no half-precision",
        ),
        (
            {
                "logicalType": "map",
                "map": {
                    "key": {"logicalType": "array", "items": {"logicalType": "string"}},
                    "value": {"logicalType": "string"},
                },
            },
            ("map", "key"),
            "map keys must be a primitive",
        ),
        (
            {"logicalType": "object", "properties": [{"name": "a b", "logicalType": "string"}]},
            ("properties", 0, "name"),
            "not valid in Glue",
        ),
        ({"logicalType": "complex"}, ("logicalType",), "unknown logicalType 'complex'"),
        (
            {
                "logicalType": "number",
                "customProperties": [
                    {"property": "scale", "value": 3},
                    {"property": "precision", "value": 2},
                ],
            },
            ("customProperties",),
            "is not a decimal",
        ),
        ({"physicalType": "map<string>"}, ("physicalType",), "a key type and a value type"),
        (
            {
                "logicalType": "object",
                "physicalType": "struct<a:string>",
                "properties": [{"name": "b", "logicalType": "string"}],
            },
            ("physicalType",),
            "does not match the nested definitions",
        ),
    ],
)
def test_shapes_no_glue_type_has_are_errors_with_their_path(prop, loc, message):
    with pytest.raises(T.TypeMappingError) as exc:
        T.glue_type(prop)
    assert exc.value.loc == loc
    assert message in exc.value.message


# ====================================================================== export


def test_the_sample_mesh_exported_every_contract_validates_against_the_odcs_schema(tmp_path):
    contracts = export_all(SINGLE, tmp_path / "out")
    loaded = load_mesh(SINGLE, today=TODAY).mesh
    assert sorted(contracts) == sorted(f"{bp.domain}.{p.name}" for bp, p in loaded.products())
    schema = mapping.json_schema()
    assert schema["properties"]["apiVersion"]["enum"][0] == mapping.API_VERSION  # shipped, v3.2.0
    for product_id, contract in contracts.items():
        assert mapping.schema_errors(contract) == [], product_id
        assert contract["apiVersion"] == "v3.2.0" and contract["kind"] == "DataContract"
    for product_id, contract in export_all(MESH, tmp_path / "mesh").items():
        assert mapping.schema_errors(contract) == [], product_id


def test_the_export_validates_with_jsonschema_itself(tmp_path):
    """The same check without our wrapper: jsonschema and the schema file of the package."""
    import importlib.resources

    import jsonschema

    text = importlib.resources.files("open_data_contract_standard").joinpath("schema.json")
    schema = json.loads(text.read_text())
    for contract in export_all(MESH, tmp_path / "out").values():
        jsonschema.validators.validator_for(schema)(schema).validate(contract)


def test_orders_contract(tmp_path):
    contract = export_all(SINGLE, tmp_path / "out", "--product", "sales.orders")["sales.orders"]
    assert {
        k: contract[k]
        for k in ("version", "kind", "apiVersion", "id", "name", "status", "dataProduct", "domain")
    } == {
        "version": "1.0.0",
        "kind": "DataContract",
        "apiVersion": "v3.2.0",
        "id": "sales.orders",
        "name": "orders",
        "status": "active",
        "dataProduct": "orders",
        "domain": "sales",
    }
    assert contract["description"] == {
        "purpose": "One row per order line, as booked by the shop backend"
    }
    assert contract["team"] == {
        "name": "sales-data",
        "members": [{"username": "sales-data@example.com", "role": "owner"}],
        # owner fields ODCS has no place for travel as custom properties
        "customProperties": [{"property": "github", "value": "@acme/sales-data", "vendor": "mesh"}],
    }
    [table] = contract["schema"]
    assert (table["name"], table["physicalName"], table["physicalType"]) == (
        "orders",
        "orders",
        "table",
    )
    types = {p["name"]: (p["logicalType"], p["physicalType"]) for p in table["properties"]}
    assert types == {
        "order_id": ("string", "string"),
        "customer_id": ("string", "string"),
        "customer_email": ("string", "string"),
        "sku": ("string", "string"),
        "quantity": ("integer", "int"),
        "amount": ("number", "decimal(12,2)"),
        "currency": ("string", "string"),
        "order_date": ("date", "date"),
        "dt": ("string", "string"),
    }
    assert {p["classification"] for p in table["properties"]} == {"confidential"}
    pii = [
        p["name"]
        for p in table["properties"]
        if {"property": "pii", "value": True} in p.get("customProperties", [])
    ]
    assert pii == ["customer_email"]
    partitioned = [
        (p["name"], p["partitionKeyPosition"]) for p in table["properties"] if p.get("partitioned")
    ]
    assert partitioned == [("dt", 1)]
    assert contract["slaProperties"] == [
        {"property": "latency", "value": 24, "unit": "h"},
        {"property": "retention", "value": 730, "unit": "d"},
    ]
    assert contract["servers"] == [
        {
            "server": "s3",
            "type": "s3",
            "format": "parquet",
            "location": "s3://mesh-sales-orders/data/**/*.parquet",
        },
        {
            "server": "glue",
            "type": "glue",
            "account": "123456789012",
            "database": "mesh_sales",
            "format": "parquet",
            "location": "s3://mesh-sales-orders/data/",
        },
        {  # the domain's query path: datacontract test --server athena reads as a consumer
            "server": "athena",
            "type": "athena",
            "customProperties": [
                {"property": "workgroup", "value": "mesh-sales", "vendor": "mesh"}
            ],
            "catalog": "awsdatacatalog",
            "regionName": "eu-west-1",
            "schema": "mesh_sales",
            "stagingDir": "s3://mesh-sales-athena/results/",
        },
    ]
    roles = {r["role"]: r for r in contract["roles"]}
    assert list(roles) == [
        "mesh-sales-producer",
        "mesh-marketing-consumer",
        "mesh-finance-consumer",
        "mesh-logistics-consumer",
    ]
    assert roles["mesh-sales-producer"]["access"] == "write"
    finance = roles["mesh-finance-consumer"]
    assert (finance["access"], finance["description"], finance["firstLevelApprovers"]) == (
        "read",
        "revenue reconciliation against invoices",
        "privacy",  # the approver group of blueprints/_mesh.yaml
    )
    assert finance["customProperties"][1] == {
        "property": "grant",
        "vendor": "mesh",
        "value": {
            "domain": "finance",
            "include_pii": True,
            "approved_by": "privacy",
            "expires": "2027-09-30",
            "justification": "revenue reconciliation against invoices",
        },
    }
    assert contract["customProperties"] == [
        {"property": "blueprint", "value": {}, "vendor": "mesh"}
    ]


def test_export_options_prefix_and_account(tmp_path):
    contract = export_all(
        SINGLE,
        tmp_path / "out",
        "--product",
        "sales.returns",
        "--prefix",
        "acme",
        "--account",
        "999988887777",
    )["sales.returns"]
    assert contract["servers"] == [
        {
            "server": "s3",
            "type": "s3",
            "format": "json",
            "delimiter": "new_line",
            "location": "s3://acme-sales-returns/data/**/*.json",
        },
        {
            "server": "glue",
            "type": "glue",
            "account": "999988887777",
            "database": "acme_sales",
            "format": "json",
            "location": "s3://acme-sales-returns/data/",
        },
        {
            "server": "athena",
            "type": "athena",
            "customProperties": [
                {"property": "workgroup", "value": "acme-sales", "vendor": "mesh"}
            ],
            "catalog": "awsdatacatalog",
            "regionName": "eu-west-1",
            "schema": "acme_sales",
            "stagingDir": "s3://acme-sales-athena/results/",
        },
    ]
    assert [r["role"] for r in contract["roles"]] == [
        "acme-sales-producer",
        "acme-analytics-consumer",
    ]


def test_the_servers_are_the_provisioned_table():
    """The glue server's database and location and the table's physicalName are those of the
    Glue table the program declares (infra/components.py)."""
    from infra.engines.recording import run_program

    loaded = load_mesh(SINGLE, today=TODAY).mesh
    graph = run_program(loaded, StackSettings(), TODAY)
    tables = {
        r.inputs["name"]: r
        for r in graph.resources
        if r.type == "aws:glue/catalogTable:CatalogTable"
    }
    for bp, product in loaded.products():
        contract = export.export_contract(bp, product, NAMES, ACCOUNT, TODAY)
        table = tables[contract["schema"][0]["physicalName"]]
        glue = contract["servers"][1]
        assert glue["database"] == table.inputs["databaseName"]
        assert glue["location"] == table.inputs["storageDescriptor"]["location"]
        assert contract["servers"][0]["location"].startswith(glue["location"])
        columns = table.inputs["storageDescriptor"]["columns"] + table.inputs.get(
            "partitionKeys", []
        )
        assert [(p["name"], p["physicalType"]) for p in contract["schema"][0]["properties"]] == [
            (c["name"], c["type"]) for c in columns
        ]


def test_blueprint_fields_without_an_odcs_place_travel_as_mesh_custom_properties(tmp_path):
    contract = export_all(MESH, tmp_path / "out")["shop.baskets"]
    assert contract["customProperties"] == [
        {
            "property": "blueprint",
            "vendor": "mesh",
            "value": {
                "tags": {"team-channel": "#shop-data", "tier": "gold"},
                "previous_names": ["carts"],
            },
        }
    ]
    table = contract["schema"][0]
    assert table["physicalName"] == "carts"  # the table keeps the product's first name
    email = next(p for p in table["properties"] if p["name"] == "owner_email")
    assert email["customProperties"] == [
        {"property": "pii", "value": True},
        {"property": "blueprint", "vendor": "mesh", "value": {"previous_names": ["email"]}},
    ]
    statuses = {k: c["status"] for k, c in export_all(MESH, tmp_path / "all").items()}
    assert statuses == {
        "shop.baskets": "active",
        "shop.sessions": "active",
        "shop.legacy_exports": "retired",
        "shop.promotions": "deprecated",
    }


def test_quality_rules_are_exported_where_they_are_attached(tmp_path):
    table = export_all(MESH, tmp_path / "out")["shop.baskets"]["schema"][0]
    props = {p["name"]: p for p in table["properties"]}
    assert table["quality"] == [{"metric": "rowCount", "mustBeGreaterThan": 0}]
    assert props["basket_id"]["quality"] == [
        {"metric": "duplicateValues", "mustBe": 0, "unit": "rows"}
    ]
    assert props["total"]["quality"] == [
        {"type": "sql", "query": "SELECT COUNT(*) FROM ${object}\nWHERE total < 0\n", "mustBe": 0}
    ]
    shipping = {p["name"]: p for p in props["shipping"]["properties"]}
    assert shipping["country"]["quality"][0]["arguments"] == {"validValues": ["DE", "FR", "NL"]}
    items = {p["name"]: p for p in props["items"]["items"]["properties"]}
    assert items["sku"]["quality"] == [{"metric": "nullValues", "mustBe": 0}]


def test_export_usage_errors(tmp_path):
    for args, message in [
        (["--product", "orders"], "is not DOMAIN.PRODUCT"),
        (["--product", "sales.nothing"], "no product 'sales.nothing'"),
        (["--prefix", "Bad_Prefix"], "stack prefix 'Bad_Prefix' is not valid"),
        (["--account", "12"], "is not an AWS account id"),
    ]:
        run = mesh(["contract", "export", str(SINGLE), "--out", str(tmp_path / "o"), *args])
        assert run.exit_code == 2, args
        assert message in run.output
    (tmp_path / "file").write_text("x")
    run = mesh(["contract", "export", str(SINGLE), "--out", str(tmp_path / "file")])
    assert run.exit_code == 2 and "is not a directory" in run.output


def test_export_refuses_an_invalid_mesh(tmp_path):
    bad = copy_of(SINGLE, tmp_path)
    (bad / "sales.yaml").write_text(
        (bad / "sales.yaml").read_text().replace("type: int}", "type: integr}")
    )
    run = mesh(["contract", "export", str(bad), "--out", str(tmp_path / "out")])
    assert run.exit_code == 1
    assert "E014" in run.output and not (tmp_path / "out").exists()


# ====================================================================== import: the fixtures


def test_import_a_partitioned_contract_with_quality_rules_and_sla(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    code, out = import_json(ODCS / "order_lines.odcs.yaml", into)
    assert code == 0 and (out["ok"], out["action"], out["product"]) == (
        True,
        "created",
        "sales.order_lines",
    )
    assert codes(out["warnings"]) == [
        ("CW02", "id"),
        ("CW02", "version"),
        ("CW01", "description.usage"),
        ("CW02", "servers[0].server"),
        ("CW02", "servers[0].location"),
        ("CW02", "servers[1].server"),
        ("CW02", "servers[1].account"),
        ("CW02", "servers[1].database"),
        ("CW02", "schema[0].description"),
        ("CW02", "schema[0].properties[0]"),  # partition key ds moves after the columns
        ("CW01", "schema[0].properties[1].required"),
        ("CW01", "schema[0].properties[1].primaryKey"),
        ("CW01", "schema[0].properties[1].primaryKeyPosition"),
        ("CW01", "schema[0].properties[3].logicalTypeOptions.minimum"),
        ("CW01", "roles[0]"),
    ]
    by_path = {w["path"]: w for w in out["warnings"]}
    assert by_path["version"]["message"] == (
        "'2.0.0' becomes '1.0.0' (the blueprint does not version contracts: export writes 1.0.0)"
    )
    assert by_path["roles[0]"]["line"] == 97
    assert by_path["servers[1].account"]["message"].startswith(
        "'111122223333' becomes '123456789012'"
    )
    product = product_of(into, "sales.order_lines")
    assert product.model_dump(mode="json", exclude_defaults=True, by_alias=True) == {
        "name": "order_lines",
        "description": "One row per order line, enriched with the customer's contact e-mail",
        "classification": "confidential",
        "retention_days": 730,  # 2 y
        "freshness_slo_hours": 4,
        "schema": [
            {"name": "order_id", "type": "string"},
            {
                "name": "customer_email",
                "type": "varchar(320)",
                "pii": True,
                "description": "Contact e-mail of the customer",
            },
            {"name": "quantity", "type": "int"},
            {"name": "amount", "type": "decimal(12,2)"},
            {"name": "order_date", "type": "date"},
        ],
        "partition_keys": [{"name": "country", "type": "string"}, {"name": "dt", "type": "string"}],
        "quality": [
            {
                "id": "lines_row_count",
                "description": "A normal day has more than a thousand lines",
                "dimension": "completeness",
                "severity": "error",
                "metric": "rowCount",
                "mustBeGreaterThan": 1000,
            },
            {
                "id": "lines_amount_positive",
                "type": "sql",
                "dimension": "accuracy",
                "mustBe": 0,
                "query": "SELECT COUNT(*) FROM ${object} WHERE amount <= 0",
            },
            {
                "column": "order_id",
                "id": "order_id_not_null",
                "unit": "rows",
                "metric": "nullValues",
                "mustBe": 0,
            },
            {"column": "order_date", "description": "Never in the future", "type": "text"},
        ],
    }
    assert mesh(["validate", str(into)]).exit_code == 0


def test_import_nested_objects_arrays_and_maps(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    code, out = import_json(ODCS / "web_events.odcs.yaml", into)
    assert code == 0 and out["product"] == "marketing.web_events"
    assert codes(out["warnings"]) == [
        ("CW02", "id"),
        ("CW02", "version"),
        ("CW02", "name"),
        ("CW02", "schema[0].properties[2].properties[1]"),  # a PII struct field: the column is PII
        ("CW01", "schema[0].properties[4].items.quality[0]"),  # a rule on array items
        ("CW02", "slaProperties[0].value"),  # PT90M rounded up to 2 hours
    ]
    assert out["warnings"][5]["message"] == (
        "latency of 1.5 hours rounded up to 2 (the blueprint counts latency in whole hours)"
    )
    product = product_of(into, "marketing.web_events")
    assert [(c.name, c.type, c.pii) for c in product.columns] == [
        ("event_id", "string", False),
        ("occurred_at", "timestamp", False),
        ("device", "struct<os:string,ip_address:string,screen_width:smallint>", True),
        ("tags", "array<string>", False),
        ("line_items", "array<struct<sku:string,qty:bigint,price:decimal(10,2)>>", False),
        ("attributes", "map<string,bigint>", False),
    ]
    assert (product.classification.value, product.retention_days, product.freshness_slo_hours) == (
        "internal",
        182,
        2,
    )
    assert [r.model_dump(exclude_none=True) for r in product.quality] == [
        {
            "column": "device.os",
            "metric": "missingValues",
            "arguments": {"missingValues": ["", "unknown"]},
            "mustBeLessThan": 5,
            "unit": "percent",
        }
    ]


def test_import_a_contract_of_another_tool_lists_everything_it_drops(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    code, out = import_json(ODCS / "payments_postgres.odcs.yaml", into)
    assert code == 0 and out["product"] == "finance.payments"
    assert codes(out["warnings"]) == [
        ("CW02", "id"),
        ("CW02", "version"),
        ("CW02", "status"),
        ("CW01", "tenant"),
        ("CW01", "tags"),
        ("CW01", "description.limitations"),
        ("CW01", "servers[0]"),  # postgres
        ("CW02", "servers[1].server"),  # s3: its format (csv) is the product's
        ("CW02", "servers[1].location"),
        ("CW01", "servers[2]"),  # kafka
        ("CW02", "schema[0].physicalName"),
        ("CW01", "schema[0].businessName"),
        ("CW01", "schema[0].properties[0].primaryKey"),
        ("CW01", "schema[0].properties[0].primaryKeyPosition"),
        ("CW01", "schema[0].properties[0].required"),
        ("CW01", "schema[0].properties[0].unique"),
        ("CW01", "schema[0].properties[0].examples"),
        ("CW02", "schema[0].properties[1].name"),  # Card_Holder: Glue folds to lower case
        ("CW02", "schema[0].properties[1].physicalType"),  # TEXT
        ("CW01", "schema[0].properties[1].criticalDataElement"),
        ("CW02", "schema[0].properties[2].physicalType"),  # NUMERIC(10,2)
        ("CW02", "schema[0].properties[2].classification"),  # public -> restricted
        ("CW06", "schema[0].properties[3].physicalType"),  # TIMESTAMP WITH TIME ZONE: UTC
        ("CW01", "schema[0].properties[4].tags"),
        ("CW02", "schema[0].properties[5].name"),  # named by its physicalName
        ("CW02", "schema[0].properties[5].physicalType"),  # VARCHAR2(120)
        ("CW01", "schema[0].quality[1]"),  # a v3.0 library rule: not valid v3.2
        ("CW01", "team[0]"),
        ("CW01", "support[0]"),
        ("CW01", "price"),
        ("CW01", "slaProperties[0]"),  # availability
        ("CW01", "slaProperties[3]"),  # timeOfAvailability
    ]
    by_path = {w["path"]: w["message"] for w in out["warnings"]}
    assert by_path["schema[0].properties[2].classification"] == (
        "'public' becomes 'restricted' (a product has one classification (its most sensitive "
        "property's), written on every property)"
    )
    assert by_path["schema[0].quality[1]"].startswith(
        "dropped: not a valid ODCS v3.2.0 quality rule ('metric' is a required property"
    )
    product = product_of(into, "finance.payments")
    assert [(c.name, c.type, c.pii) for c in product.columns] == [
        ("payment_id", "varchar(36)", False),
        ("card_holder", "string", True),  # classification: pii
        ("amount", "decimal(10,2)", False),
        ("captured_at", "timestamp", False),
        ("is_3ds", "boolean", False),
        ("merchant", "varchar(120)", False),
    ]
    assert (product.classification.value, product.format.value) == ("restricted", "csv")
    assert (product.retention_days, product.freshness_slo_hours) == (2555, 24)  # 7 years, 1 day
    assert [q.engine for q in product.quality] == ["soda"]


@pytest.mark.parametrize(
    "fixture, errors",
    [
        (
            "unmappable",
            [
                (
                    "C004",
                    "schema[0].properties[1].logicalTypeOptions.elementType",
                    20,
                    "vector elementType 'float16' cannot be held",
                ),
                (
                    "C004",
                    "schema[0].properties[2].map.key",
                    26,
                    "map keys must be a primitive Glue type, got 'struct<slot:string>'",
                ),
            ],
        ),
        (
            "no_classification",
            [
                (
                    "C005",
                    "schema[0].properties",
                    11,
                    "add classification: public | internal | confidential | restricted",
                ),
                (
                    "C005",
                    "slaProperties",
                    2,
                    "add slaProperties: [{property: retention, value: N, unit: d}]",
                ),
            ],
        ),
        ("odcs_v2", [("C001", "apiVersion", 3, "apiVersion 'v2.2.2' is not ODCS v3")]),
    ],
)
def test_contracts_that_cannot_be_imported_fail_with_every_error_and_write_nothing(
    tmp_path, fixture, errors
):
    into = copy_of(SINGLE, tmp_path)
    before = {p.name: p.read_text() for p in into.iterdir()}
    code, out = import_json(ODCS / f"{fixture}.odcs.yaml", into)
    assert code == 1 and out["ok"] is False
    assert [(e["code"], e["path"], e["line"]) for e in out["errors"]] == [e[:3] for e in errors]
    for err, (_code, _path, _line, message) in zip(out["errors"], errors, strict=True):
        assert message in err["message"]
        assert err["file"] == str(ODCS / f"{fixture}.odcs.yaml")
    assert {p.name: p.read_text() for p in into.iterdir()} == before


def test_text_output_of_a_failed_import(tmp_path):
    run = mesh(
        [
            "contract",
            "import",
            str(ODCS / "unmappable.odcs.yaml"),
            "--into",
            str(copy_of(SINGLE, tmp_path)),
        ]
    )
    assert run.exit_code == 1
    assert (
        f"{ODCS / 'unmappable.odcs.yaml'}:20: error C004 "
        "schema[0].properties[1].logicalTypeOptions.elementType: vector elementType 'float16'"
        in run.stderr
    )
    assert run.stderr.rstrip().endswith("import failed: 2 error(s); nothing was written")
    assert run.stdout == ""


def test_several_schema_objects_one_chosen(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    code, out = import_json(ODCS / "two_tables.odcs.yaml", into, "--schema", "customer_profiles")
    assert code == 0 and out["product"] == "sales.customer_profiles"
    assert codes(out["warnings"]) == [
        ("CW02", "id"),
        ("CW02", "schema[0].description"),
        ("CW01", "schema[1]"),
    ]
    assert "without it, each becomes a product" in out["warnings"][2]["message"]
    product = product_of(into, "sales.customer_profiles")
    assert [(c.name, c.pii) for c in product.columns] == [
        ("customer_id", False),
        ("email", True),
    ]  # pii: "True"
    code, out = import_json(ODCS / "two_tables.odcs.yaml", into, "--schema", "nothing")
    assert code == 1 and codes(out["errors"]) == [("C003", "schema")]


def test_several_schema_objects_are_several_products_in_one_run(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    code, out = import_json(ODCS / "two_tables.odcs.yaml", into)
    assert code == 0 and out["ok"] is True
    assert (out["action"], out["product"]) == (None, None)  # several: see products
    assert [(p["product"], p["schema"], p["action"], p["ok"]) for p in out["products"]] == [
        ("sales.customer_profiles", "customer_profiles", "created", True),
        ("sales.customer_changes", "customer_changes", "created", True),
    ]
    # each product takes its own table's description; neither reports the other as dropped
    assert product_of(into, "sales.customer_changes").description == (
        "One row per change of a customer record"
    )
    assert [p["warnings"] for p in out["products"]] == [[], []]
    assert codes(out["warnings"]) == [  # the contract's fields, said for each product
        ("CW02", "id"),
        ("CW02", "id"),
        ("CW02", "description.purpose"),
        ("CW02", "description.purpose"),
    ]
    # the same run again changes nothing
    code, again = import_json(ODCS / "two_tables.odcs.yaml", into)
    assert code == 0 and [p["action"] for p in again["products"]] == ["unchanged", "unchanged"]


def test_renames_with_name_and_names_made_to_fit(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    code, out = import_json(
        ODCS / "two_tables.odcs.yaml", into, "--name", "customer_changes=customer_log"
    )
    assert code == 0
    assert [p["product"] for p in out["products"]] == [
        "sales.customer_profiles",
        "sales.customer_log",
    ]
    run = mesh(
        ["contract", "import", str(ODCS / "two_tables.odcs.yaml"), "--into", str(into),
         "--name", "one_name"]
    )  # fmt: skip
    assert run.exit_code == 2 and "--name OBJECT=NEW" in run.output
    run = mesh(
        ["contract", "import", str(ODCS / "two_tables.odcs.yaml"), "--into", str(into),
         "--name", "nothing=x_y"]
    )  # fmt: skip
    assert run.exit_code == 2 and "no schema object 'nothing'" in run.output
    long = tmp_path / "long.odcs.yaml"
    long.write_text(
        (ODCS / "two_tables.odcs.yaml")
        .read_text()
        .replace("name: customer_profiles", "name: Customer Profiles Of The Web Shop 2024")
        .replace("name: customer_changes", "name: 2024 changes")
    )
    code, out = import_json(long, into)
    assert code == 0
    names = [p["product"] for p in out["products"]]
    assert names[1] == "sales.t_2024_changes"
    assert names[0].startswith("sales.customer_profiles_of_the_") and len(names[0]) == 6 + 31
    cw07 = [w for w in out["warnings"] if w["code"] == "CW07"]
    assert [w["path"] for w in cw07] == ["schema[0].name", "schema[1].name"]
    assert "--name Customer Profiles Of The Web Shop 2024=NEW" in cw07[0]["message"]
    code, again = import_json(long, into)  # the same names on every run
    assert [p["product"] for p in again["products"]] == names
    assert [p["action"] for p in again["products"]] == ["unchanged", "unchanged"]


def test_a_failing_object_writes_nothing_and_each_result_is_reported(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    before = (into / "sales.yaml").read_text()
    bad = tmp_path / "bad.odcs.yaml"
    bad.write_text(
        (ODCS / "two_tables.odcs.yaml")
        .read_text()
        .replace(
            "logicalType: timestamp",
            "logicalType: vector\n        logicalTypeOptions: {elementType: float16}",
        )
    )
    code, out = import_json(bad, into)
    assert code == 1
    assert [(p["product"], p["ok"]) for p in out["products"]] == [
        ("sales.customer_profiles", True),
        ("sales.customer_changes", False),
    ]
    assert codes(out["products"][1]["errors"]) == [
        ("C004", "schema[1].properties[1].logicalTypeOptions.elementType")
    ]
    assert (into / "sales.yaml").read_text() == before
    # a product the mesh's own checks refuse: its entry carries the check's error
    bad.write_text(
        (ODCS / "two_tables.odcs.yaml")
        .read_text()
        .replace("description: One row per change of a customer record", "description: test")
    )
    code, out = import_json(bad, into)
    assert code == 1 and [p["ok"] for p in out["products"]] == [True, False]
    [(check, path)] = codes(out["products"][1]["errors"])
    assert (check, path) == ("GOV-002", "products[4].description")
    assert (into / "sales.yaml").read_text() == before


def test_column_names_are_made_to_fit_glue_and_athena(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    fitted = tmp_path / "fitted.odcs.yaml"
    fitted.write_text(
        (ODCS / "two_tables.odcs.yaml")
        .read_text()
        .replace("name: changed_at", "name: group")  # a reserved word of Athena SQL
        .replace("name: email", "name: E-Mail Address")
    )
    code, out = import_json(fitted, into)
    assert code == 0, out["errors"]
    cw07 = [(w["path"], w["message"]) for w in out["warnings"] if w["code"] == "CW07"]
    assert [p for p, _m in cw07] == ["schema[0].properties[1].name", "schema[1].properties[1].name"]
    assert "becomes 'e_mail_address'" in cw07[0][1] and "becomes 'group_value'" in cw07[1][1]
    assert not [w for w in out["warnings"] if w["code"] == "CW02" and w["path"].endswith(".name")]
    assert [c.name for c in product_of(into, "sales.customer_changes").columns] == [
        "customer_id",
        "group_value",
    ]
    assert product_of(into, "sales.customer_profiles").columns[1].pii  # still the PII column
    code, again = import_json(fitted, into)  # the same names on every run
    assert [p["action"] for p in again["products"]] == ["unchanged", "unchanged"]


@pytest.mark.parametrize(
    "fixture, product_id",
    [
        ("order_lines", "sales.order_lines"),
        ("web_events", "marketing.web_events"),
        ("payments_postgres", "finance.payments"),
    ],
)
def test_round_trips_on_the_fixtures(tmp_path, fixture, product_id):
    into = copy_of(SINGLE, tmp_path)
    code, first = import_json(ODCS / f"{fixture}.odcs.yaml", into)
    assert code == 0
    product = product_of(into, product_id)
    written = {p.name: p.read_text() for p in into.iterdir()}
    exported = export_all(into, tmp_path / "c1", "--product", product_id)[product_id]
    # import -> export -> import gives the same blueprint product (and the same file)
    code, again = import_json(tmp_path / "c1" / f"{product_id}.odcs.yaml", into)
    assert (code, again["action"], again["warnings"]) == (0, "unchanged", [])
    assert product_of(into, product_id) == product
    assert {p.name: p.read_text() for p in into.iterdir()} == written
    # export -> import -> export gives the same contract
    assert export_all(into, tmp_path / "c2", "--product", product_id)[product_id] == exported
    # ... and the first contract differs from it only where the first import warned
    warned = {w["path"] for w in first["warnings"]}
    contract = yaml.safe_load((ODCS / f"{fixture}.odcs.yaml").read_text())
    assert warned, "every fixture drops something"
    assert contract != exported


def test_round_trip_of_every_sample_product(tmp_path):
    """export -> import -> export is exact, and the blueprints do not change by one byte."""
    contracts = export_all(SINGLE, tmp_path / "c1")
    into = copy_of(SINGLE, tmp_path)
    for product_id in contracts:
        code, out = import_json(tmp_path / "c1" / f"{product_id}.odcs.yaml", into)
        assert (code, out["action"], dropped(out)) == (0, "unchanged", []), product_id
    assert [w["code"] for w in out["warnings"] if w not in dropped(out)] in ([], ["W002"])
    assert export_all(into, tmp_path / "c2") == contracts
    for path in SINGLE.iterdir():
        assert (into / path.name).read_text() == path.read_text()


def test_round_trip_recreates_every_blueprint_field(tmp_path):
    """A product removed from its blueprint is recreated from its contract, renames, tags,
    decommission, PII, quality rules and grants included."""
    contracts = export_all(MESH, tmp_path / "c1")
    original = load_mesh(MESH, today=TODAY).mesh
    for product_id in contracts:
        into = copy_of(MESH, tmp_path, product_id)
        shop = into / "shop.yaml"
        data = yaml.safe_load(shop.read_text())
        name = product_id.split(".")[1]
        data["products"] = [p for p in data["products"] if p["name"] != name]
        shop.write_text(yaml.safe_dump(data, sort_keys=False))
        code, out = import_json(tmp_path / "c1" / f"{product_id}.odcs.yaml", into)
        assert (code, out["action"], out["warnings"]) == (0, "created", []), product_id
        before, after = original.product(product_id)[1], product_of(into, product_id)
        assert after.model_copy(update={"quality": []}) == before.model_copy(update={"quality": []})
        key = lambda r: json.dumps(r.model_dump(mode="json"), sort_keys=True)
        assert sorted(map(key, after.quality)) == sorted(map(key, before.quality))


def test_a_contract_edited_after_export_updates_the_product(tmp_path):
    """The two views of one thing: edit the contract (a column, the SLA, a grant), import it."""
    contracts = export_all(SINGLE, tmp_path / "c1")
    contract = contracts["sales.returns"]
    contract["schema"][0]["properties"].insert(
        2,
        {
            "name": "reason_code",
            "logicalType": "integer",
            "logicalTypeOptions": {"format": "i16"},
            "classification": "internal",
        },
    )
    contract["slaProperties"].insert(0, {"property": "latency", "value": 2, "unit": "d"})
    del contract["roles"][1]  # revoke analytics' grant
    path = tmp_path / "returns.odcs.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    into = copy_of(SINGLE, tmp_path)
    code, out = import_json(path, into)
    assert (code, out["action"], out["warnings"]) == (0, "updated", [])
    product = product_of(into, "sales.returns")
    assert [c.name for c in product.columns][:3] == ["return_id", "order_id", "reason_code"]
    assert product.columns[2].type == "smallint"
    assert (product.freshness_slo_hours, product.consumers) == (48, [])


# ====================================================================== import into a blueprint


COMMENTED = """\
# Sales domain: reviewed by @acme/sales-data
domain: sales
description: Orders, customers and returns of the web shop
owner: {team: sales-data, email: sales-data@example.com}  # the owning team
cost_center: CC-1001
products:
  # --- the order book ---
  - name: orders
    description: One row per order line, as booked by the shop backend
    classification: confidential   # contains e-mail addresses
    format: parquet
    retention_days: 730            # two years, finance asked for it
    freshness_slo_hours: 24
    schema:
      - {name: order_id, type: string}      # business key
      - {name: customer_id, type: string}
      - {name: customer_email, type: string, pii: true}
      - {name: sku, type: string}
      - {name: quantity, type: int}
      - {name: amount, type: "decimal(12,2)"}  # gross
      - {name: currency, type: string}
      - {name: order_date, type: date}
    partition_keys:
      - {name: dt, type: string}
    consumers:
      - domain: marketing
        columns: [order_id, amount, order_date]
        expires: 2027-06-30
        justification: campaign attribution
      # finance reads PII: approved in PRIV-123
      - domain: finance
        include_pii: true
        approved_by: privacy
        expires: 2027-09-30
        justification: revenue reconciliation against invoices
      - domain: logistics
        columns: [order_id, sku, quantity, order_date]
        expires: 2027-03-31
        justification: pick-and-pack planning
  # --- master data ---
  - name: customers
    description: Customer master data, one row per customer
    classification: restricted
    format: parquet
    retention_days: 1825
    freshness_slo_hours: 24
    schema:
      - {name: customer_id, type: string}
      - {name: email, type: string, pii: true}
      - {name: full_name, type: string, pii: true}
      - {name: country, type: string}
      - {name: signup_date, type: date}
    consumers: []
policies:
  max_grant_days: 330   # tighter than the global 365
exceptions: []
# end of file
"""


def test_import_keeps_the_blueprints_comments_and_layout(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    (into / "sales.yaml").write_text(COMMENTED)
    contract = export_all(into, tmp_path / "c1", "--product", "sales.orders")["sales.orders"]
    props = contract["schema"][0]["properties"]
    props[5]["physicalType"] = "decimal(14,2)"  # amount widened
    props.insert(8, {"name": "coupon", "logicalType": "string", "classification": "confidential"})
    contract["description"]["purpose"] = "One row per order line"
    path = tmp_path / "orders.odcs.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    code, out = import_json(path, into)
    assert (code, out["action"]) == (0, "updated"), out
    assert codes(out["warnings"]) == [("CW02", "schema[0].description")]  # it was the old purpose
    text = (into / "sales.yaml").read_text()
    expected = (
        COMMENTED.replace(
            "description: One row per order line, as booked by the shop backend",
            "description: One row per order line",
        )
        .replace('{name: amount, type: "decimal(12,2)"}', '{name: amount, type: "decimal(14,2)"}')
        .replace(
            "      - {name: order_date, type: date}\n",
            "      - {name: order_date, type: date}\n      - {name: coupon, type: string}\n",
            1,
        )
    )
    assert text == expected
    assert mesh(["validate", str(into)]).exit_code == 0


def test_a_new_product_is_appended_in_the_blueprints_style(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    before = (into / "sales.yaml").read_text()
    code, _out = import_json(ODCS / "order_lines.odcs.yaml", into)
    assert code == 0
    text = (into / "sales.yaml").read_text()
    head, tail = before.split("policies:")
    assert text.startswith(head)  # every existing product untouched
    assert text.endswith("policies:" + tail)
    added = text[len(head) :]
    assert "  - name: order_lines\n    description: One row per order line" in added
    assert "      - {name: quantity, type: int}\n" in added  # columns in flow style
    assert (
        "    partition_keys:\n      - {name: country, type: string}\n      - {name: dt, type: string}\n"
        in added
    )


def test_a_foreign_contract_keeps_the_blueprint_only_fields(tmp_path):
    """A contract not exported by mesh says nothing of grants or tags: they stay."""
    into = copy_of(SINGLE, tmp_path)
    contract = {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": "returns",
        "version": "1.0.0",
        "domain": "sales",
        "schema": [
            {
                "name": "returns",
                "properties": [
                    {"name": "return_id", "logicalType": "string", "classification": "internal"},
                    {"name": "order_id", "logicalType": "string", "classification": "internal"},
                    {"name": "reason", "logicalType": "string", "classification": "internal"},
                ],
            }
        ],
        "slaProperties": [{"property": "retention", "value": 400, "unit": "d"}],
    }
    path = tmp_path / "returns.odcs.yaml"
    path.write_text(yaml.safe_dump(contract))
    code, out = import_json(path, into)
    assert code == 0, out
    kept = [w for w in out["warnings"] if w["code"] == "CW04"]
    assert [w["message"] for w in kept] == [
        (
            "kept from the existing product sales.returns (the contract does not state them): "
            "description, format, consumers"
        )
    ]
    product = product_of(into, "sales.returns")
    assert [c.domain for c in product.consumers] == ["analytics"]
    assert (product.format.value, product.retention_days, [c.name for c in product.columns]) == (
        "json",
        400,
        ["return_id", "order_id", "reason"],
    )
    assert [k.name for k in product.partition_keys] == []  # the contract's schema is the schema


def test_import_into_a_crlf_blueprint_keeps_its_line_ends(tmp_path):
    """A blueprint saved with Windows line ends: the import succeeds (not "changed while the
    contract was imported") and every line of the file still ends in CRLF."""
    into = copy_of(SINGLE, tmp_path)
    (into / "sales.yaml").write_bytes(COMMENTED.replace("\n", "\r\n").encode())
    contract = export_all(into, tmp_path / "c1", "--product", "sales.orders")["sales.orders"]
    contract["schema"][0]["properties"][5]["physicalType"] = "decimal(14,2)"
    path = tmp_path / "orders.odcs.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    code, out = import_json(path, into)
    assert (code, out["action"]) == (0, "updated"), out
    raw = (into / "sales.yaml").read_bytes().decode()
    assert raw == COMMENTED.replace(
        '{name: amount, type: "decimal(12,2)"}', '{name: amount, type: "decimal(14,2)"}'
    ).replace("\n", "\r\n")
    code, out = import_json(path, into)  # again: nothing to change, nothing rewritten
    assert (code, out["action"]) == (0, "unchanged") and (
        into / "sales.yaml"
    ).read_bytes() == raw.encode()


def test_an_import_that_would_not_pass_validate_writes_nothing_and_says_what_to_add(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    before = (into / "sales.yaml").read_text()
    contract = yaml.safe_load((ODCS / "order_lines.odcs.yaml").read_text())
    del contract["slaProperties"][0]  # no latency: a confidential product needs a freshness SLO
    path = tmp_path / "c.odcs.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    # a reserved word of Athena SQL, given as the name (a name from the contract is made to fit)
    run = mesh(["contract", "import", str(path), "--into", str(into), "--name", "order"])
    assert run.exit_code == 1
    assert "error E035 products[3].name: product name 'order'" in run.stderr
    assert "error GOV-" in run.stderr and "has no freshness_slo_hours" in run.stderr
    assert (
        "error C008 the imported blueprint would not pass mesh validate (2 error(s) above, lines "
        "of the file as it would be written): change or add slaProperties: {property: latency, "
        "value: N, unit: h} in the contract; nothing was written"
    ) in run.stderr
    assert (into / "sales.yaml").read_text() == before


def test_mesh_diff_flags_a_breaking_schema_change_made_by_an_import(tmp_path):
    base = copy_of(SINGLE, tmp_path, "base")
    head = copy_of(SINGLE, tmp_path, "head")
    contract = export_all(head, tmp_path / "c1", "--product", "sales.orders")["sales.orders"]
    props = contract["schema"][0]["properties"]
    amount = next(p for p in props if p["name"] == "amount")
    amount.update({"physicalType": "double", "logicalTypeOptions": {"format": "f64"}})
    props.remove(next(p for p in props if p["name"] == "order_date"))
    path = tmp_path / "orders.odcs.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    # order_date is read by marketing and logistics: their grants must drop it first
    for role in contract["roles"]:
        grant = next((c for c in role["customProperties"] if c["property"] == "grant"), None)
        if grant and "columns" in grant["value"]:
            grant["value"]["columns"].remove("order_date")
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    code, out = import_json(path, head)
    assert (code, out["action"]) == (0, "updated"), out
    run = mesh(["diff", str(base), str(head), "--format", "json"])
    result = json.loads(run.stdout)
    assert result["breaking_schema"] == [
        {
            "product": "sales.orders",
            "column": "amount",
            "change": "retyped",
            "partition_key": False,
            "before_type": "decimal(12,2)",
            "after_type": "double",
            "after_name": None,
            "consumers": ["finance:consumer", "marketing:consumer"],
        },
        {
            "product": "sales.orders",
            "column": "order_date",
            "change": "removed",
            "partition_key": False,
            "before_type": "date",
            "after_type": None,
            "after_name": None,
            "consumers": ["finance:consumer", "logistics:consumer", "marketing:consumer"],
        },
    ]


# ====================================================================== hostile and wrong input


def test_hostile_contract_files_are_clean_errors(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    cases = {
        "big.yaml": (
            "x: " + "a" * (2 * 1024 * 1024 + 10) + "\n",
            "E001",
            "larger than 2048 KiB; a contract should be small",
        ),
        "nul.yaml": ("apiVersion: v3.1.0\x00\n", "E001", "NUL bytes"),
        "latin1.yaml": None,
        "bomb.yaml": (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                for p, c in zip("abcdef", "bcdefg")
            ),
            "E004",
            "alias bomb",
        ),
        "tag.yaml": (
            "apiVersion: !!python/object:os.system ls\n",
            "E004",
            "is not allowed in a contract",
        ),
        "dup.yaml": (
            "apiVersion: v3.1.0\napiVersion: v3.0.0\n",
            "E003",
            "duplicate key 'apiVersion'",
        ),
        "list.yaml": ("- a\n- b\n", "C001", "a contract is a mapping"),
        "empty.yaml": ("", "C001", "the file is empty"),
        "syntax.yaml": ("apiVersion: [v3\n", "E002", "YAML syntax error"),
        "kind.yaml": (
            "apiVersion: v3.1.0\nkind: DataProduct\n",
            "C001",
            "kind 'DataProduct' is not DataContract",
        ),
        "types.yaml": (
            "apiVersion: v3.1.0\nkind: DataContract\nschema: {name: x}\n",
            "C002",
            "Input should be a valid list",
        ),
    }
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    cases["latin1.yaml"] = (None, "E001", "not UTF-8")
    for name, (text, code, message) in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        run = mesh(
            [
                "contract",
                "import",
                str(path),
                "--into",
                str(into),
                "--domain",
                "sales",
                "--format",
                "json",
            ]
        )
        assert run.exit_code == 1, name
        assert "Traceback" not in run.output
        [error] = json.loads(run.stdout)["errors"]
        assert error["code"] == code, (name, error)
        assert message in error["message"], (name, error)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "c.yaml").write_text("apiVersion: v3.1.0\n")
    link_dir = tmp_path / "contracts"
    link_dir.mkdir()
    (link_dir / "c.yaml").symlink_to(outside / "c.yaml")
    run = mesh(
        ["contract", "import", str(link_dir / "c.yaml"), "--into", str(into), "--domain", "sales"]
    )
    assert run.exit_code == 1 and "error E001" in run.output and "outside the" in run.output


def test_import_usage_errors(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    nodomain = tmp_path / "c.yaml"
    nodomain.write_text("apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: '1'\n")
    for args, message in [
        ([str(nodomain), "--into", str(into)], "the contract names no domain: pass --domain"),
        ([str(nodomain), "--into", str(into), "--domain", "Sales"], "is not a domain name"),
        ([str(nodomain), "--into", str(tmp_path / "none")], "is not a blueprint directory"),
    ]:
        run = mesh(["contract", "import", *args])
        assert run.exit_code == 2, args
        assert message in run.output
    run = mesh(
        [
            "contract",
            "import",
            str(nodomain),
            "--into",
            str(into),
            "--domain",
            "billing",
            "--format",
            "json",
        ]
    )
    assert run.exit_code == 1
    [error] = json.loads(run.stdout)["errors"]
    assert (error["code"], error["message"]) == (
        "C007",
        f"no blueprint billing.yaml in {str(into)!r}: create it first (domain, description, owner, cost_center), then import",
    )


def test_an_invalid_target_blueprint_is_not_touched(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    broken = (
        (into / "sales.yaml").read_text().replace("cost_center: CC-1001", "cost_center: 'CC 1001'")
    )
    (into / "sales.yaml").write_text(broken)
    code, out = import_json(ODCS / "order_lines.odcs.yaml", into)
    assert code == 1
    assert codes(out["errors"]) == [("E013", "cost_center"), ("C007", "")]
    assert (into / "sales.yaml").read_text() == broken


def test_numbers_where_odcs_wants_text_are_read_as_text(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    contract = yaml.safe_load((ODCS / "order_lines.odcs.yaml").read_text())
    contract["version"] = 2.0
    contract["id"] = 42
    path = tmp_path / "c.odcs.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    code, out = import_json(path, into)
    assert code == 0
    messages = {w["path"]: w["message"] for w in out["warnings"]}
    assert messages["version"].startswith("2.0 becomes '1.0.0'")
    assert messages["id"].startswith("42 becomes 'sales.order_lines'")


def test_a_pii_partition_key_is_refused(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    contract = yaml.safe_load((ODCS / "order_lines.odcs.yaml").read_text())
    contract["schema"][0]["properties"][6]["tags"] = ["PII"]  # country, partition key 1
    path = tmp_path / "c.odcs.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    code, out = import_json(path, into)
    assert code == 1
    assert codes(out["errors"]) == [("C006", "schema[0].properties[6]")]
    assert (
        "partition key 'country' is PII: every grant reads partition keys"
        in out["errors"][0]["message"]
    )


# ====================================================================== quality rules in the blueprint


def test_quality_rules_stay_out_of_the_glue_table():
    """Every grantee reads a table's parameters; a rule names columns a column-limited grant
    does not show: the rules are in the blueprint and the exported contract, not in Glue."""
    loaded = load_mesh(MESH, today=TODAY).mesh
    bp, product = loaded.product("shop.baskets")
    assert len(product.quality) == 5
    params = product_args(bp, product, StackSettings(), TODAY).table_parameters
    assert not any(k.startswith("mesh:quality") for k in params)
    assert "basket_id" not in json.dumps(params) and "shipping" not in json.dumps(params)


def _product(**extra) -> dict:
    return {
        "name": "t1",
        "description": "d",
        "classification": "internal",
        "retention_days": 30,
        "schema": [{"name": "a", "type": "string"}],
        **extra,
    }


def test_quality_rules_are_bounded_by_the_glue_parameter_limit():
    rule = {"type": "sql", "query": "SELECT 1 -- " + "x" * 60_000, "mustBe": 1}
    Product.model_validate(_product(quality=[rule] * 8))
    with pytest.raises(ValueError) as exc:
        Product.model_validate(_product(quality=[rule] * 9))
    assert f"a Glue table parameter value (where an engine keeps them) holds at most {GLUE_PARAMETER_MAX:,}" in str(exc.value)  # fmt: skip
    with pytest.raises(
        ValueError, match="quality\\[0\\].column 'b.c' is not a column of the product"
    ):
        Product.model_validate(
            _product(quality=[{"column": "b.c", "metric": "nullValues", "mustBe": 0}])
        )


def test_a_quality_rule_with_an_unknown_key_is_a_validate_error(tmp_path):
    into = copy_of(MESH, tmp_path)
    shop = into / "shop.yaml"
    shop.write_text(
        shop.read_text().replace(
            "{metric: rowCount, mustBeGreaterThan: 0}", "{metric: rowCount, mustBeGreatherThan: 0}"
        )
    )
    run = mesh(["validate", str(into), "--format", "json"])
    assert run.exit_code == 1
    [error] = json.loads(run.stdout)["errors"]
    assert (error["code"], error["path"], error["line"]) == (
        "E010",
        "products[0].quality[0].mustBeGreatherThan",
        30,
    )
    assert (
        "expected one of: arguments, authoritativeDefinitions, businessImpact, column,"
        in error["message"]
    )


def test_an_exported_invalid_quality_rule_fails_the_export(tmp_path):
    into = copy_of(MESH, tmp_path)
    shop = into / "shop.yaml"
    shop.write_text(
        shop.read_text().replace(
            "{metric: rowCount, mustBeGreaterThan: 0}", "{type: sql, mustBe: 0}"
        )
    )
    run = mesh(["contract", "export", str(into), "--out", str(tmp_path / "out")])
    assert run.exit_code == 1
    assert (
        "error C009 products[0]: the contract of shop.baskets is not valid ODCS at schema[0].quality[0]: 'query' is a required property"
        in run.stderr
    )
    assert not (tmp_path / "out").exists()
    assert (
        QualityRule.model_validate({"type": "sql", "mustBe": 0}).query is None
    )  # the model is permissive


# ====================================================================== start-up cost


def test_the_other_commands_do_not_import_the_contract_libraries():
    code = (
        "import sys, infra.cli; "
        "print(sorted(m for m in ('open_data_contract_standard', 'ruamel', 'jsonschema', "
        "'infra.contracts.mapping', 'infra.contracts.importing', 'infra.contracts.edit', "
        "'infra.cli.contract_commands') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]"


def test_import_into_a_domain_without_products(tmp_path):
    """analytics.yaml has `products: []`: the flow sequence becomes a block with the product."""
    into = copy_of(SINGLE, tmp_path)
    contract = yaml.safe_load((ODCS / "order_lines.odcs.yaml").read_text())
    contract["domain"] = "analytics"
    contract["schema"][0]["properties"][5]["name"] = "date"  # reserved in Athena DDL: W004
    path = tmp_path / "c.odcs.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    code, out = import_json(path, into)
    assert (code, out["product"]) == (0, "analytics.order_lines"), out
    w004 = [w for w in out["warnings"] if w["code"] == "W004"]
    assert [(w["file"], w["path"]) for w in w004] == [
        (str(into / "analytics.yaml"), "products[0].schema[4].name")
    ]
    text = (into / "analytics.yaml").read_text()
    before = (SINGLE / "analytics.yaml").read_text()
    assert text.startswith(before.split("products: []")[0] + "products:\n  - name: order_lines\n")
    assert text.endswith("policies: {}\nexceptions: []\n")


def test_a_layout_ruamel_cannot_reproduce_is_said(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    head, tail = (SINGLE / "sales.yaml").read_text().split("  - name: returns")
    odd = (
        head + "  - name: returns" + tail.replace("      - {", "    - {")
    )  # sequences not indented
    (into / "sales.yaml").write_text(odd)
    assert mesh(["validate", str(into)]).exit_code == 0
    code, out = import_json(ODCS / "order_lines.odcs.yaml", into)
    assert code == 0
    [cw05] = [w for w in out["warnings"] if w["code"] == "CW05"]
    assert cw05["message"] == (
        "sales.yaml's indentation is not one ruamel.yaml reproduces: the file is re-indented "
        "(comments are kept)"
    )
    assert product_of(into, "sales.returns") == product_of(SINGLE, "sales.returns")


def test_a_liberal_reading_of_common_deviations(tmp_path):
    """A plain-string description and team, servers keyed by name: read, and reported."""
    into = copy_of(SINGLE, tmp_path)
    contract = {
        "apiVersion": "v3.0.0",
        "id": "x",
        "version": "1",
        "domain": "logistics",
        "description": "Carrier rate cards per zone",
        "team": "logistics-data",
        "servers": {"production": {"type": "s3", "location": "s3://rates/", "format": "csv"}},
        "schema": [
            {
                "name": "carrier_rates",
                "properties": [
                    {"name": "zone", "logicalType": "string", "classification": "internal"}
                ],
            }
        ],
        "slaProperties": [{"property": "re", "value": 1, "unit": "y"}],
    }
    path = tmp_path / "c.odcs.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    code, out = import_json(path, into)
    assert code == 0, out
    assert ("CW03", "") in codes(out["warnings"])  # kind is missing, and more
    assert ("CW02", "servers") in codes(out["warnings"]) and ("CW02", "team") in codes(
        out["warnings"]
    )
    product = product_of(into, "logistics.carrier_rates")
    assert (product.description, product.format.value, product.retention_days) == (
        "Carrier rate cards per zone",
        "csv",
        365,
    )


def test_a_field_dropped_from_many_properties_is_one_terminal_line(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    contract = yaml.safe_load((ODCS / "order_lines.odcs.yaml").read_text())
    for prop in contract["schema"][0]["properties"]:
        prop["required"] = True
        prop.pop("primaryKey", None)
        prop.pop("primaryKeyPosition", None)
    path = tmp_path / "c.odcs.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    run = mesh(["contract", "import", str(path), "--into", str(into)])
    assert run.exit_code == 0
    lines = [line for line in run.stderr.splitlines() if ".required: dropped" in line]
    assert len(lines) == 1
    assert lines[0].endswith("True (and 6 more like it: schema[*].properties[*].required)")
    code, out = import_json(path, copy_of(SINGLE, tmp_path, "again"))
    assert code == 0
    assert sum(w["path"].endswith(".required") for w in out["warnings"]) == 7  # JSON: every one


def test_sla_values_the_blueprint_cannot_take_are_errors_at_the_sla(tmp_path):
    into = copy_of(SINGLE, tmp_path)
    contract = yaml.safe_load((ODCS / "order_lines.odcs.yaml").read_text())
    contract["slaProperties"] = [
        {"property": "latency", "value": 2, "unit": "y"},
        {"property": "retention", "value": "soon", "unit": "d"},
    ]
    path = tmp_path / "c.odcs.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    code, out = import_json(path, into)
    assert code == 1
    assert [(e["code"], e["path"], e["message"]) for e in out["errors"]] == [
        (
            "C006",
            "slaProperties[1].value",
            (
                "retention 'soon' 'd' is not a duration: expected a positive number and a unit "
                "(h, d, w, y, ...) or an ISO 8601 duration (PT4H)"
            ),
        )
    ]
    contract["slaProperties"][1]["value"] = 30
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    code, out = import_json(path, into)
    assert code == 1
    assert [(e["code"], e["path"], e["message"]) for e in out["errors"]] == [
        (
            "C006",
            "slaProperties[0].value",
            "freshness_slo_hours: Input should be less than or equal to 8760 (got 17520)",
        )
    ]


def test_lf_tags_travel_through_the_contract(tmp_path):
    """The sample's tagged product (issue 29): its LF-tags, their approval and a column's
    override go out in the contract's blueprint custom property and come back on import."""
    from conftest import SAMPLE

    contracts = export_all(SAMPLE, tmp_path / "c1")
    assert contracts["sales.orders"]["customProperties"][0]["value"]["lf_tags"] == {
        "sensitivity": "low"
    }
    into = copy_of(SAMPLE, tmp_path)
    sales = into / "sales.yaml"
    data = yaml.safe_load(sales.read_text())
    data["products"] = [p for p in data["products"] if p["name"] != "orders"]
    sales.write_text(yaml.safe_dump(data, sort_keys=False))
    code, out = import_json(tmp_path / "c1" / "sales.orders.odcs.yaml", into)
    assert (code, out["action"]) == (0, "created"), out
    after = product_of(into, "sales.orders")
    assert after.lf_tags == {"sensitivity": "low"} and after.lf_tags_approved_by == "privacy"
    assert [c.lf_tags for c in after.columns if c.lf_tags] == [{"sensitivity": "high"}]
