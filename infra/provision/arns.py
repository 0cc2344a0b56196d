"""Where a domain lives (account, region, partition) and the ARNs of its resources, built from
their deterministic physical names (`infra.provision.names`) without asking AWS.

Everything that names a resource by ARN before it exists uses it: the policy documents
(`infra.provision.documents`, `querydocs`, `deploy_role`), the accounts of a multi-account mesh
(`accounts`), and the engines that record or emulate a deployment. Only the KMS key's ARN (a
random id AWS chooses) is never built here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AwsEnv:
    account: str
    region: str
    partition: str = "aws"

    # ---- ARNs from deterministic names
    def role_arn(self, name: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{name}"

    def root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root"

    def bucket_arn(self, bucket: str) -> str:
        return f"arn:{self.partition}:s3:::{bucket}"

    def glue_catalog_arn(self) -> str:
        return f"arn:{self.partition}:glue:{self.region}:{self.account}:catalog"

    def glue_database_arn(self, database: str) -> str:
        return f"arn:{self.partition}:glue:{self.region}:{self.account}:database/{database}"

    def glue_table_arn(self, database: str, table: str) -> str:
        return f"arn:{self.partition}:glue:{self.region}:{self.account}:table/{database}/{table}"

    def s3_via_service(self) -> str:
        return f"s3.{self.region}.amazonaws.com"

    def lakeformation_arn(self, resource: str = "*") -> str:
        return f"arn:{self.partition}:lakeformation:{self.region}:{self.account}:{resource}"
