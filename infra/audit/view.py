"""Read the recorded resource graph as the audit sees it: roles, buckets, keys, tables, Lake
Formation permissions and every policy document, each mapped back to mesh ids from the
resources' own tags and names (not from the blueprint).

Input is the plain-data graph of `infra.engines.recording` (`Recorded.type/name/inputs/outputs`):
policy documents are JSON strings in the inputs, exactly what the provider receives.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from infra.audit import lftags
from infra.model import tags as tag_keys
from infra.provision import types as T
from infra.provision.graph import LfTarget, lf_target
from infra.provision.names import parse_logical

ROLE = T.ROLE
ROLE_POLICY = T.ROLE_POLICY
ROLE_POLICY_ATTACHMENT = T.ROLE_POLICY_ATTACHMENT
BUCKET = T.BUCKET
BUCKET_POLICY = T.BUCKET_POLICY
BUCKET_SSE = T.ENCRYPTION
KEY = T.KEY
TABLE = T.TABLE
DATABASE = T.DATABASE
LF_PERMISSIONS = T.LF_PERMISSIONS
LF_RESOURCE = T.LF_RESOURCE
WORKGROUP = T.WORKGROUP
DATA_FILTER = T.LF_DATA_FILTER

PII_PARAMETER = "mesh:pii"

DocKind = Literal["trust", "inline", "bucket", "key"]


@dataclass(frozen=True)
class PolicyDoc:
    """One policy document as deployed, with where it is attached."""

    id: str  # stable id: "<kind>/<logical resource name>"
    kind: DocKind
    resource_type: str
    resource_name: str  # logical (Pulumi) name of the resource that carries it
    attached_to: str  # role name, bucket name or key ARN
    policy_name: str | None  # inline policy name
    text: str  # the exact JSON string the provider receives
    document: dict[str, Any]
    account: str = ""  # the account the resource carrying it is created in ("": not known)


@dataclass(frozen=True)
class Role:
    name: str  # physical
    arn: str
    logical: str
    domain: str
    kind: str  # producer | consumer | lf-access (from the logical name)
    service: str | None = None  # the AWS service trusted to assume it (a service role)
    account: str = ""  # the account it lives in ("": not known)

    @property
    def principal(self) -> str:
        return f"{self.domain}:{self.kind}"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    pii: bool


@dataclass(frozen=True)
class Table:
    database: str
    name: str
    arn: str
    bucket: str | None  # from storageDescriptor.location s3://<bucket>/...
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]
    logical: str
    account: str = ""  # the account whose catalog holds it ("": not known)


@dataclass(frozen=True)
class Bucket:
    name: str
    arn: str
    domain: str | None
    product: str | None  # product id <domain>.<product> from tags
    logical: str


@dataclass(frozen=True)
class Key:
    arn: str
    domain: str | None
    logical: str


@dataclass(frozen=True)
class LfPermission:
    logical: str
    principal_arn: str
    permissions: tuple[str, ...]
    database: str
    table: str | None  # None: wildcard (every table of the database)
    columns: tuple[str, ...] | None  # None: every column
    excluded_columns: tuple[str, ...] = ()
    account: str = ""  # the account it is granted in ("": not known)
    catalog_id: str | None = None  # the catalog of the table it names (None: `account`'s)
    # on a data cells filter: its name (the columns and rows are the filter's), whether the
    # graph declares it, and its row filter (None: every row)
    data_filter: str | None = None
    filter_found: bool = True
    row_filter: str | None = None
    # granted on an LF-tag expression (`infra.audit.lftags`): the expression; None: by name
    via_tags: lftags.Expression | None = None

    @property
    def catalog(self) -> str:
        return self.catalog_id or self.account


@dataclass(frozen=True)
class DataFilter:
    """A Lake Formation data cells filter: `columns` None is every column but `excluded`."""

    columns: tuple[str, ...] | None
    excluded: tuple[str, ...]
    rows: str | None


@dataclass(frozen=True)
class Workgroup:
    """An Athena workgroup: where its results go and how they are encrypted."""

    name: str
    account: str
    domain: str | None
    enforced: bool
    results_bucket: str | None  # from the output location s3://<bucket>/...
    results_prefix: str
    encryption: str | None
    key_arn: str | None


@dataclass
class MeshGraph:
    roles: dict[str, Role] = field(default_factory=dict)  # by physical name
    buckets: dict[str, Bucket] = field(default_factory=dict)  # by bucket name
    keys: dict[str, Key] = field(default_factory=dict)  # by ARN
    tables: dict[tuple[str, str], Table] = field(default_factory=dict)  # by (database, name)
    databases: dict[str, str | None] = field(default_factory=dict)  # name -> domain
    bucket_keys: dict[str, str] = field(default_factory=dict)  # bucket -> default KMS key ARN
    # registered bucket ARN -> ARN of the role Lake Formation uses for it (None: service-linked)
    lf_locations: dict[str, str | None] = field(default_factory=dict)
    lf_permissions: list[LfPermission] = field(default_factory=list)
    documents: list[PolicyDoc] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # what the evaluator cannot see
    # resource links: (account, database name) -> (catalog id, database) it points at
    links: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    # DESCRIBE on a database (a resource link, `default`): (account, database, principal ARN)
    describes: set[tuple[str, str, str]] = field(default_factory=set)
    # the query path: buckets of domains rather than products (their Athena results), by
    # name -> domain; workgroups by (account, name); data cells filters by (catalog,
    # database, table, name)
    results_buckets: dict[str, str | None] = field(default_factory=dict)
    workgroups: dict[tuple[str, str], Workgroup] = field(default_factory=dict)
    data_filters: dict[tuple[str, str, str, str], DataFilter] = field(default_factory=dict)
    lf_tags: lftags.LfTags = field(default_factory=lftags.LfTags)  # LF-TBAC (infra.audit.lftags)

    def role_by_arn(self, arn: str) -> Role | None:
        return next((r for r in self.roles.values() if r.arn == arn), None)

    def tables_of(self, database: str) -> list[Table]:
        return [t for (db, _), t in sorted(self.tables.items()) if db == database]


def _parse(text: Any, where: str) -> dict[str, Any]:
    if isinstance(text, dict):  # a provider that takes the document as an object
        return text
    try:
        doc = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: policy is not a JSON document ({exc})") from None
    if not isinstance(doc, dict):
        raise TypeError(f"{where}: policy is not a JSON object")
    return doc


def _column(raw: dict[str, Any]) -> Column:
    params = raw.get("parameters") or {}
    return Column(raw["name"], raw.get("type", ""), str(params.get(PII_PARAMETER)) == "true")


def _trusted_service(trust: Any) -> str | None:
    """The service principal a trust policy admits, when it admits a service (a service role)."""
    for statement in (trust or {}).get("Statement", []) if isinstance(trust, dict) else []:
        principal = statement.get("Principal")
        if statement.get("Effect") == "Allow" and isinstance(principal, dict):
            service = principal.get("Service")
            if service:
                return service if isinstance(service, str) else ",".join(sorted(service))
    return None


def _bucket_from_location(location: str | None) -> str | None:
    if not location or not location.startswith("s3://"):
        return None
    return location[len("s3://") :].split("/", 1)[0]


def index(resources: Iterable[Any]) -> MeshGraph:
    """Build the audit's view from recorded resources (`Recorded` objects or look-alikes)."""
    g = MeshGraph()
    for r in resources:  # one by one: a stream of records is not held (`stackrun.merged`)
        inputs, outputs = r.inputs, r.outputs or {}
        tags = inputs.get("tags") or {}
        account = getattr(r, "account", "") or ""
        if r.type == ROLE:
            domain = tags.get(tag_keys.DOMAIN, "?")
            logical = parse_logical(r.name)
            kind = logical.part if logical.domain == domain and logical.part else r.name
            trust = _parse(inputs["assumeRolePolicy"], f"{r.name} assumeRolePolicy")
            role = Role(
                inputs["name"],
                outputs.get("arn", ""),
                r.name,
                domain,
                kind,
                _trusted_service(trust),
                account,
            )
            g.roles[role.name] = role
            g.documents.append(
                PolicyDoc(
                    f"trust/{r.name}",
                    "trust",
                    r.type,
                    r.name,
                    role.name,
                    None,
                    inputs["assumeRolePolicy"],
                    _parse(inputs["assumeRolePolicy"], f"{r.name} assumeRolePolicy"),
                )
            )
            for i, inline in enumerate(inputs.get("inlinePolicies") or []):
                if inline.get("policy"):
                    g.documents.append(
                        PolicyDoc(
                            f"inline/{r.name}/{inline.get('name') or i}",
                            "inline",
                            r.type,
                            r.name,
                            role.name,
                            inline.get("name"),
                            inline["policy"],
                            _parse(inline["policy"], f"{r.name} inlinePolicies[{i}]"),
                        )
                    )
            for arn in inputs.get("managedPolicyArns") or []:
                g.unsupported.append(f"role {role.name} has managed policy {arn} (not evaluated)")
        elif r.type == ROLE_POLICY:
            g.documents.append(
                PolicyDoc(
                    f"inline/{r.name}",
                    "inline",
                    r.type,
                    r.name,
                    inputs["role"],
                    inputs.get("name"),
                    inputs["policy"],
                    _parse(inputs["policy"], r.name),
                    account,
                )
            )
        elif r.type == ROLE_POLICY_ATTACHMENT:
            g.unsupported.append(
                f"role {inputs.get('role')} has managed policy {inputs.get('policyArn')} "
                "(not evaluated)"
            )
        elif r.type == BUCKET and tags.get(tag_keys.PRODUCT) == tag_keys.NO_PRODUCT:
            # a domain's bucket, not a product's: its query results (`infra.provision.query`)
            g.results_buckets[inputs["bucket"]] = tags.get(tag_keys.DOMAIN)
        elif r.type == WORKGROUP:
            wg = _workgroup(inputs, account, tags.get(tag_keys.DOMAIN))
            g.workgroups[(account, wg.name)] = wg
        elif r.type == DATA_FILTER:
            data = inputs.get("tableData") or {}
            wildcard = data.get("columnWildcard") or {}
            names = data.get("columnNames")
            g.data_filters[
                (
                    data.get("tableCatalogId") or account,
                    data.get("databaseName", ""),
                    data.get("tableName", ""),
                    data.get("name", ""),
                )
            ] = DataFilter(
                tuple(names) if names is not None else None,
                tuple(wildcard.get("excludedColumnNames") or ()),
                (data.get("rowFilter") or {}).get("filterExpression"),
            )
        elif r.type == BUCKET:
            name = inputs["bucket"]
            domain, product = tags.get(tag_keys.DOMAIN), tags.get(tag_keys.PRODUCT)
            pid = f"{domain}.{product}" if domain and product else None
            g.buckets[name] = Bucket(
                name, outputs.get("arn", f"arn:aws:s3:::{name}"), domain, pid, r.name
            )
        elif r.type == BUCKET_POLICY:
            g.documents.append(
                PolicyDoc(
                    f"bucket/{r.name}",
                    "bucket",
                    r.type,
                    r.name,
                    inputs["bucket"],
                    None,
                    inputs["policy"],
                    _parse(inputs["policy"], r.name),
                )
            )
        elif r.type == BUCKET_SSE:
            for rule in inputs.get("rules") or []:
                default = rule.get("applyServerSideEncryptionByDefault") or {}
                if default.get("kmsMasterKeyId"):
                    g.bucket_keys[inputs["bucket"]] = default["kmsMasterKeyId"]
        elif r.type == KEY:
            arn = outputs.get("arn", r.name)
            g.keys[arn] = Key(arn, tags.get(tag_keys.DOMAIN), r.name)
            if inputs.get("policy"):
                g.documents.append(
                    PolicyDoc(
                        f"key/{r.name}",
                        "key",
                        r.type,
                        r.name,
                        arn,
                        None,
                        inputs["policy"],
                        _parse(inputs["policy"], r.name),
                    )
                )
        elif r.type == DATABASE and isinstance(inputs.get("targetDatabase"), dict):
            target = inputs["targetDatabase"]
            g.links[(account, inputs["name"])] = (
                target.get("catalogId", ""),
                target.get("databaseName", ""),
            )
        elif r.type == DATABASE:
            g.databases[inputs["name"]] = tags.get(tag_keys.DOMAIN)
        elif r.type == TABLE:
            sd = inputs.get("storageDescriptor") or {}
            table = Table(
                inputs["databaseName"],
                inputs["name"],
                outputs.get("arn", ""),
                _bucket_from_location(sd.get("location")),
                tuple(_column(c) for c in sd.get("columns") or []),
                tuple(_column(c) for c in inputs.get("partitionKeys") or []),
                r.name,
                account,
            )
            g.tables[(table.database, table.name)] = table
        elif r.type == LF_RESOURCE:
            g.lf_locations[inputs["arn"]] = (
                None if inputs.get("useServiceLinkedRole") else inputs.get("roleArn")
            )
        elif r.type in lftags.HANDLED:
            lftags.add(g.lf_tags, r.type, r.name, inputs, account)
        elif r.type == LF_PERMISSIONS:
            if lftags.add_policy(g.lf_tags, r.name, inputs, account):
                continue  # on a tag expression: expanded below
            target = lf_target(inputs)
            if target is not None and target.kind == "database":
                # no table data by itself; DESCRIBE on a resource link makes it visible
                if "DESCRIBE" in (inputs.get("permissions") or ()):
                    catalog = inputs.get("catalogId") or account
                    g.describes.add((catalog, target.database, inputs.get("principal", "")))
            elif target is not None:
                g.lf_permissions.append(_lf_permission(r.name, inputs, account, target))
    # a permission on a data cells filter reads the filter's columns and rows
    g.lf_permissions = [_through_filter(g, p) for p in g.lf_permissions]
    lftags.expand(g, LfPermission)  # a permission on a tag expression: one per table
    return g


