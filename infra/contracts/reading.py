"""Reading a contract file defensively: the loader's reader, a liberal reading of common
deviations, the ODCS model and the JSON Schema (CW03 for each finding).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from infra.blueprints.yaml_safe import _FileError, _parse_text, _read_text
from infra.contracts.mapping import API_VERSION, Loc, _odcs, schema_errors, schema_version, short
from infra.errors import Problem
from infra.model.source import SourceFile


@dataclass
class ContractFile:
    """A contract as read: the plain data, the ODCS model, and its source (for lines)."""

    path: str
    raw: dict
    model: Any  # OpenDataContractStandard
    src: SourceFile
    warnings: list[Problem] = field(default_factory=list)


class ContractError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def _plain(value: Any) -> Any:
    """YAML data as ODCS expects it: dates and times as ISO strings (YAML reads an unquoted
    2024-01-31 as a date; the standard types them as strings)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def read_contract(path: Path, display: str | None = None) -> ContractFile:
    """Read and check one contract file defensively: the loader's reader (size, binary,
    symbolic links, YAML constructs, alias bombs), then the ODCS model. Raises ContractError."""
    display = display or str(path)
    try:
        text = _read_text(path)
    except _FileError as exc:
        raise ContractError([Problem(display, exc.line, "", exc.code, _wording(exc.message))])
    return parse_contract(text, display)


def _wording(message: str) -> str:
    return message.replace("a blueprint", "a contract").replace("blueprint", "contract")


def parse_contract(text: str, display: str) -> ContractFile:
    src, _text, data, problem = _parse_text(text, display)
    if problem is not None:
        if problem.code == "E005":
            problem = Problem(
                display,
                problem.line,
                "",
                "C001",
                "the file is empty: expected "
                "an ODCS v3 contract (apiVersion, kind, id, schema, ...)",
            )
        else:
            problem = Problem(display, problem.line, "", problem.code, _wording(problem.message))
        raise ContractError([problem])
    if not isinstance(data, dict):
        raise ContractError(
            [
                src.problem(
                    (), "C001", f"a contract is a mapping (key: value), got {type(data).__name__}"
                )
            ]
        )
    raw = _plain(data)
    _check_version(raw, src)
    warnings: list[Problem] = []
    known = set(_odcs().OpenDataContractStandard.model_fields) | {"schema"}
    # unknown top-level keys are left out (the import reports them dropped), the rest copied
    model_input = copy.deepcopy({k: v for k, v in raw.items() if k in known})
    if isinstance(model_input.get("description"), str):  # a plain description: its purpose
        model_input["description"] = {"purpose": model_input["description"]}
    if isinstance(model_input.get("team"), str):  # a team named, nothing more
        model_input["team"] = {"name": model_input["team"]}
    if isinstance(model_input.get("servers"), dict):  # servers keyed by name (DCS habit)
        model_input["servers"] = [
            {"server": str(k), **v} if isinstance(v, dict) else v
            for k, v in model_input["servers"].items()
        ]
    model = _validate_model(model_input, src)
    version = schema_version(raw)  # its own version's schema, when we have it
    for loc, message in schema_errors(raw, version=version):
        if "'map' is a required property" in message:
            continue  # an `if` of the 3.2.0 schema that matches properties without logicalType
        if len(warnings) == 100:
            warnings.append(
                src.problem((), "CW03", "... and more schema findings (first 100 shown)")
            )
            break
        warnings.append(src.problem(loc, "CW03", f"not valid ODCS {version}: {message[:200]}"))
    return ContractFile(display, raw, model, src, warnings)


def _check_version(raw: dict, src: SourceFile) -> None:
    api = raw.get("apiVersion")
    kind = raw.get("kind")
    if kind is not None and kind != "DataContract":
        raise ContractError(
            [src.problem(("kind",), "C001", f"kind {short(kind)} is not DataContract")]
        )
    if api is None:
        if "dataset" in raw or "datasetName" in raw:
            raise ContractError(
                [
                    src.problem(
                        (),
                        "C001",
                        "this is an ODCS v2 contract (dataset, no apiVersion): "
                        "convert it to v3 first (e.g. datacontract-cli)",
                    )
                ]
            )
        return  # liberal: no apiVersion is read as v3 (CW03 says it is missing)
    m = re.fullmatch(r"v?(\d+)(?:\.\d+){0,2}(?:-.*)?", str(api).strip())
    if m is None or m.group(1) != "3":
        raise ContractError(
            [
                src.problem(
                    ("apiVersion",),
                    "C001",
                    f"apiVersion {short(api)} is not ODCS v3: "
                    f"expected v3.x.y (written as {API_VERSION}); convert the contract first",
                )
            ]
        )


def _validate_model(data: dict, src: SourceFile):
    """The ODCS model of `data` (a copy: it is changed). A number or boolean where the model
    wants a string (`version: 1.0`, `id: 42`) is read as its text; any other mismatch is an
    error C002."""
    cls = _odcs().OpenDataContractStandard
    for _round in range(4):
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems, fixed = [], False
            for err in exc.errors(include_url=False):
                loc = _raw_loc(data, err["loc"])
                value = err["input"]
                if err["type"] == "string_type" and isinstance(value, (int, float, bool)):
                    text = str(value).lower() if isinstance(value, bool) else str(value)
                    fixed = _set(data, loc, text) or fixed
                    continue
                problems.append(src.problem(loc, "C002", f"{err['msg']} (got {short(value)})"))
            if problems or not fixed:
                raise ContractError(_unique(problems) or [src.problem((), "C002", str(exc)[:200])])
    raise ContractError([src.problem((), "C002", "the contract does not fit the ODCS model")])


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            out.append(p)
    return out


def _has(node: Any, part: Any) -> bool:
    """`part` is a key of the mapping `node`, or an index of the list `node`."""
    return (isinstance(node, dict) and part in node) or (
        isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
    )


def _raw_loc(data: Any, loc: Iterable) -> Loc:
    """A pydantic error location as a path into the data (union member names dropped)."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if _has(node, part):
            out.append(part)
            node = node[part]
    return tuple(out)


def _set(data: Any, loc: Loc, value: Any) -> bool:
    if not loc:
        return False
    node = data
    for part in loc[:-1]:
        node = node[part]
    node[loc[-1]] = value
    return True


def _get(data: Any, loc: Loc) -> Any:
    node = data
    for part in loc:
        if _has(node, part):
            node = node[part]
        else:
            return None
    return node
