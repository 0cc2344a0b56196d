"""The Pulumi program: the one place the mesh's resources are declared.

`build_mesh` turns the Mesh model into components. `infra/__main__.py` calls it under the real
engine (`pulumi up`); the recording and local engines call it under `pulumi.runtime.set_mocks`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra.model import access, tags
from infra.model.mesh import Mesh
from infra.model.spec import Blueprint, Column, DataDisposition, Product
from infra.provision.accounts import DEFAULT_DEPLOY_ROLE, DEFAULT_REGION, Accounts
from infra.provision.arns import AwsEnv
from infra.provision.bootstrap import DEFAULT_BOOTSTRAP_ROLE, build_bootstrap
from infra.provision.component_args import (
    AccountLake,
    ColumnArgs,
    ConsumerLink,
    DomainArgs,
    GrantArgs,
    PlatformArgs,
    ProductArgs,
    Safety,
)
from infra.provision.components import DataProduct, Domain, LakeFormationGrant, Platform
from infra.provision.config_values import account_ids, bucket_namespace, strings
from infra.provision.config_values import deletion_switch as _deletion_switch
from infra.provision.direct_read import DirectRead, direct_reads
from infra.provision.guard import DEFAULT_PLATFORM_STACK, LakeGuard, applied_accounts
from infra.provision.lake_settings import LakeDeclaration, declarations
from infra.provision.lftags import TagAccess
from infra.provision.names import (
    DEFAULT_PREFIX,
    GLOBAL_NAMESPACE,
    LF_ROLE_KIND,
    Names,
    check_prefix,
    domain_logical,
    grant_logical,
    physical_product_name,
    product_logical,
)
from infra.provision.querydocs import grant_filter, query_path_args
from infra.provision.slices import Slice

DEFAULT_ACCOUNT = "123456789012"
SCOPE_ALL = "all"  # one stack for the whole mesh
SCOPE_PLATFORM = "platform"  # account-level resources only; any other scope names one domain  # mesh:product on domain-level resources (not a valid product name)


@dataclass(frozen=True)
class StackSettings:
    """Stack configuration (Pulumi.<stack>.yaml): `mesh:prefix`, `mesh:account`, `aws:region`,
    `mesh:allowDataDeletion` (second switch for deleting decommissioned data), `mesh:stack`
    (what this stack declares: `all`, `platform` or one domain), `mesh:lakeFormationAdmins`
    (who administers Lake Formation; the identity running `pulumi up` must be among them),
    `mesh:deployRoleName` (the role `pulumi up` assumes in each domain account that is not
    `mesh:account`), `mesh:singleAccount` (deploy every domain into `mesh:account`, whatever
    account its blueprint names) and `mesh:platformStack` (a domain stack: the platform
    stack it waits for, `platform` by default; `org/project/stack` also works)."""

    prefix: str = DEFAULT_PREFIX
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    # the stack's switch for deleting decommissioned data: every domain (True), none (False),
    # or the domains named (mesh:allowDataDeletion: [sales, ...])
    allow_data_deletion: bool | frozenset[str] = False
    blueprints: Path = field(default=Path("blueprints"))
    scope: str = SCOPE_ALL
    lake_formation_admins: tuple[str, ...] = ()
    # merged into the settings of the account each ARN names (`infra.provision.lake_settings`)
    lake_formation_read_only_admins: tuple[str, ...] = ()
    lake_formation_trusted_owners: tuple[str, ...] = ()  # account ids, in every other account
    deploy_role_name: str = DEFAULT_DEPLOY_ROLE
    single_account: bool = False
    # a domain stack: the stack whose output says which accounts' Lake Formation settings are
    # applied (`infra.provision.guard`)
    platform_stack: str = DEFAULT_PLATFORM_STACK
    # S3 namespace of the stack's bucket names (`infra.provision.names.Names`), chosen once
    bucket_namespace: str = GLOBAL_NAMESPACE
    # the bootstrap stack: only the domain accounts' deploy roles (`infra.provision.bootstrap`)
    bootstrap: bool = False
    bootstrap_role_name: str = DEFAULT_BOOTSTRAP_ROLE

    @property
    def admins(self) -> tuple[str, ...]:
        """Configured admins; locally (plan, emulator) a deterministic platform deployer role."""
        return self.lake_formation_admins or (
            self.env.role_arn(f"{self.prefix}-platform-deployer"),
        )

    def lake_declarations(self, mesh: Mesh) -> dict[str, LakeDeclaration]:
        """The Lake Formation settings this stack declares, by account (`lake_settings`)."""
        accounts = self.accounts(mesh)
        foreign = {a: accounts.deploy_role_arn(a) for a in accounts.foreign(mesh.all_domains)}
        return declarations(
            accounts.platform,
            foreign,
            self.admins,
            self.lake_formation_read_only_admins,
            self.lake_formation_trusted_owners,
        )

    def allows_deletion(self, domain: str) -> bool:
        if isinstance(self.allow_data_deletion, frozenset):
            return domain in self.allow_data_deletion
        return bool(self.allow_data_deletion)

    def includes_platform(self) -> bool:
        return self.scope in (SCOPE_ALL, SCOPE_PLATFORM)

    def includes_domain(self, domain: str) -> bool:
        return self.scope in (SCOPE_ALL, domain)

    @property
    def env(self) -> AwsEnv:
        """The platform account's (`mesh:account`)."""
        return AwsEnv(account=self.account, region=self.region)

    def accounts(self, mesh: Mesh) -> Accounts:
        """Which account each domain of `mesh` lives in, for this stack."""
        if self.single_account:
            return Accounts(self.account, {}, self.region, self.deploy_role_name)
        named = {d: a for d in mesh.all_domains if (a := mesh.account_of(d)) is not None}
        return Accounts(self.account, named, self.region, self.deploy_role_name)

    @property
    def names(self) -> Names:
        return Names(check_prefix(self.prefix), self.bucket_namespace, self.region)

    @classmethod
    def from_pulumi_config(cls, project_dir: Path) -> StackSettings:
        mesh = pulumi.Config("mesh")
        blueprints = Path(mesh.get("blueprints") or "blueprints")
        scope = mesh.get("stack") or SCOPE_ALL
        admins = mesh.get_object("lakeFormationAdmins") or []
        if scope in (SCOPE_ALL, SCOPE_PLATFORM) and not admins:
            raise pulumi.RunError(
                "config mesh:lakeFormationAdmins is required for the platform: the list of IAM "
                "ARNs that administer Lake Formation (include the identity running pulumi up), "
                'e.g. pulumi config set --path "mesh:lakeFormationAdmins[0]" <arn>'
            )
        return cls(
            prefix=mesh.require("prefix"),
            account=mesh.require("account"),
            region=pulumi.Config("aws").require("region"),
            allow_data_deletion=_deletion_switch(mesh.get_object("allowDataDeletion")),
            blueprints=blueprints if blueprints.is_absolute() else project_dir / blueprints,
            scope=scope,
            lake_formation_admins=tuple(admins),
            lake_formation_read_only_admins=strings(mesh, "lakeFormationReadOnlyAdmins"),
            lake_formation_trusted_owners=account_ids(strings(mesh, "lakeFormationTrustedOwners")),
            deploy_role_name=mesh.get("deployRoleName") or DEFAULT_DEPLOY_ROLE,
            single_account=mesh.get_bool("singleAccount") or False,
            platform_stack=mesh.get("platformStack") or DEFAULT_PLATFORM_STACK,
            bucket_namespace=bucket_namespace(mesh.get("bucketNamespace")),
            bootstrap=mesh.get_bool("bootstrap") or False,
            bootstrap_role_name=mesh.get("bootstrapRoleName") or DEFAULT_BOOTSTRAP_ROLE,
        )


