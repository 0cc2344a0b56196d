"""Pure builders of a domain's query path and of a grant's data cells filter: names, the
query policy, the workgroup configuration, the results lifecycle (`infra.provision.query`
declares the resources). No Pulumi here: `mesh validate` sizes these documents
(`infra.provision.quotas`) without loading the Pulumi SDK.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from infra.model.access import DeclaredGrant
from infra.model.spec import Product
from infra.provision import documents as docs
from infra.provision.arns import AwsEnv
from infra.provision.names import Names

RESULTS_PREFIX = "results/"  # the workgroup's output location is s3://<bucket>/results/
RESULTS_EXPIRE_DAYS = 7  # query results are working copies, not product data
RESULTS_ABORT_MULTIPART_DAYS = 1
DEFAULT_DATABASE = "default"  # Athena needs DESCRIBE on it (and glue:GetDatabase)
QUERY_POLICY_NAME = "mesh-query-path"

# Running queries in the domain's workgroup, and nothing else of Athena.
ATHENA_QUERY_ACTIONS = [
    "athena:BatchGetQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:GetQueryRuntimeStatistics",
    "athena:GetWorkGroup",
    "athena:ListQueryExecutions",
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
]
RESULTS_BUCKET_ACTIONS = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
RESULTS_OBJECT_ACTIONS = [
    "s3:AbortMultipartUpload",
    "s3:GetObject",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
]
RESULTS_KMS_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]
DEFAULT_DATABASE_ACTIONS = ["glue:GetDatabase"]
DEFAULT_DATABASE_PERMISSIONS = ["DESCRIBE"]


@dataclass(frozen=True)
class QueryPathArgs:
    """The physical names of a domain's query path."""

    workgroup: str
    results_bucket: str


def query_path_args(names: Names, domain: str, account: str | None = None) -> QueryPathArgs:
    """`account`: the domain's (its results bucket's name may hold it: `Names.bucket`)."""
    return QueryPathArgs(names.workgroup(domain), names.query_results_bucket(domain, account))


def workgroup_arn(env: AwsEnv, workgroup: str) -> str:
    return f"arn:{env.partition}:athena:{env.region}:{env.account}:workgroup/{workgroup}"


def output_location(results_bucket: str) -> str:
    return f"s3://{results_bucket}/{RESULTS_PREFIX}"


def query_policy(env: AwsEnv, path: QueryPathArgs, key_arn: str) -> dict:
    """The inline policy each of a domain's roles gets for its query path: its own workgroup,
    its own results location and key (through S3 only), and the `default` database Athena
    reads. The same for every role of the domain, and the same size whatever it is granted."""
    bucket = env.bucket_arn(path.results_bucket)
    return docs._policy(
        {
            "Sid": "UseDomainWorkgroup",
            "Effect": "Allow",
            "Action": ATHENA_QUERY_ACTIONS,
            "Resource": workgroup_arn(env, path.workgroup),
        },
        {
            "Sid": "ListQueryResults",
            "Effect": "Allow",
            "Action": RESULTS_BUCKET_ACTIONS,
            "Resource": bucket,
        },
        {
            "Sid": "ReadWriteQueryResults",
            "Effect": "Allow",
            "Action": RESULTS_OBJECT_ACTIONS,
            "Resource": f"{bucket}/{RESULTS_PREFIX}*",
        },
        {
            "Sid": "EncryptQueryResults",
            "Effect": "Allow",
            "Action": RESULTS_KMS_ACTIONS,
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": env.s3_via_service()}},
        },
        {
            "Sid": "ReadDefaultDatabase",
            "Effect": "Allow",
            "Action": DEFAULT_DATABASE_ACTIONS,
            "Resource": [env.glue_catalog_arn(), env.glue_database_arn(DEFAULT_DATABASE)],
        },
    )


def results_lifecycle_rules() -> list[dict]:
    """Results expire after `RESULTS_EXPIRE_DAYS`; the bucket is not versioned."""
    return [
        {
            "id": "query-results",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "expiration": {"days": RESULTS_EXPIRE_DAYS},
            "abort_incomplete_multipart_upload": {
                "days_after_initiation": RESULTS_ABORT_MULTIPART_DAYS
            },
        }
    ]


def workgroup_configuration(env: AwsEnv, results_bucket: str, key_arn) -> dict:
    """Enforced: clients cannot override the output location or its encryption."""
    return {
        "enforce_workgroup_configuration": True,
        "publish_cloudwatch_metrics_enabled": True,
        "result_configuration": {
            "output_location": output_location(results_bucket),
            "encryption_configuration": {"encryption_option": "SSE_KMS", "kms_key_arn": key_arn},
            "expected_bucket_owner": env.account,
        },
    }


# ---------------------------------------------------------------- data cells filters


def data_filter_name(consumer: str, columns: tuple[str, ...] | None, rows: str | None) -> str:
    """The name of a grant's data cells filter: the consumer domain and a digest of what the
    filter lets through. A change of columns or rows gives a new name, so the change is a
    replacement (old permission and filter deleted first, `delete_before_replace`), never an
    in-place edit that a failed update could leave half done; the same content keeps its name."""
    content = json.dumps({"columns": list(columns) if columns else None, "rows": rows})
    return f"{consumer}-{hashlib.sha256(content.encode()).hexdigest()[:12]}"


def grant_filter(
    consumer: str, grant: DeclaredGrant, product: Product | None
) -> tuple[str | None, tuple[str, ...] | None]:
    """(filter name, filter columns) of a grant: (None, None) for a whole-table grant; else
    its data cells filter, listing the grant's columns and the product's partition keys
    (readable with every grant, DESIGN), or every column (None) when it only limits rows."""
    if grant.whole_table:
        return None, None
    columns = None
    if product is None or set(grant.columns) != {c.name for c in product.columns}:
        keys = tuple(k.name for k in product.partition_keys) if product is not None else ()
        columns = (*grant.columns, *keys)
    return data_filter_name(consumer, columns, grant.row_filter), columns


def data_filter_table_data(
    catalog: str,
    database: str,
    table: str,
    name: str,
    columns: tuple[str, ...] | None,
    rows: str | None,
) -> dict:
    """`table_data` of an `aws.lakeformation.DataCellsFilter`: the listed columns (None: every
    column) and the row filter (None: every row)."""
    data: dict = {
        "table_catalog_id": catalog,
        "database_name": database,
        "table_name": table,
        "name": name,
        "row_filter": {"filter_expression": rows} if rows else {"all_rows_wildcard": {}},
    }
    if columns is None:
        data["column_wildcard"] = {"excluded_column_names": []}
    else:
        data["column_names"] = list(columns)
    return data