def _through_filter(g: MeshGraph, perm: LfPermission) -> LfPermission:
    if perm.data_filter is None:
        return perm
    table = g.tables.get((perm.database, perm.table or ""))
    catalog = perm.catalog or (table.account if table else "")
    found = g.data_filters.get((catalog, perm.database, perm.table or "", perm.data_filter))
    if found is None:  # nothing it names: it lets nothing through
        return replace(perm, columns=(), filter_found=False)
    return replace(
        perm, columns=found.columns, excluded_columns=found.excluded, row_filter=found.rows
    )


def _workgroup(inputs: dict[str, Any], account: str, domain: str | None) -> Workgroup:
    config = inputs.get("configuration") or {}
    result = config.get("resultConfiguration") or {}
    encryption = result.get("encryptionConfiguration") or {}
    location = result.get("outputLocation") or ""
    bucket = _bucket_from_location(location)
    prefix = location[len(f"s3://{bucket}/") :] if bucket else ""
    return Workgroup(
        inputs.get("name", ""),
        account,
        domain,
        config.get("enforceWorkgroupConfiguration") is True,
        bucket,
        prefix,
        encryption.get("encryptionOption"),
        encryption.get("kmsKeyArn"),
    )


def _lf_permission(name: str, inputs: dict[str, Any], account: str, t: LfTarget) -> LfPermission:
    """A permission on tables (data-location permissions have no target: they grant no table
    data by themselves)."""
    return LfPermission(
        name,
        inputs.get("principal", ""),
        tuple(inputs.get("permissions") or ()),
        t.database,
        t.table,
        t.columns,
        t.excluded if t.kind == "columns" else (),
        account,
        inputs.get("catalogId") or None,
        t.filter if t.kind == "filter" else None,
    )
