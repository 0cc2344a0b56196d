"""The Pulumi program: the one place the mesh's resources are declared.

`build_mesh` turns the Mesh model into components. `infra/__main__.py` calls it under the real
engine (`pulumi up`); the recording and local engines call it under `pulumi.runtime.set_mocks`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pulumi

from infra import access
from infra.components import (
    ColumnArgs,
    DataProduct,
    Domain,
    DomainArgs,
    Grant,
    GrantArgs,
    ProductArgs,
    Safety,
)
from infra.documents import AwsEnv
from infra.loader import Mesh
from infra.naming import (
    DEFAULT_PREFIX,
    LF_ROLE_KIND,
    Names,
    check_prefix,
    domain_logical,
    grant_logical,
    physical_product_name,
    product_logical,
)
from infra.spec import Blueprint, Column, DataDisposition, Product

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "eu-west-1"
NO_PRODUCT_TAG = "-"  # mesh:product on domain-level resources (not a valid product name)


@dataclass(frozen=True)
class StackSettings:
    """Stack configuration (Pulumi.<stack>.yaml): `mesh:prefix`, `mesh:account`, `aws:region`,
    `mesh:allowDataDeletion` (second switch for deleting decommissioned data)."""

    prefix: str = DEFAULT_PREFIX
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    allow_data_deletion: bool = False
    blueprints: Path = field(default=Path("blueprints"))

    @property
    def env(self) -> AwsEnv:
        return AwsEnv(account=self.account, region=self.region)

    @property
    def names(self) -> Names:
        return Names(check_prefix(self.prefix))

    @classmethod
    def from_pulumi_config(cls, project_dir: Path) -> StackSettings:
        mesh = pulumi.Config("mesh")
        blueprints = Path(mesh.get("blueprints") or "blueprints")
        return cls(
            prefix=mesh.require("prefix"),
            account=mesh.require("account"),
            region=pulumi.Config("aws").require("region"),
            allow_data_deletion=mesh.get_bool("allowDataDeletion") or False,
            blueprints=blueprints if blueprints.is_absolute() else project_dir / blueprints,
        )


def _tags(bp: Blueprint, product: Product | None) -> dict[str, str]:
    tags = {
        "mesh:domain": bp.domain,
        "mesh:product": product.name if product else NO_PRODUCT_TAG,
        "cost-center": bp.cost_center,
        "mesh:owner": bp.owner.team,
    }
    if product is not None:
        tags["mesh:classification"] = product.classification.value
        # a product's extra tags never override the governance tags (cost attribution, owner)
        tags = {**product.tags, **tags}
    return tags


def _column(c: Column) -> ColumnArgs:
    return ColumnArgs(name=c.name, type=c.type, pii=c.pii, comment=c.description)


def _deletable(product: Product, settings: StackSettings, today: dt.date) -> bool:
    d = product.decommission
    return (
        d is not None
        and d.data is DataDisposition.delete
        and d.date <= today
        and settings.allow_data_deletion
    )


def domain_args(mesh: Mesh, bp: Blueprint, settings: StackSettings, today: dt.date) -> DomainArgs:
    names = settings.names
    readers = {
        names.role(g.domain, "consumer")
        for product in bp.products
        for g in access.active_consumers(product, today)
        if access.consumer_grant(bp, product, g).s3_direct
    }
    return DomainArgs(
        domain=bp.domain,
        description=bp.description,
        env=settings.env,
        producer_role=names.role(bp.domain, "producer"),
        consumer_role=names.role(bp.domain, "consumer"),
        lf_role=names.role(bp.domain, LF_ROLE_KIND),
        database=names.database(bp.domain),
        key_alias=names.key_alias(bp.domain),
        buckets=tuple(names.bucket(bp.domain, physical_product_name(p)) for p in bp.products),
        reader_roles=tuple(sorted(readers)),
        tags=_tags(bp, None),
    )


def product_args(
    bp: Blueprint, product: Product, settings: StackSettings, today: dt.date
) -> ProductArgs:
    names = settings.names
    physical = physical_product_name(product)
    params = {
        "mesh:classification": product.classification.value,
        "mesh:owner": bp.owner.email,
        "mesh:retention_days": str(product.retention_days),
    }
    if product.freshness_slo_hours is not None:
        params["mesh:freshness_slo_hours"] = str(product.freshness_slo_hours)
    if product.pii_columns:
        params["mesh:pii_columns"] = ",".join(sorted(product.pii_columns))
    return ProductArgs(
        domain=bp.domain,
        product=product.name,
        description=product.description,
        env=settings.env,
        bucket=names.bucket(bp.domain, physical),
        database=names.database(bp.domain),
        table=names.table(physical),
        format=product.format,
        retention_days=product.retention_days,
        columns=tuple(_column(c) for c in product.columns),
        partition_keys=tuple(_column(c) for c in product.partition_keys),
        table_parameters=params,
        tags=_tags(bp, product),
        safety=Safety(deletable=_deletable(product, settings, today)),
        aliases=tuple(product_logical(bp.domain, old) for old in product.previous_names),
    )


def grant_args(
    bp: Blueprint,
    product: Product,
    grant: access.Grant,
    consumer_domain: str,
    settings: StackSettings,
) -> GrantArgs:
    names = settings.names
    physical = physical_product_name(product)
    return GrantArgs(
        domain=bp.domain,
        product=product.name,
        consumer=consumer_domain,
        env=settings.env,
        consumer_role=names.role(consumer_domain, "consumer"),
        database=names.database(bp.domain),
        table=names.table(physical),
        columns=None if grant.s3_direct else grant.columns,
        bucket=names.bucket(bp.domain, physical) if grant.s3_direct else None,
        policy_name=names.grant_policy(bp.domain, product.name),
    )


@dataclass
class MeshResources:
    domains: dict[str, Domain]
    products: dict[str, DataProduct]
    grants: dict[str, Grant]


def build_mesh(mesh: Mesh, settings: StackSettings, today: dt.date) -> MeshResources:
    """Declare every resource of the mesh. Domains first (their consumer roles are the grant
    targets), then products under their domain, then grants under their product."""
    domains = {
        bp.domain: Domain(domain_logical(bp.domain), domain_args(mesh, bp, settings, today))
        for bp in mesh.blueprints
    }
    products: dict[str, DataProduct] = {}
    grants: dict[str, Grant] = {}
    for bp, product in mesh.products():
        owner = domains[bp.domain]
        pid = access.product_id(bp.domain, product.name)
        products[pid] = dp = DataProduct(
            product_logical(bp.domain, product.name),
            product_args(bp, product, settings, today),
            owner,
            opts=pulumi.ResourceOptions(parent=owner),
        )
        for consumer in access.active_consumers(product, today):
            grant = access.consumer_grant(bp, product, consumer)
            name = grant_logical(bp.domain, product.name, consumer.domain)
            grants[name] = Grant(
                name,
                grant_args(bp, product, grant, consumer.domain, settings),
                dp,
                owner,
                domains[consumer.domain],
                opts=pulumi.ResourceOptions(parent=dp),
            )
    return MeshResources(domains, products, grants)
