"""The columns of an imported product: each property's name, Glue type, PII flag, description,
blueprint extras and quality rules (a half of `importing.ContractImport`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from infra.blueprints.checks import GLUE_COMMENT_MAX
from infra.contracts import types as T
from infra.contracts.mapping import (
    _MAPPED_COLUMN,
    _PII_CLASSIFICATIONS,
    _PII_TAGS,
    API_VERSION,
    Loc,
    _extras,
    _mesh_custom,
    _truthy,
    schema_errors,
    short,
)
from infra.contracts.reading import _get
from infra.contracts.selecting import fit_column
from infra.model.source import format_path
from infra.model.spec import Product, QualityRule


class Columns:
    """Reads the properties of the chosen schema object (mixed into ContractImport)."""

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
        fitted = fit_column(name)  # always a valid Glue column name
        if fitted != name:
            where = "physicalName" if prop.get("physicalName") else "name"
            self.warn(
                loc + (where,),
                "CW07",
                f"column {short(prop.get(where))} becomes {fitted!r} (a Glue column name is "
                "lower-case letters, digits and _, not a reserved word of Athena SQL): set "
                "physicalName to choose another",
            )
            self.renamed[loc] = fitted
            name = fitted
        try:
            mapped = T.glue_type(prop, dialect=self.dialect)
            glue = T.check_glue(mapped.type, ())
        except T.TypeMappingError as exc:
            self.error(loc + exc.loc, "C004", exc.message)
            return None
        for at, note in mapped.notes:
            self.warn(loc + at, "CW06", f"column {name!r} is {glue}: {note}")
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
            column["description"] = self._text(
                description, loc + ("description",), GLUE_COMMENT_MAX
            )
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
            yield from Columns._walk(child, _get(raw, ("properties", i)), loc + ("properties", i))
        if isinstance(prop.get("items"), dict):
            yield from Columns._walk(prop["items"], raw.get("items"), loc + ("items",))
        definition = prop.get("map")
        if isinstance(definition, dict):
            for side in ("key", "value"):
                if isinstance(definition.get(side), dict):
                    yield from Columns._walk(
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
            # an empty key (`value:`, `mustBe:`) says nothing, and a custom property without a
            # value is no custom property: both are left out (the diff reports what it drops)
            rule = {k: _without_empty(v) for k, v in entry.items() if k in known and v is not None}
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

    def _text(self, text: str, loc: Loc, limit: int = 2048) -> str:
        """A description within Glue's limit (2,048 characters for a table, 255 for a
        column comment), shortened with a warning."""
        text = text.strip()
        if len(text) > limit:
            self.warn(
                loc,
                "CW02",
                f"shortened to {limit:,} characters (the blueprint's and Glue's limit for "
                f"a {'column comment' if limit < 2048 else 'description'}); it has {len(text):,}",
            )
            return text[:limit].rstrip()
        return text


def _without_empty(value):
    """`value` without null entries in its mappings and without custom properties whose value
    is null (the ODCS model drops those, so they could not be exported back)."""
    if isinstance(value, dict):
        return {k: _without_empty(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [
            _without_empty(v)
            for v in value
            if not (isinstance(v, dict) and "property" in v and v.get("value") is None)
        ]
    return value
