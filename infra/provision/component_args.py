"""The typed args of the components (`infra.provision.components`): the boundary between the
blueprint model and the infrastructure.

`infra.provision.program` converts the pydantic blueprint model into these small frozen
dataclasses, and the components read nothing else (never a raw YAML dict, never the model).
`Safety` is here too: it is decided from the blueprint and the stack, and every stateful
resource of a component takes its options from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from infra.provision.arns import AwsEnv
from infra.provision.direct_read import DirectRead
from infra.provision.querydocs import QueryPathArgs


@dataclass(frozen=True)
class Safety:
    """Two switches decide deletion: the blueprint (decommission with data: delete, date passed)
    and the stack (`mesh:allowDataDeletion`). Both must agree; otherwise protect + retain."""

    deletable: bool = False

    def opts(self, **kwargs) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            protect=not self.deletable, retain_on_delete=not self.deletable, **kwargs
        )


@dataclass(frozen=True)
class ColumnArgs:
    name: str
    type: str
    pii: bool = False
    comment: str | None = None


@dataclass(frozen=True)
class DomainArgs:
    domain: str
    description: str
    env: AwsEnv
    producer_role: str
    consumer_role: str
    lf_role: str  # the role Lake Formation uses for the domain's registered locations
    database: str
    key_alias: str
    buckets: tuple[str, ...]  # physical names of the domain's product buckets
    database_prefix: str  # every mesh database name starts with it (the consumer's catalog scope)
    tags: dict[str, str]
    # (bucket, readers) of the domain's products whose grants opt into direct S3 read
    direct_readers: tuple[tuple[str, DirectRead], ...] = ()
    # a multi-account mesh: the consumer role reads catalogs of every account (through
    # resource links to other accounts' databases; Lake Formation still gates every table)
    cross_account: bool = False
    # the domain is retired (its domain-level decommission date has come): no producer and
    # no consumer role any more; its storage stays (protected, or deletable as its products)
    retired: bool = False
    # the domain's Athena workgroup and results bucket (`infra.provision.query`)
    query: QueryPathArgs | None = None


@dataclass(frozen=True)
class ProductArgs:
    domain: str
    product: str
    description: str
    env: AwsEnv
    bucket: str
    database: str
    table: str
    format: str
    retention_days: int
    columns: tuple[ColumnArgs, ...]
    partition_keys: tuple[ColumnArgs, ...]
    table_parameters: dict[str, str]
    tags: dict[str, str]
    safety: Safety = field(default_factory=Safety)
    aliases: tuple[str, ...] = ()  # previous logical names (declared renames)
    direct_readers: tuple[DirectRead, ...] = ()  # opted-in whole-table grants (bucket policy)
    bucket_namespace: str = "global"  # S3's (the default) or "account-regional"


@dataclass(frozen=True)
class GrantArgs:
    principal: str  # the consumer role's ARN (in the consumer's account)
    database: str
    columns: tuple[str, ...] | None  # None: the whole table
    # the producer's account when the consumer lives in another one: Lake Formation shares the
    # table from the producer's catalog directly to the role (cross-account version 3+)
    catalog_id: str | None = None
    rows: str | None = None  # the row filter (None: every row)
    # with a data cells filter: the producer's account (the catalog holding the table and
    # the filter), the filter's name and its columns (the grant's and the partition keys)
    filter_catalog: str = ""
    filter_name: str | None = None
    filter_columns: tuple[str, ...] | None = None


@dataclass(frozen=True)
class AccountLake:
    """Lake Formation settings of a domain account other than the platform's."""

    account: str
    admins: tuple[str, ...]
    provider: pulumi.ProviderResource
    read_only_admins: tuple[str, ...] = ()
    trusted_owners: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConsumerLink:
    """A consumer domain in another account that reads a producer's tables: its role gets
    DESCRIBE on the resource link to the producer's database in its account."""

    domain: str
    principal: str  # the consumer role's ARN
    role: pulumi.Resource | None = None  # the role, when this stack creates it


@dataclass(frozen=True)
class PlatformArgs:
    lake_formation_admins: tuple[str, ...]
    # a multi-account mesh: cross-account sharing on, and each other account's settings
    cross_account: bool = False
    accounts: tuple[AccountLake, ...] = ()
    read_only_admins: tuple[str, ...] = ()
    trusted_owners: tuple[str, ...] = ()
