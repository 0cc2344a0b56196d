"""Pure builders for every policy and configuration document the program deploys.

Plain dicts in, plain dicts out: no Pulumi, no AWS calls. The component passes the result (as
JSON) to the resource, the audit and the linter read the same document from the recorded resource
graph, and the tests assert it exactly. ARNs are built from deterministic names; only the KMS key
ARN (a random id chosen by AWS) is passed in.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from infra.spec import DataFormat

POLICY_VERSION = "2012-10-17"
NONCURRENT_VERSION_DAYS = 30  # how long overwritten/deleted object versions stay recoverable
ABORT_MULTIPART_DAYS = 7
PRINCIPAL_TAG_DOMAIN = "mesh-domain"  # session tag a human/CI principal needs to assume a role

# Actions each principal kind needs, and nothing more.
PRODUCER_OBJECT_ACTIONS = [
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
]
PRODUCER_BUCKET_ACTIONS = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
PRODUCER_KMS_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
PRODUCER_GLUE_ACTIONS = [
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
]
CONSUMER_GLUE_ACTIONS = [
    "glue:GetDatabase",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:GetTable",
]
CONSUMER_OBJECT_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"]
CONSUMER_BUCKET_ACTIONS = ["s3:GetBucketLocation", "s3:ListBucket"]
CONSUMER_KMS_ACTIONS = ["kms:Decrypt", "kms:DescribeKey"]
# Lake Formation permissions: the producer owns every table of its database; consumers select.
PRODUCER_LF_PERMISSIONS = ["ALTER", "DELETE", "DESCRIBE", "INSERT", "SELECT"]
CONSUMER_LF_PERMISSIONS = ["SELECT"]
# Lake Formation vends credentials through this action; AWS accepts it only on Resource "*".
LF_DATA_ACCESS_ACTION = "lakeformation:GetDataAccess"
# No kms:CreateGrant: a grant created by any IAM principal of the account would hand out Decrypt
# around this key policy's conditions (flagged by parliament's permissions-management auditor).
KEY_ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]


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


def _policy(*statements: dict) -> dict:
    # deep copy: statements hold the module's action lists, which a caller editing the returned
    # document (a linter, the audit) must not change for every later document
    return {"Version": POLICY_VERSION, "Statement": copy.deepcopy(list(statements))}


def trust_policy(env: AwsEnv, domain: str) -> dict:
    """Principals of this account may assume a domain role only when tagged with that domain."""
    return _policy(
        {
            "Sid": "AssumeFromDomainPrincipals",
            "Effect": "Allow",
            "Principal": {"AWS": env.root_arn()},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": {f"aws:PrincipalTag/{PRINCIPAL_TAG_DOMAIN}": domain}},
        }
    )


def lf_trust_policy(env: AwsEnv) -> dict:
    """Only Lake Formation, acting for this account, assumes a domain's data-access role."""
    return _policy(
        {
            "Sid": "LakeFormationOfThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": "lakeformation.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:SetContext", "sts:SetSourceIdentity"],
            "Condition": {"StringEquals": {"aws:SourceAccount": env.account}},
        }
    )


def lf_access_policy(env: AwsEnv, buckets: list[str], key_arn: str) -> dict:
    """The role Lake Formation uses to vend credentials for the domain's registered locations.

    Lake Formation hands these out only to principals with a Lake Formation permission on the
    table (consumers: SELECT on their columns; the producer: INSERT/DELETE), so reads and writes
    through it stay governed by the grants."""
    return _policy(
        *_storage_statements(env, buckets, key_arn, ("VendObjects", "VendBuckets", "VendDomainKey"))
    )


def _storage_statements(
    env: AwsEnv, buckets: list[str], key_arn: str, sids: tuple[str, str, str]
) -> list[dict]:
    """Read/write on the objects of `buckets`, listing them, and use of the domain key."""
    bucket_arns = sorted(env.bucket_arn(b) for b in buckets)
    statements: list[dict] = []
    if bucket_arns:
        statements += [
            {
                "Sid": sids[0],
                "Effect": "Allow",
                "Action": PRODUCER_OBJECT_ACTIONS,
                "Resource": [f"{a}/*" for a in bucket_arns],
            },
            {
                "Sid": sids[1],
                "Effect": "Allow",
                "Action": PRODUCER_BUCKET_ACTIONS,
                "Resource": bucket_arns,
            },
        ]
    statements.append(
        {"Sid": sids[2], "Effect": "Allow", "Action": PRODUCER_KMS_ACTIONS, "Resource": key_arn}
    )
    return statements