def _tags(bp: Blueprint, product: Product | None) -> dict[str, str]:
    out = {
        tags.DOMAIN: bp.domain,
        tags.PRODUCT: product.name if product else tags.NO_PRODUCT,
        tags.COST_CENTER: bp.cost_center,
        tags.OWNER: bp.owner.team,
    }
    if product is not None:
        out[tags.CLASSIFICATION] = product.classification.value
        # a product's extra tags never override the governance tags (cost attribution, owner)
        out = {**product.tags, **out}
    return out


def _column(c: Column) -> ColumnArgs:
    return ColumnArgs(name=c.name, type=c.type, pii=c.pii, comment=c.description)


def _deletable(
    domain: str, product: Product, settings: StackSettings, today: dt.date, bp: Blueprint
) -> bool:
    """Both switches: the blueprint decommissions the product, or its whole domain, with
    data: delete and the date has come; the stack allows deletion for the domain."""
    return settings.allows_deletion(domain) and any(
        d is not None and d.data is DataDisposition.delete and d.date <= today
        for d in (product.decommission, bp.decommission)
    )


def consumer_role_arn(settings: StackSettings, accounts: Accounts, domain: str) -> str:
    """The ARN of a domain's consumer role, in the domain's account."""
    return accounts.env(domain).role_arn(settings.names.role(domain, "consumer"))


