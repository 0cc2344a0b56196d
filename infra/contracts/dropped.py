"""What the blueprint could not keep: the contract compared with the export of the imported
product, field by field (CW01 dropped, CW02 stored in another form).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.contracts import types as T
from infra.contracts.importing import ImportResult
from infra.contracts.mapping import _DEFAULTS, _SLA_SYNONYMS, CONTRACT_VERSION, Loc, short
from infra.contracts.reading import ContractFile
from infra.errors import Problem

_WHY_TOP = {
    "id": "the contract id is derived: <domain>.<product>",
    "version": f"the blueprint does not version contracts: export writes {CONTRACT_VERSION}",
    "status": "export derives it from the product's decommission (active, deprecated, retired)",
    "name": "the contract is named after the product",
    "dataProduct": "the contract is named after the product",
    "domain": "the product belongs to the domain it is imported into",
    "servers": "storage is generated from the blueprint: the product's S3 bucket, Glue table and "
    "the domain's Athena workgroup (servers s3, glue and athena)",
    "team": "a product's owner is its domain's owner (owner in the blueprint)",
    "roles": "access is granted by the blueprint's consumers (roles carrying a mesh grant)",
    "description": "the blueprint has one description (description.purpose)",
    "slaProperties": "the blueprint keeps latency (freshness_slo_hours) and retention "
    "(retention_days) only",
    "schema": "--schema imports one schema object (without it, each becomes a product)",
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
    renamed: dict[Loc, str] = field(default_factory=dict)  # property loc -> its column name
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
            if loc + (i,) in self.renamed:  # a column name made to fit (CW07)
                want = self.renamed[loc + (i,)]
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
    differ = _Differ(result.consumed, result.schema_index, result.renamed)
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