def bucket_policy(env: AwsEnv, bucket: str, key_arn: str) -> dict:
    """TLS only; objects only encrypted with the domain key (requests that name another key or
    another kind of encryption are refused; requests naming none get the bucket default)."""
    arn = env.bucket_arn(bucket)
    return _policy(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyOtherEncryption",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"{arn}/*",
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
            "Resource": f"{arn}/*",
            "Condition": {
                "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn},
                "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
            },
        },
    )


def key_policy(env: AwsEnv, producer_role: str, reader_roles: list[str], lf_role: str) -> dict:
    """Least-privilege key policy of a domain key.

    The account administers the key but cannot use it for data; the producer encrypts and
    decrypts through S3 only; consumers with direct S3 read decrypt through S3 only; the domain's
    Lake Formation data-access role (which registers the product locations) uses the key for the
    credentials Lake Formation vends. Roles are named in
    `aws:PrincipalArn` conditions rather than as principals, so the key policy neither needs the
    roles to exist first (KMS rejects unknown principals) nor changes when a role is recreated.
    """
    root = {"AWS": env.root_arn()}
    via_s3 = {"kms:ViaService": env.s3_via_service()}
    statements = [
        {
            "Sid": "KeyAdministration",
            "Effect": "Allow",
            "Principal": root,
            "Action": KEY_ADMIN_ACTIONS,
            "Resource": "*",
        },
        {
            "Sid": "ProducerUseThroughS3",
            "Effect": "Allow",
            "Principal": root,
            "Action": PRODUCER_KMS_ACTIONS,
            "Resource": "*",
            "Condition": {
                "StringEquals": {**via_s3, "aws:PrincipalArn": env.role_arn(producer_role)}
            },
        },
        {
            "Sid": "LakeFormationDataAccess",
            "Effect": "Allow",
            "Principal": root,
            "Action": PRODUCER_KMS_ACTIONS,
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalArn": env.role_arn(lf_role)}},
        },
    ]
    if reader_roles:
        statements.append(
            {
                "Sid": "ConsumerDecryptThroughS3",
                "Effect": "Allow",
                "Principal": root,
                "Action": CONSUMER_KMS_ACTIONS,
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        **via_s3,
                        "aws:PrincipalArn": sorted(env.role_arn(r) for r in set(reader_roles)),
                    }
                },
            }
        )
    return _policy(*statements)


def producer_policy(env: AwsEnv, database: str, buckets: list[str], key_arn: str) -> dict:
    """Producer: read and write its own products' objects and partitions, nothing else."""
    statements = _storage_statements(
        env, buckets, key_arn, ("ReadWriteOwnObjects", "ListOwnBuckets", "UseDomainKey")
    )
    statements += [
        {
            "Sid": "ManageOwnPartitions",
            "Effect": "Allow",
            "Action": PRODUCER_GLUE_ACTIONS,
            "Resource": [
                env.glue_catalog_arn(),
                env.glue_database_arn(database),
                env.glue_table_arn(database, "*"),
            ],
        },
        {
            "Sid": "LakeFormationCredentials",
            "Effect": "Allow",
            "Action": LF_DATA_ACCESS_ACTION,
            "Resource": "*",
        },
    ]
    return _policy(*statements)


def consumer_access_policy(
    env: AwsEnv,
    database: str,
    tables: list[str],
    direct_buckets: list[str],
    key_arn: str | None,
) -> dict:
    """IAM side of every grant one producing domain gives one consumer domain, as one document
    on the consumer role: Glue read on exactly the granted tables (plus their database and the
    catalog, which Glue's table calls also authorize), `lakeformation:GetDataAccess`, and S3/KMS
    read only on `direct_buckets` -- the buckets of grants covering every column. A column-limited
    grant must not have a path to the objects around Lake Formation.

    One document per (producer, consumer) pair rather than per grant: one IAM resource instead of
    one per grant, a policy that only changes in place when a product is renamed or a grant is
    added, and room for many more grants within IAM's 10,240-character inline-policy quota per
    role. It stays in the producer's stack, since it holds only that domain's grants."""
    if not tables:
        raise ValueError("a consumer access policy needs at least one granted table")
    statements: list[dict] = [
        {
            "Sid": "ReadGrantedTables",
            "Effect": "Allow",
            "Action": CONSUMER_GLUE_ACTIONS,
            "Resource": [
                env.glue_catalog_arn(),
                env.glue_database_arn(database),
                *(env.glue_table_arn(database, t) for t in sorted(set(tables))),
            ],
        },
        {
            "Sid": "LakeFormationCredentials",
            "Effect": "Allow",
            "Action": LF_DATA_ACCESS_ACTION,
            "Resource": "*",
        },
    ]
    if direct_buckets:
        if key_arn is None:
            raise ValueError("direct S3 read needs the key ARN")
        arns = sorted({env.bucket_arn(b) for b in direct_buckets})
        statements += [
            {
                "Sid": "ReadObjects",
                "Effect": "Allow",
                "Action": CONSUMER_OBJECT_ACTIONS,
                "Resource": [f"{a}/*" for a in arns],
            },
            {
                "Sid": "ListBuckets",
                "Effect": "Allow",
                "Action": CONSUMER_BUCKET_ACTIONS,
                "Resource": arns,
            },
            {
                "Sid": "DecryptObjects",
                "Effect": "Allow",
                "Action": CONSUMER_KMS_ACTIONS,
                "Resource": key_arn,
            },
        ]
    return _policy(*statements)


def lifecycle_rules(retention_days: int) -> list[dict]:
    """Objects expire after the product's retention; old versions stay recoverable a while."""
    return [
        {
            "id": "retention",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "expiration": {"days": retention_days},
            "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_VERSION_DAYS},
            "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_MULTIPART_DAYS},
        }
    ]


# Hive/Glue storage definitions per format.
_TEXT_IN = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
STORAGE_FORMATS: dict[DataFormat, dict] = {
    DataFormat.parquet: {
        "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "serde": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "serde_parameters": {"serialization.format": "1"},
        "table_parameters": {"classification": "parquet", "parquet.compression": "SNAPPY"},
    },
    DataFormat.json: {
        "input_format": _TEXT_IN,
        "output_format": _TEXT_OUT,
        "serde": "org.openx.data.jsonserde.JsonSerDe",
        "serde_parameters": {"ignore.malformed.json": "FALSE"},
        "table_parameters": {"classification": "json"},
    },
    DataFormat.csv: {
        "input_format": _TEXT_IN,
        "output_format": _TEXT_OUT,
        "serde": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "serde_parameters": {"field.delim": ",", "serialization.format": ","},
        "table_parameters": {"classification": "csv", "skip.header.line.count": "1"},
    },
}
