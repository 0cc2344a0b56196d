"""The Pulumi program under recording mocks: exact inputs by type and logical name.

The sample mesh (blueprints/) and small purpose-built meshes (tests/fixtures/program/<case>/) run
through `run_program`, whose mocks refuse every invoke. Policy documents are parsed and compared
whole; the KMS key ARN is the mock's deterministic one.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pulumi
import pulumi_aws as aws
import pytest
from conftest import FIXTURES, SINGLE, TODAY, run_pulumi_main
from resource_types import (
    ALIAS,
    BUCKET,
    BUCKET_POLICY,
    DATABASE,
    DOMAIN,
    ENCRYPTION,
    GRANT,
    KEY,
    LF_DATA_FILTER,
    LF_PERMISSIONS,
    LF_RESOURCE,
    LIFECYCLE,
    OWNERSHIP,
    PRODUCT,
    PUBLIC_ACCESS_BLOCK,
    ROLE,
    ROLE_POLICY,
    TABLE,
    VERSIONING,
    WORKGROUP,
)

from infra.blueprints.load import load_mesh
from infra.engines.recording import ResourceGraph, UnmockedCall, run_program
from infra.model.mesh import Mesh
from infra.provision.program import StackSettings
from infra.provision.querydocs import data_filter_name

STATEFUL = (BUCKET, KEY, DATABASE, TABLE)

ACCOUNT = "123456789012"
REGION = "eu-west-1"
# DeterministicMocks: uuid5(NAMESPACE_URL, "kms/sales-key")
SALES_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/4008ee13-1ee0-5649-970e-664778d32dcd"
ROOT_PRINCIPAL = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
GLUE = f"arn:aws:glue:{REGION}:{ACCOUNT}"
PRODUCER_KMS = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
VIA_S3 = f"s3.{REGION}.amazonaws.com"
SALES_TAGS = {
    "cost-center": "CC-1001",
    "mesh:domain": "sales",
    "mesh:owner": "sales-data",
    "mesh:product": "-",
}
ORDERS_TAGS = {
    "cost-center": "CC-1001",
    "mesh:classification": "confidential",
    "mesh:domain": "sales",
    "mesh:owner": "sales-data",
    "mesh:product": "orders",
}
PARQUET = {
    "inputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "outputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "serDeInfo": {
        "parameters": {"serialization.format": "1"},
        "serializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    },
}
JSON_FORMAT = {
    "inputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "outputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "serDeInfo": {
        "parameters": {"ignore.malformed.json": "FALSE"},
        "serializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
    },
}
CSV_FORMAT = {
    "inputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "outputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "serDeInfo": {
        "parameters": {"field.delim": ",", "serialization.format": ","},
        "serializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
    },
}
LF_CREDENTIALS = {
    "Sid": "LakeFormationCredentials",
    "Effect": "Allow",
    "Action": "lakeformation:GetDataAccess",
    "Resource": "*",
}


def load(directory) -> Mesh:
    result = load_mesh(directory, today=TODAY)
    assert result.errors == []
    return result.mesh


def run(directory, settings: StackSettings | None = None, today: dt.date = TODAY):
    return run_program(load(directory), settings or StackSettings(), today)


def policy(resource) -> dict:
    return json.loads(resource.inputs["policy"])


def consumer_policy_of(graph: ResourceGraph, domain: str) -> dict:
    resource = graph.get(ROLE_POLICY, f"{domain}-consumer-access")
    assert (resource.inputs["name"], resource.inputs["role"], resource.parent) == (
        "mesh-consumer-access",
        f"mesh-{domain}-consumer",
        domain,
    )
    return policy(resource)


CONSUMER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadMeshCatalog",
            "Effect": "Allow",
            "Action": [
                "glue:BatchGetPartition",
                "glue:GetDatabase",
                "glue:GetDatabases",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:GetTable",
                "glue:GetTables",
            ],
            "Resource": [f"{GLUE}:catalog", f"{GLUE}:database/mesh_*", f"{GLUE}:table/mesh_*/*"],
        },
        LF_CREDENTIALS,
    ],
}


def direct_read_statements(bucket: str, roles: list[str], suffix: str = "", until=None) -> list:
    """What a bucket policy adds for the direct readers of one expiry group."""
    arn = f"arn:aws:s3:::{bucket}"
    principal = {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/{r}" for r in roles]}
    date = {"DateLessThan": {"aws:CurrentTime": until}} if until else {}
    return [
        {
            "Sid": f"DirectReadObjects{suffix}",
            "Effect": "Allow",
            "Principal": principal,
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"{arn}/data/*",
            **({"Condition": date} if date else {}),
        },
        {
            "Sid": f"DirectListTable{suffix}",
            "Effect": "Allow",
            "Principal": principal,
            "Action": ["s3:ListBucket"],
            "Resource": arn,
            "Condition": {"StringLike": {"s3:prefix": ["data/*"]}, **date},
        },
    ]


def descendants(graph: ResourceGraph, name: str) -> list:
    out, frontier = [], {name}
    while frontier:
        children = [r for r in graph.resources if r.parent in frontier]
        out += children
        frontier = {r.name for r in children if not r.custom}
    return out


@pytest.fixture(scope="module")
def sample() -> ResourceGraph:
    return run(SINGLE)


# ---------------------------------------------------------------- sales.orders storage


def test_orders_bucket(sample):
    bucket = sample.get(BUCKET, "sales.orders-bucket")
    assert bucket.parent == "sales.orders"
    assert bucket.inputs == {
        "bucket": "mesh-sales-orders",
        "forceDestroy": False,
        "tags": ORDERS_TAGS,
    }
    assert (bucket.protect, bucket.retain_on_delete) == (True, True)


def test_orders_bucket_policy(sample):
    resource = sample.get(BUCKET_POLICY, "sales.orders-policy")
    assert resource.inputs["bucket"] == "mesh-sales-orders"
    assert sample.get(KEY, "sales-key").outputs["arn"] == SALES_KEY_ARN
    assert policy(resource) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::mesh-sales-orders", "arn:aws:s3:::mesh-sales-orders/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyOtherEncryption",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::mesh-sales-orders/*",
                "Condition": {
                    "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                    "Null": {"s3:x-amz-server-side-encryption": "false"},
                },
            },
            {
                "Sid": "DenyOtherKmsKeys",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::mesh-sales-orders/*",
                "Condition": {
                    "StringNotEquals": {
                        "s3:x-amz-server-side-encryption-aws-kms-key-id": SALES_KEY_ARN
                    },
                    "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
                },
            },
            {
                "Sid": "DenyCustomerProvidedKeys",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::mesh-sales-orders/*",
                "Condition": {
                    "Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}
                },
            },
        ],
    }


def test_a_bucket_policy_names_the_direct_readers_of_its_product(sample):
    """analytics opted into direct S3 read of finance.revenue_daily (every column, no
    expiry); marketing reads it through Lake Formation only."""
    statements = policy(sample.get(BUCKET_POLICY, "finance.revenue_daily-policy"))["Statement"]
    assert [s["Sid"] for s in statements[:4]] == [
        "DenyInsecureTransport",
        "DenyOtherEncryption",
        "DenyOtherKmsKeys",
        "DenyCustomerProvidedKeys",
    ]
    assert statements[4:] == direct_read_statements(
        "mesh-finance-revenue-daily", ["mesh-analytics-consumer"]
    )
    finance_roles = {
        r.name for r in sample.by_type(ROLE) if r.inputs["name"] == "mesh-analytics-consumer"
    }
    assert finance_roles == {"analytics-consumer"}


def test_orders_bucket_configuration(sample):
    assert sample.get(ENCRYPTION, "sales.orders-encryption").inputs == {
        "bucket": "mesh-sales-orders",
        "rules": [
            {
                "applyServerSideEncryptionByDefault": {
                    "kmsMasterKeyId": SALES_KEY_ARN,
                    "sseAlgorithm": "aws:kms",
                },
                "bucketKeyEnabled": True,
            }
        ],
    }
    assert sample.get(VERSIONING, "sales.orders-versioning").inputs == {
        "bucket": "mesh-sales-orders",
        "versioningConfiguration": {"status": "Enabled"},
    }
    assert sample.get(PUBLIC_ACCESS_BLOCK, "sales.orders-public-access-block").inputs == {
        "bucket": "mesh-sales-orders",
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    assert sample.get(OWNERSHIP, "sales.orders-ownership").inputs == {
        "bucket": "mesh-sales-orders",
        "rule": {"objectOwnership": "BucketOwnerEnforced"},
    }
    assert sample.get(LF_RESOURCE, "sales.orders-location").inputs == {
        "arn": "arn:aws:s3:::mesh-sales-orders",
        "roleArn": "arn:aws:iam::123456789012:role/mesh-sales-lf-access",
        "useServiceLinkedRole": False,
    }


@pytest.mark.parametrize(
    ("product", "days"),
    [("sales.orders", 730), ("sales.returns", 365), ("logistics.stock_levels", 180)],
)
def test_lifecycle_follows_retention_days(sample, product, days):
    assert sample.get(LIFECYCLE, f"{product}-lifecycle").inputs["rules"] == [
        {
            "id": "retention",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "expiration": {"days": days},
            "noncurrentVersionExpiration": {"noncurrentDays": 30},
            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
        }
    ]


# ---------------------------------------------------------------- the sales domain


def test_sales_key_and_alias(sample):
    key = sample.get(KEY, "sales-key")
    assert {k: v for k, v in key.inputs.items() if k != "policy"} == {
        "deletionWindowInDays": 30,
        "description": "Data products of domain sales",
        "enableKeyRotation": True,
        "tags": SALES_TAGS,
    }
    assert (key.protect, key.retain_on_delete) == (True, True)
    via_s3 = f"s3.{REGION}.amazonaws.com"
    statements = policy(key)["Statement"]
    assert statements[0]["Sid"] == "KeyAdministration"  # its action list: test_documents.py
    assert statements[1:] == [
        {
            "Sid": "ProducerUseThroughS3",
            "Effect": "Allow",
            "Principal": ROOT_PRINCIPAL,
            "Action": PRODUCER_KMS,
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": via_s3,
                    "aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/mesh-sales-producer",
                }
            },
        },
        {
            "Sid": "LakeFormationDataAccess",
            "Effect": "Allow",
            "Principal": ROOT_PRINCIPAL,
            "Action": PRODUCER_KMS,
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": via_s3,
                    "aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/mesh-sales-lf-access",
                }
            },
        },
        {  # the domain's query path: its consumer writes and reads its Athena results
            "Sid": "ConsumerQueryResultsThroughS3",
            "Effect": "Allow",
            "Principal": ROOT_PRINCIPAL,
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": via_s3,
                    "aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/mesh-sales-consumer",
                },
                "StringLike": {
                    "kms:EncryptionContext:aws:s3:arn": [
                        "arn:aws:s3:::mesh-sales-athena",
                        "arn:aws:s3:::mesh-sales-athena/*",
                    ]
                },
            },
        },
        # no consumer of sales opts into direct S3 read: the key names no consumer role
    ]
    assert sample.get(ALIAS, "sales-key-alias").inputs == {
        "name": "alias/mesh/sales",
        "targetKeyId": SALES_KEY_ARN.rsplit("/", 1)[1],
    }


def test_domain_without_readers_has_no_consumer_key_statement(sample):
    """analytics owns no products; payroll-only readers do not exist either."""
    sids = [s["Sid"] for s in policy(sample.get(KEY, "analytics-key"))["Statement"]]
    assert sids == [
        "KeyAdministration",
        "ProducerUseThroughS3",
        "LakeFormationDataAccess",
        "ConsumerQueryResultsThroughS3",  # its own query results, not a product's
    ]


def test_the_key_of_a_direct_read_product_names_its_readers(sample):
    """finance's key lets analytics decrypt through S3, and only revenue_daily's objects."""
    statements = policy(sample.get(KEY, "finance-key"))["Statement"]
    arn = "arn:aws:s3:::mesh-finance-revenue-daily"
    assert statements[-1]["Sid"] == "ConsumerQueryResultsThroughS3"  # the query path's
    assert statements[3:-1] == [
        {
            "Sid": "DirectReadDecrypt1",
            "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/mesh-analytics-consumer"]},
            "Action": ["kms:Decrypt"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:ViaService": VIA_S3},
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [arn, f"{arn}/*"]},
            },
        }
    ]
    # KMS refuses a principal that does not exist yet: the key waits for the reader's role
    assert sample.get(KEY, "finance-key").depends_on == ["analytics-consumer"]
    assert sample.get(BUCKET_POLICY, "finance.revenue_daily-policy").depends_on == [
        "analytics-consumer",
        "finance-key",
        "finance.revenue_daily-bucket",
        "finance.revenue_daily-public-access-block",
    ]


def test_sales_database_and_roles(sample):
    database = sample.get(DATABASE, "sales-database")
    assert database.inputs == {
        "name": "mesh_sales",
        "description": "Orders, customers and returns of the web shop",
        "tags": SALES_TAGS,
    }
    from infra.provision.documents import AwsEnv, trust_policy

    trust = trust_policy(AwsEnv(ACCOUNT, REGION), "sales")  # asserted whole: test_documents.py
    for kind, description in [
        ("producer", "Writes and reads the data products of sales"),
        ("consumer", "Reads what other domains granted to sales"),
    ]:
        role = sample.get(ROLE, f"sales-{kind}")
        assert json.loads(role.inputs["assumeRolePolicy"]) == trust
        assert {k: v for k, v in role.inputs.items() if k != "assumeRolePolicy"} == {
            "name": f"mesh-sales-{kind}",
            "description": description,
            "maxSessionDuration": 3600,
            "tags": SALES_TAGS,
        }


def test_sales_producer_policy(sample):
    resource = sample.get(ROLE_POLICY, "sales-producer-access")
    assert (resource.inputs["name"], resource.inputs["role"]) == (
        "mesh-producer-access",
        "mesh-sales-producer",
    )
    buckets = ["mesh-sales-customers", "mesh-sales-orders", "mesh-sales-returns"]
    assert policy(resource) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadWriteOwnObjects",
                "Effect": "Allow",
                "Action": [
                    "s3:AbortMultipartUpload",
                    "s3:DeleteObject",
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:ListMultipartUploadParts",
                    "s3:PutObject",
                ],
                "Resource": [f"arn:aws:s3:::{b}/*" for b in buckets],
            },
            {
                "Sid": "ListOwnBuckets",
                "Effect": "Allow",
                "Action": [
                    "s3:GetBucketLocation",
                    "s3:ListBucket",
                    "s3:ListBucketMultipartUploads",
                ],
                "Resource": [f"arn:aws:s3:::{b}" for b in buckets],
            },
            {
                "Sid": "UseDomainKey",
                "Effect": "Allow",
                "Action": PRODUCER_KMS,
                "Resource": SALES_KEY_ARN,
            },
            {
                "Sid": "ManageOwnPartitions",
                "Effect": "Allow",
                "Action": [
                    "glue:BatchCreatePartition",
                    "glue:BatchDeletePartition",
                    "glue:CreatePartition",
                    "glue:DeletePartition",
                    "glue:GetDatabase",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:UpdatePartition",
                ],
                "Resource": [
                    f"{GLUE}:catalog",
                    f"{GLUE}:database/mesh_sales",
                    f"{GLUE}:table/mesh_sales/*",
                ],
            },
            LF_CREDENTIALS,
        ],
    }
    assert sample.get(LF_PERMISSIONS, "sales-producer-tables").inputs == {
        "principal": f"arn:aws:iam::{ACCOUNT}:role/mesh-sales-producer",
        "permissions": ["ALTER", "DELETE", "DESCRIBE", "INSERT", "SELECT"],
        "table": {"databaseName": "mesh_sales", "wildcard": True},
    }


# ---------------------------------------------------------------- grants on sales.orders


def test_full_grant_is_a_whole_table_lake_formation_permission_only(sample):
    """finance: every column, PII approved -> a whole-table LF grant; no S3 read (not opted
    in), and nothing on finance's consumer role but its constant policy."""
    assert sample.get(LF_PERMISSIONS, "sales.orders@finance-lakeformation").inputs == {
        "principal": f"arn:aws:iam::{ACCOUNT}:role/mesh-finance-consumer",
        "permissions": ["SELECT"],
        "table": {"databaseName": "mesh_sales", "name": "orders"},
    }
    assert consumer_policy_of(sample, "finance") == CONSUMER_POLICY
    assert (
        "mesh-finance-consumer"
        not in sample.get(BUCKET_POLICY, "sales.orders-policy").inputs["policy"]
    )


