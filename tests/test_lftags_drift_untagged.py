"""`mesh drift` reads the LF-tags assigned on the Glue databases, tables and columns the stack
creates and does not tag (`infra.engines.drift_lftags`): a tag assigned there by hand is
`unexpected` — any tag grant on that key and value now reaches the data outside the blueprints.
Applied to moto as pulumi_aws records the program, changed as an administrator would."""

from __future__ import annotations

import boto3
import pulumi
import pulumi_aws as aws
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from infra.engines.drift import drift
from infra.engines.drift_lftags import lf_tag_drift
from infra.engines.moto import LocalAws
from infra.engines.moto_deploy import MotoMocks
from infra.engines.readback_lftags import created_catalog
from infra.engines.recording import Recorded, ResourceGraph, run_program
from infra.provision import types as T
from infra.provision.program import StackSettings

SETTINGS = StackSettings()
ACCOUNT = SETTINGS.account  # moto's default account: the platform's
CLEAN = {"unexpected": [], "missing": [], "changed": []}
ORDERS = {"DatabaseName": "mesh_sales", "Name": "orders"}
RETURNS = {"DatabaseName": "mesh_sales", "Name": "returns"}


def _columns(*names: str) -> list[dict]:
    return [{"name": n, "type": "string"} for n in names]


def _table(name: str, table: str, columns: list[dict], after, **extra) -> aws.glue.CatalogTable:
    return aws.glue.CatalogTable(
        name,
        name=table,
        database_name="mesh_sales",
        table_type="EXTERNAL_TABLE",
        storage_descriptor={
            "location": f"s3://mesh-sales-{table}/data/",
            "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "ser_de_info": {
                "serialization_library": "org.apache.hadoop.hive.ql.io.parquet.serde."
                "ParquetHiveSerDe"
            },
            "columns": columns,
        },
        opts=pulumi.ResourceOptions(depends_on=after),
        **extra,
    )


def _program() -> None:
    """A database, a resource link to it and two tables: `orders` tagged with one column of its
    own (`customer_email`), `returns` untagged; every other column untagged."""
    tags = [
        aws.lakeformation.LfTag(
            "lf-tag-classification", key="classification", values=["internal", "public"]
        ),
        aws.lakeformation.LfTag("lf-tag-sensitivity", key="sensitivity", values=["low", "high"]),
    ]
    database = aws.glue.CatalogDatabase("sales-database", name="mesh_sales")
    aws.glue.CatalogDatabase(
        "sales-link",
        name="mesh_sales_link",
        target_database={"catalog_id": ACCOUNT, "database_name": "mesh_sales"},
        opts=pulumi.ResourceOptions(depends_on=[database]),
    )
    orders = _table(
        "sales.orders",
        "orders",
        _columns("order_id", "customer_email", "amount"),
        [database],
        partition_keys=_columns("dt"),
    )
    _table("sales.returns", "returns", _columns("return_id", "reason"), [database])
    after = pulumi.ResourceOptions(depends_on=[*tags, orders])
    aws.lakeformation.ResourceLfTags(
        "sales.orders-lftags",
        catalog_id=ACCOUNT,
        table={"catalog_id": ACCOUNT, "database_name": "mesh_sales", "name": "orders"},
        lf_tags=[{"key": "sensitivity", "value": "low"}],
        opts=after,
    )
    aws.lakeformation.ResourceLfTags(
        "sales.orders-lftags-customer_email",
        catalog_id=ACCOUNT,
        table_with_columns={
            "catalog_id": ACCOUNT,
            "database_name": "mesh_sales",
            "name": "orders",
            "column_names": ["customer_email"],
        },
        lf_tags=[{"key": "sensitivity", "value": "high"}],
        opts=after,
    )


@pytest.fixture
def fresh(today):
    """A deployment of its own, for a test that changes it; the count of each API call drift
    makes to Lake Formation."""
    emulator = LocalAws(SETTINGS.region)
    try:
        graph = run_program(None, SETTINGS, today, mocks=MotoMocks(emulator, SETTINGS), program=_program)  # type: ignore[arg-type]  # fmt: skip
        yield emulator, graph
    finally:
        emulator.stop()


def _drift(local: LocalAws, graph: ResourceGraph, calls: list | None = None):
    def client(service: str, account: str):
        c = local.in_account(service, account)
        if calls is not None and service == "lakeformation":
            c.meta.events.register(
                "provide-client-params.lakeformation.GetResourceLFTags",
                lambda params, **_: calls.append(params["Resource"]),
                unique_id="count-lf-reads",
            )
        return c

    return drift(graph, SETTINGS, [ACCOUNT], client)


def _tags(local: LocalAws, resource: dict, key: str, value: str) -> None:
    """An LF-tag assigned by hand, as in the console."""
    local.in_account("lakeformation", ACCOUNT).add_lf_tags_to_resource(
        Resource=resource, LFTags=[{"TagKey": key, "TagValues": [value]}]
    )


def test_the_stack_creates_a_database_and_two_tables_with_their_columns(fresh):
    _, graph = fresh
    assert created_catalog(graph, ACCOUNT) == [
        (ACCOUNT, {"Database": {"Name": "mesh_sales"}}, []),
        (
            ACCOUNT,
            {"Table": {"DatabaseName": "mesh_sales", "Name": "orders"}},
            ["order_id", "customer_email", "amount", "dt"],
        ),
        (
            ACCOUNT,
            {"Table": {"DatabaseName": "mesh_sales", "Name": "returns"}},
            ["return_id", "reason"],
        ),
    ]  # not the resource link: it holds no data


