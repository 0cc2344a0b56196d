"""Import: a product built from one schema object of a contract; `run(existing)` collects
every problem at once. The columns are read by `import_columns`, the product fields by
`import_fields` (the two halves of `ContractImport`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from infra.contracts import types as T
from infra.contracts import typetable as TT
from infra.contracts.import_columns import Columns
from infra.contracts.import_fields import Fields, _in_existing_order
from infra.contracts.mapping import Loc, _mesh_custom, short
from infra.contracts.reading import ContractFile
from infra.errors import Problem
from infra.model.source import format_path
from infra.model.spec import Product
from infra.provision.names import Names


@dataclass(frozen=True)
class Governance:
    """What the user states once for every product of a run whose contract does not
    (`--classification`, `--retention-days`, `--purpose`); never a silent default."""

    classification: str | None = None
    retention_days: int | None = None
    purpose: str | None = None


def typed_of(contract: ContractFile) -> dict:
    """The contract as the ODCS model reads it (plain data, unset fields left out)."""
    return contract.model.model_dump(by_alias=True, exclude_none=True)


@dataclass
class ImportResult:
    product: Product | None
    name: str | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    consumed: set[Loc] = field(default_factory=set)
    schema_index: int = 0
    origins: dict[Loc, Loc] = field(default_factory=dict)  # product loc -> contract loc
    renamed: dict[Loc, str] = field(default_factory=dict)  # property loc -> the column's name


class ContractImport(Columns, Fields):
    """Builds a product from a contract; `run(existing)` collects every problem at once."""

    def __init__(
        self,
        contract: ContractFile,
        domain: str,
        names: Names,
        index: int = 0,
        context: dict | None = None,
        governance: Governance | None = None,
        several: bool = False,
    ) -> None:
        self.c = contract
        self.context = context  # `spec.APPROVER_NAMES` into a tree with a platform file
        self.domain = domain
        self.names = names
        self.governance = governance or Governance()
        self.several = several  # one of several products of the contract in this run
        self.typed: dict = typed_of(contract)
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.consumed: set[Loc] = {("apiVersion",), ("kind",)}
        self.origins: dict[Loc, Loc] = {}  # blueprint loc (in the product) -> contract loc
        self.renamed: dict[Loc, str] = {}  # property loc -> the name made to fit (CW07)
        self.index = index
        self._name = ""  # the product's, set by run
        self.mesh = _mesh_custom(self.typed.get("customProperties"), "blueprint") is not None
        servers = [s.get("type") for s in self.typed.get("servers") or [] if s.get("type")]
        self.dialect = TT.dialect_of(servers)  # the database the physical types are written for

    # ------------------------------------------------------------ helpers

    def error(self, loc: Loc, code: str, message: str) -> None:
        self.errors.append(self.c.src.problem(loc, code, message))

    def warn(self, loc: Loc, code: str, message: str) -> None:
        self.warnings.append(self.c.src.problem(loc, code, message))

    # ------------------------------------------------------------ the product

    def run(self, name: str, existing: Product | None) -> ImportResult:
        self._name = name
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
        moved = False
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
                if keys and not moved:  # a partition key stands before this column
                    moved = True
                    self.warn(
                        keys[0][3],
                        "CW02",
                        f"partition key {keys[0][2]['name']!r} moves after the columns: a "
                        "Glue table lists its partition keys last (export writes them there)",
                    )
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

    def _result(self, product: Product | None, name: str) -> ImportResult:
        return ImportResult(
            product,
            name,
            self.errors,
            self.warnings,
            self.consumed,
            self.index,
            origins=self.origins,
            renamed=self.renamed,
        )

    def _origin(self, loc: Loc) -> Loc:
        for n in range(len(loc), 0, -1):
            if loc[:n] in self.origins:
                return self.origins[loc[:n]]
        return ("schema", self.index)
