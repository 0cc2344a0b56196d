"""Blueprint-level checks: the Mesh model against the catalogue, with file and line per finding.

Fast (no Pulumi): `mesh validate` runs them on every blueprint. A line is looked up only when a
finding is reported.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

from infra.governance import catalogue as cat
from infra.governance.domain_limits import DomainLimits, effective, loosening
from infra.governance.findings import Finding, blueprint_finding
from infra.governance.tag_rules import tag_grant_findings
from infra.model import access
from infra.model.mesh import Mesh
from infra.model.source import Loc, SourceFile
from infra.model.spec import Blueprint, Classification, Consumer, Product

MIN_DESCRIPTION_CHARS = 10
PLACEHOLDERS = frozenset(
    {
        "-", "?", "changeme", "description", "dummy", "fixme", "n/a", "na", "nobody", "none",
        "no-reply", "noreply", "owner", "placeholder", "tba", "tbc", "tbd", "team", "test",
        "todo", "unknown", "xxx",
    }
)  # fmt: skip
_PLACEHOLDER_START = re.compile(r"^(todo|tbd|fixme|xxx|lorem ipsum)\b", re.IGNORECASE)


def is_placeholder(text: str) -> bool:
    norm = text.strip().strip(".!:;").strip().lower()
    return norm in PLACEHOLDERS or bool(_PLACEHOLDER_START.match(norm))


def description_problem(text: str) -> str | None:
    if is_placeholder(text):
        return f"description {text.strip()!r} is a placeholder"
    if len(text.strip()) < MIN_DESCRIPTION_CHARS:
        return (
            f"description {text.strip()!r} is too short to tell a consumer what the data is "
            f"(at least {MIN_DESCRIPTION_CHARS} characters)"
        )
    return None


def check_blueprint(
    bp: Blueprint,
    src: SourceFile,
    domains: frozenset[str],
    today: dt.date,
    account_of: Callable[[str], str | None] = lambda domain: None,
) -> Iterator[Finding]:
    """Every finding of one domain's blueprint; `domains` are the domains of the mesh,
    `account_of` the account each one's blueprint names (`Mesh.account_of`)."""
    eff = effective(bp)
    yield from loosening(bp, src)
    yield from _owner(bp, src)
    problem = description_problem(bp.description)
    if problem:
        yield blueprint_finding(src, ("description",), "GOV-002", f"domain {problem}")
    for k, name in enumerate(bp.policies.allowed_consumer_domains or []):
        if name not in domains:
            yield blueprint_finding(
                src,
                ("policies", "allowed_consumer_domains", k),
                "GOV-013",
                f"allowed_consumer_domains names {name!r}, which is not a domain of the mesh",
            )
    for pi, product in enumerate(bp.products):
        yield from _product(bp, product, src, ("products", pi), eff, domains, today, account_of)


def _owner(bp: Blueprint, src: SourceFile) -> Iterator[Finding]:
    if is_placeholder(bp.owner.team):
        yield blueprint_finding(
            src,
            ("owner", "team"),
            "GOV-001",
            f"owner team {bp.owner.team!r} is a placeholder: name the team accountable for "
            f"domain {bp.domain}",
        )
    if is_placeholder(bp.owner.email.split("@", 1)[0]):
        yield blueprint_finding(
            src,
            ("owner", "email"),
            "GOV-001",
            f"owner e-mail {bp.owner.email!r} reaches nobody: give the owning team's address",
        )


def _product(
    bp: Blueprint,
    product: Product,
    src: SourceFile,
    at: Loc,
    eff: DomainLimits,
    domains: frozenset[str],
    today: dt.date,
    account_of: Callable[[str], str | None],
) -> Iterator[Finding]:
    pid = access.product_id(bp.domain, product.name)
    cls = product.classification
    problem = description_problem(product.description)
    if problem:
        yield blueprint_finding(src, at + ("description",), "GOV-002", f"product {problem}", pid)
    lo, hi = eff.retention_bounds(cls)
    if not lo <= product.retention_days <= hi:
        source = (
            "the domain's bounds and the global ones"
            if (lo, hi) != cat.RETENTION_BOUNDS[cls]
            else "the global bounds"
        )
        yield blueprint_finding(
            src,
            at + ("retention_days",),
            "GOV-006",
            f"retention_days {product.retention_days} of {pid} ({cls.value}) is outside "
            f"{lo}..{hi} days ({source})",
            pid,
        )
    if product.freshness_slo_hours is None and eff.freshness_required(cls):
        why = (
            "the domain requires it for every product (policies.require_freshness_slo)"
            if cls.rank < cat.FRESHNESS_SLO_FROM.rank
            else f"it is required from {cat.FRESHNESS_SLO_FROM.value} up"
        )
        yield blueprint_finding(
            src,
            at + ("freshness_slo_hours",),
            "GOV-007",
            f"{pid} ({cls.value}) has no freshness_slo_hours: {why}",
            pid,
        )
    active = {id(c) for c in access.active_consumers(product, today)}  # by identity: O(1)
    # what every grant of the product is checked against: the same for each
    facts = _GrantFacts(
        pid,
        cls,
        cls is Classification.restricted,
        eff.expiry_required(cls),
        domains,
        today,
        account_of,
    )
    # no rule below applies to a grant of this product unless it lacks a required approval
    quiet = (
        eff.allowed_consumers is None
        and bp.policies.allowed_consumer_accounts is None
        and not (facts.restricted or facts.expiry)
    )
    for gi, consumer in enumerate(product.consumers):
        if quiet and (consumer.approved_by or not eff.require_approval):
            continue
        yield from _consumer(
            bp, consumer, src, at + ("consumers", gi), eff, facts, id(consumer) in active
        )


