"""Pure builders for every policy and configuration document the program deploys.

Plain dicts in, plain dicts out: no Pulumi, no AWS calls. The component passes the result (as
JSON) to the resource, the audit and the linter read the same document from the recorded resource
graph, and the tests assert it exactly. ARNs are built from deterministic names; only the KMS key
ARN (a random id chosen by AWS) is passed in.

Why one module (~450 lines): every document AWS receives is built here and nowhere else, so a
reviewer reads one file to know what any principal is allowed; splitting it by service would
scatter the statements that must agree (a bucket policy and the key policy it relies on). What
the documents are built from lives beside it: the ARNs (`infra.provision.arns`), the direct
readers (`infra.provision.direct_read`) and the table's location (`infra.provision.tables`).
"""

from __future__ import annotations

from infra.provision.arns import AwsEnv
from infra.provision.direct_read import DirectRead, direct_groups
from infra.provision.tables import TABLE_PREFIX

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
# S3 encrypts with the domain key through kms:GenerateDataKey and decrypts through kms:Decrypt;
# nothing calls kms:Encrypt on the key directly, so nobody gets it.
PRODUCER_KMS_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
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
# Catalog metadata a consumer reads through Lake Formation: the catalogue's CATALOG_READ_ACTIONS
# (the actions GOV-012 lets be account-wide, because Lake Formation permissions gate them).
CONSUMER_GLUE_ACTIONS = [
    "glue:BatchGetPartition",
    "glue:GetDatabase",
    "glue:GetDatabases",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:GetTable",
    "glue:GetTables",
]
# Direct S3 read (a producer-side opt-in of whole-table grants): objects and listing under the
# table location, decryption through S3.
CONSUMER_OBJECT_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"]
CONSUMER_BUCKET_ACTIONS = ["s3:ListBucket"]
CONSUMER_KMS_ACTIONS = ["kms:Decrypt"]
# Lake Formation permissions: the producer owns every table of its database; consumers select.
PRODUCER_LF_PERMISSIONS = ["ALTER", "DELETE", "DESCRIBE", "INSERT", "SELECT"]
CONSUMER_LF_PERMISSIONS = ["SELECT"]
# Lake Formation vends credentials through this action; AWS accepts it only on Resource "*".
LF_DATA_ACCESS_ACTION = "lakeformation:GetDataAccess"
# Lake Formation settings of every account of a multi-account mesh: version 4 shares to IAM
# principals of other accounts directly (through AWS RAM; see the README)
CROSS_ACCOUNT_PARAMETERS = {"CROSS_ACCOUNT_VERSION": "4"}
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


def _fresh(value):
    """A copy of the dicts and lists of a document, down to its strings (which are immutable)."""
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    return value


def _policy(*statements: dict) -> dict:
    # a fresh copy: statements hold the module's action lists, which a caller editing the
    # returned document (a linter, the audit) must not change for every later document (plain
    # dicts, lists and strings only: `copy.deepcopy`'s memo and dispatch cost 5x more)
    return {"Version": POLICY_VERSION, "Statement": [_fresh(s) for s in statements]}


def trust_policy(env: AwsEnv, domain: str) -> dict:
    """Principals of this account may assume a domain role only when tagged with that domain;
    a session tag they pass may only be that same domain tag (no other tag can ride along into
    the session and satisfy someone else's tag condition)."""
    root = {"AWS": env.root_arn()}
    tag = f"aws:PrincipalTag/{PRINCIPAL_TAG_DOMAIN}"
    return _policy(
        {
            "Sid": "AssumeFromDomainPrincipals",
            "Effect": "Allow",
            "Principal": root,
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {tag: domain}},
        },
        {
            "Sid": "TagSessionWithTheDomainOnly",
            "Effect": "Allow",
            "Principal": root,
            "Action": "sts:TagSession",
            "Condition": {
                "StringEquals": {tag: domain, f"aws:RequestTag/{PRINCIPAL_TAG_DOMAIN}": domain},
                "ForAllValues:StringEquals": {"aws:TagKeys": [PRINCIPAL_TAG_DOMAIN]},
            },
        },
    )


def lf_trust_policy(env: AwsEnv) -> dict:
    """Only Lake Formation, acting for this account and region, assumes a domain's data-access
    role (aws:SourceAccount and aws:SourceArn: no confused deputy). Only sts:AssumeRole: the
    role is never used with IAM Identity Center (sts:SetContext) or source identities."""
    return _policy(
        {
            "Sid": "LakeFormationOfThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": "lakeformation.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": env.account},
                "ArnLike": {"aws:SourceArn": env.lakeformation_arn()},
            },
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


def bucket_policy(
    env: AwsEnv, bucket: str, key_arn: str, direct: tuple[DirectRead, ...] | list[DirectRead] = ()
) -> dict:
    """TLS only; objects only encrypted with the domain key (requests that name another key, SSE-C
    or another kind of encryption are refused; requests naming none get the bucket default);
    and the product's opted-in direct readers (`direct`).

    Direct S3 read is granted here, where the data lives, not on the consumer role: its cost
    grows with the product's opted-in grants and the producing domain's stack holds it. Each
    reader reads and lists only under the table location (`data/`); a grant that expires gets a
    `DateLessThan aws:CurrentTime` condition, so access ends on the day even without a deploy.
    Roles are named as principals: S3 grants through a bucket policy only to a principal it
    names (a statement naming the account would only delegate to IAM, and consumer roles have
    no S3 permission of their own)."""
    arn = env.bucket_arn(bucket)
    statements: list[dict] = [
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
        {
            "Sid": "DenyCustomerProvidedKeys",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"{arn}/*",
            "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}},
        },
    ]
    for group in direct_groups(direct):
        until = group.condition()
        principal = {"AWS": list(group.roles)}
        statements += [
            {
                "Sid": f"DirectReadObjects{group.sid_suffix}",
                "Effect": "Allow",
                "Principal": principal,
                "Action": CONSUMER_OBJECT_ACTIONS,
                "Resource": f"{arn}/{TABLE_PREFIX}*",
                **({"Condition": until} if until else {}),
            },
            {
                "Sid": f"DirectListTable{group.sid_suffix}",
                "Effect": "Allow",
                "Principal": principal,
                "Action": CONSUMER_BUCKET_ACTIONS,
                "Resource": arn,
                "Condition": {"StringLike": {"s3:prefix": [f"{TABLE_PREFIX}*"]}, **until},
            },
        ]
    return _policy(*statements)


