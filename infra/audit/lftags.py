"""Lake Formation tag-based access (LF-TBAC) as the audit sees it in the recorded graph: the
LF-tags each catalog defines, the tags assigned to its databases, tables and columns, and the
permissions granted on tag expressions; and their expansion into the tables and columns each
expression reaches, as Lake Formation evaluates it.

Lake Formation's rules (developer guide, "Lake Formation tag-based access control"):

- an LF-tag is a key with allowed values, defined per catalog; a resource is assigned one value
  per key, and "the LF-Tag and the resource that it is being assigned to must be in the same AWS
  account" ("Assigning LF-Tags to Data Catalog resources");
- tags are inherited database -> table -> column, and "if a table inherits a LF-Tag from a
  database or a column inherits a LF-Tag from a table, you can override the inherited value by
  assigning a new value to the LF-Tag key" (same page);
- an expression is true when every key's value is one of the listed values: "each tag name is
  AND'ed in the expression and each lf-tag value is OR'ed" (AWS Lake Formation best practices,
  "LF-Tags basics"; "Managing LF-Tag expressions");
- a grant on a TABLE expression is evaluated per column: the principal reads the columns whose
  effective tags match, in any table with one ("granting a role access to all columns that do
  not have the LF-tag 'PII' in tables that have the LF-tag 'Prod'", API reference `LFTag`): a
  column retagged out of the expression is not readable, a table none of whose columns match
  is not reached;
- named and tag grants add up: "the effective permissions for a user is the union of
  permissions of all named resource policies and LF-Tag policies" (best practices).

A tag grant becomes, per table it reaches, an `LfPermission` carrying its expression
(`via_tags`): the evaluator then asks of it exactly what it asks of a named permission (IAM,
registration, key policy, the query path, resource links across accounts) plus, across accounts,
what tag-based sharing needs (`cross_account_blockers`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.model.lftag_names import PII_KEY, PII_VALUES
from infra.provision import types as T
from infra.provision.graph import lf_tag_policy

Expression = tuple[tuple[str, tuple[str, ...]], ...]  # (key, values), sorted

# Lake Formation shares a tag-granted resource with a principal of another account only from
# cross-account version 3 ("Updating cross-account data sharing version settings": version 3
# "allows sharing resources directly to external account IAM principals" and LF-TBAC grants
# use AWS RAM; a version 1 or 2 grantor shares by tag only through the catalog's resource
# policy, to accounts, and a version 2 grantor cannot share by tag with a version 3 or 4
# receiver: best practices, "Upgrading cross account versions")
TAG_SHARING_VERSION = 3
DEFAULT_CROSS_ACCOUNT_VERSION = 1  # the API's when the settings carry no parameter


def as_dict(expression: Expression) -> dict[str, list[str]]:
    """An expression as the JSON the access matrix and `mesh diff` print: {key: [values]}."""
    return {key: list(values) for key, values in expression}


def matches(expression: Expression, tags: Mapping[str, str]) -> bool:
    """Every key of the expression has one of its values on the resource."""
    return bool(expression) and all(tags.get(key) in values for key, values in expression)


@dataclass(frozen=True)
class TagPolicy:
    """A Lake Formation permission granted on an LF-tag expression."""

    logical: str
    principal_arn: str
    permissions: tuple[str, ...]
    resource_type: str  # TABLE | DATABASE
    expression: Expression
    catalog_id: str | None  # the catalog whose resources it matches (None: `account`'s)
    account: str  # the account it is granted in ("": not known)

    @property
    def catalog(self) -> str:
        return self.catalog_id or self.account


@dataclass
class LfTags:
    """The graph's LF-tags: by catalog ("" when the graph records no account)."""

    ontology: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    databases: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    tables: dict[tuple[str, str, str], dict[str, str]] = field(default_factory=dict)
    columns: dict[tuple[str, str, str, str], dict[str, str]] = field(default_factory=dict)
    policies: list[TagPolicy] = field(default_factory=list)
    # account -> its Lake Formation settings' CROSS_ACCOUNT_VERSION
    versions: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    _assignments: list[tuple[str, str, dict[str, Any], str]] = field(default_factory=list)

    def tags_of_table(self, catalog: str, database: str, table: str) -> dict[str, str]:
        """The table's effective tags: its database's, overridden by its own."""
        return {
            **_lookup(self.databases, catalog, (database,)),
            **_lookup(self.tables, catalog, (database, table)),
        }

    def tags_of_column(
        self, catalog: str, database: str, table: str, column: str, of_table: Mapping[str, str]
    ) -> dict[str, str]:
        """A column's effective tags: its table's (`of_table`), overridden by its own."""
        return {**of_table, **_lookup(self.columns, catalog, (database, table, column))}


