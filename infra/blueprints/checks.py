"""Checks across one blueprint and the mesh: names defined twice, consumers naming domains or
columns that do not exist, PII shared without approval, names Athena reserves, tags and comments
AWS would refuse, renames claiming a name in use, expiry warnings. Structural faults of the files
(E0xx); the policies are governance's (`infra.governance`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from infra.blueprints import rowfilter
from infra.errors import Problem, first_of, quote
from infra.model import reserved, tags
from infra.model.source import Loc, SourceFile
from infra.model.spec import NAME_PATTERN, Blueprint, Column, Consumer, Product

EXPIRY_WARNING_DAYS = 30


def check_blueprint(
    bp: Blueprint, src: SourceFile, domains: set[str], known: list[str]
) -> Iterator[Problem]:
    """Checks across one blueprint and the mesh. `domains` holds every domain any file names
    (valid or not, to avoid follow-on errors); `known` the valid ones (to suggest). The file's
    own checks (`file_problems`), then those that read the tree's domains (`tree_problems`):
    the loader sorts them by place and code, and the two never share a code."""
    yield from file_problems(bp, src)
    yield from tree_problems(bp, src, domains, known)


def tree_problems(
    bp: Blueprint, src: SourceFile, domains: set[str], known: list[str]
) -> Iterator[Problem]:
    """What `check_blueprint` finds from the tree's domains: a consumer naming its own domain
    (E029) or none of the tree's (E025)."""
    for pi, product in enumerate(bp.products):
        for gi, consumer in enumerate(product.consumers):
            if consumer.domain == bp.domain:
                yield src.problem(
                    ("products", pi, "consumers", gi, "domain"),
                    "E029",
                    f"domain {bp.domain!r} lists itself as consumer of {product.name!r}; its "
                    "producer role already reads and writes its own products",
                )
            elif consumer.domain not in domains:
                others = first_of((d for d in known if d != bp.domain), len(known) - 1)
                yield src.problem(
                    ("products", pi, "consumers", gi, "domain"),
                    "E025",
                    f"consumer domain {consumer.domain!r} does not exist; expected one of: "
                    f"{others or '(no other domains)'}",
                )


