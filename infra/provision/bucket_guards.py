"""The guards every bucket of the mesh carries, product buckets and query-results buckets alike:
public access blocked, the owner enforced (no ACLs), and SSE-KMS under the domain's key with an
S3 bucket key. One place, so the two kinds of bucket cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.provision.names import Part, child_name


@dataclass(frozen=True)
class BucketGuards:
    public_access_block: aws.s3.BucketPublicAccessBlock
    ownership: aws.s3.BucketOwnershipControls
    encryption: aws.s3.BucketServerSideEncryptionConfiguration


def guard_bucket(
    owner: str, bucket: aws.s3.Bucket, key_arn: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> BucketGuards:
    """The three guards of `bucket`, named `<owner>-<part>` and declared with `opts` (the
    bucket's own safety: a retained bucket keeps its guards)."""
    return BucketGuards(
        public_access_block=aws.s3.BucketPublicAccessBlock(
            child_name(owner, Part.PUBLIC_ACCESS_BLOCK),
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=opts,
        ),
        ownership=aws.s3.BucketOwnershipControls(
            child_name(owner, Part.OWNERSHIP),
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=opts,
        ),
        encryption=aws.s3.BucketServerSideEncryptionConfiguration(
            child_name(owner, Part.ENCRYPTION),
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key_arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=opts,
        ),
    )
