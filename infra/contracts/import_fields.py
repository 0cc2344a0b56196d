"""The product fields of an imported product: description, classification, format, SLA,
consumers and blueprint extras (a half of `importing.ContractImport`).
"""

from __future__ import annotations

import json
import math

from pydantic import BaseModel, ValidationError

from infra.contracts.mapping import (
    _CLASSIFICATIONS,
    _MAPPED_PRODUCT,
    _PII_CLASSIFICATIONS,
    _SLA_SYNONYMS,
    Loc,
    _extras,
    _hours,
    _mesh_custom,
    short,
)
from infra.model.spec import Classification, DataFormat, Product, QualityRule


class Fields:
    """Reads the contract's product-level fields (mixed into ContractImport)."""

    def _description(self, obj: dict, existing: Product | None, kept: list[str]) -> str | None:
        description = self.typed.get("description") or {}
        places = [
            (description.get("purpose"), ("description", "purpose")),
            (obj.get("description"), ("schema", self.index, "description")),
            (description.get("usage"), ("description", "usage")),
        ]
        if self.several:  # each table's own description before the contract's purpose
            places[0], places[1] = places[1], places[0]
        for value, loc in places:
            if isinstance(value, str) and value.strip():
                self.origins[("description",)] = loc
                return self._text(value, loc)
        if existing is not None:
            kept.append("description")
            return existing.description
        if self.governance.purpose is not None:
            self._given("description", "--purpose")
            return self._text(self.governance.purpose, ())
        self.error(
            ("description",),
            "C005",
            "the contract has no description: add description.purpose (what the data product "
            "holds), or pass --purpose TEXT",
        )
        return None

    def _given(self, field: str, option: str) -> None:
        self.warn(
            (),
            "CW08",
            f"{field} of {self.domain}.{self._name} from {option} (the contract does not state it)",
        )

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
            if self.governance.classification is not None:
                self._given("classification", "--classification")
                return self.governance.classification
            self.error(
                ("schema", self.index, "properties"),
                "C005",
                "the contract has no classification: add classification: public | internal | "
                "confidential | restricted to the properties (the product takes its most "
                "sensitive property's), or pass --classification C",
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
        elif self.governance.retention_days is not None and "retention" not in unreadable:
            retention = self.governance.retention_days
            self._given("retention_days", "--retention-days")
        elif "retention" not in unreadable:  # else C006 says what is wrong with it
            self.error(
                ("slaProperties",),
                "C005",
                "the contract has no retention: add slaProperties: [{property: retention, "
                "value: N, unit: d}] (objects of the product expire after N days), or pass "
                "--retention-days N",
            )
        # latency is the freshness SLO; a frequency (how often the data is updated) stands in
        # for it only when the contract has no latency, and says so
        for kind in ("latency", "frequency"):
            if kind in found:
                hours, loc = found[kind]
                freshness = math.ceil(hours - 1e-9)
                self._converted(loc, hours, freshness, kind, "hours")
                if kind == "frequency":
                    self.consumed.add(loc + ("property",))
                    self.warn(
                        loc + ("property",),
                        "CW02",
                        f"frequency becomes latency: the blueprint keeps a freshness SLO "
                        f"(freshness_slo_hours: {freshness}), not an update frequency",
                    )
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