@pytest.mark.parametrize(
    ("consumer", "columns"),
    [
        ("marketing", ["amount", "order_date", "order_id"]),
        ("logistics", ["order_date", "order_id", "quantity", "sku"]),
    ],
)
def test_column_limited_grant_is_lake_formation_only(sample, consumer, columns):
    """A column-limited grant is a data cells filter (the grant's columns and the partition
    key, every row) and SELECT on it: Athena, Redshift Spectrum and Glue ETL honour it."""
    name = data_filter_name(consumer, (*columns, "dt"), None)
    assert name.startswith(f"{consumer}-") and len(name) == len(consumer) + 13
    data_filter = sample.get(LF_DATA_FILTER, f"sales.orders@{consumer}-data-filter")
    assert data_filter.inputs == {
        "tableData": {
            "tableCatalogId": ACCOUNT,
            "databaseName": "mesh_sales",
            "tableName": "orders",
            "name": name,
            "columnNames": [*columns, "dt"],
            "rowFilter": {"allRowsWildcard": {}},
        }
    }
    permission = sample.get(LF_PERMISSIONS, f"sales.orders@{consumer}-lakeformation")
    assert permission.inputs == {
        "principal": f"arn:aws:iam::{ACCOUNT}:role/mesh-{consumer}-consumer",
        "permissions": ["SELECT"],
        "dataCellsFilter": {
            "tableCatalogId": ACCOUNT,
            "databaseName": "mesh_sales",
            "tableName": "orders",
            "name": name,
        },
    }
    # a change of columns is a new filter name: both replaced, the old ones deleted first
    assert data_filter.delete_before_replace and permission.delete_before_replace
    assert f"sales.orders@{consumer}-data-filter" in permission.depends_on
    assert consumer_policy_of(sample, consumer) == CONSUMER_POLICY


