"""The deploy role of a domain account (`mesh:deployRoleName`): what `pulumi up` assumes there,
and exactly what the program needs it to do. Pure builders, like `infra.provision.documents`:
the bootstrap stack (`infra.provision.bootstrap`) creates the role from them, and `mesh doctor`
checks a role that exists against the same list (`required_requests`).

What the program does in a domain account, by service: IAM roles and their inline policies named
`<prefix>-*` (and passing the Lake Formation data-access role to Lake Formation); S3 buckets
named `<prefix>-*` and their configuration; KMS keys (`CreateKey` takes no resource) and their
aliases `alias/<prefix>/*`; Glue databases `<prefix>_*` and their tables, and the catalog
(resource links; the catalog's resource policy Lake Formation writes when it shares); Lake
Formation settings, locations and permissions (Lake Formation's actions take no resource); and
across accounts the AWS RAM permissions of `AWSLakeFormationCrossAccountManager`, which Lake
Formation uses to share a table with another account: "the grantor must have
AWSLakeFormationCrossAccountManager managed IAM policy permissions" (Lake Formation developer
guide, cross-account data sharing).
"""

from __future__ import annotations

from infra.provision.arns import AwsEnv

DEPLOY_POLICY_NAME = "mesh-deploy"

_IAM = [
    "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole",
    "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags",
    "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:PassRole",
]  # fmt: skip
_S3 = [
    "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucket*", "s3:PutBucket*",
    "s3:DeleteBucketPolicy", "s3:DeleteBucketOwnershipControls",
    "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
    "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration",
    "s3:GetAccelerateConfiguration", "s3:GetReplicationConfiguration",
    "s3:GetIntelligentTieringConfiguration", "s3:GetAnalyticsConfiguration",
    "s3:GetInventoryConfiguration", "s3:GetMetricsConfiguration",
]  # fmt: skip
_KMS_KEYS = [
    "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias",
]  # fmt: skip
_KMS_ANY = ["kms:CreateKey", "kms:ListAliases"]  # no resource-level permissions
_GLUE = [
    "glue:CreateDatabase", "glue:GetDatabase", "glue:UpdateDatabase", "glue:DeleteDatabase",
    "glue:CreateTable", "glue:GetTable", "glue:UpdateTable", "glue:DeleteTable",
    "glue:GetTags", "glue:TagResource", "glue:UntagResource",
    "glue:GetResourcePolicy",  # read by mesh doctor (glue-policy)
]  # fmt: skip
_LAKEFORMATION = [
    "lakeformation:GetDataLakeSettings", "lakeformation:PutDataLakeSettings",
    "lakeformation:RegisterResource", "lakeformation:DeregisterResource",
    "lakeformation:DescribeResource", "lakeformation:GrantPermissions",
    "lakeformation:RevokePermissions", "lakeformation:BatchGrantPermissions",
    "lakeformation:BatchRevokePermissions", "lakeformation:ListPermissions",
    # tag-based access (`infra.provision.lftags`): the LF-tags of the account and their
    # assignments; data lake administrators have the Lake Formation permissions implicitly
    # but "also need the following IAM permissions" (LF developer guide, "Adding LF-Tag
    # creators")
    "lakeformation:CreateLFTag", "lakeformation:GetLFTag", "lakeformation:UpdateLFTag",
    "lakeformation:DeleteLFTag", "lakeformation:ListLFTags",
    "lakeformation:AddLFTagsToResource", "lakeformation:RemoveLFTagsFromResource",
    "lakeformation:GetResourceLFTags",
]  # fmt: skip
# AWSLakeFormationCrossAccountManager's permissions (AWS managed policy, v9), as an inline
# policy so the role holds exactly these and nothing the managed policy may add later
_RAM_CREATE = ["ram:CreateResourceShare"]
_RAM_MANAGE = [
    "ram:UpdateResourceShare", "ram:DeleteResourceShare", "ram:AssociateResourceShare",
    "ram:DisassociateResourceShare", "ram:GetResourceShares",
]  # fmt: skip
_RAM_PERMISSION = ["ram:AssociateResourceSharePermission"]
_RAM_READ = [
    "glue:PutResourcePolicy", "glue:DeleteResourcePolicy", "organizations:DescribeOrganization",
    "organizations:DescribeAccount", "ram:Get*", "ram:List*", "organizations:ListRoots",
    "organizations:ListAccountsForParent", "organizations:ListOrganizationalUnitsForParent",
]  # fmt: skip


