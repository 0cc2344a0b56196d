"""Drift: the live accounts compared with what the blueprints declare (`mesh drift`).

What is declared is the recorded plan of the stack (`infra.engines.recording.run_program`,
the graph `mesh plan` prints); what is live is read with boto3, in each account of the mesh:
the real accounts (the caller's credentials in the platform account, the deploy role
`mesh:deployRoleName` assumed in each other one, as `pulumi up` does) or the kept local mesh
(`mesh up --local --keep`: its administrator user in each emulated account). Compared, for the
stack's resources:

- Lake Formation permissions on the mesh's databases and tables (and their resource links),
  including grants the mesh never made: a grant given in the console is `unexpected`;
- each mesh role's trust policy, inline policies (an extra one is unexpected) and attached
  managed policies (none are declared);
- each product bucket's policy and each domain key's policy;
- resource links (missing, or pointing elsewhere) and Glue databases named like the mesh's that
  it does not declare;
- the data lake settings (administrators, default permissions, cross-account parameters);
- LF-tags: each catalog's keys and values, the tags assigned to each database, table and
  column the stack tags, and any assigned by hand on those it creates and does not tag
  (`infra.engines.drift_lftags`).

A KMS key's ARN is the one thing AWS chooses: the declared documents get the live key's ARN
(found by its alias) before they are compared. Locally, a bucket holds only the statements the
emulator can enforce (`infra.engines.moto_appliers.enforced_bucket_policy`), which is what is expected
of it there. Documents are compared in a canonical form (a one-element list is its element,
lists sorted), as IAM returns them rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from infra.engines.drift_lftags import lf_tag_drift
from infra.engines.moto_lftags import ON_TAGS, declared_policies
from infra.engines.readback import data_filters, permissions
from infra.engines.recording import ResourceGraph
from infra.provision import types as T
from infra.provision.graph import lf_target
from infra.provision.program import SCOPE_ALL, SCOPE_PLATFORM, StackSettings
from infra.provision.querydocs import DEFAULT_DATABASE

Client = Callable[[str, str], Any]  # (service, account) -> a boto3 client there


@dataclass(frozen=True)
class Finding:
    kind: str  # lakeformation | role | role_policy | bucket_policy | key_policy | resource_link
    #          | database | lake_settings | lf_tag | lf_tag_assignment
    account: str
    resource: str
    detail: str

    def text(self) -> str:
        return f"{self.kind} {self.account} {self.resource}: {self.detail}"


@dataclass
class Drift:
    unexpected: list[Finding] = field(default_factory=list)
    missing: list[Finding] = field(default_factory=list)
    changed: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.unexpected or self.missing or self.changed)

    def as_json(self) -> dict:
        return {
            name: [asdict(f) for f in sorted(group, key=lambda f: tuple(asdict(f).values()))]
            for name, group in (
                ("unexpected", self.unexpected),
                ("missing", self.missing),
                ("changed", self.changed),
            )
        }


def canonical(doc: Any) -> Any:
    """A policy document as IAM, S3 and KMS may hand it back: one-element lists as their
    element, lists sorted, statements without their Sid order."""
    if isinstance(doc, dict):
        return {k: canonical(v) for k, v in sorted(doc.items())}
    if isinstance(doc, list):
        items = [canonical(v) for v in doc]
        if len(items) == 1:
            return items[0]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return doc


def _document(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _in_scope(database: str, settings: StackSettings, databases: set[str]) -> bool:
    return (
        database in databases
        if settings.scope != SCOPE_ALL
        else database.startswith(settings.names.database_prefix())
    )


def drift(
    graph: ResourceGraph,
    settings: StackSettings,
    accounts: list[str],
    client: Client,
    local: bool = False,
) -> Drift:
    """Compare the live accounts with the recorded plan `graph` of the stack `settings`
    declares. `accounts`: every account of the mesh (where grants and links may be)."""
    out = Drift()
    key_arns = _key_arns(graph, client, out)

    def expected(value: Any) -> Any:
        text = value if isinstance(value, str) else json.dumps(value)
        for recorded, live in key_arns.items():
            text = text.replace(recorded, live)
        return _document(text)

    if settings.scope != SCOPE_PLATFORM:
        databases = {r.inputs["name"] for r in graph.by_type(T.DATABASE)}
        _lake_formation(graph, settings, accounts, client, databases, out)
        _roles(graph, client, expected, out)
        _bucket_policies(graph, client, expected, local, out)
        _key_policies(graph, client, expected, key_arns, out)
        _links_and_databases(graph, settings, accounts, client, databases, out)
    _lake_settings(graph, settings, client, out)
    for group, *fields in lf_tag_drift(graph, settings.account, client):
        getattr(out, group).append(Finding(*fields))
    return out


def _key_arns(graph: ResourceGraph, client: Client, out: Drift) -> dict[str, str]:
    """Recorded key ARN -> the live key's, found by the key's alias."""
    arns = {}
    aliases = {a.inputs.get("targetKeyId"): a for a in graph.by_type(T.ALIAS)}
    for key in graph.by_type(T.KEY):
        alias = next(
            (a for a in graph.by_type(T.ALIAS) if a.parent == key.parent), None
        ) or aliases.get(key.outputs.get("keyId"))
        if alias is None:
            continue
        try:
            meta = client("kms", key.account).describe_key(KeyId=alias.inputs["name"])
            arns[key.outputs["arn"]] = meta["KeyMetadata"]["Arn"]
        except ClientError as exc:
            if _code(exc) != "NotFoundException":
                raise
            out.missing.append(Finding("key_policy", key.account, alias.inputs["name"], "no key"))
    return arns


def _lake_formation(graph, settings, accounts, client, databases, out: Drift) -> None:
    # a permission on a data cells filter is compared through the declared filter's columns
    # and rows (the filter's own definition is not read back: moto holds none)
    filters = data_filters(graph)
    declared: set[tuple] = set()
    for r in graph.by_type(T.LF_PERMISSIONS):
        target = lf_target(r.inputs)
        if target is None:
            continue
        rows = None
        if target.kind == "database":
            where: tuple = (target.database, "", None)
        elif target.kind == "filter":
            ref = r.inputs["dataCellsFilter"]
            data = filters.get(
                (ref.get("tableCatalogId"), target.database, target.table, target.filter)
            )
            names = (data or {}).get("columnNames")
            cols = tuple(sorted(names)) if names is not None else None
            where = (target.database, target.table, cols)
            rows = ((data or {}).get("rowFilter") or {}).get("filterExpression")
        elif target.kind == "columns" and target.columns is not None:
            where = (target.database, target.table, tuple(sorted(target.columns)))
        else:
            where = (target.database, target.table or "*", None)
        perms = tuple(sorted(r.inputs["permissions"]))
        declared.add((r.account, r.inputs["principal"], *where, perms, rows))
    # `default` is no mesh database: only the stack's own roles' permissions on it (the
    # query path's DESCRIBE) are the stack's to compare
    default_roles = {e[1] for e in declared if e[2] == DEFAULT_DATABASE}
    # permissions on tag expressions, as the read-back lists them: a stack of the whole mesh
    # owns every one; a domain's stack those to the principals it grants by tag
    declared |= declared_policies(graph.resources, settings.account)
    tag_roles = {e[1] for e in declared if e[2].startswith(ON_TAGS)}
    live: set[tuple] = set()
    for account in accounts:
        for entry in permissions(client("lakeformation", account), filters):
            mine = entry[1] == DEFAULT_DATABASE and entry[0] in default_roles
            if entry[1].startswith(ON_TAGS):
                mine = settings.scope == SCOPE_ALL or entry[0] in tag_roles
            if mine or _in_scope(entry[1], settings, databases):
                live.add((account, *entry))

    def finding(e: tuple) -> Finding:
        account, principal, db, table, cols, perms, _rows = e
        what = db if table == "" else f"{db}.{table}"
        if cols is not None:
            what += f" ({', '.join(cols)})"
        return Finding("lakeformation", account, what, f"{', '.join(perms)} to {principal}")

    out.unexpected += [finding(e) for e in sorted(live - declared, key=str)]
    out.missing += [finding(e) for e in sorted(declared - live, key=str)]


def _roles(graph, client, expected, out: Drift) -> None:
    policies: dict[tuple[str, str], dict[str, Any]] = {}
    for p in graph.by_type(T.ROLE_POLICY):
        policies.setdefault((p.account, p.inputs["role"]), {})[p.inputs["name"]] = p.inputs[
            "policy"
        ]
    for role in graph.by_type(T.ROLE):
        name, account = role.inputs["name"], role.account
        iam = client("iam", account)
        try:
            live_role = iam.get_role(RoleName=name)["Role"]
        except ClientError as exc:
            if _code(exc) != "NoSuchEntity":
                raise
            out.missing.append(Finding("role", account, name, "no such role"))
            continue
        want_trust = canonical(expected(role.inputs["assumeRolePolicy"]))
        got_trust = canonical(_document(live_role["AssumeRolePolicyDocument"]))
        if want_trust != got_trust:
            out.changed.append(
                Finding("role", account, name, f"trust policy is {json.dumps(got_trust)}")
            )
        want = policies.get((account, name), {})
        names = set(iam.list_role_policies(RoleName=name)["PolicyNames"])
        for extra in sorted(names - set(want)):
            out.unexpected.append(
                Finding("role_policy", account, f"{name}/{extra}", "inline policy")
            )
        for gone in sorted(set(want) - names):
            out.missing.append(Finding("role_policy", account, f"{name}/{gone}", "inline policy"))
        for policy in sorted(names & set(want)):
            doc = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
            got = canonical(_document(doc))
            if got != canonical(expected(want[policy])):
                out.changed.append(
                    Finding("role_policy", account, f"{name}/{policy}", f"is {json.dumps(got)}")
                )
        attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        for a in attached:
            out.unexpected.append(
                Finding(
                    "role_policy",
                    account,
                    f"{name}/{a['PolicyName']}",
                    f"attached {a['PolicyArn']}",
                )
            )


def _bucket_policies(graph, client, expected, local: bool, out: Drift) -> None:
    from infra.engines.moto_appliers import enforced_bucket_policy

    for p in graph.by_type(T.BUCKET_POLICY):
        bucket, account = p.inputs["bucket"], p.account
        want = expected(p.inputs["policy"])
        if local:
            want = enforced_bucket_policy(want)
        try:
            got = _document(client("s3", account).get_bucket_policy(Bucket=bucket)["Policy"])
        except ClientError as exc:
            if _code(exc) == "NoSuchBucket":
                out.missing.append(Finding("bucket_policy", account, bucket, "no such bucket"))
                continue
            if _code(exc) != "NoSuchBucketPolicy":
                raise
            got = None
        if want is None and got is not None:
            out.unexpected.append(
                Finding("bucket_policy", account, bucket, f"policy {json.dumps(canonical(got))}")
            )
        elif want is not None and got is None:
            out.missing.append(Finding("bucket_policy", account, bucket, "no bucket policy"))
        elif want is not None and canonical(got) != canonical(want):
            out.changed.append(
                Finding("bucket_policy", account, bucket, f"is {json.dumps(canonical(got))}")
            )


def _key_policies(graph, client, expected, key_arns, out: Drift) -> None:
    for key in graph.by_type(T.KEY):
        live_arn = key_arns.get(key.outputs.get("arn", ""))
        if live_arn is None:
            continue
        doc = client("kms", key.account).get_key_policy(KeyId=live_arn, PolicyName="default")
        got = canonical(_document(doc["Policy"]))
        if got != canonical(expected(key.inputs["policy"])):
            out.changed.append(
                Finding("key_policy", key.account, live_arn, f"is {json.dumps(got)}")
            )


def _links_and_databases(graph, settings, accounts, client, databases, out: Drift) -> None:
    declared = {(r.account, r.inputs["name"]): r for r in graph.by_type(T.DATABASE)}
    for (account, name), r in sorted(declared.items()):
        target = r.inputs.get("targetDatabase")
        try:
            held = client("glue", account).get_database(Name=name)["Database"]
        except ClientError as exc:
            if _code(exc) != "EntityNotFoundException":
                raise
            kind = "resource_link" if target else "database"
            out.missing.append(Finding(kind, account, name, "no such database"))
            continue
        if target:
            want = {"CatalogId": target["catalogId"], "DatabaseName": target["databaseName"]}
            got = held.get("TargetDatabase") or {}
            if got != want:
                out.changed.append(
                    Finding("resource_link", account, name, f"targets {json.dumps(got)}")
                )
    for account in accounts:
        glue = client("glue", account)
        for page in glue.get_paginator("get_databases").paginate():
            for db in page["DatabaseList"]:
                name = db["Name"]
                if (account, name) in declared or not _in_scope(name, settings, databases):
                    continue
                out.unexpected.append(
                    Finding("database", account, name, "a database named like the mesh's")
                )


def _lake_settings(graph, settings, client, out: Drift) -> None:
    for r in graph.by_type(T.LF_SETTINGS):
        account = r.account or settings.account
        held = client("lakeformation", account).get_data_lake_settings()["DataLakeSettings"]
        admins = sorted(a["DataLakePrincipalIdentifier"] for a in held.get("DataLakeAdmins", []))
        if admins != sorted(r.inputs["admins"]):
            out.changed.append(Finding("lake_settings", account, "admins", f"are {admins}"))
        for key, field_name in (
            ("createDatabaseDefaultPermissions", "CreateDatabaseDefaultPermissions"),
            ("createTableDefaultPermissions", "CreateTableDefaultPermissions"),
        ):
            got = held.get(field_name) or []
            if got != (r.inputs.get(key) or []):
                out.changed.append(Finding("lake_settings", account, field_name, f"is {got}"))
        params = held.get("Parameters") or {}
        for k, v in (r.inputs.get("parameters") or {}).items():
            if params.get(k) != v:
                out.changed.append(
                    Finding("lake_settings", account, f"Parameters.{k}", f"is {params.get(k)!r}")
                )


def local_client(state: dict) -> Client:
    """Clients of the kept local mesh (`infra.engines.sandbox` state): its administrator user
    in each emulated account, over HTTP."""
    import boto3
    from botocore.config import Config

    cache: dict[tuple[str, str], Any] = {}
    config = Config(retries={"max_attempts": 2, "mode": "standard"})

    def client(service: str, account: str) -> Any:
        if (service, account) not in cache:
            admin = state["admins"].get(account)
            if admin is None:
                from infra.errors import MeshError

                raise MeshError(f"the kept local mesh has no account {account}")
            cache[service, account] = boto3.client(
                service,
                endpoint_url=state["endpoint"],
                region_name=state["region"],
                config=config,
                **admin["credentials"],
            )
        return cache[service, account]

    return client


def aws_client(settings: StackSettings) -> Client:
    """Clients of the real accounts: the caller's credentials in the platform account
    (`mesh:account`), the deploy role (`mesh:deployRoleName`) assumed in every other one."""
    import boto3

    session = boto3.session.Session(region_name=settings.region)
    sessions: dict[str, Any] = {settings.account: session}
    cache: dict[tuple[str, str], Any] = {}

    def client(service: str, account: str) -> Any:
        if account not in sessions:
            role = f"arn:{settings.env.partition}:iam::{account}:role/{settings.deploy_role_name}"
            creds = session.client("sts").assume_role(RoleArn=role, RoleSessionName="mesh-drift")
            c = creds["Credentials"]
            sessions[account] = boto3.session.Session(
                aws_access_key_id=c["AccessKeyId"],
                aws_secret_access_key=c["SecretAccessKey"],
                aws_session_token=c["SessionToken"],
                region_name=settings.region,
            )
        if (service, account) not in cache:
            cache[service, account] = sessions[account].client(service)
        return cache[service, account]

    return client