def test_a_data_filter_name_follows_its_content():
    """Same columns and rows, same name (no needless replacement); any change, a new name."""
    base = data_filter_name("marketing", ("amount", "dt"), None)
    assert base == data_filter_name("marketing", ("amount", "dt"), None)
    assert base == "marketing-eeb4c7da5770"  # names never change by accident
    others = {
        data_filter_name("marketing", ("amount",), None),
        data_filter_name("marketing", ("amount", "dt"), "region = 'EU'"),
        data_filter_name("marketing", ("amount", "dt"), "region = 'US'"),
        data_filter_name("marketing", None, "region = 'EU'"),
        data_filter_name("sales", ("amount", "dt"), None),
    }
    assert base not in others and len(others) == 5


def test_lake_formation_grants_are_deleted_before_they_are_replaced(sample):
    """Deleting a replaced LF permission revokes what it named; deleting it first keeps the new
    one whole."""
    grants = [r for r in sample.by_type(LF_PERMISSIONS) if "@" in r.name]
    assert len(grants) == 12
    assert all(r.delete_before_replace for r in grants)


def test_expired_grant_produces_nothing(sample):
    """logistics.shipments@analytics expired on 2026-10-31 (TODAY is 2026-11-25)."""
    assert [r.name for r in sample.resources if r.name.startswith("logistics.shipments@")] == [
        "logistics.shipments@sales",
        "logistics.shipments@sales-data-filter",
        "logistics.shipments@sales-lakeformation",
    ]
    analytics = f"arn:aws:iam::{ACCOUNT}:role/mesh-analytics-consumer"
    assert [
        r.inputs["dataCellsFilter"]["tableName"]
        for r in sample.by_type(LF_PERMISSIONS)
        if r.inputs["principal"] == analytics and "dataCellsFilter" in r.inputs
    ] == ["invoices"]