def test_a_clean_stack_has_no_drift_and_drift_reads_each_resource_once(fresh):
    local, graph = fresh
    calls: list[dict] = []
    found = _drift(local, graph, calls)
    assert found.as_json() == CLEAN and found.clean
    # the two declared assignments, then one read per untagged database and table, and one
    # per table for all its untagged columns
    assert calls == [
        {"Table": {"CatalogId": ACCOUNT, **ORDERS}},
        {"TableWithColumns": {"CatalogId": ACCOUNT, **ORDERS, "ColumnNames": ["customer_email"]}},
        {"Database": {"Name": "mesh_sales"}},
        {"TableWithColumns": {**ORDERS, "ColumnNames": ["order_id", "amount", "dt"]}},
        {"Table": RETURNS},
        {"TableWithColumns": {**RETURNS, "ColumnNames": ["return_id", "reason"]}},
    ]


@pytest.mark.parametrize(
    ("resource", "where"),
    [
        ({"Table": RETURNS}, "mesh_sales.returns"),
        ({"TableWithColumns": {**ORDERS, "ColumnNames": ["amount"]}}, "mesh_sales.orders.amount"),
        ({"TableWithColumns": {**ORDERS, "ColumnNames": ["dt"]}}, "mesh_sales.orders.dt"),
        ({"Database": {"Name": "mesh_sales"}}, "mesh_sales"),
    ],
    ids=["table", "column", "partition-key", "database"],
)
def test_a_tag_assigned_by_hand_on_an_untagged_resource_is_unexpected(fresh, resource, where):
    local, graph = fresh
    _tags(local, resource, "classification", "public")
    found = _drift(local, graph)
    assert found.as_json() == {
        "unexpected": [
            {
                "kind": "lf_tag_assignment",
                "account": ACCOUNT,
                "resource": where,
                "detail": "classification=public",
            }
        ],
        "missing": [],
        "changed": [],
    }
    assert not found.clean  # `mesh drift` exits 1


def test_tags_by_hand_on_a_database_a_table_and_columns_together(fresh):
    local, graph = fresh
    _tags(local, {"Database": {"Name": "mesh_sales"}}, "classification", "internal")
    _tags(local, {"Table": RETURNS}, "sensitivity", "low")
    columns = {"TableWithColumns": {**RETURNS, "ColumnNames": ["return_id", "reason"]}}
    _tags(local, columns, "classification", "public")
    # on a column the stack tags: compared with what it declares, as before
    email = {"TableWithColumns": {**ORDERS, "ColumnNames": ["customer_email"]}}
    local.in_account("lakeformation", ACCOUNT).add_lf_tags_to_resource(
        Resource=email,
        LFTags=[
            {"TagKey": "sensitivity", "TagValues": ["high"]},
            {"TagKey": "classification", "TagValues": ["public"]},
        ],
    )
    # the resource link holds no data: not read
    _tags(local, {"Database": {"Name": "mesh_sales_link"}}, "classification", "public")
    found = _drift(local, graph).as_json()
    assert [(f["kind"], f["resource"], f["detail"]) for f in found["unexpected"]] == [
        ("lf_tag_assignment", "mesh_sales", "classification=internal"),
        ("lf_tag_assignment", "mesh_sales.orders.customer_email", "classification=public"),
        ("lf_tag_assignment", "mesh_sales.returns", "sensitivity=low"),
        ("lf_tag_assignment", "mesh_sales.returns.reason", "classification=public"),
        ("lf_tag_assignment", "mesh_sales.returns.return_id", "classification=public"),
    ]
    assert found["missing"] == found["changed"] == []


def _graph(*resources: tuple[str, str, dict]) -> ResourceGraph:
    return ResourceGraph(
        [
            Recorded(
                type_, name, f"urn:{name}", None, inputs, False, False, [], True, account=ACCOUNT
            )
            for type_, name, inputs in resources
        ]
    )


GONE = _graph(
    (T.DATABASE, "sales-database", {"name": "mesh_sales"}),
    (
        T.TABLE,
        "sales.returns",
        {
            "databaseName": "mesh_sales",
            "name": "returns",
            "storageDescriptor": {"columns": _columns("reason")},
        },
    ),
)


def test_a_database_or_table_deleted_by_hand_has_nothing_assigned():
    lf = boto3.client("lakeformation", region_name=SETTINGS.region)
    with Stubber(lf) as stub:
        for resource in (
            {"Database": {"Name": "mesh_sales"}},
            {"Table": RETURNS},
            {"TableWithColumns": {**RETURNS, "ColumnNames": ["reason"]}},
        ):
            stub.add_client_error(
                "get_resource_lf_tags",
                service_error_code="EntityNotFoundException",
                http_status_code=400,
                expected_params={"Resource": resource, "ShowAssignedLFTags": True},
            )
        assert lf_tag_drift(GONE, ACCOUNT, lambda service, account: lf) == []
        stub.assert_no_pending_responses()


def test_any_other_error_of_a_read_is_raised():
    lf = boto3.client("lakeformation", region_name=SETTINGS.region)
    with Stubber(lf) as stub:
        stub.add_client_error(
            "get_resource_lf_tags",
            service_error_code="AccessDeniedException",
            http_status_code=403,
            expected_params={
                "Resource": {"Database": {"Name": "mesh_sales"}},
                "ShowAssignedLFTags": True,
            },
        )
        with pytest.raises(ClientError, match="AccessDeniedException"):
            lf_tag_drift(GONE, ACCOUNT, lambda service, account: lf)
