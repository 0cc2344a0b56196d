"""A finding: one policy violated at one place (a blueprint field or a generated resource)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from infra.errors import Problem, Severity, severity_of
from infra.governance.catalogue import Level
from infra.model.source import Loc, SourceFile


@dataclass(frozen=True, slots=True)
class Finding:
    policy: str  # policy id (GOV-0xx) or exception code (GOV-X0x)
    severity: Severity
    message: str
    level: Level
    product: str | None = None  # "<domain>.<product>" the finding is about, when there is one
    # blueprint findings
    file: str | None = None
    line: int | None = None
    path: str = ""
    # resource findings
    resource_type: str | None = None
    resource_name: str | None = None
    waived_by: str | None = None  # "<file>:<line>" of the exception that waives it
    # the exception that waived it until it expired: what time, not a change, brought back
    expired_waiver: str | None = None
    loc: tuple = ()  # blueprint findings: the field's location (the `path`, unformatted)

    @property
    def location(self) -> str:
        if self.level is Level.resource:
            return f"{self.resource_type} {self.resource_name}"
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where} {self.path}" if self.path else where

    def to_problem(self) -> Problem:
        """As a loader-style problem (code = policy id), so `mesh validate` lists it with the
        others. A resource finding names the resource type as file and its name as path."""
        if self.level is Level.resource:
            return Problem(
                str(self.resource_type), None, str(self.resource_name), self.policy,
                self.message, self.severity,
            )  # fmt: skip
        return Problem(
            str(self.file), self.line, self.path, self.policy, self.message, self.severity
        )

    def as_json(self) -> dict:
        doc = {"policy": self.policy, "severity": self.severity.value, "level": self.level.value}
        if self.level is Level.resource:
            doc |= {"type": self.resource_type, "name": self.resource_name}
        else:
            doc |= {"file": self.file, "line": self.line, "path": self.path}
        doc |= {"product": self.product, "message": self.message, "waived_by": self.waived_by}
        return doc

    def waive(self, by: str) -> Finding:
        return replace(self, waived_by=by)

    def sort_key(self) -> tuple:
        return (
            self.file or "", self.line or 0, self.path, self.resource_type or "",
            self.resource_name or "", self.policy, self.message,
        )  # fmt: skip


def blueprint_finding(
    src: SourceFile,
    loc: Loc,
    policy: str,
    message: str,
    product: str | None = None,
) -> Finding:
    """A finding located at a blueprint field (file and line from the YAML node tree)."""
    p = src.problem(loc, policy, message)
    return Finding(
        policy, p.severity, message, Level.blueprint, product, p.file, p.line, p.path,
        loc=tuple(loc),
    )  # fmt: skip


def resource_finding(
    policy: str, type_: str, name: str, message: str, product: str | None = None
) -> Finding:
    return Finding(
        policy, severity_of(policy), message, Level.resource, product,
        resource_type=type_, resource_name=name,
    )  # fmt: skip