def test_every_consumer_role_carries_the_same_one_policy(sample):
    """One inline policy per consumer role, the same document whatever the domain is granted
    (analytics: five grants, sales: one, logistics: none)."""
    consumer_policies = [
        r for r in sample.by_type(ROLE_POLICY) if r.inputs["role"].endswith("-consumer")
    ]
    assert sorted((r.parent, r.inputs["name"]) for r in consumer_policies) == [
        (d, name)
        for d in ("analytics", "finance", "logistics", "marketing", "sales")
        for name in ("mesh-consumer-access", "mesh-query-path")
    ]
    access = [r for r in consumer_policies if r.inputs["name"] == "mesh-consumer-access"]
    assert {r.inputs["policy"] for r in access} == {json.dumps(CONSUMER_POLICY)}
    # the query path: the same statements in every domain, each naming its own workgroup,
    # results bucket and key (test_query_path.py asserts the document)
    query = [r for r in consumer_policies if r.inputs["name"] == "mesh-query-path"]
    assert len({len(r.inputs["policy"].replace(r.parent, "")) for r in query}) == 1


@pytest.mark.parametrize(
    ("today", "exists"), [(dt.date(2026, 10, 31), True), (dt.date(2026, 11, 1), False)]
)
def test_expires_is_the_last_day_of_access(today, exists):
    grants = {g.name for g in run(SINGLE, today=today).by_type(GRANT)}
    assert ("logistics.shipments@analytics" in grants) is exists


