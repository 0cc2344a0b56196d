"""Pulumi components: Platform, Domain, DataProduct, LakeFormationGrant.

Each takes a small typed args object (`infra.provision.component_args`, built from the blueprint
model in `infra.provision.program`), creates its children with `parent=self` and names derived
from its own name, and registers its outputs last. Every policy document comes from
`infra.provision.documents`. Components never import boto3.

Why one module (~460 lines): the four components are one resource graph whose ordering
(roles before the key policy that names them, the database after the Lake Formation
settings, a grant after its consumer role) is only visible when they are read together.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra.provision import documents as docs
from infra.provision import query
from infra.provision import types as T
from infra.provision.bucket_guards import guard_bucket
from infra.provision.component_args import (
    ColumnArgs,
    ConsumerLink,
    DomainArgs,
    GrantArgs,
    PlatformArgs,
    ProductArgs,
    Safety,
)
from infra.provision.names import Part, child_name
from infra.provision.querydocs import data_filter_table_data
from infra.provision.tables import STORAGE_FORMATS, TABLE_PREFIX


def _json(doc: dict) -> str:
    return json.dumps(doc, sort_keys=False)


def _merged(read_only_admins: tuple[str, ...], trusted_owners: tuple[str, ...]) -> dict:
    """The settings' optional lists, only when declared (an older stack's inputs stay as they
    were; an empty list and no list both clear them: `infra.provision.lake_settings`)."""
    out: dict = {}
    if read_only_admins:
        out["read_only_admins"] = list(read_only_admins)
    if trusted_owners:
        out["trusted_resource_owners"] = list(trusted_owners)
    return out


class Platform(pulumi.ComponentResource):
    """Account-level resources shared by every domain: Lake Formation settings.

    New databases and tables get no default permission for IAM_ALLOWED_PRINCIPALS, so access
    is only what Lake Formation grants: without this, every principal with Glue and S3 rights
    would bypass column-level grants."""

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None):
        """The settings are a per-account singleton whose deletion (or a replacement, which
        ends in a deletion) clears every administrator and resets CROSS_ACCOUNT_VERSION to 1:
        protected, and retained if they ever leave the program."""
        super().__init__(T.PLATFORM, name, None, opts)
        # leaving `parameters` out would reset CROSS_ACCOUNT_VERSION to 1 (pulumi-aws docs)
        sharing = {"parameters": docs.CROSS_ACCOUNT_PARAMETERS} if args.cross_account else {}
        kept = Safety()  # protect + retain_on_delete
        self.lake_settings = aws.lakeformation.DataLakeSettings(
            child_name(name, Part.LAKE_SETTINGS),
            admins=list(args.lake_formation_admins),
            create_database_default_permissions=[],
            create_table_default_permissions=[],
            **_merged(args.read_only_admins, args.trusted_owners),
            **sharing,
            opts=kept.opts(parent=self),
        )
        self.account_settings = {
            a.account: aws.lakeformation.DataLakeSettings(
                child_name(name, f"{Part.LAKE_SETTINGS}-{a.account}"),
                admins=list(a.admins),
                create_database_default_permissions=[],
                create_table_default_permissions=[],
                **_merged(a.read_only_admins, a.trusted_owners),
                **sharing,
                opts=kept.opts(parent=self, provider=a.provider),
            )
            for a in args.accounts
        }
        self.register_outputs({})


class Domain(pulumi.ComponentResource):
    """A domain: producer and consumer roles, the Lake Formation data-access role, then (in
    `provision_storage`) its KMS key, Glue database and the roles' access.

    Two steps because the key policy names the consumer roles of other domains that opted into
    direct S3 read (KMS refuses a principal that does not exist): `infra.provision.program.build_mesh`
    creates every domain's roles first, then each domain's storage, which depends on them."""

    key: aws.kms.Key
    database: aws.glue.CatalogDatabase
    producer: aws.iam.Role | None  # None once the domain is retired
    consumer: aws.iam.Role | None

    def __init__(self, name: str, args: DomainArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(T.DOMAIN, name, None, opts)
        self._name, self.args = name, args
        env = args.env
        child = pulumi.ResourceOptions(parent=self)

        def role(kind: str, physical: str, description: str, trust: dict) -> aws.iam.Role:
            return aws.iam.Role(
                child_name(name, kind),
                name=physical,
                description=description,
                assume_role_policy=_json(trust),
                max_session_duration=3600,
                tags=args.tags,
                opts=child,
            )

        people = docs.trust_policy(env, args.domain)
        self.producer = self.consumer = None
        if not args.retired:
            self.producer = role(
                "producer",
                args.producer_role,
                f"Writes and reads the data products of {args.domain}",
                people,
            )
            self.consumer = role(
                "consumer",
                args.consumer_role,
                f"Reads what other domains granted to {args.domain}",
                people,
            )
        self.lf_access = role(
            "lf-access",
            args.lf_role,
            f"Lake Formation data access to the products of {args.domain}",
            docs.lf_trust_policy(env),
        )
        if self.consumer is not None:
            self.consumer_policy = aws.iam.RolePolicy(
                child_name(name, Part.CONSUMER_ACCESS),
                name="mesh-consumer-access",
                role=self.consumer.name,
                policy=_json(
                    docs.consumer_policy(
                        env, args.database_prefix, cross_account=args.cross_account
                    )
                ),
                opts=child,
            )

    def provision_storage(
        self,
        readers: list[pulumi.Resource],
        lake_settings: pulumi.Input[pulumi.Resource] | None,
    ) -> None:
        """The key (after the direct readers' roles: `readers`), the database (after the Lake
        Formation settings that take IAM_ALLOWED_PRINCIPALS off new tables, `lake_settings`:
        the settings resource in the same stack, else the platform stack's reference,
        `infra.provision.guard`), the roles' policies; then the outputs."""
        name, args, env = self._name, self.args, self.args.env
        child = pulumi.ResourceOptions(parent=self)
        self.key = aws.kms.Key(
            child_name(name, Part.KEY),
            description=f"Data products of domain {args.domain}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=_json(
                docs.key_policy(
                    env,
                    None if args.retired else args.producer_role,
                    args.lf_role,
                    args.direct_readers,
                    (args.consumer_role, args.query.results_bucket)
                    if args.query and not args.retired
                    else None,
                )
            ),
            tags=args.tags,
            opts=Safety().opts(parent=self, depends_on=readers or None),
        )
        self.key_alias = aws.kms.Alias(
            child_name(name, Part.KEY_ALIAS),
            name=args.key_alias,
            target_key_id=self.key.key_id,
            opts=child,
        )
        self.database = aws.glue.CatalogDatabase(
            child_name(name, Part.DATABASE),
            name=args.database,
            description=args.description,
            tags=args.tags,
            opts=Safety().opts(
                parent=self, depends_on=[lake_settings] if lake_settings is not None else None
            ),
        )
        self.lf_access_policy = aws.iam.RolePolicy(
            child_name(name, Part.LF_ACCESS_POLICY),
            name="mesh-lakeformation-data-access",
            role=self.lf_access.name,
            policy=self.key.arn.apply(
                lambda key_arn: _json(docs.lf_access_policy(env, list(args.buckets), key_arn))
            ),
            opts=child,
        )
        if self.producer is not None:
            self.producer_policy = aws.iam.RolePolicy(
                child_name(name, Part.PRODUCER_ACCESS),
                name="mesh-producer-access",
                role=self.producer.name,
                policy=self.key.arn.apply(
                    lambda key_arn: _json(
                        docs.producer_policy(env, args.database, list(args.buckets), key_arn)
                    )
                ),
                opts=child,
            )
            self.producer_lf = aws.lakeformation.Permissions(
                child_name(name, Part.PRODUCER_TABLES),
                principal=self.producer.arn,
                permissions=docs.PRODUCER_LF_PERMISSIONS,
                table={"database_name": self.database.name, "wildcard": True},
                opts=child,
            )
        self.links: dict[str, aws.glue.CatalogDatabase] = {}
        self.workgroup: aws.athena.Workgroup | None = None
        if args.query is not None:
            query.provision(self, args.query, lake_settings)
        self.register_outputs(
            {
                "key_arn": self.key.arn,
                "database": self.database.name,
                "producer_role_arn": self.producer.arn if self.producer else None,
                "lf_access_role_arn": self.lf_access.arn,
                "consumer_role_arn": self.consumer.arn if self.consumer else None,
            }
        )

    def share_to(
        self,
        account: str,
        consumers: list[ConsumerLink],
        provider: pulumi.ProviderResource,
        lake_settings: pulumi.Input[pulumi.Resource] | None = None,
    ) -> None:
        """What consumers in `account` need to query the tables Lake Formation shares with
        them: a resource link in their account to this domain's database (named like it, so
        queries read the same in every account), and DESCRIBE on it for each consumer role.
        Created with `provider` (the consumer account's), under this domain's component, so a
        per-domain stack declares everything its grants need; after that account's Lake
        Formation settings (`lake_settings`), so the link gets no IAM_ALLOWED_PRINCIPALS
        default, and so its DESCRIBE grants are made once the deploy role administers it."""
        name, args = self._name, self.args
        link = aws.glue.CatalogDatabase(
            child_name(name, f"{Part.RESOURCE_LINK}-{account}"),
            name=args.database,
            description=f"Resource link to {args.database} of domain {args.domain} "
            f"(account {args.env.account})",
            target_database={"catalog_id": args.env.account, "database_name": args.database},
            tags=args.tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=provider,
                depends_on=[self.database, *([lake_settings] if lake_settings is not None else [])],
            ),
        )
        self.links[account] = link
        for c in consumers:
            aws.lakeformation.Permissions(
                child_name(f"{name}@{c.domain}", Part.LINK_DESCRIBE),
                principal=c.principal,
                permissions=["DESCRIBE"],
                catalog_id=account,
                database={"catalog_id": account, "name": link.name},
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=provider,
                    depends_on=[link, *([c.role] if c.role is not None else [])],
                    delete_before_replace=True,
                ),
            )


