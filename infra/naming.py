"""Deterministic logical and physical names.

Every name is a pure function of the blueprint names and the stack prefix, so the same blueprint
gives the same names on every run. Stateful resources (bucket, table) take their physical name from
the product's *first* name (the oldest entry of `previous_names`): a declared rename changes the
logical name (carried by aliases) but never the bucket, so it can never turn into delete + create.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from infra import access, clock
from infra.documents import AwsEnv, consumer_access_policy
from infra.loader import Mesh
from infra.problems import Problem, Severity
from infra.spec import Product

ROLE_KINDS = ("producer", "consumer", "lf-access")  # lf-access: Lake Formation service role
LF_ROLE_KIND = "lf-access"
DEFAULT_PREFIX = "mesh"  # the stack prefix when none is configured (plan, local, validate)
PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
BUCKET_MAX = 63
ROLE_MAX = 64
GLUE_NAME_MAX = 255
# S3 bucket naming rules beyond the length: letters, digits and - only (we never use dots), first
# and last character a letter or digit, and a few prefixes/suffixes AWS reserves.
BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")
# IAM: characters of inline policy one role may carry, all its inline policies together
# (whitespace is not counted). A consumer role carries one policy per producing domain.
ROLE_INLINE_POLICY_MAX = 10_240
ROLE_INLINE_POLICY_WARN = 9_216  # 90 %: W007, before a PR that adds a grant fails with E036
# Policy sizes are computed without the stack: the longest ARNs any stack would produce (the
# longest commercial region name; a KMS key id is always a 36-character UUID).
SIZING_ENV = AwsEnv(account="0" * 12, region="ap-southeast-5")
SIZING_KEY_ARN = f"arn:aws:kms:{SIZING_ENV.region}:{SIZING_ENV.account}:key/{'0' * 36}"


class NameError_(ValueError):
    """A physical name that AWS would refuse; the message names the blueprint object."""


def check_prefix(prefix: str) -> str:
    if (
        not PREFIX_PATTERN.match(prefix)
        or prefix.endswith("-")
        or prefix.startswith(BUCKET_RESERVED_PREFIXES)
    ):
        raise NameError_(
            f"stack prefix {prefix!r} is not valid: expected 1-20 lower-case letters, digits or -, "
            "starting with a letter, not ending with - and not starting with "
            f"{' or '.join(BUCKET_RESERVED_PREFIXES)} (S3 reserves these; config key mesh:prefix)"
        )
    return prefix


def physical_product_name(product: Product) -> str:
    return product.previous_names[0] if product.previous_names else product.name


# ---------------------------------------------------------------- logical (Pulumi) names


def domain_logical(domain: str) -> str:
    return domain


def product_logical(domain: str, product: str) -> str:
    return f"{domain}.{product}"


def grant_logical(domain: str, product: str, consumer: str) -> str:
    return f"{domain}.{product}@{consumer}"


def access_logical(domain: str, consumer: str) -> str:
    """The IAM side of every grant `domain` gives `consumer`."""
    return f"{domain}@{consumer}"


# ---------------------------------------------------------------- physical names


@dataclass(frozen=True)
class Names:
    """Physical names for one stack prefix."""

    prefix: str

    def bucket(self, domain: str, product_physical: str) -> str:
        return f"{self.prefix}-{domain}-{product_physical}".replace("_", "-")

    def role(self, domain: str, kind: str) -> str:
        return f"{self.prefix}-{domain}-{kind}"

    def database(self, domain: str) -> str:
        return f"{self.prefix}_{domain}".replace("-", "_")

    def table(self, product_physical: str) -> str:
        return product_physical

    def key_alias(self, domain: str) -> str:
        return f"alias/{self.prefix}/{domain}"

    def access_policy(self, domain: str) -> str:
        """Inline policy on a consumer role holding what `domain` granted it."""
        return f"mesh-read-{domain}"


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
        for index, product in enumerate(products):
            bucket = names.bucket(domain, physical_product_name(product))
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


def check_names(mesh: Mesh, names: Names, today: dt.date | None = None) -> list[Problem]:
    """Physical names AWS would refuse, and consumer roles whose inline policies IAM would
    refuse (E036) or nearly (W007, a warning), as problems located in the blueprints."""
    problems = []
    products = {bp.domain: list(bp.products) for bp in mesh.blueprints}
    for domain, index, code, message in name_problems(names, products):
        loc = ("domain",) if index is None else ("products", index, "name")
        problems.append(mesh.source(domain).problem(loc, code, message))
    problems += _policy_quota_problems(mesh, names, today or clock.today())
    return problems


def consumer_access(
    mesh: Mesh, names: Names, today: dt.date
) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    """(producer, consumer) -> (granted tables, buckets of whole-table grants): what each
    consumer-access policy holds, for every active grant of the loaded blueprints."""
    pairs: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for bp, product in mesh.products():
        physical = physical_product_name(product)
        active = access.active_consumers(product, today)
        for consumer, whole in zip(active, access.covers_every_column(product, active)):
            tables, buckets = pairs.setdefault((bp.domain, consumer.domain), ([], []))
            tables.append(names.table(physical))
            if whole:
                buckets.append(names.bucket(bp.domain, physical))
    return pairs


def policy_size(document: dict) -> int:
    """Characters IAM counts against its quotas: the JSON without whitespace."""
    return len(json.dumps(document, separators=(",", ":")))


class PolicySizer:
    """Exact size of `consumer_access_policy` documents without building each one.

    The builder's layout is fixed: a frame (statements, actions, the catalog and database ARNs)
    plus one JSON string per table ARN and two per direct bucket (`arn` and `arn/*`), separated
    by commas. The frame depends on the database name's length only; it is measured once per
    length from a one-table document built by the builder itself. Names are plain ASCII, so a
    JSON string is its text plus two quotes. `tests/test_policy_quota.py` checks the result
    against the builder."""

    def __init__(self, env: AwsEnv, key_arn: str) -> None:
        self.env, self.key_arn = env, key_arn
        self._frames: dict[tuple[int, bool], int] = {}
        self._bucket_arn = len(env.bucket_arn(""))

    def _frame(self, database: str, direct: bool) -> int:
        frame = self._frames.get((len(database), direct))
        if frame is None:
            one_table = consumer_access_policy(
                self.env, database, ["t"], ["b"] if direct else [], self.key_arn if direct else None
            )
            frame = policy_size(one_table) - self._table(database, "t")
            if direct:
                frame -= self._bucket("b")
            self._frames[(len(database), direct)] = frame
        return frame

    def _table(self, database: str, table: str) -> int:
        return len(self.env.glue_table_arn(database, "")) + len(table) + 2

    def _bucket(self, bucket: str) -> int:
        """`"arn"` in the bucket list and `"arn/*"` in the object list."""
        return 2 * (self._bucket_arn + len(bucket) + 2) + 2

    def size(self, database: str, tables: list[str], buckets: list[str]) -> int:
        unique_tables, unique_buckets = set(tables), set(buckets)
        n = self._frame(database, bool(unique_buckets))
        table_arn = len(self.env.glue_table_arn(database, ""))  # + the table name
        n += sum(map(len, unique_tables)) + (table_arn + 3) * len(unique_tables) - 1
        if unique_buckets:  # one comma more in each of the two lists per further bucket
            n += sum(self._bucket(b) for b in unique_buckets) + 2 * (len(unique_buckets) - 1)
        return n


def consumer_policy_sizes(mesh: Mesh, names: Names, today: dt.date) -> dict[str, dict[str, int]]:
    """consumer domain -> {producer domain: characters of the policy it puts on the consumer
    role}, sized with the longest ARNs any stack would produce."""
    sizer = PolicySizer(SIZING_ENV, SIZING_KEY_ARN)
    sizes: dict[str, dict[str, int]] = {}
    for (producer, consumer), (tables, buckets) in consumer_access(mesh, names, today).items():
        sizes.setdefault(consumer, {})[producer] = sizer.size(
            names.database(producer), tables, buckets
        )
    return sizes


def _policy_quota_problems(mesh: Mesh, names: Names, today: dt.date) -> Iterator[Problem]:
    loaded = set(mesh.domains)  # a domain stack loads one blueprint: report what it can locate
    for consumer, by_producer in sorted(consumer_policy_sizes(mesh, names, today).items()):
        total = sum(by_producer.values())
        if total < ROLE_INLINE_POLICY_WARN or consumer not in loaded:
            continue
        largest = sorted(by_producer.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        role = names.role(consumer, "consumer")
        sources = f"{len(by_producer)} producing domain(s) grant it, the largest " + ", ".join(
            f"{p} ({n:,})" for p, n in largest
        )
        if total > ROLE_INLINE_POLICY_MAX:
            yield mesh.source(consumer).problem(
                ("domain",),
                "E036",
                (
                    f"the grants to {consumer} need {total:,} characters of inline IAM policy on "
                    f"role {role!r}; AWS allows {ROLE_INLINE_POLICY_MAX:,} per role: {sources}. "
                    "Fewer grants to this domain, or column lists on whole-table grants (they "
                    "drop the S3 statements), bring it under the limit"
                ),
            )
        else:
            yield mesh.source(consumer).problem(
                ("domain",),
                "W007",
                (
                    f"the grants to {consumer} need {total:,} of the {ROLE_INLINE_POLICY_MAX:,} "
                    f"characters of inline IAM policy AWS allows on role {role!r}: {sources}. "
                    "A few more grants to this domain will be refused (E036)"
                ),
                Severity.warning,
            )
