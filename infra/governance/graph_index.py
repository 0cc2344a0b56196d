"""The governance rules' index of the resource graph (`Graph`: buckets and what configures
them, roles, tables, databases, keys and data cells filters, each looked up in O(1)) and the
product a resource belongs to (`product_of`). Built once per graph, so that every graph rule
(`infra.governance.graph_rules`) stays linear in the size of the mesh.

What the graph rules read of the graph (`GRAPH_READS`): the resources of a few types, a few
properties of each, and the components (their type, name and parent: `product_of`). The
whole-mesh plan keeps only that of the mesh's resources in its parent process (`kept`; the
resource rules run in its workers: `infra.engines.stackplan`). A kept resource's properties
are read strictly (`Kept`): a rule that reads one `GRAPH_READS` does not list raises
`GraphReadError` — on a kept graph it would otherwise see nothing and pass."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from infra.governance.resource_rules import (
    BUCKET_POLICY,
    BUCKET_TYPES,
    DATABASE,
    GRANT_COMPONENT,
    KEY,
    LF_DATA_FILTER,
    LF_PERMISSIONS,
    LIFECYCLE,
    OWNERSHIP,
    PRODUCT_COMPONENT,
    PUBLIC_ACCESS_BLOCK,
    ROLE,
    ROLE_POLICY,
    SSE,
    TABLE,
    Res,
    known,
    tags_of,
)
from infra.model import tags as tag_keys
from infra.provision.graph import LfTarget, ResourceIndex
from infra.provision.names import parse_logical

# the types whose resources configure a bucket (`Graph.companions`)
CONFIGURING = (*LIFECYCLE, *SSE, PUBLIC_ACCESS_BLOCK, OWNERSHIP, BUCKET_POLICY)

# What the graph rules (and `product_of`, which reads the tags of the resource a finding names)
# read of a resource, by type: its properties. A component's (type `mesh:...`) is in
# `COMPONENT_READS`; of the outputs, only a key's ARN (`OUTPUT_READS`). A type not listed is
# never read (the resource rules read every resource: they run where it is whole).
GRAPH_READS: dict[str, frozenset[str]] = {
    type_: frozenset(("tags", *props))
    for types, props in [
        (BUCKET_TYPES, ("bucket",)),
        ((*LIFECYCLE, *SSE), ("bucket", "rules")),
        ((PUBLIC_ACCESS_BLOCK, OWNERSHIP), ("bucket",)),
        ((BUCKET_POLICY,), ("bucket", "policy")),
        ((ROLE,), ("name",)),
        ((ROLE_POLICY,), ("role", "policy")),
        ((TABLE,), ("databaseName", "name", "parameters")),
        ((DATABASE,), ("name",)),
        ((LF_DATA_FILTER,), ("tableData",)),
        ((KEY,), ()),
        (
            (LF_PERMISSIONS,),
            ("principal", "dataCellsFilter", "tableWithColumns", "table", "database"),
        ),
    ]
    for type_ in types
}
COMPONENT_READS = frozenset({"tags"})
OUTPUT_READS: dict[str, tuple[str, ...]] = {KEY: ("arn",)}


def graph_reads(type_: str) -> frozenset[str] | None:
    """The properties the graph rules read of a resource of `type_`; None: nothing of it."""
    return COMPONENT_READS if type_.startswith("mesh:") else GRAPH_READS.get(type_)


class GraphReadError(RuntimeError):
    """A graph rule read a property that `GRAPH_READS` does not list (a bug: list it)."""


class Kept(dict):
    """The properties the graph rules read of a resource (`GRAPH_READS` of its type), read
    strictly: reading any other raises `GraphReadError`."""

    __slots__ = ("type",)

    def __init__(self, props: Mapping[str, Any], type_: str) -> None:
        reads = graph_reads(type_) or frozenset()
        super().__init__((k, props[k]) for k in sorted(reads) if k in props)
        self.type = type_

    def __reduce__(self) -> tuple:
        return (Kept, (dict(self), self.type))

    def _check(self, key: object) -> None:
        if key not in (graph_reads(self.type) or ()):
            raise GraphReadError(
                f"a graph rule read {key!r} of {self.type}: list it in GRAPH_READS"
            )

    def get(self, key: str, default: Any = None) -> Any:
        self._check(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self._check(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._check(key)
        return super().__contains__(key)


def kept(res: Res) -> Res | None:
    """`res` as the graph rules read it (`GRAPH_READS`), None when they read nothing of it."""
    if graph_reads(res.type) is None:
        return None
    outputs = {k: res.outputs[k] for k in OUTPUT_READS.get(res.type, ()) if k in res.outputs}
    return Res(res.type, res.name, Kept(res.props, res.type), res.parent, res.parent_type, outputs)


class Graph(ResourceIndex[Res]):
    """The rules' view of the resource graph (`infra.provision.graph.ResourceIndex`) with the
    look-ups they need: buckets and what configures them, roles, tables, databases and keys
    (built once: look-ups are O(1), so the rules stay linear in the size of the mesh)."""

    def __init__(self, resources: Iterable[Res]) -> None:
        super().__init__(resources)
        self._buckets: dict[str, Res] = {}
        for b in self.of_type(*BUCKET_TYPES):
            if (name := self.bucket_name(b)) is not None:
                self._buckets.setdefault(name, b)
        self._configuring: dict[tuple[str, object], list[Res]] = {}  # (type, bucket|parent)
        for type_ in CONFIGURING:
            for r in self._by_type.get(type_, ()):
                if "bucket" not in r.props:
                    continue
                ref = r.get("bucket")
                key = ref if known(ref) else ("parent", r.parent)
                self._configuring.setdefault((type_, key), []).append(r)
        self._roles = {r.get("name"): r for r in self.of_type(ROLE) if known(r.get("name"))}
        self._tables: dict[object, dict[object, Res]] = {}
        for t in self.of_type(TABLE):
            self._tables.setdefault(t.get("databaseName"), {}).setdefault(t.get("name"), t)
        self._databases = {d.get("name"): d for d in self.of_type(DATABASE) if known(d.get("name"))}
        # data cells filters by (database, table, name): what a permission on one lets through
        self._filters: dict[tuple, Res] = {}
        for f in self.of_type(LF_DATA_FILTER):
            data = f.get("tableData")
            if known(data) and isinstance(data, Mapping):
                key = (data.get("databaseName"), data.get("tableName"), data.get("name"))
                self._filters.setdefault(key, f)
        self._keys: dict[str, Res] = {}
        for k in self.of_type(KEY):
            if (domain := (tags_of(k) or {}).get(tag_keys.DOMAIN)) is not None:
                self._keys.setdefault(domain, k)

    def bucket(self, name: str) -> Res | None:
        return self._buckets.get(name)

    @staticmethod
    def bucket_name(res: Res) -> str | None:
        name = res.get("bucket")
        return name if known(name) and isinstance(name, str) else None

    def companions(self, bucket: Res, *types: str) -> list[Res]:
        """Resources of `types` configuring `bucket`: by bucket name, or (name not known yet)
        as its siblings under the same parent."""
        name = self.bucket_name(bucket)
        out: list[Res] = []
        for type_ in types:
            if name is not None:
                out += self._configuring.get((type_, name), [])
            out += self._configuring.get((type_, ("parent", bucket.parent)), [])
        return out

    def role_names(self) -> Iterable[str]:
        return self._roles.keys()

    def role(self, name_or_arn: Any) -> Res | None:
        if not isinstance(name_or_arn, str):
            return None
        name = name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        return self._roles.get(name)

    def table(self, database: Any, name: Any) -> Res | None:
        return self._tables.get(database, {}).get(name)

    def tables(self, database: Any) -> list[Res]:
        return list(self._tables.get(database, {}).values())

    def database_domain(self, database: Any) -> str | None:
        d = self._databases.get(database)
        return (tags_of(d) or {}).get(tag_keys.DOMAIN) if d is not None else None

    def domain_key(self, domain: str) -> Res | None:
        return self._keys.get(domain)

    def resolve(self, target: LfTarget) -> LfTarget:
        """A permission's target with a data cells filter's columns (its list, or every column
        but those its wildcard excludes); a filter not in the graph counts as every column."""
        if target.kind != "filter":
            return target
        f = self._filters.get((target.database, target.table, target.filter))
        data = f.get("tableData") if f is not None else None
        names = data.get("columnNames") if isinstance(data, Mapping) else None
        if isinstance(names, (list, tuple)):
            return LfTarget("columns", target.database, target.table, tuple(names))
        wildcard = data.get("columnWildcard") if isinstance(data, Mapping) else None
        excluded = wildcard.get("excludedColumnNames") if isinstance(wildcard, Mapping) else None
        return LfTarget(
            "columns",
            target.database,
            target.table,
            None,
            tuple(excluded) if isinstance(excluded, (list, tuple)) else (),
        )


def product_of(res: Res, graph: Graph | None = None) -> str | None:
    """`<domain>.<product>` a resource belongs to: its tags, else its component ancestors."""
    tags = tags_of(res) or {}
    domain, product = tags.get(tag_keys.DOMAIN), tags.get(tag_keys.PRODUCT)
    if domain and product and product != tag_keys.NO_PRODUCT:
        return f"{domain}.{product}"
    name, type_ = res.name, res.type
    parent: Res | None = res
    while True:
        if type_ == PRODUCT_COMPONENT:
            return name
        if type_ == GRANT_COMPONENT:
            return parse_logical(name).product_id
        if graph is not None and parent is not None:
            parent = graph.parent(parent)
            if parent is None:
                return None
            name, type_ = parent.name, parent.type
        elif parent is res and res.parent is not None:  # no graph: the direct parent only
            name, type_, parent = res.parent, res.parent_type or "", None
        else:
            return None
