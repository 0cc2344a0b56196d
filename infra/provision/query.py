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

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.provision import documents as docs
from infra.provision.bucket_guards import guard_bucket
from infra.provision.names import Part, child_name
from infra.provision.querydocs import (
    DEFAULT_DATABASE,
    DEFAULT_DATABASE_PERMISSIONS,
    QUERY_POLICY_NAME,
    QueryPathArgs,
    query_policy,
    results_lifecycle_rules,
    workgroup_configuration,
)

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
    guards = guard_bucket(child_name(name, part), bucket, domain.key.arn, kept)
    aws.s3.BucketPolicy(
        child_name(name, f"{part}-{Part.BUCKET_POLICY}"),
        bucket=bucket.id,
        policy=domain.key.arn.apply(
            lambda key_arn: json.dumps(docs.bucket_policy(env, path.results_bucket, key_arn))
        ),
        opts=pulumi.ResourceOptions(
            parent=domain,
            protect=True,
            retain_on_delete=True,
            depends_on=[guards.public_access_block],
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
