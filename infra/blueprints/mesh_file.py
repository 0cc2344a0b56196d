"""Reading the platform file, `_mesh.yaml` (`infra.model.platform`), as a blueprint is read:
the same hostile-input reader (`yaml_safe`), the same translation of pydantic's errors into
problems with file, line, field and what was expected (`pydantic_errors`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from infra.blueprints.pydantic_errors import _problems_from_validation
from infra.blueprints.yaml_safe import _FileError, _parse_text, _read_text
from infra.errors import Problem
from infra.model.platform import REQUIRED_GROUPS, MeshFile, Platform
from infra.model.spec import APPROVER_NAMES

_EXPECTED = (
    "expected a mapping: approvers: {privacy: {description, members}, security: ..., platform: ...}"
)


def load_platform(path: Path, display: str | None = None) -> tuple[Platform | None, list[Problem]]:
    """The platform file at `path`, or None and its problems."""
    display = display or str(path)
    try:
        text = _read_text(path)
    except _FileError as exc:
        return None, [Problem(display, exc.line, "", exc.code, exc.message)]
    src, _text, data, problem = _parse_text(text, display)
    if problem is not None:
        if problem.code == "E005":  # the reader's wording is a blueprint's
            problem = Problem(display, problem.line, "", "E005", f"the file is empty: {_EXPECTED}")
        return None, [problem]
    if not isinstance(data, dict):
        got = type(data).__name__
        return None, [Problem(display, src.line_of(()), "", "E005", f"got {got}: {_EXPECTED}")]
    try:
        spec = MeshFile.model_validate(data, context=APPROVER_NAMES)  # tag_grants' approved_by
    except ValidationError as exc:
        return None, _problems_from_validation(src, exc, root=MeshFile)
    missing = [
        src.problem(
            ("approvers",),
            "E011",
            f"approver group {group!r} is missing: privacy approves sharing PII, security "
            "exceptions and restricted data, platform this file and reviewed changes "
            "(expected {description: ..., members: ['@org/team']})",
        )
        for group in REQUIRED_GROUPS
        if group not in spec.approvers
    ]
    if missing:
        return None, missing
    return Platform(spec, src, text), []