def file_problems(bp: Blueprint, src: SourceFile) -> Iterator[Problem]:
    """What `check_blueprint` finds in the blueprint alone: a function of the file's text,
    which the parse cache keeps with the file (`infra.blueprints.parse_cache`)."""
    if bp.domain in STACK_SCOPES:
        yield src.problem(
            ("domain",),
            "E047",
            f"domain name {bp.domain!r} is a stack scope (mesh:stack: all, platform or a domain "
            "name): a stack of this name would be ambiguous; choose another name",
        )
    seen_products: dict[str, int] = {}
    current_products = {p.name for p in bp.products}
    old_product_names: dict[str, int] = {}
    for pi, product in enumerate(bp.products):
        for k, old in enumerate(product.previous_names):
            loc = ("products", pi, "previous_names", k)
            if old in current_products:
                yield src.problem(
                    loc,
                    "E050",
                    f"previous_names of {product.name!r} names {old!r}, which is still a product "
                    "of this domain: a rename's old name must be gone (otherwise its grants "
                    "could be carried over to the wrong product)",
                )
            elif old in old_product_names and old_product_names[old] != pi:
                yield src.problem(
                    loc,
                    "E050",
                    f"{old!r} is already a previous name of products[{old_product_names[old]}]: "
                    "two products cannot both have been it",
                )
            old_product_names.setdefault(old, pi)
    for pi, product in enumerate(bp.products):
        at: Loc = ("products", pi)
        if product.name in seen_products:
            yield src.problem(
                at + ("name",),
                "E022",
                f"product {product.name!r} is already defined at products[{seen_products[product.name]}]",
            )
        seen_products.setdefault(product.name, pi)
        if product.name in _RESERVED:
            yield _reserved_problem(src, at + ("name",), "product", product.name)
        columns: dict[str, int] = {}
        schema = {c.name: c for c in product.columns}
        for ci, col in enumerate(product.columns):
            if col.name in _RESERVED:
                yield _reserved_problem(src, at + ("schema", ci, "name"), "column", col.name)
            if col.name in columns:
                yield src.problem(
                    at + ("schema", ci, "name"),
                    "E023",
                    f"column {col.name!r} is already defined at schema[{columns[col.name]}]",
                )
            columns.setdefault(col.name, ci)
        yield from _check_tags(product, src, at)
        yield from _check_renamed_columns(product, src, at)
        for ci, col in enumerate(product.columns):
            yield from _check_comment(col, src, at + ("schema", ci))
        partitions: set[str] = set()
        for ki, key in enumerate(product.partition_keys):
            yield from _check_comment(key, src, at + ("partition_keys", ki))
            if key.pii:
                yield src.problem(
                    at + ("partition_keys", ki, "pii"),
                    "E046",
                    f"partition key {key.name!r} of {product.name!r} is marked PII: partition "
                    "values are S3 object key segments, readable by every consumer of the "
                    "product whatever columns it is granted; partition by a non-personal "
                    "value (a date, a region) and keep the PII in a schema column",
                )
            elif _looks_personal(key.name):
                yield src.problem(
                    at + ("partition_keys", ki, "name"),
                    "W008",
                    f"partition key {key.name!r} of {product.name!r} looks like personal data: "
                    "partition values are readable by every consumer, whatever columns it is "
                    "granted; if it is personal, partition by something else",
                )
            if key.name in _RESERVED:
                yield _reserved_problem(
                    src, at + ("partition_keys", ki, "name"), "partition key", key.name
                )
            if key.name in columns:
                yield src.problem(
                    at + ("partition_keys", ki, "name"),
                    "E024",
                    f"partition key {key.name!r} repeats schema column {key.name!r}: a partition "
                    "key is its own column, remove it from one of the two lists",
                )
            elif key.name in partitions:
                yield src.problem(
                    at + ("partition_keys", ki, "name"),
                    "E023",
                    f"partition key {key.name!r} is defined twice",
                )
            partitions.add(key.name)
        consumers: dict[str, int] = {}
        for gi, consumer in enumerate(product.consumers):
            yield from _check_consumer(product, schema, consumer, src, at + ("consumers", gi))
            if consumer.domain in consumers:
                yield src.problem(
                    at + ("consumers", gi, "domain"),
                    "E030",
                    f"domain {consumer.domain!r} is already a consumer at "
                    f"consumers[{consumers[consumer.domain]}]; merge the two grants",
                )
            consumers.setdefault(consumer.domain, gi)
    for ei, exc in enumerate(bp.exceptions):
        if exc.product not in seen_products:
            yield src.problem(
                ("exceptions", ei, "product"),
                "E034",
                f"exception names product {exc.product!r}, which is not in this blueprint",
            )


_RESERVED = reserved.SELECT_RESERVED | reserved.DDL_RESERVED
NAME = re.compile(NAME_PATTERN)  # what a domain name must be
STACK_SCOPES = frozenset({"all", "platform"})  # mesh:stack values that are not a domain
GLUE_COMMENT_MAX = 255  # characters of a Glue column comment
# name parts of a partition key that suggest it identifies a person (W008)
_PERSONAL_PARTS = frozenset(
    {
        "email", "mail", "phone", "mobile", "ssn", "passport", "birth", "birthday", "dob",
        "address", "ip", "iban", "card", "name", "firstname", "lastname", "surname", "customer",
        "user", "person", "employee", "patient", "member", "citizen", "national", "tax",
    }
)  # fmt: skip


def _looks_personal(name: str) -> bool:
    return not _PERSONAL_PARTS.isdisjoint(name.split("_"))


