"""Where the emulator authorizes S3 differently from AWS: corrected by the engine, checked at
every verification, and reported as the emulator's deviation, never as the mesh's mismatch.

AWS authorizes each S3 request against an IAM action that is not always the API operation's
name (Service Authorization Reference, "Actions, resources, and condition keys for Amazon S3":
ListObjectsV2, ListObjects and HeadBucket need `s3:ListBucket`, HeadObject `s3:GetObject`, a
multipart upload `s3:PutObject`, ...). moto up to 5.2.5 took the action from a table of its own
that agrees with AWS on the calls the mesh makes; moto 5.2.6 takes the operation's name, so it
authorizes ListObjectsV2 against `s3:ListObjectsV2`, an action no AWS policy grants. The mesh's
documents name AWS's actions and stay as they are: the local engine maps the action moto
computes to AWS's (`AWS_S3_ACTIONS`, installed by `infra.engines.moto.LocalAws`), and
`calibrate` proves, with a throwaway role allowed exactly AWS's action, that each call the
verifier makes is authorized as AWS authorizes it. An operation still authorized otherwise (a
later moto changing the mechanism) is a `Deviation`: the verifier leaves it to the evaluator
and says so, and the policies are never widened to please the emulator.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from botocore.exceptions import ClientError

# moto's name for the action (5.2.6: the operation's name) -> AWS's IAM action, for the S3
# operations whose action is not their own name (Service Authorization Reference for S3).
AWS_S3_ACTIONS: dict[str, str] = {
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "HeadBucket": "ListBucket",
    "HeadObject": "GetObject",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "ListParts": "ListMultipartUploadParts",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "UploadPartCopy": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "CopyObject": "PutObject",
    "DeleteObjects": "DeleteObject",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetBucketCors": "GetBucketCORS",
    "PutBucketCors": "PutBucketCORS",
    "DeleteBucketCors": "PutBucketCORS",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
}

# the verifier's operations: (API operation, the IAM action AWS authorizes it against)
PROBED: dict[str, tuple[str, str]] = {
    "read": ("GetObject", "s3:GetObject"),
    "list": ("ListObjectsV2", "s3:ListBucket"),
    "write": ("PutObject", "s3:PutObject"),
}

CALIBRATION = "mesh-emulator-calibration"  # bucket and role, made and removed by `calibrate`


@dataclass(frozen=True)
class Deviation:
    """A verifier operation the emulator does not authorize as AWS does."""

    operation: str  # read | list | write
    api: str  # ListObjectsV2
    aws_action: str  # s3:ListBucket
    emulator_action: str  # s3:ListObjectsV2, or "" when no candidate was authorized either

    def describe(self, emulator: str = "") -> str:
        emulator = emulator or f"moto {version('moto')}"
        against = (
            f"against {self.emulator_action}"
            if self.emulator_action
            else "against neither AWS's action nor the operation's name"
        )
        return (
            f"{emulator} authorizes S3 {self.api} {against}; AWS authorizes it against "
            f"{self.aws_action}. The mesh's policies name AWS's action and are left as they are; "
            f"the emulator's '{self.operation}' answers are not counted (the evaluator still "
            "checks the documents)"
        )


def _policy(bucket: str, action: str) -> dict:
    resource = [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
    }


def _calls(s3, bucket: str) -> dict[str, Callable[[], Any]]:
    return {
        "read": lambda: s3.get_object(Bucket=bucket, Key="probe")["Body"].read(),
        "list": lambda: s3.list_objects_v2(Bucket=bucket),
        "write": lambda: s3.put_object(Bucket=bucket, Key="probe", Body=b"{}"),
    }


def calibrate(aws: Any, account: str) -> list[Deviation]:
    """With IAM enforced, each verifier call made by a role allowed exactly AWS's action for it
    (then, if denied, the operation's own name): the operations the emulator authorizes
    otherwise than AWS. `aws` is a `LocalAws`; leaves enforcement off and nothing behind."""
    s3, iam, sts = aws.client("s3"), aws.client("iam"), aws.client("sts")
    aws.enforce_iam(False)
    where = {} if aws.region == "us-east-1" else {"LocationConstraint": aws.region}
    s3.create_bucket(Bucket=CALIBRATION, **({"CreateBucketConfiguration": where} if where else {}))
    s3.put_object(Bucket=CALIBRATION, Key="probe", Body=b"{}")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=CALIBRATION, AssumeRolePolicyDocument=json.dumps(trust))
    deviations = []
    try:
        for operation, (api, aws_action) in PROBED.items():
            authorized = ""
            for action in dict.fromkeys([aws_action, f"s3:{api}"]):
                if _allowed(aws, iam, sts, account, operation, action):
                    authorized = action
                    break
            if authorized != aws_action:
                deviations.append(Deviation(operation, api, aws_action, authorized))
    finally:
        aws.enforce_iam(False)
        iam.delete_role_policy(RoleName=CALIBRATION, PolicyName="probe")
        iam.delete_role(RoleName=CALIBRATION)
        s3.delete_object(Bucket=CALIBRATION, Key="probe")
        s3.delete_bucket(Bucket=CALIBRATION)
    return deviations


def _allowed(aws: Any, iam, sts, account: str, operation: str, action: str) -> bool:
    aws.enforce_iam(False)
    iam.put_role_policy(
        RoleName=CALIBRATION,
        PolicyName="probe",
        PolicyDocument=json.dumps(_policy(CALIBRATION, action)),
    )
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{CALIBRATION}", RoleSessionName=CALIBRATION
    )["Credentials"]
    session = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    call = _calls(aws.client("s3", session), CALIBRATION)[operation]
    aws.enforce_iam(True)
    try:
        call()
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"AccessDenied", "403"}:
            return False
        raise
    finally:
        aws.enforce_iam(False)
