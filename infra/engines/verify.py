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
* read back — configuration read from the emulator, account by account, and compared with
  what was declared (`infra.engines.readback`): moto stores it but does not enforce Lake
  Formation, KMS key policies or conditional bucket-policy statements.

In a multi-account mesh each role's session is taken in the role's own account (moto's STS,
like AWS's, hands out credentials of the account a role ARN names) and every read-back is made
with an administrator's session in the account that holds the resource.

The enforced calls run in forks, one per core (`infra.engines.parallel`), and what they write
is gone with the forks; the object seeded per product for them is deleted (its version, not
behind a delete marker: the buckets are versioned) afterwards, so the products' storage is
left as deployed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from infra.engines import parallel
from infra.engines.emulator import Deviation, calibrate
from infra.engines.moto import LocalAws
from infra.engines.readback import Check, read_back
from infra.engines.readback_lftags import lf_tags_read_back
from infra.engines.readback_query import query_paths
from infra.engines.recording import ResourceGraph
from infra.model import access
from infra.model.mesh import Mesh
from infra.provision import types as T
from infra.provision.names import (
    Part,
    child_name,
    domain_logical,
    physical_product_name,
)
from infra.provision.program import StackSettings

PROBE_KEY = "data/_mesh_verify/probe.json"
OPERATIONS = ("read", "list", "write")  # s3:GetObject, s3:ListBucket, s3:PutObject
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "403", "InvalidClientTokenId"}


@dataclass(frozen=True)
class Cell:
    principal: str
    product: str
    expected: frozenset[str]
    actual: frozenset[str]
    # operations the emulator does not authorize as AWS does (`infra.engines.emulator`): its
    # answers for them prove nothing either way and are not compared
    unproven: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return self.expected - self.unproven == self.actual - self.unproven


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
    # where the emulator authorizes otherwise than AWS: reported as the emulator's, not the mesh's
    deviations: list[Deviation] = field(default_factory=list)

    def principals_domains(self) -> list[str]:
        return list(dict.fromkeys(p.split(":")[0] for p in self.principals))

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


def _try(call: Callable[[], dict]) -> dict | None:
    """The response, or None when the emulator denied the call."""
    try:
        return call()
    except ClientError as exc:
        if _denied(exc):
            return None
        raise


def _s3_operations(s3, bucket: str, probe_key: str) -> dict[str, Callable[[], dict]]:
    return {
        "read": lambda: {"Body": s3.get_object(Bucket=bucket, Key=PROBE_KEY)["Body"].read()},
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
    principals = [
        p
        for d in mesh.domains
        if not mesh.is_retired(d, today)  # a retired domain has no roles
        for p in (access.producer(d), access.consumer(d))
    ]
    result = Verification(principals=principals, products=products, direct=declared_direct(model))
    accounts = settings.accounts(mesh)
    buckets = {
        access.product_id(bp.domain, p.name): names.bucket(
            bp.domain, physical_product_name(p), accounts.of(bp.domain)
        )
        for bp, p in mesh.products()
    }
    key_arns = {
        domain: graph.get(T.KEY, child_name(domain_logical(domain), Part.KEY)).outputs["arn"]
        for domain in mesh.domains
    }

    # Is each probed call authorized as AWS authorizes it? (moto 5.2.6 did not, for ListObjectsV2)
    result.deviations = calibrate(aws, aws.account)
    unproven = frozenset(d.operation for d in result.deviations)

    # Data plane: seed one object per product as the platform (IAM not yet enforced), take one
    # session per role, then let moto enforce IAM on every request.
    seeded = []  # (owner's account, bucket, key, version id)
    for product, bucket in buckets.items():
        owner = accounts.of(product.partition(".")[0])
        put = aws.in_account("s3", owner).put_object(Bucket=bucket, Key=PROBE_KEY, Body=b"{}")
        seeded.append((owner, bucket, PROBE_KEY, put["VersionId"]))
    sts = aws.client("sts")
    sessions = {}
    for principal in principals:
        domain, kind = principal.split(":")
        creds = sts.assume_role(  # a role of another account: a session in that account
            RoleArn=accounts.env(domain).role_arn(names.role(domain, kind)),
            RoleSessionName=f"mesh-verify-{domain}-{kind}"[:64],
        )["Credentials"]
        sessions[principal] = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
    expected = expected_s3(model)

    def progress(probed: _Probed) -> None:
        for _ in range(probed.calls if on_call else 0):
            on_call()

    def meanwhile() -> list[Check]:
        """Here, while the forks probe (after the probes when nothing forks): IAM enforcement
        off again for this process only, and the read-back and the evaluator."""
        aws.enforce_iam(False)
        return [
            *read_back(mesh, settings, aws, graph, buckets, key_arns, model, today),
            *query_paths(mesh, settings, aws, key_arns),
            *lf_tags_read_back(aws, graph, settings.account),
            *_evaluated(graph, model, today),
        ]

    aws.enforce_iam(True)
    try:
        # in forks, one per core: each has the emulator's state as a copy (enforcement on),
        # and what its probes write is gone with it (`infra.engines.parallel`)
        probes = parallel.map_in_forks(
            lambda principal: _probe(aws, sessions[principal], principal, products, buckets),
            principals,
            on_result=progress,
            meanwhile=meanwhile,
        )
    finally:
        aws.enforce_iam(False)
    result.checks += probes.meanwhile
    written = list(seeded)
    for principal, probed in zip(principals, probes.results):
        result.calls += probed.calls
        if not probes.forked:  # run here: the producers' probe writes are in the buckets
            owner = accounts.of(principal.partition(":")[0])
            written += [(owner, *w) for w in probed.written]
        for product, allowed in probed.allowed.items():
            result.cells.append(
                Cell(
                    principal,
                    product,
                    expected.get((principal, product), frozenset()),
                    frozenset(allowed),
                    unproven,
                )
            )
    for account, bucket, key, version in written:
        aws.in_account("s3", account).delete_object(Bucket=bucket, Key=key, VersionId=version)
    return result


@dataclass
class _Probed:
    """What one principal's session could do on every product, and the objects it wrote."""

    allowed: dict[str, list[str]]
    calls: int
    written: list[tuple[str, str, str]]  # bucket, key, version id


def _probe(aws: LocalAws, session: dict, principal: str, products, buckets) -> _Probed:
    s3 = aws.client("s3", session)
    probe_key = f"data/_mesh_verify/{principal.replace(':', '-')}.json"
    probed = _Probed({}, 0, [])
    for product in products:
        allowed = []
        for op, call in _s3_operations(s3, buckets[product], probe_key).items():
            probed.calls += 1
            response = _try(call)
            if response is not None:
                allowed.append(op)
                if op == "write":
                    probed.written.append((buckets[product], probe_key, response["VersionId"]))
        probed.allowed[product] = allowed
    return probed


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