# ---------------------------------------------------------------- Glue tables per format


def test_orders_table_parquet(sample):
    table = sample.get(TABLE, "sales.orders-table")
    assert (table.protect, table.retain_on_delete) == (True, True)
    assert table.inputs == {
        "name": "orders",
        "databaseName": "mesh_sales",
        "description": "One row per order line, as booked by the shop backend",
        "tableType": "EXTERNAL_TABLE",
        "parameters": {
            "EXTERNAL": "TRUE",
            "classification": "parquet",
            "parquet.compression": "SNAPPY",
            "mesh:classification": "confidential",
            "mesh:freshness_slo_hours": "24",
            # the owning team, never a person's address; no PII column names (every grantee
            # reads table parameters; customer_email's own parameters say it is PII)
            "mesh:owner": "sales-data",
            "mesh:retention_days": "730",
        },
        "partitionKeys": [{"name": "dt", "type": "string"}],
        "storageDescriptor": {
            "location": "s3://mesh-sales-orders/data/",
            **PARQUET,
            "columns": [
                {"name": "order_id", "type": "string"},
                {"name": "customer_id", "type": "string"},
                {"name": "customer_email", "type": "string", "parameters": {"mesh:pii": "true"}},
                {"name": "sku", "type": "string"},
                {"name": "quantity", "type": "int"},
                {"name": "amount", "type": "decimal(12,2)"},
                {"name": "currency", "type": "string"},
                {"name": "order_date", "type": "date"},
            ],
        },
    }


def test_returns_table_json(sample):
    table = sample.get(TABLE, "sales.returns-table")
    assert table.inputs["parameters"] == {
        "EXTERNAL": "TRUE",
        "classification": "json",
        "mesh:classification": "internal",
        "mesh:owner": "sales-data",
        "mesh:retention_days": "365",
    }
    assert table.inputs["partitionKeys"] == [{"name": "dt", "type": "string"}]
    assert table.inputs["storageDescriptor"] == {
        "location": "s3://mesh-sales-returns/data/",
        **JSON_FORMAT,
        "columns": [
            {"name": "return_id", "type": "string"},
            {"name": "order_id", "type": "string"},
            {"name": "reason", "type": "string"},
            {"name": "refunded", "type": "boolean"},
            {"name": "returned_at", "type": "timestamp"},
        ],
    }


def test_stock_levels_table_csv(sample):
    table = sample.get(TABLE, "logistics.stock_levels-table")
    assert table.inputs["parameters"] == {
        "EXTERNAL": "TRUE",
        "classification": "csv",
        "skip.header.line.count": "1",
        "mesh:classification": "internal",
        "mesh:freshness_slo_hours": "1",
        "mesh:owner": "logistics-data",
        "mesh:retention_days": "180",
    }
    assert table.inputs["partitionKeys"] == []
    assert table.inputs["storageDescriptor"] == {
        "location": "s3://mesh-logistics-stock-levels/data/",
        **CSV_FORMAT,
        "columns": [
            {"name": "sku", "type": "string"},
            {"name": "warehouse", "type": "string"},
            {"name": "on_hand", "type": "int"},
            {"name": "snapshot_at", "type": "timestamp"},
        ],
    }


def test_nested_types_reach_glue_normalised(sample):
    columns = sample.get(TABLE, "marketing.attribution-table").inputs["storageDescriptor"][
        "columns"
    ]
    assert {"name": "touchpoints", "type": "array<struct<channel:string,seen_at:timestamp>>"} in (
        columns
    )


# ---------------------------------------------------------------- data safety


def test_every_stateful_resource_is_protected_and_retained(sample):
    stateful = [r for r in sample.resources if r.type in STATEFUL]
    # keys, databases, product buckets + one query-results bucket per domain, tables
    assert len(stateful) == 5 + 5 + (10 + 5) + 10
    assert [r.name for r in stateful if not (r.protect and r.retain_on_delete)] == []
    assert [r.name for r in stateful if r.type == BUCKET and r.inputs["forceDestroy"]] == []


BUCKET_GUARDS = {PUBLIC_ACCESS_BLOCK, OWNERSHIP, ENCRYPTION, VERSIONING, BUCKET_POLICY, LIFECYCLE}


def test_bucket_guards_share_the_bucket_safety(sample):
    """A retained bucket keeps its encryption, public-access block, policy and lifecycle."""
    guards = [r for r in sample.resources if r.type in BUCKET_GUARDS]
    # a results bucket has no versioning: its objects are disposable working copies
    assert len(guards) == 6 * 10 + 5 * 5
    assert [r.name for r in guards if not (r.protect and r.retain_on_delete)] == []


def test_only_stateful_resources_and_their_guards_are_protected(sample):
    """Roles, policies and grants are re-creatable from the blueprint: protecting them would
    block revoking access. The Lake Formation settings are not data, but a per-account
    singleton whose deletion clears every administrator (`Platform`)."""
    assert {r.type for r in sample.resources if r.protect} == set(STATEFUL) | BUCKET_GUARDS | {
        "aws:lakeformation/dataLakeSettings:DataLakeSettings"
    }