def _check_tags(product: Product, src: SourceFile, at: Loc) -> Iterator[Problem]:
    """A product's own tags as AWS takes them, on top of the mesh's governance tags."""
    for key, value in product.tags.items():
        if key.lower().startswith(tags.RESERVED_PREFIX):
            yield src.problem(
                at + ("tags", key),
                "E048",
                f"tag key {quote(key)} starts with {tags.RESERVED_PREFIX!r}, which AWS reserves "
                "for its own tags: rename the tag",
            )
        if len(value) > tags.MAX_VALUE:
            yield src.problem(
                at + ("tags", key),
                "E048",
                f"tag {quote(key)} has a value of {len(value)} characters; AWS allows "
                f"{tags.MAX_VALUE}",
            )
    total = len(set(product.tags) | set(tags.GOVERNANCE))
    if total > tags.MAX_TAGS:
        yield src.problem(
            at + ("tags",),
            "E048",
            f"{product.name!r} would carry {total} tags ({len(product.tags)} of its own and the "
            f"mesh's {len(tags.GOVERNANCE)}: {', '.join(tags.GOVERNANCE)}); AWS allows "
            f"{tags.MAX_TAGS} per resource",
        )


def _check_comment(col: Column, src: SourceFile, at: Loc) -> Iterator[Problem]:
    if col.description is not None and len(col.description) > GLUE_COMMENT_MAX:
        yield src.problem(
            at + ("description",),
            "E048",
            f"the description of {col.name!r} is {len(col.description)} characters; Glue "
            f"takes column comments of at most {GLUE_COMMENT_MAX}",
        )


def _check_renamed_columns(product: Product, src: SourceFile, at: Loc) -> Iterator[Problem]:
    """A column's previous name may not be a current column (or partition key) of the product,
    nor another column's previous name: a rename claimed for a name still in use would map
    existing grants onto another column."""
    columns = [("schema", i, c) for i, c in enumerate(product.columns)]
    columns += [("partition_keys", i, c) for i, c in enumerate(product.partition_keys)]
    current = {c.name for _, _, c in columns}
    claimed: dict[str, str] = {}
    for part, i, col in columns:
        for k, old in enumerate(col.previous_names):
            loc = at + (part, i, "previous_names", k)
            if old in current:
                yield src.problem(
                    loc,
                    "E050",
                    f"previous_names of column {col.name!r} names {old!r}, which is still a "
                    f"column of {product.name!r}: a rename's old name must be gone (otherwise "
                    "grants of one column would be carried over to another)",
                )
            elif old in claimed and claimed[old] != col.name:
                yield src.problem(
                    loc,
                    "E050",
                    f"{old!r} is already a previous name of column {claimed[old]!r}: two columns "
                    "cannot both have been it",
                )
            claimed.setdefault(old, col.name)


def _reserved_problem(src: SourceFile, loc: Loc, what: str, name: str) -> Problem:
    table = " (the Glue table's name)" if what == "product" else ""
    if reserved.reserved_in(name) == "select":
        query = f"SELECT * FROM db.{name}" if what == "product" else f"SELECT {name} FROM t"
        return src.problem(
            loc,
            "E035",
            f"{what} name {name!r}{table} is a reserved word of Athena SQL: an unquoted query "
            f'such as {query} fails, so every consumer would have to quote it ("{name}"); '
            f"choose another name (e.g. {name}_value)",
        )
    return src.problem(
        loc,
        "W004",
        f"{what} name {name!r}{table} is reserved in Athena DDL (Hive): queries work, but DDL "
        f"written by hand (CREATE TABLE, ALTER TABLE ... ADD PARTITION) must quote it as `{name}`",
    )


