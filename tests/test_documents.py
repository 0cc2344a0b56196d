"""The pure policy builders: every document asserted whole, for an account and region that are
not the defaults (so nothing can be hard-coded), with literal action lists (so a widened constant
in infra.provision.documents fails here instead of passing by construction)."""

from __future__ import annotations

import datetime as dt

from infra.provision import documents as docs
from infra.provision.documents import AwsEnv, DirectRead

ENV = AwsEnv(account="111122223333", region="eu-central-1")
KEY = "arn:aws:kms:eu-central-1:111122223333:key/0d7e1a52-0000-4000-8000-000000000001"
ROOT = {"AWS": "arn:aws:iam::111122223333:root"}
VIA_S3 = "s3.eu-central-1.amazonaws.com"

PRODUCER_KMS = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]  # no kms:Encrypt
KEY_ADMIN = [
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
LF_ROLE = "acme-sales-lf-access"
LF_ROLE_ARN = "arn:aws:iam::111122223333:role/acme-sales-lf-access"
GLUE_READ = [
    "glue:BatchGetPartition",
    "glue:GetDatabase",
    "glue:GetDatabases",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:GetTable",
    "glue:GetTables",
]
MARKETING = "arn:aws:iam::111122223333:role/acme-marketing-consumer"
FINANCE = "arn:aws:iam::111122223333:role/acme-finance-consumer"
LF_CREDENTIALS = {
    "Sid": "LakeFormationCredentials",
    "Effect": "Allow",
    "Action": "lakeformation:GetDataAccess",
    "Resource": "*",
}


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


# ---------------------------------------------------------------- bucket policy


def test_bucket_policy_is_tls_only_and_refuses_other_encryption():
    assert docs.bucket_policy(ENV, "acme-sales-orders", KEY) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::acme-sales-orders", "arn:aws:s3:::acme-sales-orders/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyOtherEncryption",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::acme-sales-orders/*",
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
                "Resource": "arn:aws:s3:::acme-sales-orders/*",
                "Condition": {
                    "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": KEY},
                    "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
                },
            },
            DENY_SSE_C,
        ],
    }


DENY_SSE_C = {
    "Sid": "DenyCustomerProvidedKeys",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:PutObject",
    "Resource": "arn:aws:s3:::acme-sales-orders/*",
    "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}},
}


def test_bucket_policy_allows_nothing_without_direct_readers():
    """A bucket policy that only denies cannot make anything public."""
    policy = docs.bucket_policy(ENV, "acme-sales-orders", KEY)
    assert {s["Effect"] for s in policy["Statement"]} == {"Deny"}