def test_sample_counts(sample):
    assert sample.counts() == {
        # producer, consumer and Lake Formation data access per domain; a query path for
        # the producer and the consumer per domain
        ROLE_POLICY: 15 + 10,
        ALIAS: 5,
        DATABASE: 5,
        TABLE: 10,
        ROLE: 15,  # producer, consumer, Lake Formation data access per domain
        KEY: 5,
        # 5 producer + 12 grants + DESCRIBE on default for the 2 querying roles per domain
        LF_PERMISSIONS: 17 + 10,
        LF_DATA_FILTER: 4,  # the column-limited grants
        LF_RESOURCE: 10,
        WORKGROUP: 5,  # one per domain
        # products, and one query-results bucket per domain (not versioned)
        BUCKET: 10 + 5,
        LIFECYCLE: 10 + 5,
        OWNERSHIP: 10 + 5,
        BUCKET_POLICY: 10 + 5,
        PUBLIC_ACCESS_BLOCK: 10 + 5,
        ENCRYPTION: 10 + 5,
        VERSIONING: 10,
        PRODUCT: 10,
        DOMAIN: 5,
        GRANT: 12,
        "aws:lakeformation/dataLakeSettings:DataLakeSettings": 1,
        "mesh:index:Platform": 1,
    }


def test_rename_keeps_physical_names_and_aliases_the_old_logical_name():
    before, after = run(FIXTURES / "program/rename_before"), run(FIXTURES / "program/renamed")
    product = after.get(PRODUCT, "sales.order_lines")
    assert product.aliases == ["sales.orders"]
    assert after.get(BUCKET, "sales.order_lines-bucket").inputs["bucket"] == "mesh-sales-orders"
    table = after.get(TABLE, "sales.order_lines-table")
    assert (table.inputs["name"], table.inputs["storageDescriptor"]["location"]) == (
        "orders",
        "s3://mesh-sales-orders/data/",
    )
    # Children inherit the component's alias when their name starts with the component's name
    # (the engine maps "sales.order_lines-bucket" to "sales.orders-bucket"); every resource of
    # the product is named that way, so the old URNs are all covered.
    children = descendants(after, "sales.order_lines")
    assert children and all(r.name.startswith("sales.order_lines") for r in children)

    def old_name(name: str) -> str:
        return name.replace("sales.order_lines", "sales.orders", 1)

    renamed = {(r.type, old_name(r.name)): r for r in after.resources}
    assert set(renamed) == {(r.type, r.name) for r in before.resources}
    changed = {
        (r.type, r.name, key)
        for r in before.resources
        for key in set(r.inputs) | set(renamed[(r.type, r.name)].inputs)
        if r.inputs.get(key) != renamed[(r.type, r.name)].inputs.get(key)
    }
    # an in-place tag update only: the consumer's policy is named after the producing domain
    assert changed == {(BUCKET, "sales.orders-bucket", "tags")}
    assert after.get(BUCKET, "sales.order_lines-bucket").inputs["tags"]["mesh:product"] == (
        "order_lines"
    )


# ---------------------------------------------------------------- decommissioning

DECOMMISSION = FIXTURES / "program/decommission"
# product -> (blueprint allows deleting its data: data: delete and date passed, grants revoked)
DECOMMISSION_CASES = {
    "live": (False, False),
    "retain_past": (False, True),
    "retain_future": (False, False),
    "delete_future": (False, False),
    "delete_past": (True, True),
    "delete_today": (True, True),  # the decommission date is the first day without access
}


@pytest.fixture(scope="module", params=[False, True], ids=["stack-keeps", "stack-allows"])
def decommissioned(request):
    return request.param, run(DECOMMISSION, StackSettings(allow_data_deletion=request.param))


@pytest.mark.parametrize("product", DECOMMISSION_CASES)
def test_decommission_needs_both_switches_to_unprotect(decommissioned, product):
    allow, graph = decommissioned
    blueprint_allows, _ = DECOMMISSION_CASES[product]
    deletable = blueprint_allows and allow
    for type_, suffix in [
        (BUCKET, "bucket"),
        (TABLE, "table"),
        (ENCRYPTION, "encryption"),
        (BUCKET_POLICY, "policy"),
        (LIFECYCLE, "lifecycle"),
    ]:
        resource = graph.get(type_, f"ops.{product}-{suffix}")
        assert (resource.protect, resource.retain_on_delete) == (not deletable, not deletable)
    assert graph.get(BUCKET, f"ops.{product}-bucket").inputs["forceDestroy"] is deletable
    # the domain key and database hold every product: never deletable through a product
    for type_, name in [(KEY, "ops-key"), (DATABASE, "ops-database")]:
        resource = graph.get(type_, name)
        assert (resource.protect, resource.retain_on_delete) == (True, True)


@pytest.mark.parametrize("product", DECOMMISSION_CASES)
def test_decommission_revokes_grants_from_its_date(decommissioned, product):
    _, graph = decommissioned
    _, revoked = DECOMMISSION_CASES[product]
    grants = {g.name for g in graph.by_type(GRANT)}
    assert (f"ops.{product}@bi" not in grants) is revoked
    # the data itself stays declared until the product leaves the blueprint
    assert graph.get(PRODUCT, f"ops.{product}").parent == "ops"


