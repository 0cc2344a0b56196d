"""The deployed mesh read back from the emulator and compared with what was generated.

Glue tables and columns, resource links, Lake Formation permissions (exactly the declared
grants, in the account that holds each), settings and locations, bucket encryption/public
access/versioning/ownership/lifecycle/policy, KMS key rotation and key policy — account by
account. moto stores these but enforces neither Lake Formation, KMS key policies nor
conditional bucket-policy statements: this is evidence of configuration, not of enforcement
(`infra.engines.verify` holds the enforced calls).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace

from botocore.exceptions import ClientError

from infra.engines.moto import LocalAws
from infra.engines.moto_appliers import enforced_bucket_policy
from infra.engines.moto_lftags import declared_policies, policy_entry
from infra.engines.recording import ResourceGraph
from infra.model import access
from infra.model.mesh import Mesh
from infra.provision import documents as docs
from infra.provision import types as T
from infra.provision.accounts import Accounts
from infra.provision.names import (
    Part,
    child_name,
    domain_logical,
    physical_product_name,
    product_logical,
)
from infra.provision.program import StackSettings, direct_readers
from infra.provision.querydocs import DEFAULT_DATABASE


@dataclass(frozen=True)
class Check:
    kind: str  # glue | lakeformation | bucket | kms
    subject: str
    what: str
    ok: bool
    detail: str = ""
    account: str = ""  # the account the checked resource is in ("": the whole mesh)


def read_back(
    mesh: Mesh,
    settings: StackSettings,
    aws: LocalAws,
    graph: ResourceGraph,
    buckets: dict[str, str],
    key_arns: dict[str, str],
    model: access.AccessModel,
    today: dt.date,
) -> list[Check]:
    names = settings.names
    accounts = settings.accounts(mesh)
    checks: list[Check] = []

    for bp, product in mesh.products():
        s3, glue = (aws.in_account(s, accounts.of(bp.domain)) for s in ("s3", "glue"))
        pid = access.product_id(bp.domain, product.name)
        bucket = buckets[pid]
        key_arn = key_arns[bp.domain]
        # Glue: the table has exactly the blueprint's columns and partition keys
        table = glue.get_table(
            DatabaseName=names.database(bp.domain), Name=names.table(physical_product_name(product))
        )["Table"]
        got = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        want = [(c.name, c.type) for c in product.columns]
        checks.append(
            Check("glue", pid, "columns", got == want, f"got {got}" if got != want else "")
        )
        got_p = [(c["Name"], c["Type"]) for c in table.get("PartitionKeys", [])]
        want_p = [(c.name, c.type) for c in product.partition_keys]
        checks.append(
            Check(
                "glue",
                pid,
                "partition keys",
                got_p == want_p,
                f"got {got_p}" if got_p != want_p else "",
            )
        )
        # Bucket settings
        enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        default = enc[0]["ApplyServerSideEncryptionByDefault"] if enc else {}
        enc_ok = (
            len(enc) == 1
            and default.get("SSEAlgorithm") == "aws:kms"
            and default.get("KMSMasterKeyID") == key_arn
            and enc[0].get("BucketKeyEnabled") is True
        )
        checks.append(
            Check(
                "bucket",
                pid,
                "SSE-KMS with the domain key, bucket key",
                enc_ok,
                "" if enc_ok else f"got {enc}",
            )
        )
        pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        checks.append(
            Check(
                "bucket",
                pid,
                "public access fully blocked",
                all(pab.values()) and len(pab) == 4,
                "" if all(pab.values()) else f"got {pab}",
            )
        )
        versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
        checks.append(
            Check("bucket", pid, "versioning enabled", versioning == "Enabled", f"got {versioning}")
        )
        owner = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
        checks.append(
            Check(
                "bucket",
                pid,
                "object ownership enforced",
                owner == [{"ObjectOwnership": "BucketOwnerEnforced"}],
                f"got {owner}",
            )
        )
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        days = [r.get("Expiration", {}).get("Days") for r in rules]
        checks.append(
            Check(
                "bucket",
                pid,
                f"objects expire after {product.retention_days} days",
                days == [product.retention_days],
                f"got {days}",
            )
        )
        # Bucket policy: the generated document is the builder's; conditional statements are
        # verified here, unconditional ones must be what the emulator holds.
        recorded = json.loads(
            graph.get(
                T.BUCKET_POLICY,
                child_name(product_logical(bp.domain, product.name), Part.BUCKET_POLICY),
            ).inputs["policy"]
        )
        expected_doc = docs.bucket_policy(
            accounts.env(bp.domain),
            bucket,
            key_arn,
            direct_readers(mesh, bp, product, settings, today),
        )
        checks.append(
            Check(
                "bucket",
                pid,
                "bucket policy is TLS-only and domain-key-only",
                recorded == expected_doc,
                "" if recorded == expected_doc else f"deployed {recorded}",
            )
        )
        try:
            held = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except Exception:  # noqa: BLE001 - NoSuchBucketPolicy: nothing enforceable was stored
            held = None
        want_held = enforced_bucket_policy(recorded)
        checks.append(
            Check(
                "bucket",
                pid,
                "enforceable bucket-policy statements held by emulator",
                held == want_held,
                f"got {held}",
            )
        )

    for domain in mesh.domains:
        kms = aws.in_account("kms", accounts.of(domain))
        key_id = key_arns[domain].rsplit("/", 1)[-1]
        rotation = kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
        checks.append(Check("kms", domain, "key rotation enabled", rotation, f"got {rotation}"))
        held = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
        recorded = json.loads(
            graph.get(T.KEY, child_name(domain_logical(domain), Part.KEY)).inputs["policy"]
        )
        checks.append(
            Check(
                "kms",
                domain,
                "key policy as generated",
                held == recorded,
                "" if held == recorded else f"got {held}",
            )
        )

    checks += _lake_formation(mesh, settings, accounts, aws, graph, buckets, model, today)
    checks += resource_links(aws, graph)
    domains = frozenset(mesh.domains)
    return [replace(c, account=_account_of(c.subject, domains, accounts)) for c in checks]


def _account_of(subject: str, domains: frozenset[str], accounts: Accounts) -> str:
    """The account of what a check is about: a domain or product is in its domain's account,
    an ARN or `<account>:<database>` names it, `platform` is the stack's; "" for the mesh."""
    domain = subject.partition(".")[0]
    if domain in domains:
        return accounts.of(domain)
    if subject == "platform":
        return accounts.platform
    if subject.startswith("arn:"):
        return subject.split(":")[4]
    head = subject.partition(":")[0]
    return head if len(head) == 12 and head.isdigit() else ""


