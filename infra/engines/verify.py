"""Verify a deployed mesh against the declared access model, as enforced by the emulator.

Three kinds of evidence, kept apart in the result:

* enforced — real S3 data-plane calls (GetObject, ListBucket, PutObject) made with each domain
  role's own session credentials while moto checks every request against IAM. moto grants only
  through identity policies (it applies a bucket policy's Deny statements, never its Allow
  statements), so what it proves is: nobody but the owning producer writes a product, and no
  consumer reads one through S3 at all — not even the grants that opt into direct read, which
  the bucket and key policies grant;
* evaluated — the audit's effective-access evaluator run on the graph as deployed (moto's real
  ARNs and key ids): every declared grant, the opted-in direct reads through the bucket and key
  policies included, is effective exactly as declared, and nothing else is;
* read back — configuration read from the emulator and compared with what was declared: Glue
  tables and columns, Lake Formation permissions (exactly the declared grants) and locations,
  bucket encryption/public access/versioning/ownership/lifecycle/policy, KMS key rotation and
  key policy. moto stores these but does not enforce Lake Formation, KMS key policies or
  conditional bucket-policy statements.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from infra.engines.moto import LocalAws, enforced_bucket_policy
from infra.engines.recording import ResourceGraph
from infra.model import access
from infra.model.mesh import Mesh
from infra.provision import documents as docs
from infra.provision import types as T
from infra.provision.names import (
    Part,
    child_name,
    domain_logical,
    physical_product_name,
    product_logical,
)
from infra.provision.program import StackSettings, direct_readers

PROBE_KEY = "data/_mesh_verify/probe.json"
OPERATIONS = ("read", "list", "write")  # s3:GetObject, s3:ListBucket, s3:PutObject
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "403", "InvalidClientTokenId"}


@dataclass(frozen=True)
class Cell:
    principal: str
    product: str
    expected: frozenset[str]
    actual: frozenset[str]

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


@dataclass(frozen=True)
class Check:
    kind: str  # glue | lakeformation | bucket | kms
    subject: str
    what: str
    ok: bool
    detail: str = ""


@dataclass
class Verification:
    principals: list[str]
    products: list[str]
    cells: list[Cell] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    calls: int = 0
    # (principal, product) reading directly through the bucket policy: moto denies these
    # calls; the evaluator proves them (checks of kind "evaluator")
    direct: set[tuple[str, str]] = field(default_factory=set)

    @property
    def mismatches(self) -> list[Cell]:
        return [c for c in self.cells if not c.ok]

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.failed_checks


def expected_s3(model: access.AccessModel) -> dict[tuple[str, str], frozenset[str]]:
    """What the emulator must allow on each product's storage, per principal: the producers'
    read, list and write. Direct reads opted into by a grant are granted by the bucket policy,
    which moto does not grant through: they are proven by the evaluator (`declared_direct`)."""
    return {
        (g.principal, g.product): frozenset(OPERATIONS) for g in model.grants if g.access == "write"
    }


def declared_direct(model: access.AccessModel) -> set[tuple[str, str]]:
    """(principal, product) of every active consumer grant with direct S3 read."""
    return {(g.principal, g.product) for g in model.grants if g.access == "read" and g.s3_direct}


def _denied(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in DENIED_CODES


def _try(call: Callable[[], object]) -> bool:
    try:
        call()
        return True
    except ClientError as exc:
        if _denied(exc):
            return False
        raise


def _s3_operations(s3, bucket: str, probe_key: str) -> dict[str, Callable[[], object]]:
    return {
        "read": lambda: s3.get_object(Bucket=bucket, Key=PROBE_KEY)["Body"].read(),
        "list": lambda: s3.list_objects_v2(Bucket=bucket, Prefix="data/"),
        "write": lambda: s3.put_object(Bucket=bucket, Key=probe_key, Body=b"{}"),
    }


def verify(
    mesh: Mesh,
    settings: StackSettings,
    today: dt.date,
    aws: LocalAws,
    graph: ResourceGraph,
    on_call: Callable[[], None] | None = None,
) -> Verification:
    model = access.declared_access(mesh, today)
    names = settings.names
    products = [access.product_id(bp.domain, p.name) for bp, p in mesh.products()]
    principals = [p for d in mesh.domains for p in (access.producer(d), access.consumer(d))]
    result = Verification(principals=principals, products=products, direct=declared_direct(model))
    buckets = {
        access.product_id(bp.domain, p.name): names.bucket(bp.domain, physical_product_name(p))
        for bp, p in mesh.products()
    }
    key_arns = {
        domain: graph.get(T.KEY, child_name(domain_logical(domain), Part.KEY)).outputs["arn"]
        for domain in mesh.domains
    }
    result.checks += _read_back(mesh, settings, aws, graph, buckets, key_arns, model, today)
    result.checks += _evaluated(graph, model, today)

    # Data plane: seed one object per product as the platform (IAM not yet enforced), take one
    # session per role, then let moto enforce IAM on every request.
    admin_s3 = aws.client("s3")
    for bucket in buckets.values():
        admin_s3.put_object(Bucket=bucket, Key=PROBE_KEY, Body=b"{}")
    sts = aws.client("sts")
    sessions = {}
    for principal in principals:
        domain, kind = principal.split(":")
        creds = sts.assume_role(
            RoleArn=settings.env.role_arn(names.role(domain, kind)),
            RoleSessionName=f"mesh-verify-{domain}-{kind}"[:64],
        )["Credentials"]
        sessions[principal] = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
    expected = expected_s3(model)
    aws.enforce_iam(True)
    try:
        for principal in principals:
            s3 = aws.client("s3", sessions[principal])
            for product in products:
                probe_key = f"data/_mesh_verify/{principal.replace(':', '-')}.json"
                ops = _s3_operations(s3, buckets[product], probe_key)
                allowed = set()
                for op, call in ops.items():
                    result.calls += 1
                    if _try(call):
                        allowed.add(op)
                    if on_call:
                        on_call()
                result.cells.append(
                    Cell(
                        principal,
                        product,
                        expected.get((principal, product), frozenset()),
                        frozenset(allowed),
                    )
                )
    finally:
        aws.enforce_iam(False)
    return result


def _evaluated(graph: ResourceGraph, model: access.AccessModel, today: dt.date) -> list[Check]:
    """The audit's effective-access evaluator on the deployed graph: one check per declared
    direct read (the path moto cannot show), and one for the whole access model."""
    from infra.audit.effective import annotate, compare, compute
    from infra.audit.view import index

    detail = compute(index(graph.resources), today)
    effective = annotate(detail, model)
    direct = {(g.principal, g.product) for g in effective if g.access == "read" and g.s3_direct}
    checks = [
        Check(
            "evaluator",
            f"{principal} -> {product}",
            "direct S3 read through the bucket and key policies",
            (principal, product) in direct,
            "" if (principal, product) in direct else "not effective in the deployed policies",
        )
        for principal, product in sorted(declared_direct(model))
    ]
    differences = compare(effective, model)
    checks.append(
        Check(
            "evaluator",
            "mesh",
            f"effective access == declared access ({len(effective)} grants)",
            not differences and not detail.problems,
            "; ".join(
                [f"{d.kind} {d.principal} -> {d.product}: {d.message}" for d in differences]
                + detail.problems
            ),
        )
    )
    return checks


def _read_back(
    mesh: Mesh,
    settings: StackSettings,
    aws: LocalAws,
    graph: ResourceGraph,
    buckets: dict[str, str],
    key_arns: dict[str, str],
    model: access.AccessModel,
    today: dt.date,
) -> list[Check]:
    names, env = settings.names, settings.env
    checks: list[Check] = []
    s3, glue, kms, lf = (aws.client(s) for s in ("s3", "glue", "kms", "lakeformation"))

    for bp, product in mesh.products():
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
            env, bucket, key_arn, direct_readers(mesh, bp, product, settings, today)
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

    # Lake Formation: permissions equal the declared grants (plus the producers' own tables)
    # every producer owns its database's tables, whether or not it has products yet
    owner_perms = tuple(sorted(docs.PRODUCER_LF_PERMISSIONS))
    want_lf = {
        (env.role_arn(names.role(d, "producer")), names.database(d), "*", None, owner_perms)
        for d in mesh.domains
    }
    for g in model.grants:
        domain, _, kind_role = g.principal.partition(":")
        role_arn = env.role_arn(names.role(domain, kind_role))
        owner, _, _ = g.product.partition(".")
        _, product = mesh.product(g.product)
        db = names.database(owner)
        if g.access == "read":
            table = names.table(physical_product_name(product))
            cols = None if g.whole_table else g.columns
            want_lf.add((role_arn, db, table, cols, tuple(sorted(docs.CONSUMER_LF_PERMISSIONS))))
    got_lf = set()
    token = None
    while True:
        page = lf.list_permissions(**({"NextToken": token} if token else {}))
        for entry in page["PrincipalResourcePermissions"]:
            res = entry["Resource"]
            principal = entry["Principal"]["DataLakePrincipalIdentifier"]
            perms = tuple(sorted(entry["Permissions"]))
            if "TableWithColumns" in res:
                t = res["TableWithColumns"]
                got_lf.add(
                    (
                        principal,
                        t["DatabaseName"],
                        t["Name"],
                        tuple(sorted(t["ColumnNames"])),
                        perms,
                    )
                )
            elif "Table" in res:
                t = res["Table"]
                got_lf.add(
                    (
                        principal,
                        t["DatabaseName"],
                        t.get("Name", "*") if "TableWildcard" not in t else "*",
                        None,
                        perms,
                    )
                )
            else:
                got_lf.add((principal, json.dumps(res, sort_keys=True), "", None, perms))
        token = page.get("NextToken")
        if not token:
            break
    for missing in sorted(want_lf - got_lf, key=str):
        checks.append(Check("lakeformation", missing[0], f"missing grant {missing[1:]}", False))
    for extra in sorted(got_lf - want_lf, key=str):
        checks.append(Check("lakeformation", extra[0], f"undeclared grant {extra[1:]}", False))
    checks.append(
        Check("lakeformation", "mesh", f"{len(want_lf)} permissions as declared", want_lf == got_lf)
    )
    held = lf.get_data_lake_settings()["DataLakeSettings"]
    admins = sorted(a["DataLakePrincipalIdentifier"] for a in held.get("DataLakeAdmins", []))
    checks.append(
        Check(
            "lakeformation",
            "platform",
            "data lake admins as configured",
            admins == sorted(settings.admins),
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
            "platform",
            "no default permissions for IAM_ALLOWED_PRINCIPALS on new databases/tables",
            defaults == ([], []),
            f"got {defaults}",
        )
    )
    registered = {r["ResourceArn"] for r in lf.list_resources().get("ResourceInfoList", [])}
    want_locations = {env.bucket_arn(b) for b in buckets.values()}
    checks.append(
        Check(
            "lakeformation",
            "mesh",
            f"{len(want_locations)} data locations registered",
            registered == want_locations,
            ""
            if registered == want_locations
            else f"missing {sorted(want_locations - registered)}, extra "
            f"{sorted(registered - want_locations)}",
        )
    )
    return checks