def direct_readers(
    mesh: Mesh, bp: Blueprint, product: Product, settings: StackSettings, today: dt.date
) -> tuple[DirectRead, ...]:
    """`direct_read.direct_reads` with this stack's role ARNs."""
    accounts = settings.accounts(mesh)
    return direct_reads(
        mesh, bp, product, lambda d: consumer_role_arn(settings, accounts, d), today
    )


def domain_args(
    bp: Blueprint,
    settings: StackSettings,
    readers: dict[str, tuple[DirectRead, ...]],
    accounts: Accounts | None = None,
    today: dt.date | None = None,
) -> DomainArgs:
    """`readers`: product name -> its direct readers (`direct_readers`), for the key policy."""
    accounts = accounts or Accounts(settings.account, {}, settings.region)
    names = settings.names
    account = accounts.of(bp.domain)
    buckets = {
        p.name: names.bucket(bp.domain, physical_product_name(p), account) for p in bp.products
    }
    return DomainArgs(
        domain=bp.domain,
        description=bp.description,
        env=accounts.env(bp.domain),
        producer_role=names.role(bp.domain, "producer"),
        consumer_role=names.role(bp.domain, "consumer"),
        lf_role=names.role(bp.domain, LF_ROLE_KIND),
        database=names.database(bp.domain),
        key_alias=names.key_alias(bp.domain),
        buckets=tuple(buckets.values()),
        database_prefix=names.database_prefix(),
        tags=_tags(bp, None),
        direct_readers=tuple((buckets[p], r) for p, group in readers.items() for r in group),
        cross_account=accounts.multi,
        retired=today is not None and bp.decommission is not None and bp.decommission.date <= today,
        query=query_path_args(names, bp.domain, account),
    )


def product_args(
    bp: Blueprint,
    product: Product,
    settings: StackSettings,
    today: dt.date,
    readers: tuple[DirectRead, ...] = (),
    accounts: Accounts | None = None,
) -> ProductArgs:
    accounts = accounts or Accounts(settings.account, {}, settings.region)
    names = settings.names
    physical = physical_product_name(product)
    # what every grantee may read (Glue returns a table's parameters to any column-limited
    # grantee): no PII column names, quality rules or person's address; a PII column says so in
    # its own parameters, which Lake Formation shows only to those who may read the column
    params = {
        "mesh:classification": product.classification.value,
        "mesh:owner": bp.owner.team,
        "mesh:retention_days": str(product.retention_days),
    }
    if product.freshness_slo_hours is not None:
        params["mesh:freshness_slo_hours"] = str(product.freshness_slo_hours)
    return ProductArgs(
        domain=bp.domain,
        product=product.name,
        description=product.description,
        env=accounts.env(bp.domain),
        bucket=names.bucket(bp.domain, physical, accounts.of(bp.domain)),
        bucket_namespace=names.namespace,
        database=names.database(bp.domain),
        table=names.table(physical),
        format=product.format,
        retention_days=product.retention_days,
        columns=tuple(_column(c) for c in product.columns),
        partition_keys=tuple(_column(c) for c in product.partition_keys),
        table_parameters=params,
        tags=_tags(bp, product),
        safety=Safety(deletable=_deletable(bp.domain, product, settings, today, bp)),
        aliases=tuple(product_logical(bp.domain, old) for old in product.previous_names),
        direct_readers=readers,
    )