def test_bucket_policy_grants_direct_read_under_the_table_location_until_expiry():
    """Opted-in readers read and list only under data/, grouped by expiry (none first), each
    group ending at its last day even without a deploy; roles sorted and named once."""
    readers = [
        DirectRead((MARKETING,), dt.date(2027, 6, 30)),
        DirectRead((FINANCE,), None),
        DirectRead((MARKETING,), None),
        DirectRead((FINANCE,), dt.date(2027, 6, 30)),
    ]
    statements = docs.bucket_policy(ENV, "acme-sales-orders", KEY, readers)["Statement"]
    assert statements[4:] == [
        {
            "Sid": "DirectReadObjects",
            "Effect": "Allow",
            "Principal": {"AWS": [FINANCE, MARKETING]},
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": "arn:aws:s3:::acme-sales-orders/data/*",
        },
        {
            "Sid": "DirectListTable",
            "Effect": "Allow",
            "Principal": {"AWS": [FINANCE, MARKETING]},
            "Action": ["s3:ListBucket"],
            "Resource": "arn:aws:s3:::acme-sales-orders",
            "Condition": {"StringLike": {"s3:prefix": ["data/*"]}},
        },
        {
            "Sid": "DirectReadObjectsUntil20270630",
            "Effect": "Allow",
            "Principal": {"AWS": [FINANCE, MARKETING]},
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": "arn:aws:s3:::acme-sales-orders/data/*",
            "Condition": {"DateLessThan": {"aws:CurrentTime": "2027-07-01T00:00:00Z"}},
        },
        {
            "Sid": "DirectListTableUntil20270630",
            "Effect": "Allow",
            "Principal": {"AWS": [FINANCE, MARKETING]},
            "Action": ["s3:ListBucket"],
            "Resource": "arn:aws:s3:::acme-sales-orders",
            "Condition": {
                "StringLike": {"s3:prefix": ["data/*"]},
                "DateLessThan": {"aws:CurrentTime": "2027-07-01T00:00:00Z"},
            },
        },
    ]


def test_arns_follow_the_partition():
    china = AwsEnv(account="111122223333", region="cn-north-1", partition="aws-cn")
    policy = docs.bucket_policy(china, "acme-sales-orders", KEY)
    assert policy["Statement"][0]["Resource"] == [
        "arn:aws-cn:s3:::acme-sales-orders",
        "arn:aws-cn:s3:::acme-sales-orders/*",
    ]
    assert docs.trust_policy(china, "sales")["Statement"][0]["Principal"] == {
        "AWS": "arn:aws-cn:iam::111122223333:root"
    }


# ---------------------------------------------------------------- key policy

KEY_ADMINISTRATION = {
    "Sid": "KeyAdministration",
    "Effect": "Allow",
    "Principal": ROOT,
    "Action": KEY_ADMIN,
    "Resource": "*",
}
PRODUCER_USE = {
    "Sid": "ProducerUseThroughS3",
    "Effect": "Allow",
    "Principal": ROOT,
    "Action": PRODUCER_KMS,
    "Resource": "*",
    "Condition": {
        "StringEquals": {
            "kms:ViaService": VIA_S3,
            "aws:PrincipalArn": "arn:aws:iam::111122223333:role/acme-sales-producer",
        }
    },
}
LF_DATA_ACCESS = {
    "Sid": "LakeFormationDataAccess",
    "Effect": "Allow",
    "Principal": ROOT,
    "Action": PRODUCER_KMS,
    "Resource": "*",
    "Condition": {"StringEquals": {"kms:ViaService": VIA_S3, "aws:PrincipalArn": LF_ROLE_ARN}},
}


def test_key_policy_names_direct_readers_per_bucket_and_expiry():
    """Each opted-in product gets its statement: its readers (sorted, once) decrypt through S3
    only, only that bucket's objects (the S3 encryption context), only until they expire."""
    readers = [
        ("acme-sales-returns", DirectRead((MARKETING,), None)),
        ("acme-sales-orders", DirectRead((MARKETING,), dt.date(2027, 3, 31))),
        ("acme-sales-orders", DirectRead((FINANCE,), None)),
        ("acme-sales-orders", DirectRead((MARKETING,), None)),
        ("acme-sales-orders", DirectRead((FINANCE,), None)),
    ]
    orders, returns = "arn:aws:s3:::acme-sales-orders", "arn:aws:s3:::acme-sales-returns"
    assert docs.key_policy(ENV, "acme-sales-producer", LF_ROLE, readers) == {
        "Version": "2012-10-17",
        "Statement": [
            KEY_ADMINISTRATION,
            PRODUCER_USE,
            LF_DATA_ACCESS,
            {
                "Sid": "DirectReadDecrypt1",
                "Effect": "Allow",
                "Principal": {"AWS": [FINANCE, MARKETING]},
                "Action": ["kms:Decrypt"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:ViaService": VIA_S3},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [orders, f"{orders}/*"]},
                },
            },
            {
                "Sid": "DirectReadDecrypt2",
                "Effect": "Allow",
                "Principal": {"AWS": [MARKETING]},
                "Action": ["kms:Decrypt"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:ViaService": VIA_S3},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [orders, f"{orders}/*"]},
                    "DateLessThan": {"aws:CurrentTime": "2027-04-01T00:00:00Z"},
                },
            },
            {
                "Sid": "DirectReadDecrypt3",
                "Effect": "Allow",
                "Principal": {"AWS": [MARKETING]},
                "Action": ["kms:Decrypt"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:ViaService": VIA_S3},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [returns, f"{returns}/*"]},
                },
            },
        ],
    }


def test_key_policy_without_direct_readers_names_no_consumer():
    assert docs.key_policy(ENV, "acme-sales-producer", LF_ROLE) == {
        "Version": "2012-10-17",
        "Statement": [KEY_ADMINISTRATION, PRODUCER_USE, LF_DATA_ACCESS],
    }


def test_key_administration_cannot_use_the_key_for_data():
    admin = docs.key_policy(ENV, "acme-sales-producer", LF_ROLE)["Statement"][0]
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"} & set(
        admin["Action"]
    )


# ---------------------------------------------------------------- producer policy


def test_producer_policy():
    policy = docs.producer_policy(
        ENV, "acme_sales", ["acme-sales-returns", "acme-sales-orders"], KEY
    )
    assert policy == {
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
                "Resource": [
                    "arn:aws:s3:::acme-sales-orders/*",
                    "arn:aws:s3:::acme-sales-returns/*",
                ],
            },
            {
                "Sid": "ListOwnBuckets",
                "Effect": "Allow",
                "Action": [
                    "s3:GetBucketLocation",
                    "s3:ListBucket",
                    "s3:ListBucketMultipartUploads",
                ],
                "Resource": ["arn:aws:s3:::acme-sales-orders", "arn:aws:s3:::acme-sales-returns"],
            },
            {"Sid": "UseDomainKey", "Effect": "Allow", "Action": PRODUCER_KMS, "Resource": KEY},
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
                    "arn:aws:glue:eu-central-1:111122223333:catalog",
                    "arn:aws:glue:eu-central-1:111122223333:database/acme_sales",
                    "arn:aws:glue:eu-central-1:111122223333:table/acme_sales/*",
                ],
            },
            LF_CREDENTIALS,
        ],
    }


def test_producer_policy_of_a_domain_without_products_has_no_s3_statement():
    """An empty Resource list is invalid IAM; a domain with no products gets no S3 statement."""
    statements = docs.producer_policy(ENV, "acme_bi", [], KEY)["Statement"]
    assert [s["Sid"] for s in statements] == [
        "UseDomainKey",
        "ManageOwnPartitions",
        "LakeFormationCredentials",
    ]


# ---------------------------------------------------------------- consumer policy


def test_consumer_policy_reads_the_mesh_catalog_only_and_never_data():
    """The whole identity policy of a consumer role: catalog metadata of the mesh's databases
    and Lake Formation credentials. No S3, no KMS: Lake Formation vends what a grant allows."""
    policy = docs.consumer_policy(ENV, "acme_")
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadMeshCatalog",
                "Effect": "Allow",
                "Action": GLUE_READ,
                "Resource": [
                    "arn:aws:glue:eu-central-1:111122223333:catalog",
                    "arn:aws:glue:eu-central-1:111122223333:database/acme_*",
                    "arn:aws:glue:eu-central-1:111122223333:table/acme_*/*",
                ],
            },
            LF_CREDENTIALS,
        ],
    }
    actions = [a for s in policy["Statement"] for a in _actions(s)]
    assert not [a for a in actions if a.startswith(("s3:", "kms:"))]


