"""The catalogue of global policies and the global limits they enforce.

Every limit is defined here, once: the checks, `mesh policies`, the CrossGuard pack and the docs
read it from this module. Policy ids are stable (exceptions and external tools key on them):
never renumber, only add.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from infra.errors import REGISTRY, Severity, severity_of
from infra.model import tags
from infra.model.spec import Classification
from infra.provision import types as T


class Level(str, Enum):
    blueprint = "blueprint"  # the Mesh model, before any resource exists (`mesh validate`)
    resource = "resource"  # the generated resource graph (`mesh plan`, CrossGuard)


# ------------------------------------------------------------------------------- global limits

MAX_GRANT_DAYS = 365
"""A grant on data at or above GRANT_EXPIRY_FROM must expire within this many days of today."""

GRANT_EXPIRY_FROM = Classification.confidential
"""Grants on products of this classification or higher must carry an expiry date."""

FRESHNESS_SLO_FROM = Classification.confidential
"""Products of this classification or higher must state freshness_slo_hours."""

RETENTION_BOUNDS: dict[Classification, tuple[int, int]] = {
    Classification.public: (1, 3650),
    Classification.internal: (30, 3650),
    Classification.confidential: (90, 3650),
    Classification.restricted: (90, 3650),
}
"""(min, max) retention_days per classification, inclusive."""

RETENTION_CEILING = max(hi for _, hi in RETENTION_BOUNDS.values())

MAX_EXCEPTION_DAYS = 365
"""An exception must expire within this many days of today: no permanent waivers."""

DECOMMISSION_NOTICE_DAYS = 30
"""A decommission date a change adds (or brings forward) lies at least this many days after the
day of the change: consumers get notice, and grants never end retroactively (E052)."""
"""An exception must expire within this many days of today: no permanent waivers."""

STAR_ONLY_ACTIONS = frozenset({"lakeformation:GetDataAccess"})
"""IAM actions AWS accepts only on Resource "*": the named exception to GOV-012."""

CATALOG_READ_ACTIONS = frozenset(
    {
        "glue:BatchGetPartition",
        "glue:GetDatabase",
        "glue:GetDatabases",
        "glue:GetPartition",
        "glue:GetPartitions",
        "glue:GetTable",
        "glue:GetTables",
    }
)
"""Catalog-metadata reads GOV-012 lets be account-wide (wildcard databases and tables, or "*").
Lake Formation answers them only for the tables and columns a principal holds a permission on,
so Lake Formation, not IAM, is the fine-grained gate; scoping them per table in IAM is what made
consumer roles grow with every grant (IAM's 10,240-character quota capped a consumer at about 21
producing domains). Data is never account-wide: S3 object and bucket actions name their bucket
literally, KMS actions their key."""

TAG_KEYS = (tags.DOMAIN, tags.PRODUCT, tags.COST_CENTER)  # GOV-011 requires them
OWNER_TAG = tags.OWNER  # GOV-001 requires it
TAGGED_TYPES = frozenset({T.BUCKET, T.BUCKET_V2, T.KEY, T.ROLE, T.DATABASE, T.WORKGROUP})


# ------------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Policy:
    id: str
    name: str  # short slug, for people; the id is what exceptions and tools use
    levels: tuple[Level, ...]
    description: str
    rationale: str
    waivable: bool = False  # may an `exceptions:` entry waive it for one product?
    # the approver group of `_mesh.yaml` whose approval an exception waiving it needs
    waived_by: str = "security"

    @property
    def severity(self) -> Severity:
        return severity_of(self.id)

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "severity": self.severity.value,
            "levels": [lv.value for lv in self.levels],
            "description": self.description,
            "rationale": self.rationale,
            "waivable": self.waivable,
            "waived_by": self.waived_by if self.waivable else None,
        }


_B, _R = Level.blueprint, Level.resource

CATALOGUE: tuple[Policy, ...] = (
    Policy(
        "GOV-001",
        "owner-required",
        (_B, _R),
        "Every domain names an accountable owner team and e-mail (no placeholders); every "
        "bucket, key, role, database and table carries the owner (mesh:owner).",
        "Someone must answer for each data product: access requests, incidents and deletion "
        "requests need an owner that can be found from the blueprint and from the AWS console.",
    ),
    Policy(
        "GOV-002",
        "description-required",
        (_B, _R),
        "Every domain and product has a meaningful description (at least 10 characters, not a "
        "placeholder); keys, roles, databases and tables carry it.",
        "Consumers discover products through the catalog; an undescribed product is "
        "unfindable or, worse, misused.",
    ),
    Policy(
        "GOV-003",
        "pii-approval",
        (_B, _R),
        "PII columns are shared only with include_pii and approved_by; a domain may require "
        "approval for every grant (policies.require_approval). Generated Lake Formation and S3 "
        "access to PII matches an approved grant.",
        "Sharing personal data needs a documented legal basis; the approver is who answers for it.",
    ),
    Policy(
        "GOV-004",
        "restricted-stays-in-domain",
        (_B, _R),
        "Restricted products are never shared outside their domain without an exception.",
        "Restricted data (payroll, customer master data) is the most damaging to leak; every "
        "cross-domain use is an explicit, expiring decision.",
        waivable=True,
    ),
    Policy(
        "GOV-005",
        "grant-expiry",
        (_B, _R),
        f"Grants on {GRANT_EXPIRY_FROM.value} data or higher expire within {MAX_GRANT_DAYS} days "
        "(domains may shorten: policies.max_grant_days, or extend the rule to lower "
        "classifications: policies.grant_expiry_from); expired grants have no resources.",
        "Access to sensitive data is reviewed at least yearly: a grant that must be renewed is "
        "a grant that gets reviewed.",
        waivable=True,
    ),
    Policy(
        "GOV-006",
        "retention-bounds",
        (_B, _R),
        "retention_days lies within the bounds of the product's classification (domains may "
        "narrow them: policies.min_retention_days/max_retention_days); buckets expire objects "
        "accordingly.",
        "Keeping data longer than needed is a liability (data minimisation); deleting it too "
        "early breaks consumers and audits. A retention far below the floor is usually a typo; "
        "an exception waives one below the floor only when it names it (retention_days).",
        waivable=True,
        waived_by="privacy",  # how long personal data is kept is data protection's call
    ),
    Policy(
        "GOV-007",
        "freshness-slo",
        (_B, _R),
        f"Products classified {FRESHNESS_SLO_FROM.value} or higher state freshness_slo_hours "
        "(domains may require it for every product: policies.require_freshness_slo).",
        "Consumers of business-critical data need to know how stale it may be, and the owner "
        "needs a target to be held to.",
        waivable=True,
        waived_by="platform",  # an operational promise, not a protection of the data
    ),
    Policy(
        "GOV-008",
        "encrypted",
        (_R,),
        "Every bucket has default encryption SSE-KMS with its domain's key; keys rotate.",
        "A customer-managed key per domain puts reads under the key policy, so access can be "
        "audited and revoked per domain.",
    ),
    Policy(
        "GOV-009",
        "not-public",
        (_R,),
        "Every bucket has a full public access block and ACLs disabled; no bucket, key or trust "
        'policy allows Principal "*".',
        "Nothing in the mesh is public; data leaves a domain only through grants.",
    ),
    Policy(
        "GOV-010",
        "tls-only",
        (_R,),
        "Every bucket policy denies requests without TLS (aws:SecureTransport false) on the "
        "bucket and its objects.",
        "Data in transit is encrypted, whatever client a consumer uses.",
    ),
    Policy(
        "GOV-011",
        "tagged",
        (_R,),
        "Buckets, keys, roles and databases carry the tags " + ", ".join(TAG_KEYS) + ".",
        "Cost allocation and incident response find the domain and product of any resource.",
    ),
    Policy(
        "GOV-012",
        "no-wildcard-iam",
        (_R,),
        'No Allow statement uses "*" in an action, NotAction or NotResource; none uses "*" as '
        "resource except for actions AWS accepts only there (lakeformation:GetDataAccess) and "
        "the catalog-metadata reads Lake Formation gates ("
        + ", ".join(sorted(CATALOG_READ_ACTIONS))
        + "), which may name databases and tables by wildcard; S3 actions name their bucket and "
        'KMS actions their key literally (a key policy\'s Resource "*" means the key itself).',
        "Wildcards grant tomorrow's actions and every account resource: least privilege must be "
        "readable from the policy. Catalog metadata is the one exception, because Lake "
        "Formation, not IAM, decides which tables and columns a principal sees and reads.",
    ),
    Policy(
        "GOV-013",
        "grant-target-exists",
        (_B, _R),
        "Grants go only to domains of the mesh (and, when a domain restricts them, to its "
        "policies.allowed_consumer_domains); every provisioned grant is declared and targets a "
        "mesh role.",
        "A grant to an unknown principal is access nobody reviews; it may belong to a domain that "
        "is created later by someone else.",
    ),
    Policy(
        "GOV-014",
        "tighten-only",
        (_B,),
        "Domain policies (policies:) may only tighten the global policies: a looser or "
        "contradictory value is an error.",
        "Federated governance: domains add rules of their own, but the mesh-wide floor holds "
        "everywhere.",
    ),
    Policy(
        "GOV-015",
        "pii-tag-floor",
        (_B,),
        "A PII column's LF-tag is never less sensitive than its product's value of the same "
        "key; a key's values in the ontology (lf_tags of _mesh.yaml) are listed from the least "
        "to the most sensitive.",
        "Grants by tag expression reach every column whose LF-tags match: a PII column retagged "
        "below its table (sensitivity: low on a high table) would be read by every grant on "
        "the lower value, without anyone naming the column.",
    ),
)

POLICIES: dict[str, Policy] = {p.id: p for p in CATALOGUE}
RETENTION_POLICY = "GOV-006"  # below the floor, its exceptions must name the retention
WAIVABLE = frozenset(p.id for p in CATALOGUE if p.waivable)


def waiver_group(policy: str) -> str:
    """The approver group an exception waiving `policy` needs (security for an unknown one)."""
    found = POLICIES.get(policy)
    return found.waived_by if found is not None else "security"


# Codes of findings about exceptions themselves: not policies, never waivable.
EXCEPTION_ACTIVE = "GOV-X01"  # warning: every active exception is listed
EXCEPTION_EXPIRED = "GOV-X02"  # warning: an expired exception no longer waives
EXCEPTION_INVALID = "GOV-X03"  # error: unknown/non-waivable policy, or expiry too far ahead
EXCEPTION_CODES: dict[str, str] = {
    code: REGISTRY[code].summary
    for code in (EXCEPTION_ACTIVE, EXCEPTION_EXPIRED, EXCEPTION_INVALID)
}


def limits_json() -> dict:
    """The global limits, for `mesh policies --format json` and the audit report."""
    return {
        "max_grant_days": MAX_GRANT_DAYS,
        "grant_expiry_from": GRANT_EXPIRY_FROM.value,
        "freshness_slo_from": FRESHNESS_SLO_FROM.value,
        "retention_days": {
            c.value: {"min": lo, "max": hi} for c, (lo, hi) in RETENTION_BOUNDS.items()
        },
        "max_exception_days": MAX_EXCEPTION_DAYS,
        "decommission_notice_days": DECOMMISSION_NOTICE_DAYS,
        "star_only_actions": sorted(STAR_ONLY_ACTIONS),
        "catalog_read_actions": sorted(CATALOG_READ_ACTIONS),
        "tags": list(TAG_KEYS),
    }