def grant_args(
    bp: Blueprint,
    grant: access.DeclaredGrant,
    consumer_domain: str,
    settings: StackSettings,
    accounts: Accounts | None = None,
    product: Product | None = None,
) -> GrantArgs:
    """A grant of every column and row is a whole-table permission; any other a data cells
    filter (`querydocs.grant_filter`; `product`: the granted product)."""
    accounts = accounts or Accounts(settings.account, {}, settings.region)
    producer, consumer = accounts.of(bp.domain), accounts.of(consumer_domain)
    filter_name, filter_columns = grant_filter(consumer_domain, grant, product)
    return GrantArgs(
        principal=consumer_role_arn(settings, accounts, consumer_domain),
        database=settings.names.database(bp.domain),
        columns=None if grant.whole_table else grant.columns,
        catalog_id=producer if producer != consumer else None,
        rows=grant.row_filter,
        filter_catalog=producer,
        filter_name=filter_name,
        filter_columns=filter_columns,
    )


@dataclass
class MeshResources:
    platform: Platform | None
    domains: dict[str, Domain]
    products: dict[str, DataProduct]
    grants: dict[str, LakeFormationGrant]
    # the platform: the accounts whose Lake Formation settings it applied (its stack output
    # `infra.provision.guard.PLATFORM_OUTPUT`, which domain stacks wait for)
    lake_formation_only: pulumi.Output[list[str]] | None = None


class _Providers:
    """One explicit `aws.Provider` per domain account other than the platform's: it assumes
    the deploy role there (`mesh:deployRoleName`) and refuses credentials of any other account
    (`allowed_account_ids`). The platform account's resources keep the default provider (an
    existing stack's resources would be replaced if they moved to an explicit one); only what
    a component in another account creates in the platform account (a resource link) gets an
    explicit platform provider."""

    def __init__(self, settings: StackSettings, accounts: Accounts) -> None:
        self.settings, self.accounts = settings, accounts
        self._made: dict[str, aws.Provider] = {}

    def explicit(self, account: str) -> aws.Provider:
        if account not in self._made:
            assume = (
                {}
                if account == self.accounts.platform
                else {
                    "assume_roles": [
                        {
                            "role_arn": self.accounts.deploy_role_arn(account),
                            "session_name": f"{self.settings.prefix}-deploy",
                        }
                    ]
                }
            )
            self._made[account] = aws.Provider(
                f"account-{account}",  # the engines read the account from this name
                region=self.settings.region,
                allowed_account_ids=[account],
                **assume,
            )
        return self._made[account]

    def of(self, account: str) -> aws.Provider | None:
        """The provider a component in `account` is created with (None: the default)."""
        return None if account == self.accounts.platform else self.explicit(account)

    def opts(self, account: str) -> pulumi.ResourceOptions | None:
        provider = self.of(account)
        return pulumi.ResourceOptions(providers=[provider]) if provider is not None else None