def deploy_policy(env: AwsEnv, prefix: str, cross_account: bool) -> dict:
    """The deploy role's one inline policy in the account of `env`, for a stack prefix."""
    glue_prefix = prefix.replace("-", "_")
    statements = [
        {
            "Sid": "Roles",
            "Effect": "Allow",
            "Action": _IAM,
            "Resource": env.role_arn(f"{prefix}-*"),
        },
        {
            "Sid": "Buckets",
            "Effect": "Allow",
            "Action": _S3,
            "Resource": env.bucket_arn(f"{prefix}-*"),
        },
        {"Sid": "CreateKeys", "Effect": "Allow", "Action": _KMS_ANY, "Resource": "*"},
        {
            "Sid": "Keys",
            "Effect": "Allow",
            "Action": _KMS_KEYS,
            "Resource": [
                f"arn:{env.partition}:kms:{env.region}:{env.account}:key/*",
                f"arn:{env.partition}:kms:{env.region}:{env.account}:alias/{prefix}/*",
            ],
        },
        {
            "Sid": "Catalog",
            "Effect": "Allow",
            "Action": _GLUE,
            "Resource": [
                env.glue_catalog_arn(),
                env.glue_database_arn(f"{glue_prefix}_*"),
                env.glue_table_arn(f"{glue_prefix}_*", "*"),
            ],
        },
        # Lake Formation's actions have no resource-level permissions
        {"Sid": "LakeFormation", "Effect": "Allow", "Action": _LAKEFORMATION, "Resource": "*"},
    ]
    if cross_account:
        statements += [
            {
                "Sid": "ShareCreate",
                "Effect": "Allow",
                "Action": _RAM_CREATE,
                "Resource": "*",
                "Condition": {
                    "StringLikeIfExists": {
                        "ram:RequestedResourceType": ["glue:Table", "glue:Database", "glue:Catalog"]
                    }
                },
            },
            {
                "Sid": "ShareManage",
                "Effect": "Allow",
                "Action": _RAM_MANAGE,
                "Resource": "*",
                "Condition": {"StringLike": {"ram:ResourceShareName": ["LakeFormation*"]}},
            },
            {
                "Sid": "SharePermissions",
                "Effect": "Allow",
                "Action": _RAM_PERMISSION,
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "ram:PermissionArn": ["arn:aws:ram::aws:permission/AWSRAMLFEnabled*"]
                    }
                },
            },
            {"Sid": "ShareRead", "Effect": "Allow", "Action": _RAM_READ, "Resource": "*"},
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def deploy_trust(deployers: list[str]) -> dict:
    """Assumable by the platform's deployers (the identities that run `pulumi up`)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PlatformDeployer",
                "Effect": "Allow",
                "Principal": {"AWS": sorted(deployers)},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def required_requests(
    env: AwsEnv, prefix: str, cross_account: bool
) -> list[tuple[str, str, dict[str, str]]]:
    """(action, resource, request context) for every action the deploy role must be allowed,
    on a resource of the kind the program creates and with the context its request carries (a
    pattern's `*` stands for a name the program or Lake Formation gives)."""
    out = []
    for statement in deploy_policy(env, prefix, cross_account)["Statement"]:
        resources = statement["Resource"]
        resource = (resources if isinstance(resources, list) else [resources])[0]
        sample = resource if resource == "*" else resource.replace("*", "x")
        context = {
            key: values[0].replace("*", "x")
            for block in statement.get("Condition", {}).values()
            for key, values in block.items()
        }
        out += [(action, sample, context) for action in statement["Action"]]
    return out
