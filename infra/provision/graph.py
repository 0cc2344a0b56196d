"""The resource graph a Pulumi run declares, indexed once, and the parsing every reader of it
shares.

Three readers look at the same graph: the governance rules (`infra.governance.resource_rules`
and `graph_rules`, fed by the recording engine or by CrossGuard), the audit (`infra.audit.view`,
which turns it into parsed policy documents) and the emulator's verifier
(`infra.engines.verify`). They share:

- `ResourceIndex`: resources by type, by (type, logical name), children by parent, ancestors;
  built once, so every look-up is O(1) and a rule or check stays linear in the mesh;
- `urn_type_and_name`: the one URN parser (the recording monitor and CrossGuard);
- `lf_target`: what a Lake Formation permission's inputs point at (table, columns, database);
  `lf_tag_policy`: the LF-tag expression it is granted on instead.

Anything with `type`, `name` and `parent` (the logical name of its parent, None for the stack)
can be indexed: recorded resources and the rules' CrossGuard view alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

STACK_TYPE = "pulumi:pulumi:Stack"


class _Node(Protocol):
    type: str
    name: str
    parent: str | None


N = TypeVar("N", bound=_Node)


class ResourceIndex(Generic[N]):
    """Resources by type, by (type, logical name) and by parent."""

    def __init__(self, resources: Iterable[N]) -> None:
        self.resources: list[N] = list(resources)
        self._by_type: dict[str, list[N]] = {}
        self._by_key: dict[tuple[str, str], N] = {}
        self._by_name: dict[str, N] = {}
        self._components: dict[str, N] = {}
        self._children: dict[str, list[N]] = {}
        for r in self.resources:
            self._by_type.setdefault(r.type, []).append(r)
            self._by_key.setdefault((r.type, r.name), r)
            self._by_name.setdefault(r.name, r)
            if r.type.startswith("mesh:"):
                self._components[r.name] = r
            if r.parent is not None:
                self._children.setdefault(r.parent, []).append(r)

    def of_type(self, *types: str) -> list[N]:
        return [r for t in types for r in self._by_type.get(t, ())]

    def get(self, type_: str, name: str) -> N:
        try:
            return self._by_key[(type_, name)]
        except KeyError:
            raise KeyError(f"{type_} {name}") from None

    def find(self, type_: str, name: str) -> N | None:
        return self._by_key.get((type_, name))

    def parent(self, res: N) -> N | None:
        """The parent resource: a component of that name first (children name their parent by
        its logical name, and a component may share it with a resource of another type)."""
        if res.parent is None:
            return None
        return self._components.get(res.parent) or self._by_name.get(res.parent)

    def children(self, name: str, *types: str) -> list[N]:
        return [r for r in self._children.get(name, ()) if not types or r.type in types]

    def ancestor(self, res: N, type_: str) -> N | None:
        cur = self.parent(res)
        while cur is not None:
            if cur.type == type_:
                return cur
            cur = self.parent(cur)
        return None


def urn_type_and_name(urn: str | None) -> tuple[str | None, str | None]:
    """(type, name) of a URN `urn:pulumi:<stack>::<project>::<parent$...$type>::<name>`;
    (None, None) for none and for the stack itself."""
    if not urn:
        return None, None
    qualified, _, name = urn.rpartition("::")
    type_ = qualified.rpartition("::")[2].rsplit("$", 1)[-1]
    if type_ == STACK_TYPE:
        return None, None
    return type_, name


@dataclass(frozen=True, slots=True)
class LfTarget:
    """What a Lake Formation permission is on. `table` None: every table of the database (a
    wildcard); `columns` None: every column; `excluded`: columns a wildcard leaves out."""

    kind: str  # "table" | "columns" | "database" | "filter"
    database: Any
    table: Any = None
    columns: tuple | None = None
    excluded: tuple = ()
    filter: Any = None  # the data cells filter's name (kind "filter": its columns are there)


def lf_target(inputs: Mapping[str, Any]) -> LfTarget | None:
    """The target of a `aws.lakeformation.Permissions` from its inputs (camelCase, as recorded
    and as CrossGuard sees them); None for a data-location or catalog permission. A permission
    on a data cells filter is kind "filter": what it lets through is the filter's. Values may be
    CrossGuard's unknowns: only their shape is relied on."""
    f = inputs.get("dataCellsFilter")
    if isinstance(f, Mapping):  # columns and rows: the filter's (`DataCellsFilter.tableData`)
        return LfTarget("filter", f.get("databaseName"), f.get("tableName"), filter=f.get("name"))
    t = inputs.get("tableWithColumns")
    if isinstance(t, Mapping):
        names = t.get("columnNames")
        columns = (
            None if t.get("wildcard") or not isinstance(names, (list, tuple)) else tuple(names)
        )
        excluded = t.get("excludedColumnNames")
        return LfTarget(
            "columns",
            t.get("databaseName"),
            t.get("name"),
            columns,
            tuple(excluded) if isinstance(excluded, (list, tuple)) else (),
        )
    t = inputs.get("table")
    if isinstance(t, Mapping):
        return LfTarget(
            "table", t.get("databaseName"), None if t.get("wildcard") else t.get("name")
        )
    d = inputs.get("database")
    if isinstance(d, Mapping):
        return LfTarget("database", d.get("name"))
    return None


@dataclass(frozen=True, slots=True)
class LfTagPolicy:
    """A Lake Formation permission on an LF-tag expression (`lfTagPolicy`): every resource of
    `resource_type` in the catalog whose LF-tags match. `expression`: (key, values) sorted by
    key, values sorted; keys AND, values of a key OR."""

    resource_type: Any  # "TABLE" | "DATABASE"
    expression: tuple
    catalog_id: Any = None  # None: the granting account's catalog


def lf_tag_policy(inputs: Mapping[str, Any]) -> LfTagPolicy | None:
    """The tag expression a `aws.lakeformation.Permissions` is granted on (None: it names its
    resource, `lf_target`). Conditions AND: a key given twice keeps the values both allow."""
    policy = inputs.get("lfTagPolicy")
    if not isinstance(policy, Mapping):
        return None
    found: dict[str, set[str]] = {}
    for condition in policy.get("expressions") or ():
        if not isinstance(condition, Mapping) or not isinstance(condition.get("key"), str):
            continue
        raw = condition.get("values")
        values = {v for v in (raw if isinstance(raw, (list, tuple)) else ()) if isinstance(v, str)}
        key = condition["key"]
        found[key] = found[key] & values if key in found else values
    expression = tuple((k, tuple(sorted(v))) for k, v in sorted(found.items()))
    return LfTagPolicy(policy.get("resourceType"), expression, policy.get("catalogId"))