def build_mesh(
    mesh: Mesh, settings: StackSettings, today: dt.date, *, sliced: bool = False
) -> MeshResources:
    """Declare the resources of the stack's scope: the platform, then every domain's roles (the
    grant targets), then each domain's storage (its key policy names the consumer roles that
    read its products directly), products under their domain and grants under their product.

    A per-domain stack declares only that domain's resources, including the grants it gives;
    other domains are referenced by deterministic names, never through stack outputs, so its
    cost does not depend on the size of the mesh. `sliced`: a domain's part of the scope-`all`
    program instead, declared as that program declares it (`infra.provision.slices`)."""
    if settings.scope not in (SCOPE_ALL, SCOPE_PLATFORM) and settings.scope not in mesh.domains:
        raise ValueError(
            f"stack scope {settings.scope!r} is neither 'all', 'platform' nor a domain of the mesh"
        )
    accounts = settings.accounts(mesh)
    if settings.bootstrap:  # a stack of its own, deployed before every other
        b = settings
        build_bootstrap(
            accounts, mesh.all_domains, b.prefix, b.region, b.admins, b.bootstrap_role_name
        )
        return MeshResources(None, {}, {}, {})
    providers = _Providers(settings, accounts)
    cut = Slice(mesh, accounts, today) if sliced and not settings.includes_platform() else None
    platform = None
    if settings.includes_platform():
        lake = settings.lake_declarations(mesh)
        mine = lake[accounts.platform]
        others = tuple(
            AccountLake(
                a,
                lake[a].admins,
                providers.explicit(a),
                lake[a].read_only_admins,
                lake[a].trusted_owners,
            )
            for a in accounts.foreign(mesh.all_domains)
        )
        platform = Platform(
            "platform",
            PlatformArgs(
                mine.admins, accounts.multi, others, mine.read_only_admins, mine.trusted_owners
            ),
        )
        # every catalog resource waits for its account's settings
        guard = LakeGuard({accounts.platform: platform.lake_settings, **platform.account_settings})
    elif cut is not None:  # the platform's settings, as the scope-all program has them
        guard = LakeGuard(cut.lake_settings())
    else:  # a domain stack: for the platform stack's output (`infra.provision.guard`)
        guard = LakeGuard(platform_stack=settings.platform_stack)
    tagged = TagAccess(mesh, today, accounts, settings.names, providers, guard.of, platform)
    if cut is not None:  # the platform's LF-tags, as the scope-all program has them
        tagged.tags = cut.lf_tags()

    included = [bp for bp in mesh.blueprints if settings.includes_domain(bp.domain)]
    readers = {
        bp.domain: {p.name: direct_readers(mesh, bp, p, settings, today) for p in bp.products}
        for bp in included
    }
    domains = {
        bp.domain: Domain(
            domain_logical(bp.domain),
            domain_args(bp, settings, readers[bp.domain], accounts, today),
            opts=providers.opts(accounts.of(bp.domain)),
        )
        for bp in included
    }
    reach = {**cut.domains(included), **domains} if cut is not None else domains
    consumer_roles = {
        consumer_role_arn(settings, accounts, d): dom.consumer
        for d, dom in reach.items()
        if dom.consumer is not None
    }

    def in_stack(group: tuple[DirectRead, ...]) -> list[pulumi.Resource]:
        """The consumer roles of this stack that `group` names (the others are referenced by
        name: their stacks create them)."""
        arns = sorted({r for g in group for r in g.roles if r in consumer_roles})
        return [consumer_roles[arn] for arn in arns]

    for bp in included:
        every = tuple(r for group in readers[bp.domain].values() for r in group)
        domains[bp.domain].provision_storage(in_stack(every), guard.of(accounts.of(bp.domain)))
    products: dict[str, DataProduct] = {}
    grants: dict[str, LakeFormationGrant] = {}
    shared: dict[str, dict[str, None]] = {}  # producer -> consumer domains in other accounts
    for bp in included:
        owner = domains[bp.domain]
        for product in bp.products:
            pid = access.product_id(bp.domain, product.name)
            group = readers[bp.domain][product.name]
            products[pid] = dp = DataProduct(
                product_logical(bp.domain, product.name),
                product_args(bp, product, settings, today, group, accounts),
                owner,
                in_stack(group),
                opts=pulumi.ResourceOptions(parent=owner),
            )
            active = access.active_grants(mesh, bp, product, today)
            for consumer, grant in zip(active, access.consumer_grants(bp, product, active)):
                name = grant_logical(bp.domain, product.name, consumer.domain)
                grants[name] = LakeFormationGrant(
                    name,
                    grant_args(bp, grant, consumer.domain, settings, accounts, product),
                    dp,
                    reach.get(consumer.domain),
                    opts=pulumi.ResourceOptions(parent=dp),
                )
                if accounts.of(consumer.domain) != accounts.of(bp.domain):
                    shared.setdefault(bp.domain, {}).setdefault(consumer.domain, None)
        shared.setdefault(bp.domain, {}).update(tagged.domain(bp, owner, reach, products))
        # resource links: one per other account that reads this domain, after its grants
        by_account: dict[str, list[ConsumerLink]] = {}
        for c in shared.get(bp.domain, {}):
            consumer_domain = reach.get(c)
            by_account.setdefault(accounts.of(c), []).append(
                ConsumerLink(
                    c,
                    consumer_role_arn(settings, accounts, c),
                    consumer_domain.consumer if consumer_domain is not None else None,
                )
            )
        for account, links in sorted(by_account.items()):
            owner.share_to(account, links, providers.explicit(account), guard.of(account))
    settings_applied = (
        applied_accounts({accounts.platform: platform.lake_settings, **platform.account_settings})
        if platform is not None
        else None
    )
    return MeshResources(platform, domains, products, grants, settings_applied)
