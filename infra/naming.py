"""Deterministic logical and physical names.

Every name is a pure function of the blueprint names and the stack prefix, so the same blueprint
gives the same names on every run. Stateful resources (bucket, table) take their physical name from
the product's *first* name (the oldest entry of `previous_names`): a declared rename changes the
logical name (carried by aliases) but never the bucket, so it can never turn into delete + create.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from infra.spec import Product

PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
BUCKET_MAX = 63
ROLE_MAX = 64
GLUE_NAME_MAX = 255


class NameError_(ValueError):
    """A physical name that AWS would refuse; the message names the blueprint object."""


def check_prefix(prefix: str) -> str:
    if not PREFIX_PATTERN.match(prefix) or prefix.endswith("-"):
        raise NameError_(
            f"stack prefix {prefix!r} is not valid: expected 1-20 lower-case letters, digits or -, "
            "starting with a letter (config key mesh:prefix)"
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

    def grant_policy(self, domain: str, product: str) -> str:
        return f"mesh-read-{domain}.{product}"


def name_problems(
    names: Names, domains: dict[str, list[Product]]
) -> Iterator[tuple[str, int | None, str]]:
    """(domain, product index or None, message) for every physical name AWS would refuse or
    that collides with another after normalisation (`_` becomes `-` in bucket names)."""
    seen: dict[str, str] = {}
    for domain, products in sorted(domains.items()):
        for kind in ("producer", "consumer"):
            role = names.role(domain, kind)
            if len(role) > ROLE_MAX:
                yield (
                    domain,
                    None,
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
                    (
                        f"bucket name {bucket!r} is {len(bucket)} characters; S3 allows {BUCKET_MAX}: "
                        f"shorten the domain or product name (or the stack prefix {names.prefix!r})"
                    ),
                )
            if bucket in seen and seen[bucket] != owner:
                yield (
                    domain,
                    index,
                    (
                        f"bucket name {bucket!r} of {owner} collides with that of {seen[bucket]} "
                        "(names are joined with '-' and '_' becomes '-'): rename one of the two"
                    ),
                )
            seen.setdefault(bucket, owner)