def key_policy(
    env: AwsEnv,
    producer_role: str | None,
    lf_role: str,
    direct: tuple[tuple[str, DirectRead], ...] | list[tuple[str, DirectRead]] = (),
    query_results: tuple[str, str] | None = None,
) -> dict:
    """Least-privilege key policy of a domain key.

    The account administers the key but cannot use it for data; the producer encrypts and
    decrypts through S3 only; the domain's Lake Formation data-access role (which registers the
    product locations) uses the key through S3 only, for the credentials Lake Formation vends.
    Those two roles are named in `aws:PrincipalArn` conditions rather than as principals, so the
    key policy neither needs them to exist first (KMS rejects unknown principals) nor changes
    when a role is recreated; their identity policies allow the same actions.

    `direct`: (bucket, readers) of the products whose grants opt into direct S3 read. Consumer
    roles have no KMS permission of their own, so the key policy names them as principals: each
    may decrypt through S3 only, only objects of the buckets it was granted (the S3 encryption
    context), and only until its grant expires. `producer_role` None: a retired domain, whose
    producer role is gone (nobody writes its products any more).

    `query_results`: (consumer role, results bucket) of the domain's query path: the consumer
    role encrypts and decrypts its Athena results through S3, in that bucket only (the
    producer's own statement already covers it)."""
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
        *(
            [
                {
                    "Sid": "ProducerUseThroughS3",
                    "Effect": "Allow",
                    "Principal": root,
                    "Action": PRODUCER_KMS_ACTIONS,
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {**via_s3, "aws:PrincipalArn": env.role_arn(producer_role)}
                    },
                }
            ]
            if producer_role is not None
            else []
        ),
        {
            "Sid": "LakeFormationDataAccess",
            "Effect": "Allow",
            "Principal": root,
            "Action": PRODUCER_KMS_ACTIONS,
            "Resource": "*",
            "Condition": {"StringEquals": {**via_s3, "aws:PrincipalArn": env.role_arn(lf_role)}},
        },
    ]
    by_bucket: dict[str, list[DirectRead]] = {}
    for bucket, readers in direct:
        by_bucket.setdefault(bucket, []).append(readers)
    for n, (bucket, group) in enumerate(
        ((b, g) for b in sorted(by_bucket) for g in direct_groups(by_bucket[b])), start=1
    ):
        arn = env.bucket_arn(bucket)
        statements.append(
            {
                "Sid": f"DirectReadDecrypt{n}",
                "Effect": "Allow",
                "Principal": {"AWS": list(group.roles)},
                "Action": CONSUMER_KMS_ACTIONS,
                "Resource": "*",
                "Condition": {
                    "StringEquals": via_s3,
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [arn, f"{arn}/*"]},
                    **group.condition(),
                },
            }
        )
    if query_results is not None:  # (consumer role, results bucket): `infra.provision.query`
        consumer_role, results_bucket = query_results
        results = env.bucket_arn(results_bucket)
        statements.append(
            {
                "Sid": "ConsumerQueryResultsThroughS3",
                "Effect": "Allow",
                "Principal": root,
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {**via_s3, "aws:PrincipalArn": env.role_arn(consumer_role)},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [results, f"{results}/*"]},
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


def consumer_policy(env: AwsEnv, database_prefix: str, cross_account: bool = False) -> dict:
    """The whole identity policy of a domain's consumer role: read the mesh's catalog and ask
    Lake Formation for credentials. Nothing in it depends on what the domain is granted, so it
    has the same size whether the domain reads 1 table or 10,000.

    Lake Formation is the gate: it answers Glue's catalog calls only for the tables and columns
    a principal holds a permission on, and vends credentials only for those; consumers need no
    S3 or KMS permission at all. The catalog actions are scoped to the mesh's databases (every
    name starting with `database_prefix`), the named case of GOV-012. Direct S3 read, where a
    grant opts into it, is granted by the product's bucket and key policies instead.

    `cross_account`: the catalogs of every account (the account part of the ARNs is `*`): a
    query through a resource link reads the link in this account and the shared database in
    the producer's; which accounts and tables is Lake Formation's decision, as in one account."""
    if cross_account:
        env = AwsEnv(account="*", region=env.region, partition=env.partition)
    return _policy(
        {
            "Sid": "ReadMeshCatalog",
            "Effect": "Allow",
            "Action": CONSUMER_GLUE_ACTIONS,
            "Resource": [
                env.glue_catalog_arn(),
                env.glue_database_arn(f"{database_prefix}*"),
                env.glue_table_arn(f"{database_prefix}*", "*"),
            ],
        },
        {
            "Sid": "LakeFormationCredentials",
            "Effect": "Allow",
            "Action": LF_DATA_ACCESS_ACTION,
            "Resource": "*",
        },
    )


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