def _lookup(index: Mapping[tuple, dict[str, str]], catalog: str, rest: tuple) -> dict[str, str]:
    found = index.get((catalog, *rest))
    if found is not None or catalog:
        return found or {}
    # a resource recorded without its account: the one assignment of that name, any catalog
    return next((tags for key, tags in index.items() if key[1:] == rest), {})


HANDLED = frozenset({T.LF_TAG, T.LF_RESOURCE_TAGS, T.LF_RESOURCE_TAG, T.LF_SETTINGS})


def add(tags: LfTags, type_: str, name: str, inputs: Mapping[str, Any], account: str) -> None:
    """Record one resource of a type in `HANDLED`."""
    if type_ == T.LF_TAG:
        catalog = inputs.get("catalogId") or account
        values = tuple(v for v in inputs.get("values") or () if isinstance(v, str))
        tags.ontology.setdefault(catalog, {})[inputs.get("key", "")] = values
    elif type_ == T.LF_SETTINGS:
        raw = (inputs.get("parameters") or {}).get("CROSS_ACCOUNT_VERSION")
        version = int(raw) if isinstance(raw, (str, int)) and str(raw).isdigit() else None
        tags.versions[inputs.get("catalogId") or account] = (
            version if version is not None else DEFAULT_CROSS_ACCOUNT_VERSION
        )
    else:  # assignments are resolved once every LF-tag is known (`resolve`)
        tags._assignments.append((type_, name, dict(inputs), account))


def add_policy(tags: LfTags, name: str, inputs: Mapping[str, Any], account: str) -> bool:
    """Record a permission when it is granted on a tag expression; False when it is not."""
    policy = lf_tag_policy(inputs)
    if policy is None:
        return False
    tags.policies.append(
        TagPolicy(
            name,
            inputs.get("principal", ""),
            tuple(inputs.get("permissions") or ()),
            str(policy.resource_type or ""),
            policy.expression,
            policy.catalog_id or inputs.get("catalogId") or None,
            account,
        )
    )
    return True