def test_decommissioned_products_stay_in_the_producer_policy(decommissioned):
    _, graph = decommissioned
    statements = policy(graph.get(ROLE_POLICY, "ops-producer-access"))["Statement"]
    assert statements[1]["Resource"] == [
        f"arn:aws:s3:::mesh-ops-{p.replace('_', '-')}" for p in sorted(DECOMMISSION_CASES)
    ]


# ---------------------------------------------------------------- access edge cases


@pytest.fixture(scope="module")
def access_graph() -> ResourceGraph:
    return run(FIXTURES / "program/access")


def test_omitted_columns_on_a_pii_product_is_a_column_limited_grant(access_graph):
    table_data = access_graph.get(LF_DATA_FILTER, "crm.contacts@ads-data-filter").inputs[
        "tableData"
    ]
    assert table_data["columnNames"] == ["contact_id", "country"]  # no partition keys
    assert (
        access_graph.get(LF_PERMISSIONS, "crm.contacts@ads-lakeformation").inputs[
            "dataCellsFilter"
        ]["name"]
        == table_data["name"]
    )
    assert consumer_policy_of(access_graph, "ads") == CONSUMER_POLICY
    assert (
        "mesh-ads-consumer"
        not in access_graph.get(BUCKET_POLICY, "crm.contacts-policy").inputs["policy"]
    )


def test_approved_pii_grant_without_columns_reads_everything(access_graph):
    """audit: every column, PII approved, opted into direct S3 read until its expiry."""
    assert access_graph.get(LF_PERMISSIONS, "crm.contacts@audit-lakeformation").inputs["table"] == {
        "databaseName": "mesh_crm",
        "name": "contacts",
    }
    assert consumer_policy_of(access_graph, "audit") == CONSUMER_POLICY
    bucket = policy(access_graph.get(BUCKET_POLICY, "crm.contacts-policy"))["Statement"]
    assert bucket[4:] == direct_read_statements(
        "mesh-crm-contacts",
        ["mesh-audit-consumer"],
        "Until20270630",
        "2027-07-01T00:00:00Z",
    )
    [readers] = policy(access_graph.get(KEY, "crm-key"))["Statement"][3:-1]
    assert readers["Principal"] == {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/mesh-audit-consumer"]}
    assert readers["Condition"]["DateLessThan"] == {"aws:CurrentTime": "2027-07-01T00:00:00Z"}


def test_column_descriptions_and_pii_reach_the_catalog(access_graph):
    assert access_graph.get(TABLE, "crm.contacts-table").inputs["storageDescriptor"]["columns"] == [
        {"name": "contact_id", "type": "string"},
        {
            "name": "email",
            "type": "string",
            "comment": "Primary e-mail address",
            "parameters": {"mesh:pii": "true"},
        },
        {"name": "country", "type": "string"},
    ]


def test_product_tags_cannot_override_governance_tags(access_graph):
    assert access_graph.get(BUCKET, "crm.contacts-bucket").inputs["tags"] == {
        "cost-center": "CC-7000",
        "mesh:classification": "confidential",
        "mesh:domain": "crm",
        "mesh:owner": "crm-data",
        "mesh:product": "contacts",
        "team-channel": "#crm",
    }


# ---------------------------------------------------------------- the runtime contract


def test_an_unmocked_invoke_fails_loudly():
    with pytest.raises(UnmockedCall, match="aws:index/getCallerIdentity:getCallerIdentity"):
        run_program(load(SINGLE), StackSettings(), TODAY, program=aws.get_caller_identity)


DEPLOYER = "arn:aws:iam::111122223333:role/platform-deployer"


_run_main = run_pulumi_main


def test_main_reads_the_stack_config():
    config = {
        "mesh:prefix": "acme",
        "mesh:account": "111122223333",
        "aws:region": "eu-central-1",
        "mesh:lakeFormationAdmins": json.dumps([DEPLOYER]),
        "mesh:blueprints": str(FIXTURES / "program/renamed"),
    }
    settings = StackSettings(
        prefix="acme",
        account="111122223333",
        region="eu-central-1",
        lake_formation_admins=(DEPLOYER,),
    )
    graph = _run_main(config, settings)
    expected = run(FIXTURES / "program/renamed", settings)
    assert [(r.type, r.name, r.inputs) for r in graph.resources] == [
        (r.type, r.name, r.inputs) for r in expected.resources
    ]
    assert graph.get(BUCKET, "sales.order_lines-bucket").inputs["bucket"] == "acme-sales-orders"
    statements = policy(graph.get(ROLE_POLICY, "sales-producer-access"))["Statement"]
    assert statements[3]["Resource"][0] == "arn:aws:glue:eu-central-1:111122223333:catalog"


def test_main_requires_lake_formation_admins_for_the_platform():
    config = {
        "mesh:prefix": "acme",
        "mesh:account": "111122223333",
        "aws:region": "eu-central-1",
        "mesh:blueprints": str(SINGLE),
    }
    with pytest.raises(pulumi.RunError, match="config mesh:lakeFormationAdmins is required"):
        _run_main(config, StackSettings())
    # a domain stack declares no platform resources and needs no admins
    graph = _run_main({**config, "mesh:stack": "sales"}, StackSettings())
    assert graph.get("mesh:index:Domain", "sales") and not graph.by_type("mesh:index:Platform")


def test_main_logs_warnings_and_deploys(monkeypatch):
    """Warnings do not stop `pulumi up`; they reach its log (the sample's expired grant)."""
    logged: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: logged.append(message))
    config = {
        "mesh:prefix": "mesh",
        "mesh:account": "123456789012",
        "aws:region": "eu-west-1",
        "mesh:lakeFormationAdmins": json.dumps([DEPLOYER]),
        "mesh:blueprints": str(SINGLE),
    }
    graph = _run_main(config, StackSettings(lake_formation_admins=(DEPLOYER,)))
    assert len(graph.by_type(PRODUCT)) == 10
    expired = (
        f"{SINGLE / 'logistics.yaml'}:28: W002 products[0].consumers[1].expires grant of "
        "logistics.shipments to analytics expired on 2026-10-31 and grants nothing; remove it "
        "or renew it"
    )
    assert logged == [expired]


