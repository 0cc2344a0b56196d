"""Tag-based access in the program: the LF-tags of each account, their assignments on tables and
columns, and the permissions on tag expressions (`infra.model.lftags` says what; this module
declares it).

- `aws.lakeformation.LfTag`, one per ontology key (`domain`, `classification`, `pii` and the
  keys of `_mesh.yaml`) in every account of the mesh, with the values
  `lftags.account_values` gives (catalogId = the account). Account-level: the platform's
  (`platform-lftag-<account>-<key>`, after the account's Lake Formation settings).
- `aws.lakeformation.ResourceLfTags` on each live product's table (its derived tags and its
  own: `<domain>.<product>-lftags`) and on each column whose tags differ from its table's
  (`<domain>.<product>-lftags-<column>`, only what the column overrides). A decommissioned
  product's table (or a retired domain's) carries none, so no expression reaches it. Tables,
  never databases: a database's tags would reach a decommissioned table by inheritance.
- `aws.lakeformation.Permissions` of `SELECT` on `lfTagPolicy {resourceType: TABLE, catalogId,
  expressions: [{key, values}]}` to the grantee's consumer role, in the producer account's
  catalog (catalogId = that account, also across accounts: Lake Formation shares the matching
  tables through AWS RAM with cross-account version 3 and above, which the platform declares:
  "LF-TBAC method: Lake Formation uses AWS RAM for cross-account grants ... Allows explicit
  sharing of resources with IAM principals in external accounts", Lake Formation developer
  guide, "Updating cross-account data sharing version settings"). A domain's grant lives in its
  domain (`<domain>@<consumer>-tags-<digest>`); a mesh-wide one in the platform, one per
  account of the mesh (`platform@<consumer>-tags-<digest>-<account>`); `<digest>` is of
  the expression, so reordering the grants changes no name.

Every assignment and permission depends on the LfTag resources when the stack declares them,
else (a domain stack) on the platform stack's guard (`infra.provision.guard`), which the
platform stack resolves after its account's settings and tags.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence

import pulumi
import pulumi_aws as aws

from infra.model import lftags
from infra.model.access import is_decommissioned
from infra.model.lftags import Expression, TagGrantRef
from infra.model.mesh import Mesh
from infra.model.spec import Blueprint, Product
from infra.provision import documents as docs
from infra.provision.accounts import Accounts
from infra.provision.names import Names, child_name, physical_product_name

LF_TAG_PART = "lftag"  # platform-lftag-<account>-<key>
LF_TAGS_PART = "lftags"  # <domain>.<product>-lftags[-<column>]
TAG_GRANT_PART = "tags"  # <domain>@<consumer>-tags-<digest>
PLATFORM_LOGICAL = "platform"


def expression_digest(expression: Expression) -> str:
    """8 hex digits of the expression: part of a tag grant's logical name."""
    text = json.dumps([[k, list(v)] for k, v in expression], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def lf_tag_policy(account: str, expression: Expression) -> dict:
    """The `lfTagPolicy` input of a permission on `expression` in `account`'s catalog."""
    return {
        "resource_type": "TABLE",
        "catalog_id": account,
        "expressions": [{"key": k, "values": list(v)} for k, v in expression],
    }


def table_lf_tags(domain: str, product: Product) -> list[dict]:
    """The `lfTags` input of a product's table: every key, sorted."""
    tags = lftags.product_tags(domain, product)
    return [{"key": k, "value": tags[k]} for k in sorted(tags)]


def column_lf_tags(domain: str, product: Product) -> dict[str, list[dict]]:
    """column -> the `lfTags` input of its own assignment (the keys it overrides), for the
    columns that override any."""
    table = lftags.product_tags(domain, product)
    out = {}
    for column in product.columns:
        own = lftags.overrides(table, column)
        if own:
            out[column.name] = [{"key": k, "value": own[k]} for k in sorted(own)]
    return out


def build_ontology(
    mesh: Mesh,
    account_of: Callable[[str], str],
    parent: pulumi.Resource,
    provider_of: Callable[[str], pulumi.ProviderResource | None],
    settings_of: Callable[[str], pulumi.Input[pulumi.Resource] | None],
) -> dict[str, list[aws.lakeformation.LfTag]]:
    """The LfTag resources of every account of the mesh, by account."""
    out: dict[str, list[aws.lakeformation.LfTag]] = {}
    for account, keys in lftags.account_values(mesh, account_of).items():
        settings = settings_of(account)
        out[account] = [
            aws.lakeformation.LfTag(
                child_name(PLATFORM_LOGICAL, f"{LF_TAG_PART}-{account}-{key}"),
                catalog_id=account,
                key=key,
                values=list(values),
                opts=pulumi.ResourceOptions(
                    parent=parent,
                    provider=provider_of(account),
                    depends_on=[settings] if settings is not None else None,
                ),
            )
            for key, values in keys.items()
        ]
    return out


def tag_product(
    name: str,
    bp: Blueprint,
    product: Product,
    account: str,
    database: str,
    table_name: str,
    table: aws.glue.CatalogTable,
    after: Sequence[pulumi.Input[pulumi.Resource]],
    today: dt.date,
    parent: pulumi.Resource,
) -> list[aws.lakeformation.ResourceLfTags]:
    """The assignments of one product (`name`: its logical name): none once it is
    decommissioned or its domain retired."""
    if is_decommissioned(product, today) or (
        bp.decommission is not None and bp.decommission.date <= today
    ):
        return []
    opts = pulumi.ResourceOptions(parent=parent, depends_on=[table, *after])
    out = [
        aws.lakeformation.ResourceLfTags(
            child_name(name, LF_TAGS_PART),
            catalog_id=account,
            table={"catalog_id": account, "database_name": database, "name": table_name},
            lf_tags=table_lf_tags(bp.domain, product),
            opts=opts,
        )
    ]
    for column, tags in column_lf_tags(bp.domain, product).items():
        out.append(
            aws.lakeformation.ResourceLfTags(
                child_name(name, f"{LF_TAGS_PART}-{column}"),
                catalog_id=account,
                table_with_columns={
                    "catalog_id": account,
                    "database_name": database,
                    "name": table_name,
                    "column_names": [column],
                },
                lf_tags=tags,
                opts=pulumi.ResourceOptions(parent=parent, depends_on=[table, out[0], *after]),
            )
        )
    return out


def tag_grant_name(ref: TagGrantRef, account: str | None = None) -> str:
    """`<domain>@<consumer>-tags-<digest>`, or `platform@<consumer>-tags-<digest>-<account>`."""
    scope = PLATFORM_LOGICAL if ref.scope == lftags.MESH_SCOPE else ref.scope
    tail = f"-{account}" if ref.scope == lftags.MESH_SCOPE else ""
    return (
        child_name(
            f"{scope}@{ref.grant.domain}", f"{TAG_GRANT_PART}-{expression_digest(ref.expression)}"
        )
        + tail
    )


def live_refs(mesh: Mesh, today: dt.date) -> list[TagGrantRef]:
    """The tag grants that give access today: not expired, to a domain of the mesh that is not
    retired, from a domain that is not retired (the same as the declared access)."""
    out = []
    for ref in lftags.tag_grant_refs(mesh):
        grantee = ref.grant.domain
        if lftags.is_expired(ref.grant, today) or grantee not in mesh.all_domains:
            continue
        if mesh.is_retired(grantee, today) or grantee == ref.scope:
            continue
        if ref.scope != lftags.MESH_SCOPE and mesh.is_retired(ref.scope, today):
            continue
        out.append(ref)
    return out


def tag_permission(
    ref: TagGrantRef,
    account: str,
    principal: str,
    after: Sequence[pulumi.Input[pulumi.Resource]],
    parent: pulumi.Resource,
    provider: pulumi.ProviderResource | None = None,
) -> aws.lakeformation.Permissions:
    """SELECT on the tables of `account`'s catalog that `ref`'s expression matches. Replaced,
    never updated (Lake Formation permissions cannot change in place): old one first."""
    return aws.lakeformation.Permissions(
        tag_grant_name(ref, account),
        principal=principal,
        permissions=docs.CONSUMER_LF_PERMISSIONS,
        catalog_id=account,
        lf_tag_policy=lf_tag_policy(account, ref.expression),
        opts=pulumi.ResourceOptions(
            parent=parent,
            provider=provider,
            depends_on=list(after) or None,
            delete_before_replace=True,
        ),
    )


class TagAccess:
    """What `infra.provision.program.build_mesh` declares for tag-based access, in the stack's
    scope: `accounts` (where each domain lives), `names` (the stack's physical names),
    `providers` (the program's: `of(account)`, None for the default one, and `explicit(account)`),
    `guard_of` (account -> what its catalog resources wait for in a stack without the account's
    LF-tags, `infra.provision.guard`)."""

    def __init__(
        self,
        mesh: Mesh,
        today: dt.date,
        accounts: Accounts,
        names: Names,
        providers,
        guard_of: Callable[[str], pulumi.Input[pulumi.Resource] | None],
        platform: pulumi.Resource | None = None,
    ) -> None:
        """`platform`: the Platform component, when the stack declares it: the LF-tags of
        every account are its children (`build_ontology`)."""
        self.mesh, self.today, self.names, self.guard_of = mesh, today, names, guard_of
        self.account_of = accounts.of
        self.provider_of, self.explicit = providers.of, providers.explicit
        self.role_arn = lambda d: accounts.env(d).role_arn(names.role(d, "consumer"))
        self.refs = live_refs(mesh, today)
        self.tags: dict[str, list[aws.lakeformation.LfTag]] = {}  # account -> its LfTags
        if platform is not None:
            self.build_ontology(platform)

    def build_ontology(self, parent: pulumi.Resource) -> None:
        """The platform's part: every account's LfTags (none when tag-based access is off),
        each after its account's Lake Formation settings."""
        if not lftags.enabled(self.mesh):
            return
        self.tags = build_ontology(
            self.mesh, self.account_of, parent, self.provider_of, self.guard_of
        )

    def _after(self, account: str) -> list[pulumi.Input[pulumi.Resource]]:
        if account in self.tags:
            return list(self.tags[account])
        guard = self.guard_of(account)
        return [guard] if guard is not None else []

    def product(self, name: str, bp: Blueprint, product: Product, dp) -> None:
        """The LF-tag assignments of one product (`dp`: its DataProduct component)."""
        if not lftags.enabled(self.mesh):
            return
        account = self.account_of(bp.domain)
        database = self.names.database(bp.domain)
        table = self.names.table(physical_product_name(product))
        tag_product(
            name, bp, product, account, database, table, dp.table, self._after(account),
            self.today, dp,
        )  # fmt: skip

    def domain(
        self, bp: Blueprint, owner: pulumi.Resource, domains: dict, products: dict
    ) -> dict[str, None]:
        """Everything of one domain of the stack (`owner`: its Domain component; `domains`:
        the stack's, whose consumer roles the grants wait for; `products`: the DataProducts by
        id): its products' LF-tags, its tag grants, the mesh-wide tag grants to it. Returns the
        domains of other accounts a tag grant lets read its products today: they need its
        database's resource link (`Domain.share_to`), as for a named grant."""
        for product in bp.products:
            pid = f"{bp.domain}.{product.name}"
            self.product(pid, bp, product, products[pid])
        self._domain_grants(bp, owner, domains)
        self.mesh_grants(bp.domain, owner, getattr(owner, "consumer", None))
        return dict.fromkeys(self.readers_elsewhere(bp))

    def _domain_grants(self, bp: Blueprint, parent: pulumi.Resource, domains: dict) -> None:
        """A producing domain's tag grants."""
        account = self.account_of(bp.domain)
        for ref in self.refs:
            if ref.scope == bp.domain:
                grantee = domains.get(ref.grant.domain)
                role = grantee.consumer if grantee is not None else None
                tag_permission(
                    ref,
                    account,
                    self.role_arn(ref.grant.domain),
                    [*self._after(account), *([role] if role is not None else [])],
                    parent,
                    self.provider_of(account),
                )

    def mesh_grants(self, grantee: str, parent: pulumi.Resource, role) -> None:
        """The mesh-wide tag grants to `grantee`, declared in its stack (after its consumer
        role): one permission in each account of the mesh, each with that account's
        provider (an explicit one, also for the platform's account, where the grantee's domain,
        the parent, lives elsewhere: a child inherits its parent's provider)."""
        accounts = list(lftags.account_values(self.mesh, self.account_of))
        home = self.account_of(grantee)
        for ref in self.refs:
            if ref.scope != lftags.MESH_SCOPE or ref.grant.domain != grantee:
                continue
            for account in accounts:
                tag_permission(
                    ref,
                    account,
                    self.role_arn(grantee),
                    [*self._after(account), *([role] if role is not None else [])],
                    parent,
                    self.provider_of(account) if account == home else self.explicit(account),
                )

    def readers_elsewhere(self, bp: Blueprint) -> list[str]:
        """The domains in other accounts that a tag grant lets read a product of `bp` today:
        each needs a resource link to its database (`Domain.share_to`)."""
        home = self.account_of(bp.domain)
        out: dict[str, None] = {}
        for ref in self.refs:
            grantee = ref.grant.domain
            if self.account_of(grantee) == home or grantee in out:
                continue
            if next(lftags.expand(self.mesh, ref, self.today, only=bp), None) is not None:
                out[grantee] = None
        return list(out)
