"""Pulumi type tokens of every resource the program declares (and of the variants governance
also recognises), in one place: the program's components, the governance rules, the audit, the
engines and the tests import them from here.

The tokens of `pulumi_aws` resources are the provider's (`aws:<module>/<camel>:<Class>`); the
`mesh:index:*` tokens are the program's own components.
"""

from __future__ import annotations

# the program's components
PLATFORM = "mesh:index:Platform"
DOMAIN = "mesh:index:Domain"
PRODUCT = "mesh:index:DataProduct"
GRANT = "mesh:index:Grant"
BOOTSTRAP = "mesh:index:Bootstrap"  # the deploy roles of the domain accounts

# S3
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
ENCRYPTION_V2 = (
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
)
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
LIFECYCLE_V2 = "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
BUCKET_ACL_V2 = "aws:s3/bucketAclV2:BucketAclV2"
# KMS
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
# IAM
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
IAM_POLICY = "aws:iam/policy:Policy"
# Glue
DATABASE = "aws:glue/catalogDatabase:CatalogDatabase"
TABLE = "aws:glue/catalogTable:CatalogTable"
# Lake Formation
LF_PERMISSIONS = "aws:lakeformation/permissions:Permissions"
LF_RESOURCE = "aws:lakeformation/resource:Resource"
LF_SETTINGS = "aws:lakeformation/dataLakeSettings:DataLakeSettings"
STACK_REFERENCE = "pulumi:pulumi:StackReference"  # a domain stack's reference to the platform
LF_DATA_FILTER = "aws:lakeformation/dataCellsFilter:DataCellsFilter"
LF_TAG = "aws:lakeformation/lfTag:LfTag"  # tag-based access (`infra.provision.lftags`)
LF_RESOURCE_TAGS = "aws:lakeformation/resourceLfTags:ResourceLfTags"
LF_RESOURCE_TAG = "aws:lakeformation/resourceLfTag:ResourceLfTag"  # one tag (not declared)
# Athena
WORKGROUP = "aws:athena/workgroup:Workgroup"
PROVIDER = "pulumi:providers:aws"  # an explicit provider: one per account of a multi-account mesh