def _check_consumer(
    product: Product, schema: dict[str, Column], consumer: Consumer, src: SourceFile, at: Loc
) -> Iterator[Problem]:
    if consumer.columns is not None:
        keys = {k.name for k in product.partition_keys}
        for ci, name in enumerate(consumer.columns):
            if name in keys:
                yield src.problem(
                    at + ("columns", ci),
                    "E026",
                    f"{name!r} is a partition key of {product.name!r}: every grant reads the "
                    "partition keys (their values are in the object keys); list schema "
                    f"columns only: {first_of(schema, len(schema))}",
                )
            elif name not in schema:
                yield src.problem(
                    at + ("columns", ci),
                    "E026",
                    f"column {name!r} is not in the schema of {product.name!r}; expected one of: "
                    f"{first_of(schema, len(schema))}",
                )
            elif schema[name].pii and not consumer.include_pii:
                yield src.problem(
                    at + ("columns", ci),
                    "E027",
                    f"column {name!r} is PII: sharing it needs include_pii: true and approved_by",
                )
    if consumer.rows is not None:
        yield from _check_rows(product, schema, consumer, src, at)
    if consumer.include_pii and not consumer.approved_by:
        yield src.problem(
            at + ("approved_by",),
            "E028",
            "include_pii: true needs approved_by (the e-mail of whoever approved sharing PII)",
        )
    if consumer.s3_direct and consumer.rows is not None:
        yield src.problem(
            at + ("s3_direct",),
            "E037",
            "s3_direct on a grant with a row filter: direct S3 read exposes whole files, "
            "which is the path around the filter. Drop s3_direct (read through Lake "
            "Formation) or the row filter",
        )
    elif consumer.s3_direct and not _every_column(product, schema, consumer):
        missing = sorted(set(schema) - set(access_readable(product, consumer)))
        yield src.problem(
            at + ("s3_direct",),
            "E037",
            f"s3_direct needs a grant of every column of {product.name!r}: direct S3 read "
            "exposes whole files, which is the path around a column restriction; this grant "
            f"does not cover {first_of(missing, len(missing))}"
            + (
                " (PII columns need include_pii: true and approved_by)"
                if product.pii_columns & set(missing)
                else ""
            )
            + ". Drop s3_direct (read through Lake Formation) or grant every column",
        )


def _check_rows(
    product: Product, schema: dict[str, Column], consumer: Consumer, src: SourceFile, at: Loc
) -> Iterator[Problem]:
    """The grant's row filter: parsed, over the product's columns, a predicate; a PII column
    in it needs the PII approval path (E098), as sharing the column itself does."""
    columns = {c.name: c.type for c in (*product.columns, *product.partition_keys)}
    problems, named = rowfilter.check(consumer.rows or "", columns)
    for p in problems:
        yield src.problem(at + ("rows",), p.code, p.message)
    pii = sorted(n for n in named if n in schema and schema[n].pii)
    if pii and not (consumer.include_pii and consumer.approved_by):
        yield src.problem(
            at + ("rows",),
            "E098",
            f"the row filter names PII column(s) {', '.join(pii)}: which rows a consumer "
            "sees discloses their values, so it needs include_pii: true and approved_by, as "
            "sharing them does",
        )


def _every_column(product: Product, schema: dict[str, Column], consumer: Consumer) -> bool:
    if consumer.columns is None:
        return consumer.include_pii or not product.pii_columns
    return set(consumer.columns) >= set(schema)


def access_readable(product: Product, consumer: Consumer) -> list[str]:
    """The columns a grant reads, as the access model counts them (without importing it)."""
    if consumer.columns is not None:
        return list(consumer.columns)
    return [c.name for c in product.columns if consumer.include_pii or not c.pii]


def expiry_warnings(bp: Blueprint, src: SourceFile, today: dt.date) -> Iterator[Problem]:
    for pi, product in enumerate(bp.products):
        for gi, consumer in enumerate(product.consumers):
            if consumer.expires is None:
                continue
            at = ("products", pi, "consumers", gi, "expires")
            days = (consumer.expires - today).days
            if days < 0:
                yield src.problem(
                    at,
                    "W002",
                    f"grant of {bp.domain}.{product.name} to {consumer.domain} expired on "
                    f"{consumer.expires.isoformat()} and grants nothing; remove it or renew it",
                )
            elif days <= EXPIRY_WARNING_DAYS:
                yield src.problem(
                    at,
                    "W001",
                    f"grant of {bp.domain}.{product.name} to {consumer.domain} expires in {days} "
                    f"day(s), on {consumer.expires.isoformat()}",
                )