def _pairs(type_: str, inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    raw = [inputs.get("lfTag")] if type_ == T.LF_RESOURCE_TAG else inputs.get("lfTags") or []
    return [(t.get("key", ""), t.get("value", "")) for t in raw if isinstance(t, Mapping)]


def _undefined(tags: LfTags, catalog: str, key: str, value: str) -> str | None:
    """Why a tag cannot be assigned or granted in `catalog` (None: it can, or the graph
    defines no LF-tag there — a stack that does not own the ontology: not known)."""
    ontology = tags.ontology.get(catalog)
    if ontology is None and not catalog and tags.ontology:
        ontology = {k: v for keys in tags.ontology.values() for k, v in keys.items()}
    if ontology is None:
        return None
    if key not in ontology:
        return f"LF-tag {key} is not defined in catalog {catalog or '(the stack account)'}"
    if value not in ontology[key]:
        return (
            f"{value} is not a value of LF-tag {key} in catalog {catalog or '(the stack account)'}"
        )
    return None


def resolve(tags: LfTags) -> None:
    """Place every assignment on its database, table or columns; one naming a tag or value the
    catalog does not define is refused by Lake Formation (`AddLFTagsToResource`): a problem,
    and assigned nothing."""
    for type_, name, inputs, account in tags._assignments:
        database, table, columns = inputs.get("database"), inputs.get("table"), None
        with_columns = inputs.get("tableWithColumns")
        if isinstance(with_columns, Mapping):
            table, columns = with_columns, tuple(with_columns.get("columnNames") or ())
        target = table if isinstance(table, Mapping) else database
        if not isinstance(target, Mapping):
            tags.problems.append(f"{name}: LF-tags on no database, table or columns")
            continue
        catalog = target.get("catalogId") or inputs.get("catalogId") or account
        assigned: dict[str, str] = {}
        for key, value in _pairs(type_, inputs):
            why = _undefined(tags, catalog, key, value)
            if why:
                tags.problems.append(f"{name}: {why}: Lake Formation refuses the assignment")
            else:
                assigned[key] = value
        if target is database:
            tags.databases.setdefault((catalog, target.get("name", "")), {}).update(assigned)
        elif columns is None:
            key3 = (catalog, target.get("databaseName", ""), target.get("name", ""))
            tags.tables.setdefault(key3, {}).update(assigned)
        else:
            for column in columns:
                key4 = (catalog, target.get("databaseName", ""), target.get("name", ""), column)
                tags.columns.setdefault(key4, {}).update(assigned)
    tags._assignments.clear()


def policy_blocker(tags: LfTags, policy: TagPolicy) -> str | None:
    """Why Lake Formation refuses the grant itself (None: it does not): an expression naming a
    tag or value its catalog does not define, or none at all."""
    if not policy.expression:
        return "its LF-tag expression is empty"
    for key, values in policy.expression:
        if not values:
            return f"its expression allows no value of {key}"
        for value in values:
            why = _undefined(tags, policy.catalog, key, value)
            if why:
                return why
    return None


def _same(a: str, b: str) -> bool:
    """The same catalog ("" on either side: a graph recorded without accounts, one catalog)."""
    return not a or not b or a == b


def matched_columns(
    tags: LfTags, policy: TagPolicy, catalog: str, database: str, table: str, columns
) -> list[str]:
    """The columns of a table the policy's expression matches, in their order."""
    of_table = tags.tags_of_table(catalog, database, table)
    return [
        c
        for c in columns
        if matches(policy.expression, tags.tags_of_column(catalog, database, table, c, of_table))
    ]


def table_grants(tags: LfTags, tables: Iterator[Any] | list[Any]) -> Iterator[tuple]:
    """(policy, table, readable column names or None for every one) for every TABLE policy and
    every table of its catalog with a column the expression matches."""
    tables = list(tables)
    for policy in tags.policies:
        if policy.resource_type != "TABLE" or policy_blocker(tags, policy):
            continue
        for table in tables:
            if not _same(policy.catalog, table.account):
                continue
            catalog = table.account or policy.catalog
            names = [c.name for c in table.columns]
            cols = matched_columns(tags, policy, catalog, table.database, table.name, names)
            if cols:
                yield policy, table, (None if cols == names else tuple(cols))


def database_describes(tags: LfTags, databases: list[tuple[str, str]]) -> set[tuple[str, str, str]]:
    """(catalog, database, principal ARN) of every DESCRIBE a DATABASE policy grants on a
    database (`databases`: (catalog, name)) whose tags match."""
    out = set()
    for policy in tags.policies:
        granted = set(policy.permissions)
        if policy.resource_type != "DATABASE" or not granted & {"DESCRIBE", "ALL"}:
            continue
        if policy_blocker(tags, policy):
            continue
        for catalog, name in databases:
            if _same(policy.catalog, catalog) and matches(
                policy.expression, _lookup(tags.databases, catalog or policy.catalog, (name,))
            ):
                out.add((catalog or policy.catalog, name, policy.principal_arn))
    return out


def cross_account_blockers(tags: LfTags, role_account: str, table_account: str) -> list[str]:
    """What a tag grant to a role of another account needs beyond a named grant (empty: it
    holds, or the grant is not across accounts): the grantor's cross-account version 3 or
    later (`TAG_SHARING_VERSION`), when the graph holds its settings (a stack without them:
    not known, not blocked). The resource link in the role's account, DESCRIBE on it and IAM
    on it are asked of every grant across accounts (`infra.audit.effective._cross_account`)."""
    if not role_account or not table_account or role_account == table_account:
        return []
    version = tags.versions.get(table_account)
    if version is not None and version < TAG_SHARING_VERSION:
        why = (
            f"account {table_account} shares with CROSS_ACCOUNT_VERSION {version}: a tag grant "
            f"to a role of another account needs {TAG_SHARING_VERSION} or later"
        )
        return [why]
    return []


def expand(g: Any, permission: Callable[..., Any]) -> None:
    """Resolve the graph's tag assignments, then add to it (a `MeshGraph`) one Lake Formation
    permission per table each TABLE policy reaches, carrying its expression (`permission`: the
    view's `LfPermission`, which imports this module), and each DESCRIBE a DATABASE policy
    grants; a policy Lake Formation refuses grants nothing and is a problem."""
    tags: LfTags = g.lf_tags
    resolve(tags)
    for policy in tags.policies:
        why = policy_blocker(tags, policy)
        if why:
            tags.problems.append(
                f"{policy.logical}: Lake Formation refuses the grant to {policy.principal_arn} "
                f"on {as_dict(policy.expression)}: {why}; it grants nothing"
            )
    for policy, table, columns in table_grants(tags, g.tables.values()):
        g.lf_permissions.append(
            permission(
                policy.logical,
                policy.principal_arn,
                policy.permissions,
                table.database,
                table.name,
                columns,
                (),
                policy.account,
                policy.catalog_id,
                via_tags=policy.expression,
            )
        )
    g.describes |= database_describes(tags, list(tags.databases))


def read_expression(reads: list[Expression | None]) -> Expression | None:
    """The expression a principal reads a product through (`reads`: that of each of its Lake
    Formation read paths, None for a named permission): the first, sorted, when only
    expressions give it; None when a named permission does too, or nothing does. Without the
    mesh's own `pii: [false]` term, which only keeps PII columns out (`infra.model.lftags`):
    the columns and `pii` of the grant show that; the expression shows what was granted."""
    if not reads or any(v is None for v in reads):
        return None
    first = min(v for v in reads if v is not None)
    return tuple(t for t in first if t != (PII_KEY, (PII_VALUES[0],)))