def test_main_refuses_invalid_blueprints_with_locations():
    config = {
        "mesh:prefix": "acme",
        "mesh:account": "111122223333",
        "aws:region": "eu-central-1",
        "mesh:lakeFormationAdmins": json.dumps([DEPLOYER]),
        "mesh:blueprints": str(FIXTURES / "program/invalid"),
    }
    with pytest.raises(pulumi.RunError) as raised:
        _run_main(config, StackSettings())
    message = str(raised.value)
    path = FIXTURES / "program/invalid/sales.yaml"
    assert message.startswith("2 blueprint error(s); nothing was changed:\n")
    assert f"{path}:10: E010 products[0].colour" in message
    assert f"{path}:12: E014 products[0].schema[0].type" in message


def test_main_refuses_names_aws_would_refuse():
    config = {
        "mesh:prefix": "mesh",
        "mesh:account": "111122223333",
        "aws:region": "eu-central-1",
        "mesh:lakeFormationAdmins": json.dumps([DEPLOYER]),
        "mesh:blueprints": str(FIXTURES / "naming/too_long"),
    }
    with pytest.raises(pulumi.RunError, match=r"sales_and_marketing_operations\.yaml:\d+: E033"):
        _run_main(config, StackSettings())


@pytest.mark.parametrize("prefix", ["Acme_", "acme\n", "acme\r", "acme\x00"])
def test_main_refuses_an_invalid_prefix(prefix):
    """Including control characters (a final newline passed the old pattern's `$`)."""
    config = {
        "mesh:prefix": prefix,
        "mesh:account": "111122223333",
        "aws:region": "eu-central-1",
        "mesh:lakeFormationAdmins": json.dumps([DEPLOYER]),
        "mesh:blueprints": str(SINGLE),
    }
    with pytest.raises(pulumi.RunError, match=re.escape(f"stack prefix {prefix!r} is not valid")):
        _run_main(config, StackSettings())


@pytest.mark.parametrize(
    ("switch", "deletable"),
    [("true", {"shop": True, "ops": True}), ('["ops"]', {"shop": False, "ops": True}),
     ("false", {"shop": False, "ops": False})],
)  # fmt: skip
def test_the_deletion_switch_may_name_domains(switch, deletable):
    """mesh:allowDataDeletion: true, false, or the domains whose decommissioned data may go."""
    from infra.provision.config_values import deletion_switch as _deletion_switch

    settings = StackSettings(allow_data_deletion=_deletion_switch(json.loads(switch)))
    assert {d: settings.allows_deletion(d) for d in ("shop", "ops")} == deletable


def test_a_deletion_switch_of_another_type_is_refused():
    from infra.provision.config_values import deletion_switch as _deletion_switch

    with pytest.raises(pulumi.RunError, match="expected true, false or a list of domain names"):
        _deletion_switch("yes")


def test_lake_formation_data_access_role_of_a_domain(sample):
    """Locations are registered with the domain's own data-access role (not the service-linked
    role, which cannot use a customer-managed key unless named in the key policy)."""
    role = sample.get(ROLE, "sales-lf-access")
    assert role.inputs["name"] == "mesh-sales-lf-access"
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "lakeformation.amazonaws.com"
    }
    policy = json.loads(sample.get(ROLE_POLICY, "sales-lf-access-policy").inputs["policy"])
    assert [s["Sid"] for s in policy["Statement"]] == [
        "VendObjects",
        "VendBuckets",
        "VendDomainKey",
    ]
    assert policy["Statement"][1]["Resource"] == [
        "arn:aws:s3:::mesh-sales-customers",
        "arn:aws:s3:::mesh-sales-orders",
        "arn:aws:s3:::mesh-sales-returns",
    ]
    key_arn = sample.get(KEY, "sales-key").outputs["arn"]
    assert policy["Statement"][2]["Resource"] == key_arn
    locations = [r for r in sample.by_type(LF_RESOURCE) if r.name.startswith("sales.")]
    assert {r.inputs["roleArn"] for r in locations} == {
        "arn:aws:iam::123456789012:role/mesh-sales-lf-access"
    }


def test_catalog_waits_for_the_lake_formation_settings(sample):
    """Issue 13: databases are created after the settings that stop new databases and tables
    from granting IAM_ALLOWED_PRINCIPALS, and tables after their database; otherwise a fresh
    stack briefly lets a column-limited consumer with Glue access read every column."""
    for database in sample.by_type(DATABASE):
        assert "platform-lake-settings" in database.depends_on, database.name
    for table in sample.by_type(TABLE):
        domain = table.name.split(".", 1)[0]
        assert f"{domain}-database" in table.depends_on, table.name