def _lake_formation(
    mesh: Mesh,
    settings: StackSettings,
    accounts: Accounts,
    aws: LocalAws,
    graph: ResourceGraph,
    buckets: dict[str, str],
    model: access.AccessModel,
    today: dt.date,
) -> list[Check]:
    """Lake Formation, read back account by account: the permissions are exactly the declared
    grants (granted in the producer's account, on its catalog), the producers' own tables and
    DESCRIBE on the resource links of consumers in other accounts; the settings and the
    registered locations are as generated."""
    names = settings.names
    checks: list[Check] = []
    # every producer owns its database's tables, whether or not it has products yet
    owner_perms = tuple(sorted(docs.PRODUCER_LF_PERMISSIONS))
    role_arn = {
        (d, kind): accounts.env(d).role_arn(names.role(d, kind))
        for d in mesh.domains
        for kind in ("producer", "consumer")
    }
    describe = ("DESCRIBE",)
    want_lf = {
        (accounts.of(d), role_arn[d, "producer"], names.database(d), "*", None, owner_perms, None)
        for d in mesh.domains
        if not mesh.is_retired(d, today)  # a retired domain has no producer role
    }
    # the query path: both roles of every domain describe `default` in their account
    want_lf |= {
        (accounts.of(d), role_arn[d, kind], DEFAULT_DATABASE, "", None, describe, None)
        for d in mesh.domains
        for kind in ("producer", "consumer")
        if not mesh.is_retired(d, today)  # nor consumer role
    }
    for g in model.grants:
        domain, _, kind_role = g.principal.partition(":")
        owner, _, _ = g.product.partition(".")
        _, product = mesh.product(g.product)
        db = names.database(owner)
        if g.access != "read":
            continue
        table = names.table(physical_product_name(product))
        # a limited grant: its data cells filter's columns (the partition keys with them;
        # None: a wildcard, every column) and rows
        cols = None
        if not g.whole_table and set(g.columns) != {c.name for c in product.columns}:
            cols = tuple(sorted((*g.columns, *(k.name for k in product.partition_keys))))
        perms = tuple(sorted(docs.CONSUMER_LF_PERMISSIONS))
        if g.via_tags is None:  # a tag grant's permission is on its expression (below)
            want_lf.add(
                (
                    accounts.of(owner),
                    role_arn[domain, kind_role],
                    db,
                    table,
                    cols,
                    perms,
                    g.row_filter,
                )
            )
        if accounts.of(domain) != accounts.of(owner):  # the consumer sees the resource link
            want_lf.add(
                (accounts.of(domain), role_arn[domain, kind_role], db, "", None, describe, None)
            )
    want_lf |= declared_policies(graph.resources, settings.account)  # on tag expressions
    got_lf: set[tuple] = set()
    filters = data_filters(graph)
    for account in sorted({accounts.of(d) for d in mesh.domains}):
        lf = aws.in_account("lakeformation", account)
        got_lf |= {(account, *entry) for entry in permissions(lf, filters)}
    for missing in sorted(want_lf - got_lf, key=str):
        checks.append(
            Check(
                "lakeformation", missing[1], f"missing grant {missing[2:]} in {missing[0]}", False
            )
        )
    for extra in sorted(got_lf - want_lf, key=str):
        checks.append(
            Check("lakeformation", extra[1], f"undeclared grant {extra[2:]} in {extra[0]}", False)
        )
    checks.append(
        Check("lakeformation", "mesh", f"{len(want_lf)} permissions as declared", want_lf == got_lf)
    )

    for settings_resource in graph.by_type(T.LF_SETTINGS):
        account = settings_resource.account or settings.account
        inputs = settings_resource.inputs
        held = aws.in_account("lakeformation", account).get_data_lake_settings()["DataLakeSettings"]
        admins = sorted(a["DataLakePrincipalIdentifier"] for a in held.get("DataLakeAdmins", []))
        want_admins = sorted(settings.admins if account == settings.account else inputs["admins"])
        subject = "platform" if account == settings.account else account
        checks.append(
            Check(
                "lakeformation",
                subject,
                "data lake admins as configured",
                admins == want_admins,
                f"got {admins}",
            )
        )
        defaults = (
            held.get("CreateDatabaseDefaultPermissions"),
            held.get("CreateTableDefaultPermissions"),
        )
        checks.append(
            Check(
                "lakeformation",
                subject,
                "no default permissions for IAM_ALLOWED_PRINCIPALS on new databases/tables",
                defaults == ([], []),
                f"got {defaults}",
            )
        )
        if inputs.get("parameters"):
            params = held.get("Parameters") or {}
            checks.append(
                Check(
                    "lakeformation",
                    subject,
                    f"parameters {dict(inputs['parameters'])} (cross-account sharing)",
                    all(params.get(k) == v for k, v in inputs["parameters"].items()),
                    f"got {params}",
                )
            )

    for account in sorted({accounts.of(d) for d in mesh.domains}):
        lf = aws.in_account("lakeformation", account)
        registered = {r["ResourceArn"] for r in lf.list_resources().get("ResourceInfoList", [])}
        want_locations = {
            accounts.env(pid.partition(".")[0]).bucket_arn(b)
            for pid, b in buckets.items()
            if accounts.of(pid.partition(".")[0]) == account
        }
        where = "mesh" if not accounts.multi else account
        checks.append(
            Check(
                "lakeformation",
                where,
                f"{len(want_locations)} data locations registered",
                registered == want_locations,
                ""
                if registered == want_locations
                else f"missing {sorted(want_locations - registered)}, extra "
                f"{sorted(registered - want_locations)}",
            )
        )
    return checks