def _columns(cols: tuple[ColumnArgs, ...]) -> list[dict]:
    out = []
    for c in cols:
        col: dict = {"name": c.name, "type": c.type}
        if c.comment:
            col["comment"] = c.comment
        if c.pii:
            col["parameters"] = {"mesh:pii": "true"}
        out.append(col)
    return out


class DataProduct(pulumi.ComponentResource):
    """A data product: encrypted, private, TLS-only bucket; catalog table; Lake Formation location."""

    bucket: aws.s3.Bucket
    table: aws.glue.CatalogTable

    def __init__(
        self,
        name: str,
        args: ProductArgs,
        domain: Domain,
        readers: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`readers`: the consumer roles of this stack the bucket policy names (S3 refuses a
        principal that does not exist)."""
        aliases = [pulumi.Alias(name=old) for old in args.aliases]
        super().__init__(
            T.PRODUCT,
            name,
            None,
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=aliases)),
        )
        env = args.env
        child = pulumi.ResourceOptions(parent=self)
        stateful = args.safety.opts(parent=self)
        self.bucket = aws.s3.Bucket(
            child_name(name, Part.BUCKET),
            bucket=args.bucket,
            # only when not S3's default: the buckets of older stacks keep their exact inputs
            **(
                {"bucket_namespace": args.bucket_namespace}
                if args.bucket_namespace != "global"
                else {}
            ),
            force_destroy=args.safety.deletable,
            tags=args.tags,
            opts=stateful,
        )
        # The bucket's guards share its safety: removing a product must not strip a retained
        # bucket of its encryption, public-access block, policy or lifecycle.
        guard = stateful
        self.guards = guard_bucket(name, self.bucket, domain.key.arn, guard)
        self.versioning = aws.s3.BucketVersioning(
            child_name(name, Part.VERSIONING),
            bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=guard,
        )
        self.policy = aws.s3.BucketPolicy(
            child_name(name, Part.BUCKET_POLICY),
            bucket=self.bucket.id,
            policy=domain.key.arn.apply(
                lambda key_arn: _json(
                    docs.bucket_policy(env, args.bucket, key_arn, args.direct_readers)
                )
            ),
            opts=args.safety.opts(
                parent=self, depends_on=[self.guards.public_access_block, *(readers or ())]
            ),
        )
        self.lifecycle = aws.s3.BucketLifecycleConfiguration(
            child_name(name, Part.LIFECYCLE),
            bucket=self.bucket.id,
            rules=docs.lifecycle_rules(args.retention_days),
            opts=args.safety.opts(parent=self, depends_on=[self.versioning]),
        )
        storage = STORAGE_FORMATS[args.format]
        self.table = aws.glue.CatalogTable(
            child_name(name, Part.TABLE),
            name=args.table,
            database_name=domain.database.name,
            description=args.description,
            table_type="EXTERNAL_TABLE",
            parameters={"EXTERNAL": "TRUE", **storage["table_parameters"], **args.table_parameters},
            storage_descriptor={
                "location": f"s3://{args.bucket}/{TABLE_PREFIX}",
                "input_format": storage["input_format"],
                "output_format": storage["output_format"],
                "ser_de_info": {
                    "serialization_library": storage["serde"],
                    "parameters": storage["serde_parameters"],
                },
                "columns": _columns(args.columns),
            },
            partition_keys=_columns(args.partition_keys),
            opts=args.safety.opts(parent=self, depends_on=[domain.database]),
        )
        self.location = aws.lakeformation.Resource(
            child_name(name, Part.LOCATION),
            arn=self.bucket.arn,
            role_arn=domain.lf_access.arn,
            use_service_linked_role=False,
            opts=child,
        )
        self.register_outputs(
            {"bucket": self.bucket.bucket, "bucket_arn": self.bucket.arn, "table": self.table.name}
        )


class LakeFormationGrant(pulumi.ComponentResource):
    """One domain's read access to one product: its Lake Formation permission, column-level
    when the grant is limited. Nothing else: the consumer role's identity policy is the same
    for every grant (`Domain.consumer_policy`), and a direct S3 opt-in is in the product's
    bucket policy and the domain's key policy."""

    def __init__(
        self,
        name: str,
        args: GrantArgs,
        product: DataProduct,
        consumer: Domain | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`consumer` is the consuming Domain when it is declared in the same stack (its role
        is then created first); in a per-domain stack the role is referenced by its
        deterministic name only, so no stack ever reads another's outputs.

        Lake Formation permissions cannot be updated in place: a changed grant is a
        replacement, and deleting the old permission revokes what it named even when the new
        one names it too. So the old one is deleted first (`delete_before_replace`): a moment
        without the grant rather than a grant that loses its columns for good.

        A grant limited to some columns or rows is a Lake Formation data cells filter and a
        permission on it (Glue ETL honours column limits only this way; LF Developer Guide,
        "Notes and restrictions for column-level filtering"). The filter's name is a digest of
        its content (`querydocs.data_filter_name`): changing the columns or rows replaces both,
        old permission and old filter deleted first, so the wider and the narrower filter
        never both exist with a grant on them."""
        super().__init__(T.GRANT, name, None, opts)
        child = pulumi.ResourceOptions(
            parent=self,
            depends_on=[consumer.consumer] if consumer is not None else None,
            delete_before_replace=True,
        )
        table: dict = {"database_name": args.database, "name": product.table.name}
        catalog: dict = {}
        if args.catalog_id is not None:  # shared across accounts from the producer's catalog
            table = {"catalog_id": args.catalog_id, **table}
            catalog = {"catalog_id": args.catalog_id}
        self.data_filter: aws.lakeformation.DataCellsFilter | None = None
        target: dict = {"table": table}
        if args.filter_name is not None:  # some columns or rows: a data cells filter
            self.data_filter, target = query.data_filter(
                self,
                child_name(name, Part.DATA_FILTER),
                data_filter_table_data(
                    args.filter_catalog,
                    args.database,
                    product.table.name,
                    args.filter_name,
                    args.filter_columns,
                    args.rows,
                ),
            )
            child = pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[self.data_filter])
            )
        self.permissions = aws.lakeformation.Permissions(
            child_name(name, Part.LF_PERMISSION),
            principal=args.principal,
            permissions=docs.CONSUMER_LF_PERMISSIONS,
            **catalog,
            **target,
            opts=child,
        )
        self.register_outputs({})
