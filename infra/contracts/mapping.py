"""The shared mapping table of `infra.contracts`: the ODCS package and its JSON Schema, the
vocabulary both directions read (vendor, classifications, PII words, SLA synonyms, duration
units, JSON Schema defaults) and the small helpers export and import share.
"""

from __future__ import annotations

import functools
import json
import math
import re
import reprlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from infra.errors import codes_of
from infra.model.spec import COLUMN_PATTERN, NAME_PATTERN, Classification
from infra.provision.tables import (
    TABLE_PREFIX,  # the Glue table's location in the product bucket
)

API_VERSION = "v3.2.0"  # what export writes by default: the ODCS package's models and schema
# what `--odcs-version` may ask for, newest first (v3.1.0: many readers still validate on it)
ODCS_VERSIONS = ("v3.2.0", "v3.1.0")
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
    **dict.fromkeys(("ms", "msec", "millisecond", "milliseconds"), 1 / 3_600_000),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1 / 3600),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), 1 / 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 1),
    **dict.fromkeys(("d", "day", "days"), 24),
    **dict.fromkeys(("w", "wk", "week", "weeks"), 24 * 7),
    **dict.fromkeys(("mo", "mon", "month", "months"), 24 * 30),
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), 24 * 365),
}
_NUMBER_UNIT = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]+)$")
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
def json_schema(version: str = API_VERSION) -> dict:
    """The ODCS JSON Schema of `version` (one of ODCS_VERSIONS): v3.2.0 as shipped with the
    `open-data-contract-standard` package (read as its `OpenDataContractStandard.json_schema()`
    does, without the deprecated resource API), v3.1.0 vendored (schemas/NOTICE.md)."""
    import importlib.resources

    if version == API_VERSION:
        package = _odcs().__package__
        text = importlib.resources.files(package).joinpath("schema.json").read_text()
    else:
        text = (Path(__file__).parent / "schemas" / f"odcs-{version}.schema.json").read_text()
    return json.loads(text)


def schema_version(raw: dict) -> str:
    """The version whose JSON Schema a contract is checked against: its own apiVersion when
    we have that schema, else the newest."""
    api = str(raw.get("apiVersion") or "").strip()
    return api if api in ODCS_VERSIONS else API_VERSION


@functools.cache
def _validator(ref: str | None = None, version: str = API_VERSION):
    import jsonschema

    schema = json_schema(version)
    if ref is not None:
        schema = {"$ref": f"#/$defs/{ref}", "$defs": schema["$defs"]}
    return jsonschema.validators.validator_for(json_schema(version))(schema)


def schema_errors(
    document: Any, ref: str | None = None, version: str = API_VERSION
) -> list[tuple[Loc, str]]:
    """(location, message) of every way `document` breaks the ODCS JSON Schema of `version`
    (or one of its definitions), most specific first."""
    out = []
    for err in _validator(ref, version).iter_errors(document):
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


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in _TRUE


def vendorless(name: str) -> str:
    """Our custom property `name` where a version has no `vendor` (v3.1.0): `meshName`."""
    return VENDOR + name[:1].upper() + name[1:]


def _mesh_custom(props: list | None, name: str) -> tuple[int, Any] | None:
    """(position, value) of our custom property `name`: vendor mesh, or unvendored as
    `vendorless(name)` (an export for ODCS v3.1.0)."""
    for i, cp in enumerate(props or []):
        if not isinstance(cp, dict):
            continue
        if (cp.get("vendor") == VENDOR and cp.get("property") == name) or (
            cp.get("vendor") is None and cp.get("property") == vendorless(name)
        ):
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
        joined = _NUMBER_UNIT.match(value.strip().lower())
        if joined is not None and unit is None:  # "500ms", "4 h": the unit in the value
            value, unit = joined.group(1), joined.group(2)
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return None
    factor = _UNIT_HOURS.get(str(unit).strip().lower()) if unit is not None else None
    return None if factor is None else value * factor
