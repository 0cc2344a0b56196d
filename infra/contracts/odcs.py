"""A data product <-> an ODCS v3 data contract, on the maintained ODCS models.

Export (`export_contract`) renders one product of a blueprint as an ODCS v3.2.0 contract: the
product's table as the one schema object, each column with its logical type and its Glue
physical type, partition keys with `partitioned`/`partitionKeyPosition`, the classification on
every property, PII as the custom property `pii: true`, freshness and retention as SLA
properties, the bucket and the Glue database as servers `s3` and `glue`, the owner as `team`,
the producer and every consumer as `roles`, quality rules where they are attached. Whatever the
blueprint holds that ODCS has no field for travels in custom properties of vendor `mesh`
(`blueprint` on the contract and on a column, `grant` on a consumer's role): they are dumps of
the pydantic models, so a field added to the blueprint later travels without a change here.

Import (`ContractImport`) reads a contract liberally (any v3 apiVersion, SQL type spellings,
PII written the ways tools write it, durations in any unit) and builds the product. What it
could not keep is computed, not listed by hand: the product is exported again and compared
with the contract (`dropped`); every field of the contract that the export does not give back
is a warning (CW01 dropped, CW02 stored in another form), so nothing is lost silently and the
round trip export -> import -> export is exact for everything the warnings do not name.

Why one module (~1,500 lines): export and import are the two halves of one round trip over
the same ODCS models; each field's mapping is written once and read in both directions, and
the round-trip tests check them against each other.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import math
import re
import reprlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from infra.blueprints.yaml_safe import _FileError, _parse_text, _read_text
from infra.contracts import types as T
from infra.errors import Problem, codes_of
from infra.model.source import SourceFile, format_path
from infra.model.spec import (
    COLUMN_PATTERN,
    NAME_PATTERN,
    Blueprint,
    Classification,
    Column,
    DataFormat,
    Product,
    QualityRule,
)
from infra.provision.documents import (
    TABLE_PREFIX,  # the Glue table's location in the product bucket
)
from infra.provision.names import Names, physical_product_name

API_VERSION = "v3.2.0"  # what export writes: the version of the ODCS package's models and schema
CONTRACT_VERSION = "1.0.0"  # the blueprint does not version contracts
VENDOR = "mesh"  # custom properties of this vendor carry blueprint fields ODCS has no place for

MAX_WARNINGS = 500  # printed per import; the rest are counted

# Stable codes of `mesh contract` (their severities are in `infra.errors.REGISTRY`)
CODES: dict[str, str] = codes_of("contract")

_CLASSIFICATIONS = {c.value: c for c in Classification}
# classification words that mark PII, not a level (datacontract-cli masks these too)
_PII_CLASSIFICATIONS = frozenset({"pii", "personal", "personal_data", "personal-data", "spi"})
_PII_TAGS = frozenset({"pii", "pii:true", "pii=true", "personal", "personal_data"})
_TRUE = frozenset({"true", "yes", "1"})
# Product fields that have an ODCS place; every other field travels in the `blueprint` property
_MAPPED_PRODUCT = frozenset(
    {
        "name",
        "description",
        "classification",
        "format",
        "retention_days",
        "freshness_slo_hours",
        "schema",
        "partition_keys",
        "quality",
        "consumers",
    }
)
_MAPPED_COLUMN = frozenset({"name", "type", "pii", "description"})
_MAPPED_OWNER = frozenset({"team", "email"})
_SLA_SYNONYMS = {
    "latency": "latency",
    "ly": "latency",
    "freshness": "latency",
    "frequency": "frequency",
    "fy": "frequency",
    "retention": "retention",
    "re": "retention",
}
_UNIT_HOURS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1 / 3600),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), 1 / 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 1),
    **dict.fromkeys(("d", "day", "days"), 24),
    **dict.fromkeys(("w", "wk", "week", "weeks"), 24 * 7),
    **dict.fromkeys(("mo", "mon", "month", "months"), 24 * 30),
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), 24 * 365),
}
_ISO_DURATION = re.compile(
    r"^P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<min>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)
_NAME = re.compile(NAME_PATTERN)
_COLUMN = re.compile(COLUMN_PATTERN)
# JSON Schema defaults: a field with this value says nothing, so dropping it loses nothing
_DEFAULTS = {
    "required": False,
    "unique": False,
    "primaryKey": False,
    "primaryKeyPosition": -1,
    "partitioned": False,
    "partitionKeyPosition": -1,
    "criticalDataElement": False,
    "deprecated": False,
    "semanticType": "column",
    "kind": "DataContract",
}

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 48
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 2, 4, 4

Loc = tuple[str | int, ...]


def short(value: Any) -> str:
    """At most 60 characters of a value, in time bounded by that length."""
    text = repr(value[:64]) if isinstance(value, str) else _REPR.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# =============================================================== the ODCS package, loaded lazily


@functools.cache
def _odcs():
    from open_data_contract_standard import model

    return model


@functools.cache
def json_schema() -> dict:
    """The ODCS JSON Schema shipped with the `open-data-contract-standard` package (read as
    its `OpenDataContractStandard.json_schema()` does, without the deprecated resource API)."""
    import importlib.resources

    package = _odcs().__package__
    return json.loads(importlib.resources.files(package).joinpath("schema.json").read_text())


@functools.cache
def _validator(ref: str | None = None):
    import jsonschema

    schema = json_schema()
    if ref is not None:
        schema = {"$ref": f"#/$defs/{ref}", "$defs": schema["$defs"]}
    return jsonschema.validators.validator_for(json_schema())(schema)


def schema_errors(document: Any, ref: str | None = None) -> list[tuple[Loc, str]]:
    """(location, message) of every way `document` breaks the ODCS JSON Schema (or one of its
    definitions), most specific first."""
    out = []
    for err in _validator(ref).iter_errors(document):
        leaves = _leaf_errors(err)
        for leaf in leaves:
            out.append((tuple(leaf.absolute_path), leaf.message))
    return sorted(set(out), key=lambda e: (len(e[0]), e))


def _leaf_errors(err) -> list:
    if not err.context:
        return [err]
    best = min(
        (_leaf_errors(e) for e in err.context), key=lambda es: min(len(str(e.message)) for e in es)
    )
    return best


# =============================================================== export


class ExportError(ValueError):
    """A product that has no valid ODCS rendering; the message names the blueprint field."""


def _custom(prop: str, value: Any, vendor: str | None = VENDOR) -> dict:
    out = {"property": prop, "value": value}
    if vendor:
        out["vendor"] = vendor
    return out


def _extras(model: BaseModel, mapped: frozenset[str]) -> dict:
    """The fields of `model` that ODCS has no place for, as JSON (defaults left out)."""
    dump = model.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return {k: v for k, v in dump.items() if k not in mapped}


def table_location(bucket: str) -> str:
    return f"s3://{bucket}/{TABLE_PREFIX}"


def contract_status(product: Product, today: dt.date) -> str:
    if product.decommission is None:
        return "active"
    return "retired" if product.decommission.date <= today else "deprecated"


def _property(column: Column, level: str, position: int | None = None) -> dict:
    prop: dict[str, Any] = {"name": column.name, **T.odcs_type(column.type)}
    if column.description:
        prop["description"] = column.description
    if position is not None:
        prop["partitioned"] = True
        prop["partitionKeyPosition"] = position
    prop["classification"] = level
    custom = []
    if column.pii:
        custom.append(_custom("pii", True, vendor=None))  # datacontract-cli's convention
    extras = _extras(column, _MAPPED_COLUMN)
    if extras:
        custom.append(_custom("blueprint", extras))
    if custom:
        prop["customProperties"] = custom
    return prop


def _nested_property(prop: dict, name: str) -> dict | None:
    """Field `name` of a struct property (through array items)."""
    for child in prop.get("properties") or []:
        if child.get("name") == name:
            return child
    if isinstance(prop.get("items"), dict):
        return _nested_property(prop["items"], name)
    return None


def _attach_quality(product: Product, table: dict) -> None:
    for i, rule in enumerate(product.quality):
        entry = rule.model_dump(mode="json", exclude_none=True)
        column = entry.pop("column", None)
        target = table
        if column is not None:
            first, *rest = column.split(".")
            target = next((p for p in table["properties"] if p["name"] == first), None)
            for part in rest:
                target = _nested_property(target, part) if target is not None else None
            if target is None:
                raise ExportError(
                    f"quality[{i}].column {column!r} names no column or struct field of "
                    f"{product.name!r}"
                )
        target.setdefault("quality", []).append(entry)


def export_contract(
    bp: Blueprint, product: Product, names: Names, default_account: str, today: dt.date
) -> dict:
    """The ODCS v3 contract of `product` as plain JSON data, checked by the ODCS model (what
    the model would not keep is a bug: ExportError)."""
    domain = bp.domain
    physical = physical_product_name(product)
    bucket = names.bucket(domain, physical, bp.account or default_account)
    level = product.classification.value
    fmt = product.format.value
    properties = [_property(c, level) for c in product.columns]
    properties += [_property(k, level, i) for i, k in enumerate(product.partition_keys, 1)]
    table: dict[str, Any] = {
        "name": product.name,
        "physicalName": names.table(physical),
        "physicalType": "table",
        "logicalType": "object",
        "description": product.description,
        "properties": properties,
    }
    _attach_quality(product, table)
    s3 = {
        "server": "s3",
        "type": "s3",
        "location": f"{table_location(bucket)}**/*.{fmt}",
        "format": fmt,
    }
    if product.format is DataFormat.json:
        s3["delimiter"] = "new_line"
    glue = {
        "server": "glue",
        "type": "glue",
        "account": str(getattr(bp, "account", None) or default_account),
        "database": names.database(domain),
        "location": table_location(bucket),
        "format": fmt,
    }
    team: dict[str, Any] = {
        "name": bp.owner.team,
        "members": [{"username": bp.owner.email, "role": "owner"}],
    }
    owner_extras = _extras(bp.owner, _MAPPED_OWNER)
    if owner_extras:
        team["customProperties"] = [_custom(_camel(k), v) for k, v in owner_extras.items()]
    roles = [
        {
            "role": names.role(domain, "producer"),
            "access": "write",
            "description": "the owning domain's producer: writes and reads the product",
            "customProperties": [_custom("principal", f"{domain}:producer")],
        }
    ]
    for consumer in product.consumers:
        role: dict[str, Any] = {
            "role": names.role(consumer.domain, "consumer"),
            "access": "read",
            "description": consumer.justification,
        }
        if consumer.approved_by:
            role["firstLevelApprovers"] = consumer.approved_by
        role["customProperties"] = [
            _custom("principal", f"{consumer.domain}:consumer"),
            _custom("grant", consumer.model_dump(mode="json", exclude_defaults=True)),
        ]
        roles.append(role)
    sla: list[dict] = []
    if product.freshness_slo_hours is not None:
        sla.append({"property": "latency", "value": product.freshness_slo_hours, "unit": "h"})
        sla.append({"property": "frequency", "value": product.freshness_slo_hours, "unit": "h"})
    sla.append({"property": "retention", "value": product.retention_days, "unit": "d"})
    contract: dict[str, Any] = {
        "version": CONTRACT_VERSION,
        "kind": "DataContract",
        "apiVersion": API_VERSION,
        "id": f"{domain}.{product.name}",
        "name": product.name,
        "status": contract_status(product, today),
        "servers": [s3, glue],
        "dataProduct": product.name,
        "description": {"purpose": product.description},
        "domain": domain,
        "schema": [table],
        "team": team,
        "roles": roles,
        "slaProperties": sla,
        "customProperties": [_custom("blueprint", _extras(product, _MAPPED_PRODUCT))],
    }
    model = _odcs().OpenDataContractStandard.model_validate(contract)
    dumped = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    if dumped != contract:  # pragma: no cover - a key the ODCS model does not know
        raise ExportError(f"the ODCS model does not keep the contract of {domain}.{product.name}")
    return dumped


def contract_yaml(contract: dict, source: str) -> str:
    """The contract as YAML (the ODCS model's own writer), with a header naming its source."""
    model = _odcs().OpenDataContractStandard.model_validate(contract)
    header = (
        f"# ODCS {API_VERSION} data contract of {contract['id']}, exported by `mesh contract "
        f"export` from {source}.\n# Edit the blueprint, or edit this file and `mesh contract "
        "import` it; custom properties of vendor mesh carry blueprint fields ODCS has no "
        "place for.\n"
    )
    return header + model.to_yaml()


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


# =============================================================== reading a contract


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
    for loc, message in schema_errors(raw):
        if "'map' is a required property" in message:
            continue  # an `if` of the 3.2.0 schema that matches properties without logicalType
        if len(warnings) == 100:
            warnings.append(
                src.problem((), "CW03", "... and more schema findings (first 100 shown)")
            )
            break
        warnings.append(src.problem(loc, "CW03", f"not valid ODCS {API_VERSION}: {message[:200]}"))
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


# =============================================================== import


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in _TRUE


def _mesh_custom(props: list | None, name: str) -> tuple[int, Any] | None:
    for i, cp in enumerate(props or []):
        if isinstance(cp, dict) and cp.get("vendor") == VENDOR and cp.get("property") == name:
            return i, cp.get("value")
    return None


def _hours(value: Any, unit: Any) -> float | None:
    """A duration in hours (value + unit, or an ISO 8601 duration), None when unreadable."""
    if isinstance(value, str) and value.strip().upper().startswith("P") and unit is None:
        m = _ISO_DURATION.match(value.strip().upper())
        if m is None or not any(m.groupdict().values()):
            return None
        parts = {k: int(v) for k, v in m.groupdict().items() if v}
        return sum(_UNIT_HOURS[k] * n for k, n in parts.items())
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return None
    factor = _UNIT_HOURS.get(str(unit).strip().lower()) if unit is not None else None
    return None if factor is None else value * factor


@dataclass
class ImportResult:
    product: Product | None
    name: str | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    consumed: set[Loc] = field(default_factory=set)
    schema_index: int = 0
    origins: dict[Loc, Loc] = field(default_factory=dict)  # product loc -> contract loc


class ContractImport:
    """Builds a product from a contract; `run(existing)` collects every problem at once."""

    def __init__(
        self,
        contract: ContractFile,
        domain: str,
        names: Names,
        name: str | None = None,
        schema: str | None = None,
        context: dict | None = None,
    ) -> None:
        self.c = contract
        self.context = context  # `spec.APPROVER_NAMES` into a tree with a platform file
        self.domain = domain
        self.names = names
        self.name_option = name
        self.schema_option = schema
        self.typed: dict = contract.model.model_dump(by_alias=True, exclude_none=True)
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.consumed: set[Loc] = {("apiVersion",), ("kind",)}
        self.origins: dict[Loc, Loc] = {}  # blueprint loc (in the product) -> contract loc
        self.index = 0
        self.mesh = _mesh_custom(self.typed.get("customProperties"), "blueprint") is not None

    # ------------------------------------------------------------ helpers

    def error(self, loc: Loc, code: str, message: str) -> None:
        self.errors.append(self.c.src.problem(loc, code, message))

    def warn(self, loc: Loc, code: str, message: str) -> None:
        self.warnings.append(self.c.src.problem(loc, code, message))

    # ------------------------------------------------------------ selection

    def select(self) -> str | None:
        """Choose the schema object and the product name; None (with errors) when it cannot."""
        objects = self.typed.get("schema") or []
        if not objects:
            self.error(
                ("schema",),
                "C003",
                "the contract has no schema: a data product is one "
                "table, give it as schema[0] with its properties",
            )
            return None
        if self.schema_option is not None:
            found = [
                i
                for i, o in enumerate(objects)
                if self.schema_option in (o.get("name"), o.get("physicalName"))
            ]
            if not found:
                self.error(
                    ("schema",),
                    "C003",
                    f"no schema object named "
                    f"{short(self.schema_option)}; the contract has: {self._objects(objects)}",
                )
                return None
            self.index = found[0]
        elif len(objects) > 1:
            self.error(
                ("schema",),
                "C003",
                f"the contract has {len(objects)} schema objects "
                f"({self._objects(objects)}); a product is one table: choose one with "
                "--schema NAME",
            )
            return None
        obj = objects[self.index]
        at: Loc = ("schema", self.index)
        candidates = [
            (self.name_option, None),
            (obj.get("name"), at + ("name",)),
            (self.typed.get("dataProduct"), ("dataProduct",)),
            (self.typed.get("name"), ("name",)),
        ]
        raw_name, loc = next(((n, l) for n, l in candidates if n), (None, at + ("name",)))
        if raw_name is None:
            self.error(
                at + ("name",),
                "C006",
                "the schema object has no name: name it, or name the product with --name",
            )
            return None
        name = re.sub(r"[\s-]+", "_", raw_name.strip().lower())
        if not _NAME.match(name):
            self.error(
                loc or (),
                "C006",
                f"{short(raw_name)} cannot be a product name: expected "
                "2-31 lower-case letters, digits or _ starting with a letter (or pass "
                "--name)",
            )
            return None
        return name

    @staticmethod
    def _objects(objects: list[dict]) -> str:
        names = [str(o.get("name") or o.get("physicalName") or "?") for o in objects[:20]]
        return ", ".join(names) + (", ..." if len(objects) > 20 else "")

    # ------------------------------------------------------------ the product

    def run(self, name: str, existing: Product | None) -> ImportResult:
        at: Loc = ("schema", self.index)
        obj = self.typed["schema"][self.index]
        raw_obj = self.c.raw["schema"][self.index]
        props = obj.get("properties") or []
        if not props:
            self.error(
                at + ("properties",),
                "C003",
                "the schema object has no properties: a Glue table needs at least one column",
            )
            return self._result(None, name)
        if isinstance(self.c.raw.get("description"), str):
            self.consumed.add(("description",))  # read as description.purpose
        kept: list[str] = []
        columns, keys, levels = [], [], []
        rules: list[tuple[str | None, Loc, dict]] = []  # in blueprint order: table, columns, keys
        column_rules: list[list] = []
        for i, prop in enumerate(props):
            loc = at + ("properties", i)
            raw_prop = raw_obj["properties"][i]
            built = self._column(prop, raw_prop, loc, existing, levels)
            if built is None:
                continue
            column, its_rules = built
            if prop.get("partitioned"):
                position = prop.get("partitionKeyPosition")
                order = position if isinstance(position, int) and position > 0 else 10_000 + i
                keys.append((order, i, column, loc, its_rules))
            else:
                self.origins[("schema", len(columns))] = loc
                columns.append(column)
                column_rules.append(its_rules)
        keys.sort(key=lambda k: (k[0], k[1]))
        partition_keys = []
        for ki, (_order, _i, column, loc, its_rules) in enumerate(keys):
            column_rules.append(its_rules)
            if column.get("pii"):
                self.error(
                    loc,
                    "C006",
                    f"partition key {column['name']!r} is PII: every grant "
                    "reads partition keys (they are part of the object paths), so PII "
                    "cannot be a partition key; partition by another column",
                )
            if T.split_glue(column.get("type", "string"))[0] in ("array", "map", "struct"):
                self.error(
                    loc,
                    "C004",
                    f"partition key {column['name']!r} has the complex type "
                    f"{column['type']!r}: Glue partition keys are primitive types",
                )
            self.origins[("partition_keys", ki)] = loc
            partition_keys.append(column)
        rules = [(None, loc, q) for loc, q in self._rules(obj, raw_obj, at)]
        rules += [rule for its_rules in column_rules for rule in its_rules]
        product: dict[str, Any] = {"name": name}
        product["description"] = self._description(obj, existing, kept)
        product["classification"] = self._classification(levels, existing, kept)
        product["format"] = self._format(existing, kept)
        retention, freshness = self._sla(existing, kept)
        if retention is not None:
            product["retention_days"] = retention
        if freshness is not None:
            product["freshness_slo_hours"] = freshness
        product["schema"] = columns
        if partition_keys:
            product["partition_keys"] = partition_keys
        quality = []
        for column_path, loc, entry in rules:
            self.origins[("quality", len(quality))] = loc
            quality.append({"column": column_path, **entry} if column_path else entry)
        if quality:
            product["quality"] = _in_existing_order(quality, existing)
        elif existing is not None and existing.quality and not self.mesh:
            product["quality"] = [q.model_dump(exclude_none=True) for q in existing.quality]
            kept.append("quality")
        consumers = self._consumers()
        if consumers is not None:
            product["consumers"] = consumers
        elif existing is not None and existing.consumers:
            product["consumers"] = [c.model_dump(exclude_defaults=True) for c in existing.consumers]
            kept.append("consumers")
        product.update(self._product_extras(existing, kept))
        if kept and existing is not None:
            self.warn(
                (),
                "CW04",
                f"kept from the existing product {self.domain}.{name} (the "
                f"contract does not state them): {', '.join(kept)}",
            )
        if self.errors:
            return self._result(None, name)
        try:
            built = Product.model_validate(product, context=self.context)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = tuple(err["loc"])
                origin = self._origin(loc)
                what = format_path(loc)
                self.error(origin, "C006", f"{what}: {err['msg']} (got {short(err['input'])})")
            return self._result(None, name)
        return self._result(built, name)

    def failed(self) -> ImportResult:
        """The result when `select` found nothing to import (its errors say why)."""
        return self._result(None, "")

    def _result(self, product: Product | None, name: str) -> ImportResult:
        return ImportResult(
            product,
            name,
            self.errors,
            self.warnings,
            self.consumed,
            self.index,
            origins=self.origins,
        )

    def _origin(self, loc: Loc) -> Loc:
        for n in range(len(loc), 0, -1):
            if loc[:n] in self.origins:
                return self.origins[loc[:n]]
        return ("schema", self.index)

    # ------------------------------------------------------------ columns

    def _column(
        self,
        prop: dict,
        raw: dict,
        loc: Loc,
        existing: Product | None,
        levels: list[tuple[str, Loc]],
    ) -> tuple[dict, list] | None:
        """The blueprint column of a property and its quality rules (column path, location,
        rule), with every nested PII flag and classification found on the way."""
        name = T.nested_name(prop)
        if name is None:
            self.error(loc + ("name",), "C006", "the property has no name")
            return None
        if not _COLUMN.match(name):
            where = "physicalName" if prop.get("physicalName") else "name"
            self.error(
                loc + (where,),
                "C006",
                f"{short(prop.get(where))} cannot be a Glue column "
                "name: expected lower-case letters, digits and _ (set physicalName to the "
                "column's name in Glue)",
            )
            return None
        try:
            mapped = T.glue_type(prop)
            glue = T.check_glue(mapped.type, ())
        except T.TypeMappingError as exc:
            self.error(loc + exc.loc, "C004", exc.message)
            return None
        self.consumed.update(loc + c for c in mapped.consumed)
        column: dict[str, Any] = {"name": name, "type": glue}
        if prop.get("physicalName"):
            self.consumed.add(loc + ("physicalName",))  # it names the column
        pii_at = [here for here, p, r in self._walk(prop, raw, loc) if self._pii(p, r, here)]
        if pii_at:
            column["pii"] = True
            nested = [p for p in pii_at if p != loc]
            if nested and loc not in pii_at:
                self.warn(
                    nested[0],
                    "CW02",
                    "a nested field is PII, and a Glue column is PII as a whole: column "
                    f"{name!r} is marked pii: true",
                )
        for here, p, _r in self._walk(prop, raw, loc):
            value = p.get("classification")
            if isinstance(value, str):
                levels.append((value, here + ("classification",)))
        description = prop.get("description")
        if isinstance(description, str) and description.strip():
            column["description"] = self._text(description, loc + ("description",))
        extras = _mesh_custom(prop.get("customProperties"), "blueprint")
        old = None
        if existing is not None:
            old = next(
                (c for c in [*existing.columns, *existing.partition_keys] if c.name == name), None
            )
        if extras is not None and isinstance(extras[1], dict):
            self.consumed.add(loc + ("customProperties", extras[0]))
            column.update({k: v for k, v in extras[1].items() if k not in _MAPPED_COLUMN})
        elif old is not None and not self.mesh:
            column.update(_extras(old, _MAPPED_COLUMN))
        rules = []
        for here, p, r in self._walk(prop, raw, loc):
            path = self._column_path(name, prop, here[len(loc) :])
            for rule_loc, entry in self._rules(p, r, here):
                if path is None:
                    self.consumed.add(rule_loc)
                    self.warn(
                        rule_loc,
                        "CW01",
                        "dropped: a quality rule of array items or of a "
                        "map's key or value has no column path in the blueprint (attach "
                        "it to the column, or to a struct field)",
                    )
                    continue
                rules.append((path, rule_loc, entry))
        return column, rules

    @staticmethod
    def _walk(prop: dict, raw: Any, loc: Loc) -> Iterator[tuple[Loc, dict, dict]]:
        """The property and every nested one (depth first), typed and raw side by side."""
        raw = raw if isinstance(raw, dict) else {}
        yield loc, prop, raw
        for i, child in enumerate(prop.get("properties") or []):
            yield from ContractImport._walk(
                child, _get(raw, ("properties", i)), loc + ("properties", i)
            )
        if isinstance(prop.get("items"), dict):
            yield from ContractImport._walk(prop["items"], raw.get("items"), loc + ("items",))
        definition = prop.get("map")
        if isinstance(definition, dict):
            for side in ("key", "value"):
                if isinstance(definition.get(side), dict):
                    yield from ContractImport._walk(
                        definition[side], _get(raw, ("map", side)), loc + ("map", side)
                    )

    @staticmethod
    def _column_path(name: str, prop: dict, rel: Loc) -> str | None:
        """`a.b` for struct field b of column a (also through the items of an array of
        structs); None for the items themselves and below a map's key or value."""
        parts, node, i = [name], prop, 0
        while i < len(rel):
            if rel[i] == "properties":
                node = node["properties"][rel[i + 1]]
                parts.append(T.nested_name(node) or "?")
                i += 2
            elif rel[i] == "items" and i + 1 < len(rel):
                node = node["items"]
                i += 1
            else:
                return None
        return ".".join(parts)

    def _pii(self, prop: dict, raw: dict, loc: Loc) -> bool:
        found = False
        for i, cp in enumerate(prop.get("customProperties") or []):
            key = str(cp.get("property") or "").strip().lower()
            if key in ("pii", "ispii", "personal_data", "personaldata"):
                found = found or _truthy(cp.get("value"))
                self.consumed.add(loc + ("customProperties", i))  # export writes pii: true
        for i, tag in enumerate(prop.get("tags") or []):
            if isinstance(tag, str) and tag.strip().lower() in _PII_TAGS:
                found = True
                self.consumed.add(loc + ("tags", i))
        level = prop.get("classification")
        if isinstance(level, str) and level.strip().lower() in _PII_CLASSIFICATIONS:
            found = True
            self.consumed.add(loc + ("classification",))
        if isinstance(raw, dict) and "pii" in raw:  # DCS habit, not an ODCS field
            self.consumed.add(loc + ("pii",))
            found = found or _truthy(raw["pii"])
        return found

    def _rules(self, owner: dict, raw_owner: dict, at: Loc) -> list[tuple[Loc, dict]]:
        """The quality entries (location, entry) of a schema object or property that the
        blueprint can hold; the keys QualityRule does not know are left out (the diff reports
        them), an entry that is not valid ODCS is dropped with a warning."""
        out = []
        known = set(QualityRule.model_fields) - {"column"}
        raw_rules = raw_owner.get("quality") if isinstance(raw_owner, dict) else None
        for i, entry in enumerate(raw_rules or []):
            loc = at + ("quality", i)
            if not isinstance(entry, dict):
                continue
            rule = {k: v for k, v in entry.items() if k in known}
            problems = schema_errors(rule, "DataQuality")
            if problems:
                where, message = problems[0]
                self.consumed.add(loc)
                self.warn(
                    loc,
                    "CW01",
                    f"dropped: not a valid ODCS {API_VERSION} quality rule "
                    f"({format_path(where) + ': ' if where else ''}{message[:160]})",
                )
                continue
            try:
                QualityRule.model_validate(rule)
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                self.consumed.add(loc)
                self.warn(loc, "CW01", f"dropped: {format_path(err['loc'])}: {err['msg']}")
                continue
            out.append((loc, rule))
        return out

    def _text(self, text: str, loc: Loc) -> str:
        text = text.strip()
        if len(text) > 2048:
            self.warn(
                loc,
                "CW02",
                f"shortened to 2,048 characters (the blueprint's and Glue's "
                f"limit for a description); it has {len(text):,}",
            )
            return text[:2048]
        return text

    # ------------------------------------------------------------ product fields

    def _description(self, obj: dict, existing: Product | None, kept: list[str]) -> str | None:
        description = self.typed.get("description") or {}
        for value, loc in (
            (description.get("purpose"), ("description", "purpose")),
            (obj.get("description"), ("schema", self.index, "description")),
            (description.get("usage"), ("description", "usage")),
        ):
            if isinstance(value, str) and value.strip():
                self.origins[("description",)] = loc
                return self._text(value, loc)
        if existing is not None:
            kept.append("description")
            return existing.description
        self.error(
            ("description",),
            "C005",
            "the contract has no description: add "
            "description.purpose (what the data product holds)",
        )
        return None

    def _classification(
        self, levels: list[tuple[str, Loc]], existing: Product | None, kept: list[str]
    ) -> str | None:
        candidates = list(levels)
        for owner in (self.typed, self.typed["schema"][self.index]):
            base: Loc = () if owner is self.typed else ("schema", self.index)
            for i, cp in enumerate(owner.get("customProperties") or []):
                key = str(cp.get("property") or "").strip().lower()
                if key in ("classification", "dataclassification") and isinstance(
                    cp.get("value"), str
                ):
                    candidates.append((cp["value"], base + ("customProperties", i)))
                    self.consumed.add(base + ("customProperties", i))
        known: list[tuple[Classification, Loc]] = []
        for value, loc in candidates:
            word = value.strip().lower()
            if word in _CLASSIFICATIONS:
                known.append((_CLASSIFICATIONS[word], loc))
            elif word not in _PII_CLASSIFICATIONS:
                self.consumed.add(loc)
                self.warn(
                    loc,
                    "CW01",
                    f"dropped: classification {short(value)} is none of "
                    "public, internal, confidential, restricted (the blueprint's levels)",
                )
        if not known:
            if existing is not None:
                kept.append("classification")
                return existing.classification.value
            self.error(
                ("schema", self.index, "properties"),
                "C005",
                "the contract has no "
                "classification: add classification: public | internal | confidential | "
                "restricted to the properties (the product takes its most sensitive "
                "property's)",
            )
            return None
        level, loc = max(known, key=lambda k: k[0].rank)
        self.origins[("classification",)] = loc
        return level.value

    def _format(self, existing: Product | None, kept: list[str]) -> str:
        for i, server in enumerate(self.typed.get("servers") or []):
            fmt = server.get("format")
            if isinstance(fmt, str) and fmt.strip().lower() in ("parquet", "json", "csv"):
                self.origins[("format",)] = ("servers", i, "format")
                return fmt.strip().lower()
        if existing is not None:
            if existing.format is not DataFormat.parquet:
                kept.append("format")
            return existing.format.value
        return DataFormat.parquet.value

    def _sla(self, existing: Product | None, kept: list[str]) -> tuple[int | None, int | None]:
        found: dict[str, tuple[float, Loc]] = {}
        unreadable: set[str] = set()
        for i, sla in enumerate(self.typed.get("slaProperties") or []):
            loc = ("slaProperties", i)
            kind = _SLA_SYNONYMS.get(str(sla.get("property") or "").strip().lower())
            if kind is None:
                continue  # availability, timeOfAvailability, ...: dropped, the diff says so
            if sla.get("property") != kind:
                self.consumed.add(loc + ("property",))  # a synonym (ly, freshness, ...)
            hours = _hours(sla.get("value"), sla.get("unit"))
            if hours is None:
                self.error(
                    loc + ("value",),
                    "C006",
                    f"{kind} {short(sla.get('value'))} "
                    f"{short(sla.get('unit'))} is not a duration: expected a positive "
                    "number and a unit (h, d, w, y, ...) or an ISO 8601 duration (PT4H)",
                )
                unreadable.add(kind)
                continue
            if kind in found:
                continue  # a second latency: the diff reports it
            found[kind] = (hours, loc)
        retention = freshness = None
        if "retention" in found:
            hours, loc = found["retention"]
            retention = math.ceil(hours / 24 - 1e-9)
            self._converted(loc, hours / 24, retention, "retention", "days")
        elif existing is not None:
            retention = existing.retention_days
            kept.append("retention_days")
        elif "retention" not in unreadable:  # else C006 says what is wrong with it
            self.error(
                ("slaProperties",),
                "C005",
                "the contract has no retention: add "
                "slaProperties: [{property: retention, value: N, unit: d}] (objects of "
                "the product expire after N days)",
            )
        for kind in ("latency", "frequency"):
            if kind in found:
                hours, loc = found[kind]
                freshness = math.ceil(hours - 1e-9)
                self._converted(loc, hours, freshness, kind, "hours")
                other = "frequency" if kind == "latency" else None
                if other in found and math.ceil(found[other][0] - 1e-9) == freshness:
                    self.consumed.add(found[other][1] + ("value",))
                    self.consumed.add(found[other][1] + ("unit",))
                break
        else:
            if existing is not None and existing.freshness_slo_hours is not None and not self.mesh:
                freshness = existing.freshness_slo_hours
                kept.append("freshness_slo_hours")
        return retention, freshness

    def _converted(self, loc: Loc, exact: float, whole: int, kind: str, unit: str) -> None:
        self.origins[("retention_days",) if kind == "retention" else ("freshness_slo_hours",)] = (
            loc + ("value",)
        )
        self.consumed.update({loc + ("value",), loc + ("unit",)})
        if abs(exact - whole) > 1e-9:
            self.warn(
                loc + ("value",),
                "CW02",
                f"{kind} of {exact:g} {unit} rounded up to "
                f"{whole} (the blueprint counts {kind} in whole {unit})",
            )

    def _consumers(self) -> list[dict] | None:
        grants: list[dict] = []
        seen_any = False
        producer = self.names.role(self.domain, "producer")
        for i, role in enumerate(self.typed.get("roles") or []):
            loc = ("roles", i)
            custom = role.get("customProperties")
            principal = _mesh_custom(custom, "principal")
            if role.get("role") == producer or (
                principal is not None and str(principal[1]).endswith(":producer")
            ):
                self.consumed.add(loc)  # derived: the owning domain's producer
                seen_any = True
                continue
            grant = _mesh_custom(custom, "grant")
            if grant is None:
                continue  # a role of another tool: the diff reports it dropped
            seen_any = True
            self.consumed.add(loc + ("customProperties", grant[0]))
            if not isinstance(grant[1], dict):
                self.error(
                    loc + ("customProperties", grant[0], "value"),
                    "C002",
                    "a mesh grant is a mapping (a blueprint consumer)",
                )
                continue
            self.origins[("consumers", len(grants))] = loc + ("customProperties", grant[0], "value")
            grants.append(grant[1])
        return grants if (seen_any or self.mesh) else None

    def _product_extras(self, existing: Product | None, kept: list[str]) -> dict:
        found = _mesh_custom(self.typed.get("customProperties"), "blueprint")
        if found is not None:
            i, value = found
            loc = ("customProperties", i, "value")
            self.consumed.add(("customProperties", i))
            if not isinstance(value, dict):
                self.error(
                    loc, "C002", "the mesh blueprint property is a mapping of product fields"
                )
                return {}
            out = {}
            for key, item in value.items():
                if key in Product.model_fields or key in _aliases(Product):
                    if key in _MAPPED_PRODUCT:
                        continue
                    out[key] = item
                    self.origins[(key,)] = loc + (key,)
                else:
                    self.warn(
                        loc + (key,),
                        "CW01",
                        f"dropped: {short(key)} is not a field of a blueprint product",
                    )
            return out
        if existing is None:
            return {}
        extras = _extras(existing, _MAPPED_PRODUCT)
        kept.extend(extras)
        return extras


def _in_existing_order(quality: list[dict], existing: Product | None) -> list[dict]:
    """The rules in the existing product's order when they are the same rules: a contract groups
    rules by the property they check, so their order in the blueprint is not in it."""
    if existing is None or len(existing.quality) != len(quality):
        return quality
    try:
        new = [QualityRule.model_validate(q) for q in quality]
    except ValidationError:
        return quality  # reported when the product is validated

    def key(rule: QualityRule) -> str:
        return json.dumps(rule.model_dump(mode="json", exclude_none=True), sort_keys=True)

    by_key: dict[str, list[dict]] = {}
    for rule, entry in zip(new, quality, strict=True):
        by_key.setdefault(key(rule), []).append(entry)
    if sorted(by_key) != sorted({key(r) for r in existing.quality}) or sorted(
        map(key, new)
    ) != sorted(map(key, existing.quality)):
        return quality
    return [by_key[key(rule)].pop() for rule in existing.quality]


def _aliases(model: type[BaseModel]) -> set[str]:
    return {info.alias for info in model.model_fields.values() if info.alias}


# =============================================================== what the blueprint could not keep

_WHY_TOP = {
    "id": "the contract id is derived: <domain>.<product>",
    "version": f"the blueprint does not version contracts: export writes {CONTRACT_VERSION}",
    "status": "export derives it from the product's decommission (active, deprecated, retired)",
    "name": "the contract is named after the product",
    "dataProduct": "the contract is named after the product",
    "domain": "the product belongs to the domain it is imported into",
    "servers": "storage is generated from the blueprint: the product's S3 bucket and Glue table "
    "(servers s3 and glue)",
    "team": "a product's owner is its domain's owner (owner in the blueprint)",
    "roles": "access is granted by the blueprint's consumers (roles carrying a mesh grant)",
    "description": "the blueprint has one description (description.purpose)",
    "slaProperties": "the blueprint keeps latency or frequency (freshness_slo_hours) and "
    "retention (retention_days) only",
    "schema": "a product is one table: the other schema objects are not imported (import each "
    "with --schema NAME)",
    "customProperties": "the blueprint has no field for it",
}
_WHY_PROPERTY = {
    "name": "the Glue column is named by physicalName, or name, in lower case",
    "physicalType": "the Glue type of the column",
    "logicalType": "export derives it from the Glue type",
    "classification": "a product has one classification (its most sensitive property's), "
    "written on every property",
    "description": "Glue struct fields and array items have no comment",
    "partitionKeyPosition": "partition keys keep their order, numbered from 1",
}
_WHY_COLUMN_DEFAULT = "a Glue column has a name, a type, a comment and a PII flag only"


@dataclass
class _Differ:
    consumed: set[Loc]
    index: int  # the imported schema object
    found: list[tuple[str, Loc, Any, Any]] = field(default_factory=list)  # code, loc, in, out

    def __post_init__(self) -> None:
        self.prefixes = {c[:n] for c in self.consumed for n in range(len(c) + 1)}

    def report(self, code: str, loc: Loc, before: Any, after: Any) -> None:
        self.found.append((code, loc, before, after))

    def node(self, a: Any, b: Any, loc: Loc) -> None:
        if loc in self.consumed:
            return
        if isinstance(a, dict):
            if not isinstance(b, dict):
                if b is None and loc not in self.prefixes:
                    if not _says_nothing(a):
                        self.report("CW01", loc, a, None)
                    return
                b = {} if b is None else b
                if not isinstance(b, dict):
                    self.report("CW02", loc, a, b)
                    return
            for key, value in a.items():
                here = loc + (key,)
                if key not in b and (_DEFAULTS.get(key, _MISSING) == value or _empty(value)):
                    continue
                self.node(value, b.get(key), here)
        elif isinstance(a, list) and any(isinstance(x, dict) for x in a):
            self.sequence(a, b if isinstance(b, list) else [], loc)
        elif b is None:
            if not _empty(a) and loc not in self.prefixes:
                self.report("CW01", loc, a, None)
        elif not _same(loc, a, b):
            self.report("CW02", loc, a, b)

    def sequence(self, a: list, b: list, loc: Loc) -> None:
        key = loc[-1] if loc else None
        if loc == ("schema",):
            for i, item in enumerate(a):
                self.node(item, b[0] if i == self.index and b else None, loc + (i,))
            return
        if key == "tags":
            for i, item in enumerate(a):
                if item not in b:
                    self.node(item, None, loc + (i,))
            return
        ident = _IDENTITY.get(key)
        if ident is None:  # positional, over the entries the import did not consume
            rest = [x for x in b]
            j = 0
            for i, item in enumerate(a):
                if loc + (i,) in self.consumed:
                    continue
                self.node(item, rest[j] if j < len(rest) else None, loc + (i,))
                j += 1
            return
        used: set[int] = set()
        by_ident: dict[Any, list[int]] = {}  # identity -> unused positions in b, in order
        for j, other in enumerate(b):
            if isinstance(other, dict):
                by_ident.setdefault(_hashable(ident(other)), []).append(j)
        for i, item in enumerate(a):
            want = _hashable(ident(item)) if isinstance(item, dict) else None
            candidates = by_ident.get(want, []) if want is not None else []
            match = candidates.pop(0) if candidates else None
            if match is None and key == "servers" and isinstance(item, dict):
                match = next(
                    (
                        j
                        for j, o in enumerate(b)
                        if j not in used and o.get("type") == item.get("type")
                    ),
                    None,
                )
            if match is not None:
                used.add(match)
                for positions in by_ident.values():
                    if match in positions:
                        positions.remove(match)
            self.node(item, b[match] if match is not None else None, loc + (i,))


_MISSING = object()


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {} or value == ""


def _says_nothing(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_DEFAULTS.get(k, _MISSING) == v or _says_nothing(v) for k, v in value.items())
    return _empty(value)


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


_IDENTITY = {
    "properties": lambda p: T.nested_name(p),
    "servers": lambda s: s.get("server"),
    "slaProperties": lambda s: _SLA_SYNONYMS.get(
        _lower(s.get("property")), _lower(s.get("property"))
    ),
    "customProperties": lambda c: (c.get("vendor"), _lower(c.get("property"))),
    "roles": lambda r: r.get("role"),
    "members": lambda m: m.get("username"),
}


def _same(loc: Loc, a: Any, b: Any) -> bool:
    if a == b:
        return True
    if loc and loc[-1] == "physicalType" and isinstance(a, str) and isinstance(b, str):
        try:
            return T.check_glue(a, ()) == b
        except T.TypeMappingError:
            return False
    if loc and loc[-1] in ("logicalType", "type", "format") and isinstance(a, str):
        return _lower(a) == _lower(b)
    return False


def _why(loc: Loc, code: str) -> str:
    top = loc[0] if loc else ""
    leaf = next((p for p in reversed(loc) if isinstance(p, str)), "")
    if top == "schema" and len(loc) > 3 and "properties" in loc:
        if code == "CW01" and leaf in ("description",) and loc.count("properties") == 1:
            return _WHY_COLUMN_DEFAULT
        return _WHY_PROPERTY.get(leaf, _WHY_COLUMN_DEFAULT)
    if top == "schema" and len(loc) > 2:
        if leaf == "description":
            return "the product has one description: description.purpose is kept"
        if leaf in ("name", "physicalName"):
            return "the table is named after the product (physicalName: the Glue table)"
        return "a schema object carries a name, a description, properties and quality rules"
    return _WHY_TOP.get(str(top), "the blueprint has no field for it")


def dropped(contract: ContractFile, exported: dict, result: ImportResult) -> list[Problem]:
    """Every field of the contract that the export of the imported product does not give back,
    as warnings: CW01 when it is gone, CW02 when it is there in another form."""
    differ = _Differ(result.consumed, result.schema_index)
    differ.node(contract.raw, exported, ())
    out = []
    for code, loc, before, after in differ.found:
        reason = _why(loc, code)
        if code == "CW01":
            message = f"dropped ({reason}): {short(before)}"
        else:
            message = f"{short(before)} becomes {short(after)} ({reason})"
        out.append(contract.src.problem(loc, code, message))
    return out
