"""Pydantic's validation errors as problems a reviewer can act on: file, line, field path,
a stable code and what was expected (the allowed keys, the pattern in words)."""

from __future__ import annotations

from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from infra.errors import Problem, quote
from infra.model.gluetypes import GlueTypeError
from infra.model.source import Loc, SourceFile
from infra.model.spec import GROUP_PATTERN, HANDLE_PATTERN, TEAM_HANDLE_PATTERN, Blueprint

_PATTERN_HINTS = {
    r"^[a-z][a-z0-9_]{1,30}$": "a name of 2-31 lower-case letters, digits or _ starting with a letter",
    r"^[a-z_][a-z0-9_]{0,127}$": "a column name of lower-case letters, digits or _",
    r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$": "an e-mail address such as team@example.com",
    HANDLE_PATTERN: "a GitHub handle such as @acme/privacy-office or @alice",
    TEAM_HANDLE_PATTERN: "a GitHub team handle such as @acme/sales-data",
    GROUP_PATTERN: "a group name of 2-31 lower-case letters, digits, - or _ starting with a letter",
}


def _field_type(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation
    return None


def _model_at(loc: Loc, root: type[BaseModel] = Blueprint) -> type[BaseModel] | None:
    """The pydantic model that owns the mapping at `loc` (to list its allowed keys)."""
    current: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        current = _field_type(current, part)
        while get_origin(current) is not None or get_args(current):
            args = [a for a in get_args(current) if a is not type(None)]
            if not args:
                break
            current = args[-1] if get_origin(current) is dict else args[0]
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return sorted(info.alias or name for name, info in model.model_fields.items())


def _problems_from_validation(
    src: SourceFile, exc: ValidationError, root: type[BaseModel] = Blueprint
) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            owner = _model_at(loc[:-1], root)
            allowed = f"; expected one of: {', '.join(_allowed_keys(owner))}" if owner else ""
            out.append(src.problem(loc, "E010", f"unknown key {loc[-1]!r}{allowed}"))
        elif kind == "missing":
            out.append(src.problem(loc, "E011", f"required field {loc[-1]!r} is missing"))
        elif kind == "string_pattern_mismatch":
            pattern = err.get("ctx", {}).get("pattern", "")
            hint = _PATTERN_HINTS.get(pattern, f"text matching {pattern}")
            out.append(
                src.problem(loc, "E013", f"{quote(err['input'])} is not valid: expected {hint}")
            )
        elif isinstance(err.get("ctx", {}).get("error"), GlueTypeError):
            out.append(src.problem(loc, "E014", str(err["ctx"]["error"])))
        else:
            out.append(src.problem(loc, "E012", f"{err['msg']} (got {quote(err['input'])})"))
    return out


def validate_data(
    src: SourceFile, text: str | None, data: Any, context: dict | None = None
) -> tuple[Blueprint | None, list[Problem]]:
    """The blueprint of a file's plain data, or its problems. `context`: `spec.APPROVER_NAMES`
    in a tree with a platform file (approved_by may name approver groups and handles)."""
    if not isinstance(data, dict):
        problem = Problem(
            src.path,
            src.line_of(()),
            "",
            "E005",
            f"blueprint must be a mapping (key: value), got {type(data).__name__}",
        )
        return None, [problem]
    try:
        bp = Blueprint.model_validate(data, context=context)
    except ValidationError as exc:
        return None, _problems_from_validation(src, exc)
    src.text = text  # valid: its text tells an identical file of another tree
    return bp, []
