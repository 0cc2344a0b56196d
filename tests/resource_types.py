"""Pulumi type tokens of the resources the program declares: the program's own
(`infra.provision.types`); `tests/test_house.py` checks them against what pulumi_aws records."""

from infra.provision.types import (  # noqa: F401  (re-exported for the tests)
    ALIAS,
    BUCKET,
    BUCKET_POLICY,
    DATABASE,
    DOMAIN,
    ENCRYPTION,
    GRANT,
    KEY,
    LF_DATA_FILTER,
    LF_PERMISSIONS,
    LF_RESOURCE,
    LF_RESOURCE_TAGS,
    LF_TAG,
    LIFECYCLE,
    OWNERSHIP,
    PRODUCT,
    PUBLIC_ACCESS_BLOCK,
    ROLE,
    ROLE_POLICY,
    TABLE,
    VERSIONING,
    WORKGROUP,
)