def data_filters(graph: ResourceGraph) -> dict[tuple, dict]:
    """The data cells filters as declared, by (catalog, database, table, name): moto 5.2.5
    holds none (`infra.engines.moto_query`), so a permission on one is resolved through the
    definition the engine applied."""
    out = {}
    for f in graph.by_type(T.LF_DATA_FILTER):
        data = f.inputs["tableData"]
        key = (data["tableCatalogId"], data["databaseName"], data["tableName"], data["name"])
        out[key] = data
    return out


def _filtered(principal: str, ref: dict, filters: dict[tuple, dict], perms: tuple) -> tuple:
    key = (ref.get("TableCatalogId"), ref["DatabaseName"], ref["TableName"], ref["Name"])
    data = filters.get(key)
    if data is None:  # a permission on a filter nobody declared
        return (principal, ref["DatabaseName"], ref["TableName"], ("?filter", ref["Name"]), perms)
    names = data.get("columnNames")
    cols = tuple(sorted(names)) if names is not None else None
    rows = (data.get("rowFilter") or {}).get("filterExpression")
    return (principal, ref["DatabaseName"], ref["TableName"], cols, perms, rows)


def permissions(lf, filters: dict[tuple, dict] | None = None) -> set[tuple]:
    """(principal, database, table or "*" or "" for the database itself, columns or None,
    permissions, row filter or None) of every Lake Formation permission one account holds."""
    got = set()
    token = None
    while True:
        page = lf.list_permissions(**({"NextToken": token} if token else {}))
        for entry in page["PrincipalResourcePermissions"]:
            res = entry["Resource"]
            principal = entry["Principal"]["DataLakePrincipalIdentifier"]
            perms = tuple(sorted(entry["Permissions"]))
            if "DataCellsFilter" in res:
                got.add(_filtered(principal, res["DataCellsFilter"], filters or {}, perms))
            elif "LFTagPolicy" in res:
                got.add(policy_entry(principal, res["LFTagPolicy"], perms))
            elif "TableWithColumns" in res:
                t = res["TableWithColumns"]
                got.add(
                    (
                        principal,
                        t["DatabaseName"],
                        t["Name"],
                        tuple(sorted(t["ColumnNames"])),
                        perms,
                        None,
                    )
                )
            elif "Table" in res:
                t = res["Table"]
                name = t.get("Name", "*") if "TableWildcard" not in t else "*"
                got.add((principal, t["DatabaseName"], name, None, perms, None))
            elif "Database" in res:
                got.add((principal, res["Database"]["Name"], "", None, perms, None))
            else:
                got.add((principal, json.dumps(res, sort_keys=True), "", None, perms, None))
        token = page.get("NextToken")
        if not token:
            return got


def resource_links(aws: LocalAws, graph: ResourceGraph) -> list[Check]:
    """Every resource link is in its consumer account's catalog, pointing at the producer's
    database (moto stores the target; it does not follow it)."""
    checks = []
    for link in graph.by_type(T.DATABASE):
        target = link.inputs.get("targetDatabase")
        if not target:
            continue
        try:
            held = aws.in_account("glue", link.account).get_database(Name=link.inputs["name"])
            got = held["Database"].get("TargetDatabase") or {}
        except ClientError as exc:  # EntityNotFoundException: the link is not there
            got = {"error": exc.response["Error"]["Code"]}
        want = {"CatalogId": target["catalogId"], "DatabaseName": target["databaseName"]}
        checks.append(
            Check(
                "glue",
                f"{link.account}:{link.inputs['name']}",
                f"resource link to {want['CatalogId']}:{want['DatabaseName']}",
                got == want,
                "" if got == want else f"got {got}",
            )
        )
    return checks
