"""Can a role *query* what Lake Formation lets it read? The Athena side of the evaluator.

A Lake Formation permission decides which tables, columns and rows a role reads; Athena also
needs, for the role (Athena User Guide, "Manage Lake Formation and Athena user permissions",
"Considerations and limitations for querying data registered with Lake Formation"):

- a workgroup of its domain, in its account, whose configuration is enforced and whose
  results go, SSE-KMS with a key, to a results bucket of that domain (one per domain: users of
  one workgroup see each other's results, so a shared one would leak column limits);
- IAM allowing it to run queries there (`athena:StartQueryExecution`, `athena:GetQueryResults`
  on the workgroup);
- S3 allowing it to write and read the results location (identity and bucket policy), and KMS
  allowing it to encrypt and decrypt them through S3 (identity and key policy);
- Lake Formation `DESCRIBE` on `default` in its account and IAM `glue:GetDatabase` on it.

`query_blockers` names each link that does not hold (empty: the role can query). It asks the
effective-access evaluator (`infra.audit.evaluator.Evaluator`, passed in) the same way the
rest of the audit does, so the same documents and the same IAM semantics decide.
"""

from __future__ import annotations

from typing import Any

from infra.audit.iameval import Caller
from infra.audit.view import MeshGraph, Role, Workgroup

DEFAULT_DATABASE = "default"
ATHENA_ACTIONS = ("athena:StartQueryExecution", "athena:GetQueryResults")
RESULTS_PROBE = "audit-probe"  # an object key under the results prefix


def _arn_parts(arn: str) -> tuple[str, str]:
    """(partition, region) of an ARN."""
    parts = arn.split(":")
    return (parts[1], parts[3]) if len(parts) > 4 else ("aws", "")


def _workgroups_of(ev: Any, graph: MeshGraph, role: Role) -> list[Workgroup]:
    """The workgroups of the role's domain in its account ("" on either side: not known).
    Indexed by domain once per evaluation (a scan of every workgroup per role was domains²)."""
    by_domain = getattr(ev, "workgroups_by_domain", None)
    if by_domain is None:
        by_domain = {}
        for (account, _), wg in sorted(graph.workgroups.items()):
            by_domain.setdefault(wg.domain, []).append((account, wg))
        ev.workgroups_by_domain = by_domain
    return [
        wg
        for account, wg in by_domain.get(role.domain, ())
        if not account or not role.account or account == role.account
    ]


def _workgroup_blockers(ev: Any, role: Role, wg: Workgroup, region: str) -> list[str]:
    g: MeshGraph = ev.g
    partition = "aws"
    if wg.key_arn:
        partition, region = _arn_parts(wg.key_arn)
    account = wg.account or role.account
    arn = f"arn:{partition}:athena:{region}:{account}:workgroup/{wg.name}"
    why = [
        f"IAM does not allow {a} on workgroup {wg.name}"
        for a in ATHENA_ACTIONS
        if not ev.iam_allows(role, a, arn).allowed
    ]
    if not wg.enforced:
        why.append(f"workgroup {wg.name} does not enforce its configuration")
    bucket = wg.results_bucket
    if bucket is None or g.results_buckets.get(bucket) != role.domain:
        why.append(
            f"the results location of workgroup {wg.name} ({bucket or 'none'}) is not a "
            f"results bucket of domain {role.domain}"
        )
        return why
    if wg.encryption != "SSE_KMS" or not wg.key_arn:
        why.append(f"workgroup {wg.name} does not encrypt its results with SSE-KMS and a key")
    caller = Caller(role.arn)
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    probe = f"{bucket_arn}/{wg.results_prefix}{RESULTS_PROBE}"
    for action in ("s3:PutObject", "s3:GetObject"):
        if not ev.s3_object(role, caller, bucket, probe, action).allowed:
            why.append(f"IAM or the bucket policy does not allow {action} on {probe}")
    if wg.key_arn:
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            if not ev.kms(role, caller, wg.key_arn, action, bucket_arn).allowed:
                why.append(f"IAM or the key policy does not allow {action} on {wg.key_arn}")
    return why


def query_blockers(ev: Any, graph: MeshGraph, role: Role) -> list[str]:
    """Why `role` cannot run an Athena query on what Lake Formation grants it (empty: it can).
    Reports the links of the workgroup that comes closest."""
    why: list[str] = []
    region = next((_arn_parts(t.arn)[1] for t in graph.tables.values() if t.arn), "") or next(
        (_arn_parts(k)[1] for k in graph.keys), ""
    )
    partition = _arn_parts(role.arn)[0] if role.arn else "aws"
    candidates = _workgroups_of(ev, graph, role)
    if not candidates:
        why.append(f"no Athena workgroup of domain {role.domain} in account {role.account}")
    else:
        found = [_workgroup_blockers(ev, role, wg, region) for wg in candidates]
        why += min(found, key=len)
    account = role.account or ""
    if (account, DEFAULT_DATABASE, role.arn) not in graph.describes and not (
        not account and any(d == DEFAULT_DATABASE and p == role.arn for _, d, p in graph.describes)
    ):
        why.append(f"no Lake Formation DESCRIBE on the default database in account {account}")
    db_arn = f"arn:{partition}:glue:{region}:{account}:database/{DEFAULT_DATABASE}"
    if not ev.iam_allows(role, "glue:GetDatabase", db_arn).allowed:
        why.append(f"IAM does not allow glue:GetDatabase on {db_arn}")
    return why
