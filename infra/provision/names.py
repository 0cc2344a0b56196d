"""Deterministic logical and physical names.

Every name is a pure function of the blueprint names and the stack prefix, so the same blueprint
gives the same names on every run. Stateful resources (bucket, table) take their physical name from
the product's *first* name (the oldest entry of `previous_names`): a declared rename changes the
logical name (carried by aliases) but never the bucket, so it can never turn into delete + create.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from infra.errors import MeshError, Problem
from infra.model.mesh import Mesh
from infra.model.spec import Product

ROLE_KINDS = ("producer", "consumer", "lf-access")  # lf-access: Lake Formation service role
LF_ROLE_KIND = "lf-access"
QUERY_RESULTS_NAME = "athena"  # the bucket part of a domain's query-results bucket (short:
# a domain's buckets in the account-regional namespace take 26 characters more)
DEFAULT_PREFIX = "mesh"  # the stack prefix when none is configured (plan, local, validate)
PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
BUCKET_MAX = 63
ROLE_MAX = 64
# S3 bucket naming rules beyond the length: letters, digits and - only (we never use dots), first
# and last character a letter or digit, and a few prefixes/suffixes AWS reserves.
BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")


class PhysicalNameError(MeshError, ValueError):
    """A physical name that AWS would refuse; the message names the blueprint object."""


def check_prefix(prefix: str) -> str:
    if (
        not PREFIX_PATTERN.fullmatch(prefix)  # `$` of match() would let a final newline in
        or prefix.endswith("-")
        or prefix.startswith(BUCKET_RESERVED_PREFIXES)
    ):
        raise PhysicalNameError(
            f"stack prefix {prefix!r} is not valid: expected 1-20 lower-case letters, digits or -, "
            "starting with a letter, not ending with - and not starting with "
            f"{' or '.join(BUCKET_RESERVED_PREFIXES)} (S3 reserves these; config key mesh:prefix)"
        )
    return prefix


def physical_product_name(product: Product) -> str:
    return product.previous_names[0] if product.previous_names else product.name


# ---------------------------------------------------------------- logical (Pulumi) names
# A component's logical name says what it is: `<domain>`, `<domain>.<product>` and
# `<domain>.<product>@<consumer>`; a resource inside one is `<component>-<part>`. Domain and
# product names are `[a-z0-9_]` (`infra.model.spec.NAME_PATTERN`), so `.`, `@` and `-` parse back
# unambiguously: `parse_logical` is the one parser; nothing else takes a name apart.


class Part:
    """The `<part>` of every resource a component declares (`child_name`)."""

    # the domain
    KEY = "key"
    KEY_ALIAS = "key-alias"
    DATABASE = "database"
    LF_ACCESS_POLICY = "lf-access-policy"
    PRODUCER_ACCESS = "producer-access"
    PRODUCER_TABLES = "producer-tables"
    CONSUMER_ACCESS = "consumer-access"
    # roles: one part per kind (ROLE_KINDS)
    PRODUCER, CONSUMER, LF_ACCESS = ROLE_KINDS
    # the platform
    LAKE_SETTINGS = "lake-settings"
    # a product
    BUCKET = "bucket"
    PUBLIC_ACCESS_BLOCK = "public-access-block"
    OWNERSHIP = "ownership"
    ENCRYPTION = "encryption"
    VERSIONING = "versioning"
    BUCKET_POLICY = "policy"
    LIFECYCLE = "lifecycle"
    TABLE = "table"
    LOCATION = "location"
    # a grant
    LF_PERMISSION = "lakeformation"
    # sharing to another account: `<domain>-link-<account>`, `<domain>@<consumer>-link-describe`
    RESOURCE_LINK = "link"
    LINK_DESCRIBE = "link-describe"
    # the domain's query path (`infra.provision.query`): `<domain>-workgroup`,
    # `<domain>-query-results` and its guards `<domain>-query-results-<bucket part>`,
    # `<domain>-<role kind>-query` (inline policy), `<domain>-<role kind>-default-describe`
    WORKGROUP = "workgroup"
    QUERY_RESULTS = "query-results"
    QUERY_POLICY = "query"
    DEFAULT_DESCRIBE = "default-describe"
    # a grant limited to some columns or rows: `<domain>.<product>@<consumer>-data-filter`
    DATA_FILTER = "data-filter"


def domain_logical(domain: str) -> str:
    return domain


def product_logical(domain: str, product: str) -> str:
    return f"{domain}.{product}"


def grant_logical(domain: str, product: str, consumer: str) -> str:
    return f"{domain}.{product}@{consumer}"


def child_name(parent: str, part: str) -> str:
    """The logical name of a resource a component declares: `sales-key`, `sales.orders-bucket`."""
    return f"{parent}-{part}"


@dataclass(frozen=True, slots=True)
class Logical:
    """A logical name taken apart: `sales.orders@marketing-lakeformation` is domain sales,
    product orders, consumer marketing, part lakeformation."""

    domain: str
    product: str | None = None
    consumer: str | None = None
    part: str | None = None

    @property
    def product_id(self) -> str | None:
        """`<domain>.<product>`, when the name is of a product or inside one."""
        return f"{self.domain}.{self.product}" if self.product is not None else None

    @property
    def component(self) -> str:
        """The logical name of the component the resource belongs to (the name, for one)."""
        name = self.domain if self.product is None else f"{self.domain}.{self.product}"
        return name if self.consumer is None else f"{name}@{self.consumer}"


def parse_logical(name: str) -> Logical:
    """The parts of a logical name the program gave (`domain_logical` ... `child_name`)."""
    head, dash, part = name.partition("-")
    component, at, consumer = head.partition("@")
    domain, dot, product = component.partition(".")
    return Logical(
        domain, product if dot else None, consumer if at else None, part if dash else None
    )


# ---------------------------------------------------------------- physical names


GLOBAL_NAMESPACE = "global"  # mesh:bucketNamespace: S3's shared namespace (names of old stacks)
REGIONAL_NAMESPACE = "account-regional"  # only the account can create names ending in its suffix
BUCKET_NAMESPACES = (GLOBAL_NAMESPACE, REGIONAL_NAMESPACE)
SIZING_ACCOUNT = "0" * 12  # any account id has 12 digits: the length of every stack's names


@dataclass(frozen=True)
class Names:
    """Physical names for one stack prefix.

    Buckets live in S3's global namespace (`namespace` "global", the names of every stack
    deployed before it could choose: `<prefix>-<domain>-<product>`), or in the account's
    regional namespace ("account-regional": `<prefix>-<domain>-<product>-<account>-<region>-an`,
    a name only that account can create, so it collides with nothing in any other account,
    stack or anyone else's). The stack chooses once (`mesh:bucketNamespace`) and keeps it: a
    changed name is a new bucket, which `protect` refuses."""

    prefix: str
    namespace: str = GLOBAL_NAMESPACE
    region: str = "eu-west-1"

    @property
    def regional(self) -> bool:
        return self.namespace == REGIONAL_NAMESPACE

    def bucket(self, domain: str, product_physical: str, account: str | None = None) -> str:
        """`account`: the bucket's account (required in the account regional namespace)."""
        name = f"{self.prefix}-{domain}-{product_physical}".replace("_", "-")
        if not self.regional:
            return name
        if account is None:
            raise ValueError(f"the bucket of {domain}.{product_physical} needs its account")
        return f"{name}-{account}-{self.region}-an"

    def role(self, domain: str, kind: str) -> str:
        return f"{self.prefix}-{domain}-{kind}"

    def database(self, domain: str) -> str:
        return f"{self.prefix}_{domain}".replace("-", "_")

    def table(self, product_physical: str) -> str:
        return product_physical

    def key_alias(self, domain: str) -> str:
        return f"alias/{self.prefix}/{domain}"

    def workgroup(self, domain: str) -> str:
        """The domain's Athena workgroup (1-128 of [a-zA-Z0-9._-]: always within)."""
        return f"{self.prefix}-{domain}".replace("_", "-")

    def query_results_bucket(self, domain: str, account: str | None = None) -> str:
        """The domain's Athena query-results bucket `<prefix>-<domain>-athena`: named like the
        bucket of a product `athena` (in the same namespace), so `name_problems` reports a product that
        would take the name (E032). `account`: as for `bucket`."""
        return self.bucket(domain, QUERY_RESULTS_NAME, account)

    def database_prefix(self) -> str:
        """What every Glue database name of this prefix starts with (`database` of any domain)."""
        return self.database("")


def name_problems(
    names: Names, domains: dict[str, list[Product]]
) -> Iterator[tuple[str, int | None, str, str]]:
    """(domain, product index or None, problem code, message) for every physical name AWS would
    refuse (E033 too long, E013 not a valid bucket name) or that collides with another after
    normalisation (E032: `_` becomes `-` in bucket names)."""
    seen: dict[str, str] = {}
    for domain, products in sorted(domains.items()):
        for kind in ROLE_KINDS:
            role = names.role(domain, kind)
            if len(role) > ROLE_MAX:
                yield (
                    domain,
                    None,
                    "E033",
                    (
                        f"IAM role name {role!r} is {len(role)} characters; AWS allows {ROLE_MAX}: "
                        "shorten the domain name or the stack prefix"
                    ),
                )
        results = names.query_results_bucket(domain, SIZING_ACCOUNT)
        if len(results) > BUCKET_MAX:
            yield (
                domain,
                None,
                "E033",
                (
                    f"query-results bucket name {results!r} is {len(results)} characters; S3 "
                    f"allows {BUCKET_MAX}: shorten the domain name or the stack prefix"
                ),
            )
        if results in seen:
            yield (
                domain,
                None,
                "E032",
                (
                    f"query-results bucket name {results!r} of domain {domain} collides with the "
                    f"bucket of {seen[results]} (names are joined with '-' and '_' becomes '-'): "
                    "rename that product or this domain"
                ),
            )
        seen.setdefault(results, f"the query results of {domain}")
        for index, product in enumerate(products):
            bucket = names.bucket(domain, physical_product_name(product), SIZING_ACCOUNT)
            owner = f"{domain}.{product.name}"
            if len(bucket) > BUCKET_MAX:
                yield (
                    domain,
                    index,
                    "E033",
                    (
                        f"bucket name {bucket!r} is {len(bucket)} characters; S3 allows {BUCKET_MAX}: "
                        f"shorten the domain or product name (or the stack prefix {names.prefix!r})"
                    ),
                )
            if not BUCKET_PATTERN.match(bucket) or bucket.endswith(BUCKET_RESERVED_SUFFIXES):
                yield (
                    domain,
                    index,
                    "E013",
                    (
                        f"bucket name {bucket!r} of {owner} is not a valid S3 bucket name (it must "
                        "end with a letter or digit and must not end with "
                        f"{', '.join(BUCKET_RESERVED_SUFFIXES)}): rename the product"
                    ),
                )
            if bucket in seen and seen[bucket] != owner:
                yield (
                    domain,
                    index,
                    "E032",
                    (
                        f"bucket name {bucket!r} of {owner} collides with that of {seen[bucket]} "
                        "(names are joined with '-' and '_' becomes '-'): rename one of the two"
                    ),
                )
            seen.setdefault(bucket, owner)


def stack_prefixes(configs: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """prefix -> stack config file, for every stack config of the project that sets
    `mesh:prefix` (the stacks that deploy these blueprints); `configs`: file name -> the
    `config:` values of each one that reads (`infra.blueprints.stack_files`), in name order."""
    out: dict[str, str] = {}
    for name, config in configs.items():
        prefix = config.get("mesh:prefix")
        if isinstance(prefix, str):
            out.setdefault(prefix, name)
    return out


def cross_prefix_problems(mesh: Mesh, prefixes: dict[str, str]) -> list[Problem]:
    """E049: a bucket or Glue database one stack would create under its prefix that another
    stack of the project (another prefix) creates for another domain or product: prefix
    `mesh-dev` with domain `sales` and prefix `mesh` with domain `dev_sales` both give bucket
    `mesh-dev-sales-orders` and database `mesh_dev_sales`. Names are never changed to avoid it
    (existing stacks keep theirs); the second one is refused."""
    owners: dict[
        tuple[str, str], tuple[str, str, str]
    ] = {}  # (kind, name) -> (prefix, owner, file)
    problems = []
    for prefix, config in sorted(prefixes.items()):
        names = Names(prefix)
        for bp in mesh.blueprints:
            items = [("database", names.database(bp.domain), bp.domain, ("domain",))]
            items += [
                (
                    "bucket",
                    names.bucket(bp.domain, physical_product_name(p)),
                    f"{bp.domain}.{p.name}",
                    ("products", i, "name"),
                )
                for i, p in enumerate(bp.products)
            ]
            for kind, name, owner, loc in items:
                first = owners.setdefault((kind, name), (prefix, owner, config))
                if first[0] != prefix and first[1] != owner:
                    problems.append(
                        mesh.source(bp.domain).problem(
                            loc,
                            "E049",
                            f"{kind} {name!r} of {owner} in the stacks with prefix {prefix!r} "
                            f"({config}) is the {kind} of {first[1]} in the stacks with prefix "
                            f"{first[0]!r} ({first[2]}): rename the domain or product (names are "
                            "joined with '-' and '_' becomes '-'), or use prefixes that do not "
                            "extend one another",
                        )
                    )
    return problems


def check_names(mesh: Mesh, names: Names) -> list[Problem]:
    """Physical names AWS would refuse, as problems located in the blueprints (the documents
    AWS would refuse for their size are `infra.provision.quotas.quota_problems`)."""
    problems = []
    products = {bp.domain: list(bp.products) for bp in mesh.blueprints}
    for domain, index, code, message in name_problems(names, products):
        loc = ("domain",) if index is None else ("products", index, "name")
        problems.append(mesh.source(domain).problem(loc, code, message))
    return problems
