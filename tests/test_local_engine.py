"""The local engine: the sample mesh deployed into moto, access checked under IAM enforcement."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest
from typer.testing import CliRunner

from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.engines.moto import LocalAws, UnsupportedResource
from infra.engines.moto_deploy import MotoMocks, deploy
from infra.engines.recording import run_program
from infra.engines.verify import verify
from infra.provision import documents
from infra.provision.program import StackSettings
from infra.provision.querydocs import data_filter_name

SETTINGS = StackSettings()
ALL = frozenset({"read", "list", "write"})
NONE = frozenset()


@pytest.fixture(scope="module")
def deployed(single_dir, today):
    mesh = load_mesh(single_dir, today=today).mesh
    local = LocalAws(SETTINGS.region)
    try:
        deployment = deploy(mesh, SETTINGS, today, local)
        result = verify(mesh, SETTINGS, today, local, deployment.graph)
        # read what we need while the emulator is up
        glue = local.client("glue")
        tables = {
            (db["Name"], t["Name"]): t
            for db in glue.get_databases()["DatabaseList"]
            for t in glue.get_tables(DatabaseName=db["Name"])["TableList"]
        }
        lf = local.client("lakeformation").list_permissions()["PrincipalResourcePermissions"]
        yield mesh, deployment, result, tables, lf
    finally:
        local.stop()


def cell(result, principal, product):
    matches = [c for c in result.cells if c.principal == principal and c.product == product]
    assert len(matches) == 1
    return matches[0]


def test_sample_mesh_verifies(deployed):
    _, deployment, result, _, _ = deployed
    assert result.mismatches == []
    assert result.failed_checks == []
    assert result.ok
    assert result.calls == 10 * 10 * 3  # 10 principals x 10 products x (get, list, put)
    # 181 before the query path: + 11 per domain (results bucket and its 5 guards, workgroup,
    # 2 query policies, 2 DESCRIBE on default) + 4 data cells filters
    assert len(deployment.graph.resources) == 181 + 5 * 11 + 4


def test_only_the_producer_writes(deployed):
    _, _, result, _, _ = deployed
    for c in result.cells:
        owner = c.product.split(".")[0]
        if c.principal == f"{owner}:producer":
            assert c.actual == ALL, c
        else:
            assert "write" not in c.actual, c


def test_column_limited_consumer_has_no_direct_s3_read(deployed):
    _, _, result, _, _ = deployed
    assert cell(result, "marketing:consumer", "sales.orders").actual == NONE
    assert cell(result, "logistics:consumer", "sales.orders").actual == NONE
    assert cell(result, "analytics:consumer", "finance.invoices").actual == NONE


def test_no_consumer_reads_s3_in_the_emulator(deployed):
    """Consumers read through Lake Formation; their roles have no S3 permission, so the
    emulator (which enforces identity policies) denies every S3 call of every consumer."""
    _, _, result, _, _ = deployed
    consumers = [c for c in result.cells if c.principal.endswith(":consumer")]
    assert len(consumers) == 5 * 10
    assert {c.actual for c in consumers} == {NONE}
    assert cell(result, "finance:consumer", "sales.orders").expected == NONE  # whole table, PII


def test_an_opted_in_direct_read_is_proven_by_the_evaluator(deployed):
    """analytics opted into direct S3 read of finance.revenue_daily: the bucket and key
    policies name its role, which moto does not grant through (it applies a bucket policy's
    Deny, never its Allow). The evaluator, run on the graph as deployed, proves the read."""
    _, _, result, _, _ = deployed
    assert result.direct == {("analytics:consumer", "finance.revenue_daily")}
    assert cell(result, "analytics:consumer", "finance.revenue_daily").actual == NONE
    evaluated = {(c.subject, c.what): c.ok for c in result.checks if c.kind == "evaluator"}
    assert evaluated == {
        (
            "analytics:consumer -> finance.revenue_daily",
            "direct S3 read through the bucket and key policies",
        ): True,
        ("mesh", "effective access == declared access (22 grants)"): True,
    }


def test_expired_grant_reads_nothing(deployed):
    _, _, result, _, lf = deployed
    assert cell(result, "analytics:consumer", "logistics.shipments").actual == NONE
    principals = {
        (p["Principal"]["DataLakePrincipalIdentifier"], json.dumps(p["Resource"], sort_keys=True))
        for p in lf
    }
    assert not any(
        arn.endswith("role/mesh-analytics-consumer") and '"shipments"' in res
        for arn, res in principals
    )


def test_unrelated_principals_are_denied(deployed):
    _, _, result, _, _ = deployed
    assert cell(result, "sales:producer", "finance.payroll").actual == NONE
    assert cell(result, "marketing:consumer", "sales.customers").actual == NONE


def test_glue_tables_have_the_blueprint_columns(deployed):
    mesh, _, _, tables, _ = deployed
    assert len(tables) == 10
    for bp, product in mesh.products():
        table = tables[(f"mesh_{bp.domain}", product.name)]
        got = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        assert got == [(c.name, c.type) for c in product.columns]
        got_keys = [(c["Name"], c["Type"]) for c in table.get("PartitionKeys", [])]
        assert got_keys == [(c.name, c.type) for c in product.partition_keys]
    orders = tables[("mesh_sales", "orders")]
    assert orders["StorageDescriptor"]["Columns"][5] == {"Name": "amount", "Type": "decimal(12,2)"}


DOMAINS = ("analytics", "finance", "logistics", "marketing", "sales")


def data_filter(consumer: str, database: str, table: str, columns: list[str]) -> str:
    """A permission on the grant's data cells filter (its columns and the partition key `dt`):
    moto stores the permission as granted; the filter itself only the engine holds."""
    name = data_filter_name(consumer, (*columns, "dt"), None)
    return json.dumps(
        {
            "DataCellsFilter": {
                "DatabaseName": database,
                "Name": name,
                "TableCatalogId": "123456789012",
                "TableName": table,
            }
        },
        sort_keys=True,
    )


def test_lake_formation_permissions_equal_declared_grants(deployed):
    _, _, _, _, lf = deployed
    got = sorted(
        (
            p["Principal"]["DataLakePrincipalIdentifier"].rsplit("/", 1)[-1],
            json.dumps(p["Resource"], sort_keys=True),
            tuple(p["Permissions"]),
        )
        for p in lf
        if p["Principal"]["DataLakePrincipalIdentifier"].endswith("-consumer")
    )
    assert got == sorted(
        [
            ("mesh-analytics-consumer", '{"Table": {"DatabaseName": "mesh_finance", "Name": "revenue_daily"}}', ("SELECT",)),
            ("mesh-analytics-consumer", '{"Table": {"DatabaseName": "mesh_marketing", "Name": "attribution"}}', ("SELECT",)),
            ("mesh-analytics-consumer", '{"Table": {"DatabaseName": "mesh_marketing", "Name": "campaigns"}}', ("SELECT",)),
            ("mesh-analytics-consumer", '{"Table": {"DatabaseName": "mesh_sales", "Name": "returns"}}', ("SELECT",)),
            ("mesh-analytics-consumer", data_filter("analytics", "mesh_finance", "invoices", ['invoice_id', 'issued_on', 'net_amount', 'order_id']), ("SELECT",)),
            ("mesh-finance-consumer", '{"Table": {"DatabaseName": "mesh_marketing", "Name": "campaigns"}}', ("SELECT",)),
            ("mesh-finance-consumer", '{"Table": {"DatabaseName": "mesh_sales", "Name": "orders"}}', ("SELECT",)),
            ("mesh-logistics-consumer", data_filter("logistics", "mesh_sales", "orders", ['order_date', 'order_id', 'quantity', 'sku']), ("SELECT",)),
            ("mesh-marketing-consumer", '{"Table": {"DatabaseName": "mesh_finance", "Name": "revenue_daily"}}', ("SELECT",)),
            ("mesh-marketing-consumer", data_filter("marketing", "mesh_sales", "orders", ['amount', 'order_date', 'order_id']), ("SELECT",)),
            ("mesh-sales-consumer", '{"Table": {"DatabaseName": "mesh_logistics", "Name": "stock_levels"}}', ("SELECT",)),
            # the query path: every consumer role describes `default` (its producer does too)
            *((f"mesh-{d}-consumer", '{"Database": {"Name": "default"}}', ("DESCRIBE",)) for d in DOMAINS),
            ("mesh-sales-consumer", data_filter("sales", "mesh_logistics", "shipments", ['carrier', 'delivered_at', 'order_id', 'shipment_id', 'shipped_at']), ("SELECT",)),
        ]
    )  # fmt: skip


def test_bucket_settings_are_read_back(deployed):
    _, _, result, _, _ = deployed
    kinds = {}
    for c in result.checks:
        kinds.setdefault(c.kind, []).append(c)
    assert len(kinds["glue"]) == 20  # columns + partition keys per product
    assert len(kinds["bucket"]) == 70  # 7 settings per product
    assert len(kinds["kms"]) == 10  # rotation + key policy per domain
    assert len(kinds["evaluator"]) == 2  # the one direct read, the whole access model
    # the query path: each domain's workgroup and its results bucket, as moto holds them
    assert [(c.subject, c.ok) for c in kinds["athena"]] == [
        (d, True) for d in DOMAINS for _ in ("workgroup", "results bucket")
    ]
    assert all(c.ok for c in result.checks)


def _widened_consumer_policy(original):
    """A component bug: consumer roles also get S3 read on every mesh bucket."""

    def widened(env, database_prefix, **options):
        policy = original(env, database_prefix, **options)
        policy["Statement"].append(
            {
                "Sid": "Oops",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::mesh-*", "arn:aws:s3:::mesh-*/*"],
            }
        )
        return policy

    return widened


def test_verifier_reports_a_widened_consumer_policy(monkeypatch, single_dir):
    monkeypatch.setattr(
        documents, "consumer_policy", _widened_consumer_policy(documents.consumer_policy)
    )
    result = CliRunner().invoke(app, ["up", "--local", str(single_dir)])
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert (
        "MISMATCH marketing:consumer on sales.orders: emulator allowed RL, access model says -"
        in output
    )
    assert "FAILED evaluator mesh: effective access == declared access" in output
    assert "Traceback" not in result.output


def test_verifier_reports_a_tampered_role_policy(single_dir, today):
    """Someone widens a consumer role by hand after deployment: the verifier sees it."""
    mesh = load_mesh(single_dir, today=today).mesh
    local = LocalAws(SETTINGS.region)
    try:
        deployment = deploy(mesh, SETTINGS, today, local)
        local.client("iam").put_role_policy(
            RoleName="mesh-marketing-consumer",
            PolicyName="hand-made",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::mesh-finance-payroll/*",
                        }
                    ],
                }
            ),
        )
        result = verify(mesh, SETTINGS, today, local, deployment.graph)
    finally:
        local.stop()
    assert not result.ok
    assert [(c.principal, c.product, c.actual, c.expected) for c in result.mismatches] == [
        ("marketing:consumer", "finance.payroll", frozenset({"read"}), NONE)
    ]


def test_unsupported_resource_type_is_an_error_naming_it(today):
    local = LocalAws(SETTINGS.region)
    try:
        with pytest.raises(UnsupportedResource, match=r"aws:sns/topic:Topic .*'alerts'"):
            run_program(
                None,  # type: ignore[arg-type]
                SETTINGS,
                today,
                mocks=MotoMocks(local, SETTINGS),
                program=lambda: aws.sns.Topic("alerts", opts=pulumi.ResourceOptions()),
            )
    finally:
        local.stop()


def test_up_without_local_is_a_usage_error(single_dir):
    result = CliRunner().invoke(app, ["up", str(single_dir)])
    assert result.exit_code == 2
    assert "only --local is supported" in result.output
