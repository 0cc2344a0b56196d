"""`mesh doctor`: a read-only preflight of the accounts a stack deploys into.

With the credentials of each account (`Access`), it checks what `pulumi up` needs and what the
mesh relies on once deployed, and names each missing piece with its fix:

- `deploy-role`: the deploy role of each domain account other than the platform's exists and
  trusts the platform's deployers (`infra.provision.bootstrap` creates it);
- `deploy-permissions`: its policies allow every action the program needs there
  (`infra.provision.deploy_role.required_requests`, AWS RAM's for cross-account sharing
  included), evaluated with the audit's IAM evaluator over its inline and attached policies;
- `lf-admins`: the account's Lake Formation administrators include every one the stack
  declares (the platform stack's settings); administrators the account has that the
  declaration does not name are reported as notes: the next platform deploy removes them;
- `lf-defaults`: no `IAM_ALLOWED_PRINCIPALS` default on new databases and tables (a domain
  stack waits for it: `infra.provision.guard`);
- `cross-account-version`: `CROSS_ACCOUNT_VERSION` as declared, in a multi-account mesh;
- `ram-sharing`: in a multi-account mesh, AWS RAM sharing with the Organization (read from the
  management account); outside one, pending resource share invitations;
- `glue-policy`: in a multi-account mesh, an account holding products has no Data Catalog
  resource policy, or one that lets AWS RAM share its tables, databases and catalog
  (`infra.engines.doctor_catalog`);
- `bucket-name`: each bucket the stack will create is free (`HeadBucket`: 404) or already the
  account's own, never another account's;
- `quota`: where Service Quotas exposes it (IAM roles, S3 buckets per account), room for what
  the stack adds.

What an API does not answer (a service the emulator does not implement, a call only the
management account may make) is a note, never a pass: `unchecked`.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.audit.iameval import Request, decide, evaluate
from infra.engines.doctor_catalog import check_catalog_policy, shared_resources
from infra.errors import MeshError
from infra.model.mesh import Mesh
from infra.provision.bootstrap import deployers
from infra.provision.deploy_role import required_requests
from infra.provision.documents import CROSS_ACCOUNT_PARAMETERS
from infra.provision.names import physical_product_name
from infra.provision.program import StackSettings

IAM_ALLOWED = "IAM_ALLOWED_PRINCIPALS"
RAM_PRINCIPAL = "ram.amazonaws.com"
QUOTAS = (  # (service code, quota code, what it counts)
    ("iam", "L-FE177D64", "IAM roles"),
    ("s3", "L-DC2B2D3D", "S3 general purpose buckets"),
)

GLUE_FIX = (
    "add to the Data Catalog resource policy: Allow glue:ShareResource to the service "
    "ram.amazonaws.com on arn:aws:glue:<region>:<account>:table/*/*, database/* and catalog "
    "(or remove the policy)"
)

Access = Callable[[str, str], Any]  # (service, account) -> a boto3 client with its credentials


class NoAccess(MeshError):
    """No credentials of an account: the deploy role cannot be assumed there."""


@dataclass
class Check:
    account: str
    check: str
    ok: bool
    message: str
    fix: str | None = None


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)
    notes: list[Check] = field(default_factory=list)  # informative, never a failure

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def missing(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def as_json(self) -> dict:
        def row(c: Check) -> dict:
            return {k: v for k, v in asdict(c).items() if k != "ok"}

        return {
            "ok": self.ok,
            "missing": [row(c) for c in self.missing],
            "checks": [asdict(c) for c in self.checks],
            "notes": [row(c) for c in self.notes],
        }

    def add(self, account: str, check: str, ok: bool, message: str, fix: str | None = None):
        self.checks.append(Check(account, check, ok, message, None if ok else fix))

    def note(self, account: str, check: str, message: str, fix: str | None = None) -> None:
        self.notes.append(Check(account, check, True, message, fix))


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "")
    return type(exc).__name__


def _statements(doc: Any) -> dict:
    if isinstance(doc, str):
        doc = json.loads(urllib.parse.unquote(doc))
    return doc


def diagnose(
    mesh: Mesh, settings: StackSettings, access: Access, *, check_caller: bool = True
) -> DoctorReport:
    """Every check for the accounts of `settings`' stack over `mesh`, read with `access`.
    `check_caller`: the platform credentials are the deployer's (not the emulator's admin)."""
    report = DoctorReport()
    accounts = settings.accounts(mesh)
    foreign = accounts.foreign(mesh.all_domains)
    platform = accounts.platform
    lake = settings.lake_declarations(mesh)
    if check_caller:
        _caller(report, access, settings, lake[platform].admins)
    for account in [platform, *foreign]:
        env = accounts.env_of_account(account)
        try:
            if account != platform:
                if not _deploy_role(report, access, settings, account):
                    continue
                _permissions(report, access, settings, account, env, accounts.multi)
        except NoAccess as exc:
            report.add(account, "deploy-role", False, str(exc), _bootstrap_fix(settings, account))
            continue
        _lake(report, access, account, lake[account].admins, accounts.multi)
        buckets = [
            settings.names.bucket(bp.domain, physical_product_name(p), account)
            for bp in mesh.blueprints
            if accounts.of(bp.domain) == account and settings.includes_domain(bp.domain)
            for p in bp.products
        ]
        _buckets(report, access, account, buckets)
        if accounts.multi and buckets:  # it may share its catalog with other accounts
            check_catalog_policy(
                access("glue", account),
                shared_resources(env.partition, env.region, account),
                lambda ok, message, a=account: report.add(a, "glue-policy", ok, message, GLUE_FIX),
            )
        _quotas(report, access, account, len(buckets))
    if accounts.multi:
        _ram(report, access, platform, foreign)
    return report


def _caller(report: DoctorReport, access: Access, settings: StackSettings, admins) -> None:
    platform = settings.account
    try:
        arn = access("sts", platform).get_caller_identity()["Arn"]
    except (ClientError, BotoCoreError) as exc:
        report.add(platform, "deployer", False, f"no credentials answer: {exc}", "log in")
        return
    role = arn
    if ":assumed-role/" in arn:  # arn:aws:sts::ACCT:assumed-role/NAME/SESSION
        head, _, rest = arn.partition(":assumed-role/")
        role = f"{head.replace(':sts:', ':iam:')}:role/{rest.split('/')[0]}"
    ok = role in admins
    report.add(
        platform,
        "deployer",
        ok,
        f"pulumi up runs as {role}" + ("" if ok else ", which mesh:lakeFormationAdmins omits"),
        f"add {role} to mesh:lakeFormationAdmins, or run pulumi up as one of them",
    )


def _bootstrap_fix(settings: StackSettings, account: str) -> str:
    return (
        f"deploy the bootstrap stack (pulumi up --stack bootstrap), or create role "
        f"{settings.deploy_role_name} in {account} trusting the platform's deployer (README: "
        "Bootstrap)"
    )


def _deploy_role(report: DoctorReport, access: Access, settings, account: str) -> bool:
    name = settings.deploy_role_name
    fix = _bootstrap_fix(settings, account)
    try:
        role = access("iam", account).get_role(RoleName=name)["Role"]
    except (ClientError, BotoCoreError) as exc:
        report.add(account, "deploy-role", False, f"role {name} not found ({_code(exc)})", fix)
        return False
    trust = _statements(role.get("AssumeRolePolicyDocument") or {})
    wanted = set(deployers(settings.admins, settings.account))
    trusted = set()
    for s in trust.get("Statement", []):
        if s.get("Effect") == "Allow" and "sts:AssumeRole" in _list(s.get("Action")):
            principal = s.get("Principal", {})
            trusted |= set(_list(principal.get("AWS") if isinstance(principal, dict) else None))
    root = f"arn:aws:iam::{settings.account}:root"
    ok = bool(wanted & trusted) or root in trusted or settings.account in trusted
    report.add(
        account,
        "deploy-role",
        ok,
        f"role {name} exists" + ("" if ok else f" but does not trust {', '.join(sorted(wanted))}"),
        f"let {', '.join(sorted(wanted))} assume {name} (the bootstrap stack's trust)",
    )
    return ok


def _list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _policies(iam, name: str) -> list[tuple[str, dict]]:
    out = []
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        out.append((f"{name}/{policy}", _statements(doc)))
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        arn = attached["PolicyArn"]
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        doc = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
        out.append((arn, _statements(doc["Document"])))
    return out


def _permissions(report, access, settings, account: str, env, multi: bool) -> None:
    name = settings.deploy_role_name
    try:
        documents = _policies(access("iam", account), name)
    except (ClientError, BotoCoreError) as exc:
        report.note(account, "deploy-permissions", f"policies of {name} unreadable: {exc}")
        return
    denied = []
    for action, resource, context in required_requests(env, settings.prefix, multi):
        request = Request(action, resource, dict(context))
        evaluations = [evaluate(doc, doc_id, request) for doc_id, doc in documents]
        if not decide(evaluations, [], resource_policy_required=False).allowed:
            denied.append(action)
    report.add(
        account,
        "deploy-permissions",
        not denied,
        f"role {name} may do everything the program does"
        if not denied
        else f"role {name} may not: {', '.join(sorted(set(denied)))}",
        "give the role the bootstrap stack's policy (infra/provision/deploy_role.py), "
        "AWS RAM's cross-account permissions included",
    )


def _lake(report, access, account: str, declared: tuple[str, ...], multi: bool) -> None:
    try:
        held = access("lakeformation", account).get_data_lake_settings()["DataLakeSettings"]
    except (ClientError, BotoCoreError) as exc:
        report.add(account, "lf-admins", False, f"settings unreadable: {exc}", "grant "
                   "lakeformation:GetDataLakeSettings to the deploy role")  # fmt: skip
        return
    platform_fix = "deploy the platform stack (pulumi up --stack platform)"
    admins = {a["DataLakePrincipalIdentifier"] for a in held.get("DataLakeAdmins", [])}
    absent = [a for a in declared if a not in admins]
    report.add(
        account,
        "lf-admins",
        not absent,
        "Lake Formation administrators as declared"
        if not absent
        else f"not Lake Formation administrators: {', '.join(absent)}",
        platform_fix,
    )
    dropped = sorted(admins - set(declared))
    if dropped:
        report.note(
            account,
            "lf-admins",
            f"administrators the platform's settings do not declare, removed at its next "
            f"deploy: {', '.join(dropped)}",
            "keep them: add them to mesh:lakeFormationAdmins",
        )
    open_to_iam = [
        kind
        for kind in ("CreateDatabaseDefaultPermissions", "CreateTableDefaultPermissions")
        if any(
            e.get("Principal", {}).get("DataLakePrincipalIdentifier") == IAM_ALLOWED
            for e in held.get(kind, [])
        )
    ]
    report.add(
        account,
        "lf-defaults",
        not open_to_iam,
        "new databases and tables are Lake Formation only"
        if not open_to_iam
        else f"{' and '.join(open_to_iam)} give {IAM_ALLOWED} ALL: new tables would be open to "
        "every role with Glue read",
        platform_fix,
    )
    if multi:
        want = CROSS_ACCOUNT_PARAMETERS["CROSS_ACCOUNT_VERSION"]
        version = (held.get("Parameters") or {}).get("CROSS_ACCOUNT_VERSION", "1")
        report.add(
            account,
            "cross-account-version",
            version == want,
            f"CROSS_ACCOUNT_VERSION is {version}" + ("" if version == want else f", not {want}"),
            platform_fix,
        )


def _buckets(report, access, account: str, buckets: list[str]) -> None:
    if not buckets:
        return
    s3 = access("s3", account)
    try:
        own = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    except (ClientError, BotoCoreError) as exc:
        report.note(account, "bucket-name", f"buckets unreadable: {exc}")
        return
    taken = []
    for bucket in buckets:
        if bucket in own:
            continue
        try:
            s3.head_bucket(Bucket=bucket)
            taken.append(bucket)
        except ClientError as exc:
            if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                taken.append(bucket)
    report.add(
        account,
        "bucket-name",
        not taken,
        f"{len(buckets)} bucket name(s) free or the account's own"
        if not taken
        else f"bucket name(s) held by another account: {', '.join(taken)}",
        "a new stack: mesh:bucketNamespace: account-regional (names only this account can "
        "create), or another mesh:prefix",
    )


def _quotas(report, access, account: str, buckets: int) -> None:
    client = access("service-quotas", account)
    for service, code, what in QUOTAS:
        try:
            quota = client.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]
        except (ClientError, BotoCoreError) as exc:
            report.note(account, "quota", f"{what}: not exposed here ({_code(exc)})")
            continue
        value = quota.get("Value")
        try:
            used = (
                len(access("s3", account).list_buckets().get("Buckets", []))
                if service == "s3"
                else len(access("iam", account).list_roles(MaxItems=1000).get("Roles", []))
            )
        except (ClientError, BotoCoreError) as exc:
            report.note(account, "quota", f"{what}: usage unreadable ({_code(exc)})")
            continue
        adding = buckets if service == "s3" else 3
        ok = value is None or used + adding <= value
        report.add(
            account,
            "quota",
            ok,
            f"{what}: {used} used + {adding} of {value:g}" if value else f"{what}: {used} used",
            f"request a higher {what} quota (Service Quotas {service} {code})",
        )


def _ram(report: DoctorReport, access: Access, platform: str, foreign: list[str]) -> None:
    orgs = access("organizations", platform)
    try:
        orgs.describe_organization()
    except (ClientError, BotoCoreError) as exc:
        if _code(exc) != "AWSOrganizationsNotInUseException":
            report.note(platform, "ram-sharing", f"Organization unreadable ({_code(exc)})")
        else:
            report.note(
                platform,
                "ram-sharing",
                "not in an AWS Organization: each cross-account share is a RAM invitation the "
                "consumer account's administrator accepts",
            )
        _invitations(report, access, [platform, *foreign])
        return
    try:
        enabled = orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    except (ClientError, BotoCoreError) as exc:
        report.note(
            platform,
            "ram-sharing",
            f"RAM sharing with the Organization is read from the management account ({_code(exc)})",
        )
        _invitations(report, access, [platform, *foreign])
        return
    ok = any(s.get("ServicePrincipal") == RAM_PRINCIPAL for s in enabled)
    report.add(
        platform,
        "ram-sharing",
        ok,
        "AWS RAM sharing with the Organization is "
        + ("enabled" if ok else "off: cross-account grants wait for invitations"),
        "in the management account: aws ram enable-sharing-with-aws-organization",
    )


def _invitations(report: DoctorReport, access: Access, accounts: list[str]) -> None:
    for account in accounts:
        try:
            page = access("ram", account).get_resource_share_invitations()
        except (ClientError, BotoCoreError, NotImplementedError) as exc:
            report.note(account, "ram-invitations", f"invitations unreadable ({_code(exc)})")
            continue
        pending = [
            i["resourceShareName"]
            for i in page.get("resourceShareInvitations", [])
            if i.get("status") == "PENDING"
        ]
        report.add(
            account,
            "ram-invitations",
            not pending,
            "no pending RAM invitation"
            if not pending
            else f"pending RAM invitations: {', '.join(sorted(pending))}",
            "accept them (aws ram accept-resource-share-invitation), or enable RAM sharing "
            "with the Organization",
        )
