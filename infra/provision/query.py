"""The query path of a domain: what its roles need to *use* what Lake Formation grants them.

Lake Formation decides which tables, columns and rows a role reads; to run a query the role
also needs an engine. For Athena that is (Athena User Guide, "Manage Lake Formation and Athena
user permissions", "Considerations and limitations for querying data registered with Lake
Formation"):

- a workgroup whose configuration is enforced, so a client cannot send results elsewhere or
  unencrypted, and which no other domain uses: "users in the same Athena workgroup can see the
  data that Lake Formation fine-grained access control has configured to be accessible to the
  workgroup";
- a results location the role may write and read, which Lake Formation does not govern ("Athena
  query results locations in Amazon S3 cannot be registered with Lake Formation, and IAM
  permissions policies for Amazon S3 control access"): one bucket per domain, encrypted with
  the domain key, private, TLS only, its objects expiring after `RESULTS_EXPIRE_DAYS`;
- `DESCRIBE` on the `default` database (Lake Formation) and `glue:GetDatabase` on it (IAM).

Every domain gets one path, used by both its roles: the producer queries its own products,
the consumer what it was granted. The pure builders below produce the documents; `provision`
declares the resources under the domain's component. Nothing here grows with the grants.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.provision import documents as docs
from infra.provision.documents import AwsEnv
from infra.provision.names import Names, Part, child_name

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


# ---------------------------------------------------------------- resources


def data_filter(
    grant: pulumi.Resource, logical: str, table_data: dict
) -> tuple[aws.lakeformation.DataCellsFilter, dict]:
    """A grant's data cells filter (under its component `grant`, deleted before it is
    replaced), and the `data_cells_filter` target of the permission on it."""
    resource = aws.lakeformation.DataCellsFilter(
        logical,
        table_data=table_data,
        opts=pulumi.ResourceOptions(parent=grant, delete_before_replace=True),
    )
    keys = ("table_catalog_id", "database_name", "table_name", "name")
    return resource, {"data_cells_filter": {k: table_data[k] for k in keys}}


def provision(
    domain: Any,
    path: QueryPathArgs,
    lake_settings: pulumi.Resource | None,
) -> None:
    """The domain's query path, under its component `domain` (a `components.Domain`, after
    its key: `Domain.provision_storage`); of a retired domain (no roles any more) only the
    results bucket, which is storage and stays:
    results bucket and its guards, workgroup, each role's query policy and DESCRIBE on
    `default` in the domain's account."""
    name, args, env = domain._name, domain.args, domain.args.env
    child = pulumi.ResourceOptions(parent=domain)
    # retained like the domain key it uses: results are working copies that expire, but
    # removing a domain must never fail on (or empty) a bucket someone still reads
    kept = pulumi.ResourceOptions(parent=domain, protect=True, retain_on_delete=True)
    part = Part.QUERY_RESULTS
    bucket = aws.s3.Bucket(
        child_name(name, part),
        bucket=path.results_bucket,
        force_destroy=False,
        tags=args.tags,
        opts=kept,
    )
    pab = aws.s3.BucketPublicAccessBlock(
        child_name(name, f"{part}-{Part.PUBLIC_ACCESS_BLOCK}"),
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=kept,
    )
    aws.s3.BucketOwnershipControls(
        child_name(name, f"{part}-{Part.OWNERSHIP}"),
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=kept,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        child_name(name, f"{part}-{Part.ENCRYPTION}"),
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": domain.key.arn,
                },
                "bucket_key_enabled": True,
            }
        ],
        opts=kept,
    )
    aws.s3.BucketPolicy(
        child_name(name, f"{part}-{Part.BUCKET_POLICY}"),
        bucket=bucket.id,
        policy=domain.key.arn.apply(
            lambda key_arn: json.dumps(docs.bucket_policy(env, path.results_bucket, key_arn))
        ),
        opts=pulumi.ResourceOptions(
            parent=domain, protect=True, retain_on_delete=True, depends_on=[pab]
        ),
    )
    aws.s3.BucketLifecycleConfiguration(
        child_name(name, f"{part}-{Part.LIFECYCLE}"),
        bucket=bucket.id,
        rules=results_lifecycle_rules(),
        opts=kept,
    )
    if args.retired:  # no roles left to query: the results bucket stays, like all storage
        return
    domain.workgroup = aws.athena.Workgroup(
        child_name(name, Part.WORKGROUP),
        name=path.workgroup,
        description=f"Queries of domain {args.domain} (results in {path.results_bucket})",
        state="ENABLED",
        force_destroy=False,
        configuration=workgroup_configuration(env, path.results_bucket, domain.key.arn),
        tags=args.tags,
        opts=pulumi.ResourceOptions(parent=domain, depends_on=[bucket]),
    )
    settings = [lake_settings] if lake_settings is not None else []
    for kind, role in (("producer", domain.producer), ("consumer", domain.consumer)):
        aws.iam.RolePolicy(
            child_name(name, f"{kind}-{Part.QUERY_POLICY}"),
            name=QUERY_POLICY_NAME,
            role=role.name,
            policy=domain.key.arn.apply(
                lambda key_arn: json.dumps(query_policy(env, path, key_arn))
            ),
            opts=child,
        )
        aws.lakeformation.Permissions(
            child_name(name, f"{kind}-{Part.DEFAULT_DESCRIBE}"),
            principal=role.arn,
            permissions=DEFAULT_DATABASE_PERMISSIONS,
            database={"name": DEFAULT_DATABASE},
            opts=pulumi.ResourceOptions(
                parent=domain, depends_on=[role, *settings], delete_before_replace=True
            ),
        )