class _GrantFacts(NamedTuple):
    """What the checks of one product's grants read, computed once per product."""

    pid: str
    cls: Classification
    restricted: bool
    expiry: bool  # grants on it must expire (`DomainLimits.expiry_required`)
    domains: frozenset[str]
    today: dt.date
    account_of: Callable[[str], str | None]


def _consumer(
    bp: Blueprint,
    consumer: Consumer,
    src: SourceFile,
    at: Loc,
    eff: DomainLimits,
    facts: _GrantFacts,
    active: bool,
) -> Iterator[Finding]:
    pid, cls, today = facts.pid, facts.cls, facts.today
    grant = f"grant of {pid} to {consumer.domain}"
    # GOV-013: the consumer is a domain the owner allows (one that does not exist is E025, a
    # structural fault the blueprint checks report)
    known = consumer.domain == bp.domain or consumer.domain in facts.domains
    if known and eff.allowed_consumers is not None and consumer.domain not in eff.allowed_consumers:
        allowed = ", ".join(sorted(eff.allowed_consumers)) or "(none)"
        yield blueprint_finding(
            src,
            at + ("domain",),
            "GOV-013",
            f"{grant}: {consumer.domain!r} is not in the domain's allowed_consumer_domains "
            f"({allowed})",
            pid,
        )
    # GOV-013: ... and, across accounts, in an account the owner allows
    allowed_accounts = bp.policies.allowed_consumer_accounts
    if known and allowed_accounts is not None:
        account = facts.account_of(consumer.domain)
        if account != bp.account and account not in allowed_accounts:
            yield blueprint_finding(
                src,
                at + ("domain",),
                "GOV-013",
                f"{grant}: {consumer.domain!r} lives in account "
                f"{account or '(the stack account)'}, which is not in the domain's "
                f"allowed_consumer_accounts ({', '.join(allowed_accounts) or '(none)'})",
                pid,
            )
    # GOV-003: the domain's policies.require_approval (PII shared without include_pii or
    # approved_by is E027/E028, checked with the schema)
    if eff.require_approval and not consumer.approved_by:
        yield blueprint_finding(
            src,
            at,
            "GOV-003",
            f"{grant} has no approved_by: domain {bp.domain} requires approval for every grant "
            "(policies.require_approval)",
            pid,
        )
    if not active:  # an expired grant (or a decommissioned product) grants nothing
        return
    # GOV-004: restricted data stays in its domain
    if facts.restricted and consumer.domain != bp.domain:
        yield blueprint_finding(
            src,
            at + ("domain",),
            "GOV-004",
            f"{pid} is restricted and must not be shared outside domain {bp.domain} (grant to "
            f"{consumer.domain}) without an exception",
            pid,
        )
    # GOV-005: grants on sensitive data expire, within the maximum period
    if facts.expiry:
        limit = eff.max_grant_days
        source = (
            f"domain {bp.domain} allows at most {limit} days (policies.max_grant_days)"
            if limit < cat.MAX_GRANT_DAYS
            else f"at most {limit} days"
        )
        if consumer.expires is None:
            yield blueprint_finding(
                src,
                at + ("expires",),
                "GOV-005",
                f"{grant} ({cls.value}) has no expires: grants on {eff.grant_expiry_from.value} "
                f"data and above must expire, {source}",
                pid,
            )
        elif (consumer.expires - today).days > limit:
            days = (consumer.expires - today).days
            yield blueprint_finding(
                src,
                at + ("expires",),
                "GOV-005",
                f"{grant} ({cls.value}) expires on {consumer.expires.isoformat()}, {days} days "
                f"from {today.isoformat()}: {source}",
                pid,
            )


def check_mesh(mesh: Mesh, today: dt.date) -> Iterator[Finding]:
    domains = mesh.all_domains
    for bp in mesh.blueprints:
        yield from check_blueprint(bp, mesh.source(bp.domain), domains, today, mesh.account_of)
        yield from _pii_tag_floor(mesh, bp)
    yield from tag_grant_findings(mesh, today)  # grants by tag expression


def _pii_tag_floor(mesh: Mesh, bp: Blueprint) -> Iterator[Finding]:
    """GOV-015: a PII column's LF-tag value ranks at or above its product's for the same key
    (the rank: the value's position in the ontology's list, least sensitive first)."""
    ontology = (mesh.platform.spec.lf_tags if mesh.platform is not None else None) or {}
    if not ontology:
        return  # no key has a rank
    for pi, product in enumerate(bp.products):
        for ci, column in enumerate(product.columns):
            if not column.pii:
                continue
            for key, value in column.lf_tags.items():
                spec, table = ontology.get(key), product.lf_tags.get(key)
                if spec is None or table is None:
                    continue  # an unknown key is E100; a key only the column has: no floor
                ranked = value in spec.values and table in spec.values  # else E101
                if ranked and spec.values.index(value) < spec.values.index(table):
                    pid = access.product_id(bp.domain, product.name)
                    yield blueprint_finding(
                        mesh.source(bp.domain),
                        ("products", pi, "schema", ci, "lf_tags", key),
                        "GOV-015",
                        f"PII column {column.name!r} of {pid} is tagged {key}: {value}, "
                        f"less sensitive than its product's {key}: {table} (values least "
                        f"sensitive first: {', '.join(spec.values)}); a grant on {value} "
                        "would read it",
                        pid,
                    )
