"""Structured problems (errors and warnings) with a location a reviewer can click on."""

from __future__ import annotations

import itertools
import reprlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.model.mesh import Mesh


class Severity(str, Enum):
    error = "error"
    warning = "warning"


# Stable codes. External tools key on these; never renumber, only add.
CODES: dict[str, str] = {
    # reading the file
    "E001": "file cannot be read (missing, not UTF-8, binary, too large)",
    "E002": "YAML syntax error",
    "E003": "duplicate key in a mapping",
    "E004": "YAML construct not allowed (aliases beyond the limit, custom tags, non-string keys)",
    "E005": "blueprint is empty or not a mapping",
    # the model
    "E010": "unknown key",
    "E011": "required field missing",
    "E012": "wrong type or value",
    "E013": "name does not match the required pattern",
    "E014": "invalid Glue column type",
    # across the mesh
    "E020": "domain does not equal the file name",
    "E021": "domain defined twice",
    "E022": "product defined twice in a domain",
    "E023": "column defined twice in a product",
    "E024": "partition key repeats a schema column",
    "E025": "consumer names a domain that does not exist",
    "E026": "consumer column is not in the product's schema",
    "E027": "PII column shared without include_pii",
    "E028": "include_pii without approved_by",
    "E029": "domain lists itself as consumer",
    "E030": "consumer domain listed twice on one product",
    "E031": "no blueprints found",
    "E032": "names collide after normalisation",
    "E033": "physical name too long",
    "E034": "exception names a product that does not exist",
    "E035": "table or column name is a reserved word of Athena SQL (queries must quote it)",
    "E036": "a role's inline IAM policies would reach IAM's size quota (10,240 characters)",
    "E037": "s3_direct on a grant that does not cover every column (the path around it)",
    "E038": "a bucket policy would reach S3's size quota (20 KB)",
    "E039": "a key policy would reach KMS's size quota (32 KB)",
    # against the previous tree (`mesh validate --base`, `mesh diff`): nothing may be lost
    "E040": "product removed without a decommission block",
    "E041": "decommissioned product removed before its decommission date",
    "E042": "decommissioned product removed although its data is retained (data: retain)",
    "E043": "domain blueprint removed (its key, database and roles are protected)",
    "E044": "physical name of a product changes (its bucket and table would be replaced)",
    "E045": "a trust policy would reach IAM's size quota (2,048 characters)",
    "E046": "a partition key is marked PII (partition values are readable by every consumer)",
    "E047": "a domain is named like a stack scope (all, platform)",
    "E048": "a value AWS would refuse (tag key, value or count; Glue column comment length)",
    "E050": "a previous name is still in use (a column's or product's rename claims a current name)",
    "E051": "a rename gives a name that already existed before the change",
    "E052": "a decommission date with less notice than the platform requires",
    # warnings
    "W001": "grant expires soon",
    "W002": "grant has expired and grants nothing",
    "W003": "blueprint file ignored",
    "W004": "table or column name is reserved in Athena DDL (hand-written DDL must quote it)",
    "W005": "decommissioned product removed: its data is deleted if the stack allows it",
    "W006": "base tree has blueprints that do not load: their products are not checked",
    "W007": "a generated policy is near its AWS size quota (90 % or more)",
    "W008": "a partition key's name suggests personal data (partition values are readable by all)",
}


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    path: str
    code: str
    message: str
    severity: Severity = Severity.error

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


@dataclass
class Report:
    """What a check of a blueprint tree found: the mesh of its valid blueprints, and every
    error and warning (`infra.api.validate`, and each step of it)."""

    mesh: Mesh
    errors: list[Problem]
    warnings: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.errors


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
