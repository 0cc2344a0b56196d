"""Structured problems (errors and warnings) with a location a reviewer can click on."""

from __future__ import annotations

import itertools
import reprlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from infra.util.textsafe import one_line


class Severity(str, Enum):
    error = "error"
    warning = "warning"


@dataclass(frozen=True, slots=True)
class Code:
    """One stable code: what external tools key on. Never renumber, only add."""

    id: str
    severity: Severity
    family: str  # "blueprint" (the checks), "governance" (policies and exceptions), "contract"
    summary: str


def _family(family: str, codes: dict[str, tuple[Severity, str]]) -> dict[str, Code]:
    return {cid: Code(cid, sev, family, text) for cid, (sev, text) in codes.items()}


_E, _W = Severity.error, Severity.warning

# Every code a problem can carry, with its severity: a problem takes its severity from here
# (never from its call site) and a code that is not here is a programming error.
REGISTRY: dict[str, Code] = {
    **_family(
        "blueprint",
        {
            # reading the file
            "E001": (_E, "file cannot be read (missing, not UTF-8, binary, too large)"),
            "E002": (_E, "YAML syntax error"),
            "E003": (_E, "duplicate key in a mapping"),
            "E004": (
                _E,
                "YAML construct not allowed (aliases beyond the limit, custom tags, non-string keys)",
            ),
            "E005": (_E, "blueprint is empty or not a mapping"),
            # the model
            "E010": (_E, "unknown key"),
            "E011": (_E, "required field missing"),
            "E012": (_E, "wrong type or value"),
            "E013": (_E, "name does not match the required pattern"),
            "E014": (_E, "invalid Glue column type"),
            # across the mesh
            "E020": (_E, "domain does not equal the file name"),
            "E021": (_E, "domain defined twice"),
            "E022": (_E, "product defined twice in a domain"),
            "E023": (_E, "column defined twice in a product"),
            "E024": (_E, "partition key repeats a schema column"),
            "E025": (_E, "consumer names a domain that does not exist"),
            "E026": (_E, "consumer column is not in the product's schema"),
            "E027": (_E, "PII column shared without include_pii"),
            "E028": (_E, "include_pii without approved_by"),
            "E029": (_E, "domain lists itself as consumer"),
            "E030": (_E, "consumer domain listed twice on one product"),
            "E031": (_E, "no blueprints found"),
            "E032": (_E, "names collide after normalisation"),
            "E033": (_E, "physical name too long"),
            "E034": (_E, "exception names a product that does not exist"),
            "E035": (
                _E,
                "table or column name is a reserved word of Athena SQL (queries must quote it)",
            ),
            "E036": (
                _E,
                "a role's inline IAM policies would reach IAM's size quota (10,240 characters)",
            ),
            "E037": (
                _E,
                "s3_direct on a grant that does not cover every column (the path around it)",
            ),
            "E038": (_E, "a bucket policy would reach S3's size quota (20 KB)"),
            "E039": (_E, "a key policy would reach KMS's size quota (32 KB)"),
            # against the previous tree (`mesh validate --base`, `mesh diff`): nothing may be lost
            "E040": (_E, "product removed without a decommission block"),
            "E041": (_E, "decommissioned product removed before its decommission date"),
            "E042": (
                _E,
                "decommissioned product removed although its data is retained (data: retain)",
            ),
            "E043": (_E, "domain blueprint removed (its key, database and roles are protected)"),
            "E044": (
                _E,
                "physical name of a product changes (its bucket and table would be replaced)",
            ),
            "E045": (_E, "a trust policy would reach IAM's size quota (2,048 characters)"),
            "E046": (
                _E,
                "a partition key is marked PII (partition values are readable by every consumer)",
            ),
            "E047": (_E, "a domain is named like a stack scope (all, platform)"),
            "E048": (
                _E,
                "a value AWS would refuse (tag key, value or count; Glue column comment length)",
            ),
            "E049": (
                _E,
                (
                    "a bucket or Glue database name another stack's prefix also creates, or a "
                    "bucket name two stack configs would create in different accounts"
                ),
            ),
            "E050": (
                _E,
                "a previous name is still in use (a column's or product's rename claims a current name)",
            ),
            "E051": (_E, "a rename gives a name that already existed before the change"),
            "E053": (_E, "a domain moves to another AWS account without previous_account"),
            "E054": (
                _E,
                "s3_direct to a domain in another AWS account (read through Lake Formation)",
            ),
            "E055": (_E, "an account would exceed Lake Formation's 1,600 cross-account grants"),
            "E052": (_E, "a decommission date with less notice than the platform requires"),
            # with a platform file (`_mesh.yaml`): who may approve
            "E056": (_E, "approved_by names no approver group of _mesh.yaml, nor a member of one"),
            "E057": (
                _E,
                (
                    "approved_by names an approver of the wrong group (PII: privacy; an exception: "
                    "the group its policy names)"
                ),
            ),
            "E058": (_E, "exception without approved_by (required with _mesh.yaml)"),
            # the PR check beyond the blueprints (issue 25); numbered apart from E059+ on purpose
            "E070": (
                _E,
                (
                    "a stack config deploys another blueprint directory than the one the PR check "
                    "checked (mesh:blueprints)"
                ),
            ),
            "E071": (
                _E,
                (
                    "the change that adds the first _mesh.yaml changes something else too (it must "
                    "come alone)"
                ),
            ),
            "E072": (
                _E,
                (
                    "a column of a positional format (csv) is reordered, removed before the end or "
                    "inserted before the end (every written object would be misread)"
                ),
            ),
            "E073": (_E, "the format of an existing product changes"),
            "E074": (_E, "an account that is not in the accounts list of _mesh.yaml"),
            "E075": (
                _E,
                (
                    "Pulumi.yaml sets stackConfigDir, or a Pulumi.json or Pulumi.yml project "
                    "file is there: the stack configs are where the PR check does not compare them"
                ),
            ),
            "E080": (_E, "a retired domain's blueprint removed before its decommission date"),
            "E081": (
                _E,
                "a retired domain's blueprint removed although its data is retained (data: retain)",
            ),
            # across the project's stack configs (Pulumi.<stack>.yaml), issue 24; numbered apart
            "E090": (
                _E,
                "two stack configs would declare one account's Lake Formation settings differently",
            ),
            "E091": (
                _E,
                "a stack prefix whose consumers' catalog pattern reaches another stack's databases",
            ),
            # row filters (`rows:` of a grant), parsed with sqlglot
            "E095": (_E, "a row filter does not parse or uses unsupported syntax"),
            "E096": (_E, "a row filter names a column the product does not have"),
            "E097": (_E, "a row filter is not a boolean predicate"),
            "E098": (_E, "a row filter names a PII column without include_pii and approved_by"),
            # tag-based access (LF-tags, `infra.blueprints.lftags`), issue 29
            "E100": (_E, "an LF-tag key that is not in the ontology (lf_tags of _mesh.yaml)"),
            "E101": (_E, "an LF-tag value that is not one of its key's values"),
            "E102": (_E, "a derived LF-tag key (domain, classification, pii) declared or set"),
            "E103": (
                _E,
                (
                    "an LF-tag an approver group assigns, set without that group's approval "
                    "(lf_tags_approved_by)"
                ),
            ),
            "E104": (_E, "a tag grant to a domain that does not exist, or to its own domain"),
            "E105": (_E, "a domain's tag grant whose expression names other domains"),
            "E106": (_E, "a mesh-wide tag grant without the platform group's approval"),
            "E107": (_E, "a tag grant sharing PII without privacy's approval (approved_by)"),
            "E108": (_E, "lf_tags on a partition key"),
            "E109": (_E, "an LF-tag's assigned_by is neither owners nor an approver group"),
            "E110": (_E, "more than 1,000 values of one LF-tag in an account (Lake Formation)"),
            "E111": (_E, "more than 50 LF-tags on one resource (Lake Formation)"),
            "E112": (_E, "more than 1,000 LF-tag keys in an account (Lake Formation)"),
            # warnings
            "W001": (_W, "grant expires soon"),
            "W002": (_W, "grant has expired and grants nothing"),
            "W003": (_W, "blueprint file ignored"),
            "W004": (
                _W,
                "table or column name is reserved in Athena DDL (hand-written DDL must quote it)",
            ),
            "W005": (
                _W,
                "decommissioned product removed: its data is deleted if the stack allows it",
            ),
            "W006": (
                _W,
                "base tree has blueprints that do not load: their products are not checked",
            ),
            "W007": (_W, "a generated policy is near its AWS size quota (90 % or more)"),
            "W008": (
                _W,
                "a partition key's name suggests personal data (partition values are readable by all)",
            ),
            "W009": (
                _W,
                (
                    "an owners entry of _mesh.yaml is not used (no such domain, or its blueprint "
                    "names another owner.github)"
                ),
            ),
            "W010": (
                _W,
                "a domain has no GitHub owner (owner.github): the platform group approves for it",
            ),
            "W030": (
                _W,
                "a retired domain's blueprint removed: its data is deleted if the stack allows it",
            ),
            "W011": (
                _W,
                "the checked-in CODEOWNERS gives a blueprint other owners than `mesh codeowners`",
            ),
            "W040": (_W, "a tag grant reaches no product today"),
        },
    ),
    # the governance catalogue's policies (`infra.governance.catalogue` says what each requires)
    **_family(
        "governance",
        {
            "GOV-001": (_E, "owner-required: an accountable owner on every domain and resource"),
            "GOV-002": (_E, "description-required: a meaningful description on every product"),
            "GOV-003": (_E, "pii-approval: PII and approval-requiring grants name an approver"),
            "GOV-004": (_E, "restricted-stays-in-domain: restricted data is not shared out"),
            "GOV-005": (_E, "grant-expiry: every cross-domain grant expires within the maximum"),
            "GOV-006": (_E, "retention-bounds: retention within its classification's bounds"),
            "GOV-007": (_E, "freshness-slo: products that need one state a freshness SLO"),
            "GOV-008": (_E, "encrypted: storage encrypted with the domain's KMS key"),
            "GOV-009": (_E, "not-public: no public bucket, policy or principal"),
            "GOV-010": (_E, "tls-only: buckets refuse requests without TLS"),
            "GOV-011": (_E, "tagged: every resource carries the mesh tags"),
            "GOV-012": (_E, "no-wildcard-iam: no wildcard actions or data resources in IAM"),
            "GOV-013": (_E, "grant-target-exists: grants go to mesh domains the owner allows"),
            "GOV-014": (_E, "tighten-only: domain policies only tighten the global ones"),
            "GOV-015": (_E, "pii-tag-floor: a PII column is not tagged below its product"),
            # about the exceptions themselves: not policies, never waivable
            "GOV-X01": (_W, "active exception (listed so reviewers see every waiver)"),
            "GOV-X02": (_W, "expired exception: it no longer waives anything"),
            "GOV-X03": (
                _E,
                "invalid exception: unknown or non-waivable policy, or expiry too far ahead",
            ),
        },
    ),
    # `mesh contract` (ODCS import and export), beside E001-E004 for reading the file
    **_family(
        "contract",
        {
            "C001": (
                _E,
                "not an ODCS v3 contract (not a mapping, another major version, another kind)",
            ),
            "C002": (_E, "a contract field has the wrong type for the ODCS model"),
            "C003": (_E, "no schema object to import (or none of the name --schema gives)"),
            "C004": (_E, "a type the Glue catalog cannot hold"),
            "C005": (
                _E,
                "information the blueprint requires is missing (classification, retention, ...)",
            ),
            "C006": (_E, "a value the blueprint cannot take (name, SLA unit, range)"),
            "C007": (_E, "the domain's blueprint is missing or invalid"),
            "C008": (_E, "the imported blueprint would not pass `mesh validate`"),
            "C009": (_E, "a product cannot be exported (its contract would not be valid ODCS)"),
            "CW01": (_W, "dropped: the blueprint cannot hold this contract field"),
            "CW02": (
                _W,
                "stored in another form (normalised type or name, converted unit, raised level)",
            ),
            "CW03": (
                _W,
                "the contract does not validate against the ODCS JSON Schema (read anyway)",
            ),
            "CW04": (_W, "kept from the existing product: the contract does not state it"),
            "CW05": (_W, "the blueprint's formatting could not be kept exactly"),
            "CW06": (
                _W,
                "a column type held with a change: a time as text, a zoned timestamp in UTC, ...",
            ),
            "CW07": (
                _W,
                "a product or column name from the contract was changed to fit the name rules",
            ),
            "CW08": (_W, "a governance field the contract does not state came from an option"),
        },
    ),
}


