"""Changes that need a reviewer although they grant nobody new access.

`mesh diff` (every mode) lists them under `review_required` and exits 3 for them, as for new
access: a PR that downgrades a product's classification, unmarks a PII column, shortens a
retention, decommissions a product, lets data be deleted, hands a domain to another owner,
adds or renews an exception or loosens the domain's own policies is not "merge without a second
look", even when the access diff is empty. Each item names the domain, the product (or None),
the change (a stable code), the reason and the HEAD file and line of the changed field.

A pure comparison of two Mesh models, products matched across renames (`previous_names`), like
the rest of the diff; domains whose blueprint text is byte-identical are skipped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from infra.governance.cascade import cascades, tag_cascade
from infra.model.mesh import Mesh
from infra.model.source import Loc
from infra.model.spec import Blueprint, DataDisposition, DomainPolicies, PolicyException, Product

# change code -> what it means (the `reason` adds the particulars)
CHANGES: dict[str, str] = {
    "classification_downgraded": "classification lowered: less protection from now on",
    "pii_removed": "a column is no longer marked PII: it may be shared without approval",
    "retention_shortened": "retention shortened: existing objects expire earlier (data loss)",
    "decommission_added": "product decommissioned: its grants end on the date",
    "decommission_changed": "decommission date or reason changed",
    "domain_retired_cascade": "a grant ends because its producer or consumer domain is retired",
    "data_deletion_allowed": "data: retain -> delete: the data may be deleted after the date",
    "owner_changed": "the domain's owner changed",
    "account_moved": "the domain moves to another AWS account: every resource is replaced",
    "exception_added": "a new exception waives a policy",
    "exception_renewed": "an exception is extended or changed",
    "domain_policy_loosened": "a domain-local policy is loosened (within the global bounds)",
    "pii_column_dropped": (
        "a PII column leaves the schema (removed, or renamed without previous_names): the "
        "objects already written still hold its values"
    ),
    "stack_config_changed": (
        "a stack config (Pulumi.<stack>.yaml) changes: Lake Formation admins, the blueprint "
        "directory, data deletion, accounts or the name prefix"
    ),
}


@dataclass(frozen=True)
class ReviewItem:
    domain: str | None  # None: a change of the project, not of a domain (a stack config)
    product: str | None  # <domain>.<product>, or None for a domain-level change
    change: str  # a key of CHANGES
    reason: str
    file: str
    line: int | None
    policy: str | None = None  # the policy an exception item waives (who approves it)

    def __post_init__(self) -> None:
        if self.change not in CHANGES:
            raise ValueError(f"unknown review change {self.change!r}: add it to CHANGES")

    def as_json(self) -> dict:
        return {
            "domain": self.domain,
            "product": self.product,
            "change": self.change,
            "reason": self.reason,
            "file": self.file,
            "line": self.line,
        }

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def subject(self) -> str:
        """What changed, for a line of the comment: the product, the domain, or the project
        (a stack config: its file is `where`, its key in the reason)."""
        return self.product or self.domain or "(project)"


def review_changes(base: Mesh, head: Mesh) -> list[ReviewItem]:
    """Every change from `base` to `head` that needs a reviewer (see the module docstring)."""
    out: list[ReviewItem] = []
    heads = {bp.domain: bp for bp in head.blueprints}
    for bp in base.blueprints:
        now = heads.get(bp.domain)
        if now is None:
            continue  # a removed domain is an error (E043), not a review item
        text = base.source(bp.domain).text
        if text is not None and head.source(bp.domain).text == text:
            continue
        out += _domain(head, bp, now)
    return sorted(out, key=lambda i: (i.file, i.line or 0, i.change))


def _domain(head: Mesh, before: Blueprint, after: Blueprint) -> Iterator[ReviewItem]:
    src = head.source(after.domain)
    d = after.domain

    def item(
        loc: Loc, change: str, reason: str, product: str | None = None, policy: str | None = None
    ) -> ReviewItem:
        return ReviewItem(d, product, change, reason, src.path, src.line_of(loc), policy)

    if before.account != after.account:
        yield item(
            ("account",),
            "account_moved",
            f"domain {d} moves from account {before.account or '(the stack account)'} to "
            f"{after.account or '(the stack account)'}: its buckets, key, database and roles are "
            "created anew there (copy the data first; the old ones stay protected)",
        )
    if before.owner != after.owner:
        yield item(("owner",), "owner_changed", _owner_change(d, before, after))
    for loc, change, reason, product in _retirement(head, before, after):
        yield item(loc, change, reason, product)
    if before.decommission is None:  # the tag grants that end with the domain, where declared
        for file, loc, reason, product in tag_cascade(head, after):
            yield ReviewItem(
                d, product, "domain_retired_cascade", reason, file.path, file.line_of(loc)
            )
    for field, reason in _loosened(before.policies, after.policies):
        yield item(("policies", field), "domain_policy_loosened", reason)
    old_products = {p.name: p for p in before.products}
    for pi, product in enumerate(after.products):
        old = next(
            (old_products[n] for n in (product.name, *product.previous_names) if n in old_products),
            None,
        )
        if old is not None:
            for loc, change, reason in _product(old, product):
                yield item(("products", pi, *loc), change, reason, f"{d}.{product.name}")
    old_exceptions = {(e.policy, e.product): e for e in before.exceptions}
    for ei, exc in enumerate(after.exceptions):
        was = old_exceptions.get((exc.policy, exc.product))
        found = _exception(was, exc)
        if found is not None:
            change, reason = found
            yield item(("exceptions", ei), change, reason, f"{d}.{exc.product}", exc.policy)


def _retirement(
    head: Mesh, before: Blueprint, after: Blueprint
) -> Iterator[tuple[Loc, str, str, str | None]]:
    """A domain-level decommission: for every product what its own decommission would need
    reviewed, then the cascade: each named grant that ends with the domain, given or received
    (its tag grants: `infra.governance.cascade.tag_cascade`)."""
    a, b, d = before.decommission, after.decommission, after.domain
    if b is None:
        return
    if a is not None:
        if (a.date, a.reason) != (b.date, b.reason):
            yield (
                ("decommission",),
                "decommission_changed",
                f"domain {d} retirement date {a.date.isoformat()} -> {b.date.isoformat()}",
                None,
            )
        if a.data is DataDisposition.retain and b.data is DataDisposition.delete:
            for p in after.products:
                yield (
                    ("decommission", "data"),
                    "data_deletion_allowed",
                    (
                        f"domain {d} data: retain -> delete: the bucket and table may be deleted "
                        f"after {b.date.isoformat()} where the stack allows data deletion"
                    ),
                    f"{d}.{p.name}",
                )
        return
    when = b.date.isoformat()
    what = f"domain {d} retired from {when} (data: {b.data.value}): {b.reason}"
    for p in after.products or [None]:
        pid = f"{d}.{p.name}" if p is not None else None
        yield ("decommission",), "decommission_added", what, pid
        if p is not None and b.data is DataDisposition.delete:
            yield (
                ("decommission", "data"),
                "data_deletion_allowed",
                (
                    f"data: (new) -> delete: the bucket and table of {pid} may be deleted after "
                    f"{when} where the stack allows data deletion"
                ),
                pid,
            )

    # a domain retired before this one has no grant left to end (nor has the tag cascade)
    last = b.date - dt.timedelta(days=1)
    for p in after.products:
        for c in p.consumers:
            if cascades(c.expires, p, b.date) and not head.is_retired(c.domain, last):
                yield (
                    ("decommission",),
                    "domain_retired_cascade",
                    f"{c.domain}:consumer loses access to {d}.{p.name} on {when}",
                    f"{d}.{p.name}",
                )
    for other in head.blueprints:
        if other.domain == d or head.is_retired(other.domain, last):
            continue
        for p in other.products:
            for c in p.consumers:
                if c.domain == d and cascades(c.expires, p, b.date):
                    yield (
                        ("decommission",),
                        "domain_retired_cascade",
                        (
                            f"{d}:consumer loses access to {other.domain}.{p.name} on {when} "
                            f"(the grant in {other.domain}'s blueprint ends)"
                        ),
                        f"{other.domain}.{p.name}",
                    )


def _owner_change(domain: str, before: Blueprint, after: Blueprint) -> str:
    a, b = before.owner, after.owner
    text = f"owner of domain {domain} changes from {a.team} <{a.email}> to {b.team} <{b.email}>"
    if a.github != b.github:  # who approves the domain's grants (`infra.governance.approvals`)
        text += f"; GitHub owner {a.github or '(none)'} -> {b.github or '(none)'}"
    return text


def _product(old: Product, new: Product) -> Iterator[tuple[Loc, str, str]]:
    if new.classification.rank < old.classification.rank:
        yield (
            ("classification",),
            "classification_downgraded",
            f"classification {old.classification.value} -> {new.classification.value}",
        )
    if new.retention_days < old.retention_days:
        yield (
            ("retention_days",),
            "retention_shortened",
            (
                f"retention_days {old.retention_days} -> {new.retention_days}: objects older than "
                f"{new.retention_days} days are deleted by the lifecycle rule"
            ),
        )
    was_pii = {
        name
        for c in [*old.columns, *old.partition_keys]
        if c.pii
        for name in (c.name, *c.previous_names)
    }
    for part, columns in (("schema", new.columns), ("partition_keys", new.partition_keys)):
        for ci, col in enumerate(columns):
            if not col.pii and ({col.name, *col.previous_names} & was_pii):
                yield (
                    (part, ci, "pii"),
                    "pii_removed",
                    f"column {col.name!r} was PII and is no longer marked pii: true",
                )
    kept = {n for c in [*new.columns, *new.partition_keys] for n in (c.name, *c.previous_names)}
    for c in old.columns:
        if c.pii and c.name not in kept:
            yield (
                ("schema",),
                "pii_column_dropped",
                (
                    f"PII column {c.name!r} leaves the schema (removed, or renamed without "
                    "previous_names): the objects already written still hold its values, for "
                    "every reader of the objects and any column that takes its place"
                ),
            )
    a, b = old.decommission, new.decommission
    if a is None and b is not None:
        yield (
            ("decommission",),
            "decommission_added",
            f"decommissioned from {b.date.isoformat()} (data: {b.data.value}): {b.reason}",
        )
    elif a is not None and b is not None and (a.date, a.reason) != (b.date, b.reason):
        yield (
            ("decommission",),
            "decommission_changed",
            f"decommission date {a.date.isoformat()} -> {b.date.isoformat()}",
        )
    if (
        b is not None
        and b.data is DataDisposition.delete
        and (a is None or a.data is DataDisposition.retain)
    ):
        yield (
            ("decommission", "data"),
            "data_deletion_allowed",
            (
                f"data: {'retain' if a is not None else '(new)'} -> delete: the bucket and table "
                f"may be deleted after {b.date.isoformat()} where the stack allows data deletion"
            ),
        )


def _exception(was: PolicyException | None, now: PolicyException) -> tuple[str, str] | None:
    what = f"{now.policy} waived for {now.product} until {now.expires.isoformat()}"
    if was is None:
        return "exception_added", f"new exception: {what} ({now.justification})"
    if now.expires > was.expires:
        return "exception_renewed", f"{what} (was until {was.expires.isoformat()})"
    same = {"justification", "expires"}  # a new text, or an earlier end: nothing to review
    if now.model_dump(exclude=same) != was.model_dump(exclude=same):
        return "exception_renewed", f"{what}: changed"
    return None


def _loosened(old: DomainPolicies, new: DomainPolicies) -> Iterator[tuple[str, str]]:
    """(field, reason) for each domain-local policy the change loosens (tightening is not
    reported: GOV-014 already refuses loosening beyond the global bounds)."""

    def looser_number(field: str, larger_is_looser: bool) -> None:
        a, b = getattr(old, field), getattr(new, field)
        if a is None:
            return
        if b is None or (b > a if larger_is_looser else b < a):
            found.append((field, f"{field} {a} -> {b if b is not None else '(removed)'}"))

    found: list[tuple[str, str]] = []
    looser_number("max_grant_days", True)
    looser_number("max_retention_days", True)
    looser_number("min_retention_days", False)
    for field in ("require_freshness_slo", "require_approval"):
        if getattr(old, field) and not getattr(new, field):
            found.append((field, f"{field} true -> {getattr(new, field)}"))
    if old.grant_expiry_from is not None and (
        new.grant_expiry_from is None or new.grant_expiry_from.rank > old.grant_expiry_from.rank
    ):
        value = new.grant_expiry_from.value if new.grant_expiry_from else "(removed)"
        found.append(
            ("grant_expiry_from", f"grant_expiry_from {old.grant_expiry_from.value} -> {value}")
        )
    if old.allowed_consumer_accounts is not None:
        if new.allowed_consumer_accounts is None:
            found.append(("allowed_consumer_accounts", "allowed_consumer_accounts removed"))
        else:
            more = sorted(set(new.allowed_consumer_accounts) - set(old.allowed_consumer_accounts))
            if more:
                found.append(
                    (
                        "allowed_consumer_accounts",
                        f"allowed_consumer_accounts adds {', '.join(more)}",
                    )
                )
    if old.allowed_consumer_domains is not None:
        if new.allowed_consumer_domains is None:
            found.append(("allowed_consumer_domains", "allowed_consumer_domains removed"))
        else:
            added = sorted(set(new.allowed_consumer_domains) - set(old.allowed_consumer_domains))
            if added:
                found.append(
                    ("allowed_consumer_domains", f"allowed_consumer_domains + {', '.join(added)}")
                )
    yield from found
