"""The pure policy builders: every document asserted whole, for an account and region that are
not the defaults (so nothing can be hard-coded), with literal action lists (so a widened constant
in infra.documents fails here instead of passing by construction)."""

from __future__ import annotations

import pytest

from infra import documents as docs
from infra.documents import AwsEnv

ENV = AwsEnv(account="111122223333", region="eu-central-1")
KEY = "arn:aws:kms:eu-central-1:111122223333:key/0d7e1a52-0000-4000-8000-000000000001"
ROOT = {"AWS": "arn:aws:iam::111122223333:root"}
VIA_S3 = "s3.eu-central-1.amazonaws.com"

PRODUCER_KMS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
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
GLUE_READ = ["glue:GetDatabase", "glue:GetPartition", "glue:GetPartitions", "glue:GetTable"]
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
        ],
    }


def test_bucket_policy_allows_nothing():
    """A bucket policy that only denies cannot make anything public."""
    policy = docs.bucket_policy(ENV, "acme-sales-orders", KEY)
    assert {s["Effect"] for s in policy["Statement"]} == {"Deny"}


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
    "Condition": {"StringEquals": {"aws:PrincipalArn": LF_ROLE_ARN}},
}


def test_key_policy_names_readers_sorted_and_once():
    readers = ["acme-marketing-consumer", "acme-finance-consumer", "acme-marketing-consumer"]
    assert docs.key_policy(ENV, "acme-sales-producer", readers, LF_ROLE) == {
        "Version": "2012-10-17",
        "Statement": [
            KEY_ADMINISTRATION,
            PRODUCER_USE,
            LF_DATA_ACCESS,
            {
                "Sid": "ConsumerDecryptThroughS3",
                "Effect": "Allow",
                "Principal": ROOT,
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": VIA_S3,
                        "aws:PrincipalArn": [
                            "arn:aws:iam::111122223333:role/acme-finance-consumer",
                            "arn:aws:iam::111122223333:role/acme-marketing-consumer",
                        ],
                    }
                },
            },
        ],
    }


def test_key_policy_without_readers_has_no_consumer_statement():
    assert docs.key_policy(ENV, "acme-sales-producer", [], LF_ROLE) == {
        "Version": "2012-10-17",
        "Statement": [KEY_ADMINISTRATION, PRODUCER_USE, LF_DATA_ACCESS],
    }


def test_key_administration_cannot_use_the_key_for_data():
    admin = docs.key_policy(ENV, "acme-sales-producer", [], LF_ROLE)["Statement"][0]
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


# ---------------------------------------------------------------- consumer grant policy

READ_GRANTED_TABLE = {
    "Sid": "ReadGrantedTables",
    "Effect": "Allow",
    "Action": GLUE_READ,
    "Resource": [
        "arn:aws:glue:eu-central-1:111122223333:catalog",
        "arn:aws:glue:eu-central-1:111122223333:database/acme_sales",
        "arn:aws:glue:eu-central-1:111122223333:table/acme_sales/orders",
    ],
}


def test_consumer_access_policy_with_direct_s3_read():
    policy = docs.consumer_access_policy(ENV, "acme_sales", ["orders"], ["acme-sales-orders"], KEY)
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            READ_GRANTED_TABLE,
            LF_CREDENTIALS,
            {
                "Sid": "ReadObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": ["arn:aws:s3:::acme-sales-orders/*"],
            },
            {
                "Sid": "ListBuckets",
                "Effect": "Allow",
                "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::acme-sales-orders"],
            },
            {
                "Sid": "DecryptObjects",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": KEY,
            },
        ],
    }


def test_consumer_access_policy_lists_every_granted_table_but_only_whole_table_buckets():
    """Three grants of one producer to one consumer: Glue on all three tables (sorted, once
    each), S3 read only on the two whole-table grants' buckets."""
    policy = docs.consumer_access_policy(
        ENV,
        "acme_sales",
        ["returns", "orders", "customers", "orders"],
        ["acme-sales-returns", "acme-sales-orders"],
        KEY,
    )
    glue, _, objects, buckets, _ = policy["Statement"]
    assert glue["Resource"] == [
        "arn:aws:glue:eu-central-1:111122223333:catalog",
        "arn:aws:glue:eu-central-1:111122223333:database/acme_sales",
        "arn:aws:glue:eu-central-1:111122223333:table/acme_sales/customers",
        "arn:aws:glue:eu-central-1:111122223333:table/acme_sales/orders",
        "arn:aws:glue:eu-central-1:111122223333:table/acme_sales/returns",
    ]
    assert objects["Resource"] == [
        "arn:aws:s3:::acme-sales-orders/*",
        "arn:aws:s3:::acme-sales-returns/*",
    ]
    assert buckets["Resource"] == [
        "arn:aws:s3:::acme-sales-orders",
        "arn:aws:s3:::acme-sales-returns",
    ]


def test_column_limited_grant_has_no_path_around_lake_formation():
    policy = docs.consumer_access_policy(ENV, "acme_sales", ["orders"], [], None)
    assert policy == {"Version": "2012-10-17", "Statement": [READ_GRANTED_TABLE, LF_CREDENTIALS]}
    actions = [a for s in policy["Statement"] for a in _actions(s)]
    assert not [a for a in actions if a.startswith(("s3:", "kms:"))]


def test_column_limited_grant_ignores_a_key_without_a_bucket():
    """No bucket = no direct read, even if a caller passes the key ARN."""
    assert docs.consumer_access_policy(ENV, "acme_sales", ["orders"], [], KEY) == {
        "Version": "2012-10-17",
        "Statement": [READ_GRANTED_TABLE, LF_CREDENTIALS],
    }


def test_direct_read_without_the_key_is_refused():
    with pytest.raises(ValueError, match="direct S3 read needs the key ARN"):
        docs.consumer_access_policy(ENV, "acme_sales", ["orders"], ["acme-sales-orders"], None)


def test_a_consumer_access_policy_without_tables_is_refused():
    with pytest.raises(ValueError, match="at least one granted table"):
        docs.consumer_access_policy(ENV, "acme_sales", [], [], None)


# ---------------------------------------------------------------- trust policy, lifecycle


def test_trust_policy_needs_the_domain_session_tag():
    assert docs.trust_policy(ENV, "sales") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AssumeFromDomainPrincipals",
                "Effect": "Allow",
                "Principal": ROOT,
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {"StringEquals": {"aws:PrincipalTag/mesh-domain": "sales"}},
            }
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
    first = docs.key_policy(ENV, "acme-sales-producer", [], LF_ROLE)
    first["Statement"][0]["Action"].append("kms:Decrypt")
    assert (
        "kms:Decrypt"
        not in docs.key_policy(ENV, "acme-sales-producer", [], LF_ROLE)["Statement"][0]["Action"]
    )


def test_lf_trust_policy_admits_only_lake_formation_of_this_account():
    assert docs.lf_trust_policy(ENV) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "LakeFormationOfThisAccount",
                "Effect": "Allow",
                "Principal": {"Service": "lakeformation.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:SetContext", "sts:SetSourceIdentity"],
                "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}},
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
                "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": key,
            },
        ],
    }