def codes_of(family: str) -> dict[str, str]:
    """code -> summary of one family, in registry order (for listings and docs)."""
    return {c.id: c.summary for c in REGISTRY.values() if c.family == family}


# the blueprint checks' codes (E0xx errors, W0xx warnings)
CODES: dict[str, str] = codes_of("blueprint")


def severity_of(code: str) -> Severity:
    try:
        return REGISTRY[code].severity
    except KeyError:
        raise ValueError(
            f"unknown problem code {code!r}: add it to infra.errors.REGISTRY"
        ) from None


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    path: str
    code: str
    message: str
    # from the code's registry entry; a call site may only demote an error to a warning (an
    # error that lapsed or pre-exists is not this change's to fix)
    severity: Severity = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        registered = severity_of(self.code)
        if self.severity is None:
            object.__setattr__(self, "severity", registered)
        elif self.severity is not registered and self.severity is not Severity.warning:
            raise ValueError(f"{self.code} is a {registered.value}; it cannot be raised")

    def as_json(self) -> dict:
        d = asdict(self)
        d.pop("severity")
        return d

    def sort_key(self) -> tuple:
        return (self.file, self.line or 0, self.path, self.code)

    @property
    def where(self) -> str:
        """`file:line`, or the file alone when the problem has no line."""
        return f"{self.file}:{self.line}" if self.line else self.file

    def text(self) -> str:
        """The problem as one line of a log, whatever the blueprint text in it
        (`infra.util.textsafe.one_line`): `mesh validate`, `mesh diff` and `pulumi up` print this."""
        path = f" {self.path}:" if self.path else ""
        return one_line(f"{self.where}: {self.severity.value} {self.code}{path} {self.message}")


class MeshError(Exception):
    """A failure the command reports in one line and exits with `exit_code` for."""

    exit_code = 1


class UsageError(MeshError):
    """The command was called wrongly (e.g. a directory that does not exist): exit code 2."""

    exit_code = 2


# ------------------------------------------------------------------ bounded messages

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 64
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 3, 6, 6
MAX_LISTED = 20


def quote(value: Any) -> str:
    """At most 60 characters of `value`'s repr, in time bounded by that length, not the value's
    (an aliased megabyte string can sit under thousands of errors)."""
    if isinstance(value, str):
        text = repr(value[:64])
    elif isinstance(value, (list, dict, tuple, set, frozenset)):
        text = _REPR.repr(value)
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def first_of(names: Iterable[str], total: int) -> str:
    """The first names of a list for a message, bounded however long the list (a hostile
    blueprint can name thousands of unknown domains or columns, each one an error)."""
    shown = list(itertools.islice(names, MAX_LISTED))
    more = total - len(shown)
    return ", ".join(shown) + (f", ... ({more} more)" if more > 0 else "")