def test_consumer_glue_actions_are_the_catalogue_catalog_reads():
    """GOV-012 lets exactly these be account-wide; the consumer policy uses exactly them."""
    from infra.governance.catalogue import CATALOG_READ_ACTIONS

    assert set(docs.CONSUMER_GLUE_ACTIONS) == CATALOG_READ_ACTIONS


# ---------------------------------------------------------------- trust policy, lifecycle


def test_trust_policy_needs_the_domain_session_tag():
    """Assuming needs the domain tag; a session may carry that tag only, with the same value."""
    assert docs.trust_policy(ENV, "sales") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AssumeFromDomainPrincipals",
                "Effect": "Allow",
                "Principal": ROOT,
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:PrincipalTag/mesh-domain": "sales"}},
            },
            {
                "Sid": "TagSessionWithTheDomainOnly",
                "Effect": "Allow",
                "Principal": ROOT,
                "Action": "sts:TagSession",
                "Condition": {
                    "StringEquals": {
                        "aws:PrincipalTag/mesh-domain": "sales",
                        "aws:RequestTag/mesh-domain": "sales",
                    },
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["mesh-domain"]},
                },
            },
        ],
    }


def test_lifecycle_rules_follow_retention_days():
    assert docs.lifecycle_rules(730) == [
        {
            "id": "retention",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "expiration": {"days": 730},
            "noncurrent_version_expiration": {"noncurrent_days": 30},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
        }
    ]


def test_builders_return_fresh_documents():
    """Callers may mutate a document (e.g. to lint it) without changing the next one."""
    first = docs.key_policy(ENV, "acme-sales-producer", LF_ROLE)
    first["Statement"][0]["Action"].append("kms:Decrypt")
    assert (
        "kms:Decrypt"
        not in docs.key_policy(ENV, "acme-sales-producer", LF_ROLE)["Statement"][0]["Action"]
    )


def test_lf_trust_policy_admits_only_lake_formation_of_this_account():
    assert docs.lf_trust_policy(ENV) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "LakeFormationOfThisAccount",
                "Effect": "Allow",
                "Principal": {"Service": "lakeformation.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": "111122223333"},
                    "ArnLike": {
                        "aws:SourceArn": "arn:aws:lakeformation:eu-central-1:111122223333:*"
                    },
                },
            }
        ],
    }


def test_lf_access_policy_reads_and_writes_the_domain_buckets_only():
    key = "arn:aws:kms:eu-central-1:111122223333:key/k"
    assert docs.lf_access_policy(ENV, ["b2", "b1"], key) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "VendObjects",
                "Effect": "Allow",
                "Action": [
                    "s3:AbortMultipartUpload",
                    "s3:DeleteObject",
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:ListMultipartUploadParts",
                    "s3:PutObject",
                ],
                "Resource": ["arn:aws:s3:::b1/*", "arn:aws:s3:::b2/*"],
            },
            {
                "Sid": "VendBuckets",
                "Effect": "Allow",
                "Action": [
                    "s3:GetBucketLocation",
                    "s3:ListBucket",
                    "s3:ListBucketMultipartUploads",
                ],
                "Resource": ["arn:aws:s3:::b1", "arn:aws:s3:::b2"],
            },
            {
                "Sid": "VendDomainKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
                "Resource": key,
            },
        ],
    }
