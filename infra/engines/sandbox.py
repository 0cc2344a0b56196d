"""The kept local mesh as a sandbox: credentials of the domain roles, IAM enforced.

`mesh up --local --keep` leaves the emulator running with IAM enforcement on, and writes a
state file (`state_path()`, mode 0600; its life in `infra.engines.sandbox_state`) that `mesh
local creds` reads in another process:

- a session of every domain role (`sales:producer`, `marketing:consumer`), taken with
  `sts:AssumeRole` before enforcement starts: under enforcement moto checks a role's trust
  policy, and ours (this account's principals tagged with the domain) is not one it can
  satisfy;
- an IAM user `mesh-local-admin` allowed everything, in each account of the mesh: for looking
  around with enforcement on (`admin`: the platform account's; `admin:ACCOUNT`), and the caller
  that vends consumer credentials in the producer's account;
- each product's storage (bucket, key, database and table), for vending.

Vending (`mesh local creds marketing:consumer --product sales.orders`) stands in for what
Lake Formation does in AWS and moto does not: a consumer reads a product's files with
credentials that Lake Formation vends when the consumer's role holds SELECT on the whole
table (column-limited grants are served by an integrated engine such as Athena, which the
emulator has none of). The Lake Formation permission is looked up in the emulator; the
credentials are a session of a role created for the purpose in the producer's account
(`mesh-local-vend-...`, trusted by that account's admin only), allowed to read that product's
objects and nothing else.

Only boto3 is used here: the creds side runs in a process that talks to the kept server over
HTTP, not in the one that holds moto.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.engines.sandbox_state import (
    READY,
    NoSandbox,
    read_state,
    state_path,
    wait_for_state,
    write_state,
)
from infra.errors import MeshError, UsageError
from infra.model import access
from infra.model.mesh import Mesh
from infra.provision.names import Part, child_name, domain_logical, physical_product_name
from infra.provision.program import StackSettings

ADMIN_USER = "mesh-local-admin"
ADMIN = "admin"  # the principal `mesh local creds admin` names
VEND_ROLE_PREFIX = "mesh-local-vend-"
ENFORCEMENT_OFF = "inf"  # moto's no-auth allowance: requests allowed before IAM is checked
ENFORCEMENT_ON = "0"


def enforcement_commands(endpoint: str) -> dict[str, str]:
    """The commands that switch the emulator's IAM enforcement off and on (moto's API)."""
    curl = f"curl -s -X POST -H 'Content-Type: text/plain' {endpoint}/moto-api/reset-auth -d"
    return {"off": f"{curl} {ENFORCEMENT_OFF}", "on": f"{curl} {ENFORCEMENT_ON}"}


@dataclass
class Sandbox:
    path: Path
    state: dict[str, Any]

    @property
    def endpoint(self) -> str:
        return self.state["endpoint"]

    def environment(self, principal: str) -> dict[str, str]:
        return environment(self.state, credentials(self.state, principal))

    def close(self) -> None:
        """Remove the state file, if it is still this sandbox's."""
        try:
            if json.loads(self.path.read_text())["endpoint"] == self.endpoint:
                self.path.unlink()
        except (OSError, ValueError, KeyError):
            pass


def open_sandbox(aws, mesh: Mesh, settings: StackSettings, graph, path: Path | None = None):
    """After verification (enforcement off): an admin user per account, a session per domain
    role, the state file; then IAM enforcement on. `aws`: the `LocalAws` the mesh was deployed
    into; `graph`: the deployed resource graph (the domain keys' ARNs)."""
    from infra.provision import types as T

    accounts = settings.accounts(mesh)
    admins = {
        account: _admin_user(aws, account)
        for account in sorted({settings.account} | {accounts.of(d) for d in mesh.domains})
    }
    sts = aws.client("sts")
    roles = {}
    declared = {r.inputs["name"] for r in graph.by_type(T.ROLE)}
    for domain in mesh.domains:
        for kind in ("producer", "consumer"):
            if settings.names.role(domain, kind) not in declared:
                continue  # a retired domain's roles are gone
            arn = accounts.env(domain).role_arn(settings.names.role(domain, kind))
            session = sts.assume_role(RoleArn=arn, RoleSessionName=f"sandbox-{domain}-{kind}"[:64])
            roles[f"{domain}:{kind}"] = {"arn": arn, "credentials": _keys(session["Credentials"])}
    products = {}
    for bp, product in mesh.products():
        env = accounts.env(bp.domain)
        bucket = settings.names.bucket(bp.domain, physical_product_name(product), env.account)
        key = graph.get(T.KEY, child_name(domain_logical(bp.domain), Part.KEY))
        products[access.product_id(bp.domain, product.name)] = {
            "account": env.account,
            "bucket": bucket,
            "bucket_arn": env.bucket_arn(bucket),
            "database": settings.names.database(bp.domain),
            "table": settings.names.table(physical_product_name(product)),
            "key_arn": key.outputs["arn"],
            "columns": [c.name for c in product.columns],
        }
    state = {
        "status": READY,
        "endpoint": aws.endpoint,
        "region": settings.region,
        "pid": os.getpid(),
        "started": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "platform": settings.account,
        "admins": admins,
        "roles": roles,
        "products": products,
    }
    path = path or state_path()
    aws.enforce_iam(True)
    write_state(path, state)  # ready: `mesh local creds` may use it from now on
    return Sandbox(path, state)


def _admin_user(aws, account: str) -> dict:
    """`mesh-local-admin` in `account`, allowed everything, and its access key (moto knows the
    account of a user's key)."""
    iam = aws.in_account("iam", account)
    user = iam.create_user(UserName=ADMIN_USER)["User"]
    iam.put_user_policy(
        UserName=ADMIN_USER,
        PolicyName="everything",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    return {
        "arn": user["Arn"],
        "credentials": {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        },
    }


def _keys(credentials: dict) -> dict[str, str]:
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def environment(state: dict, credentials: dict[str, str]) -> dict[str, str]:
    """The AWS_* variables for boto3, pyarrow and the aws CLI."""
    env = {
        "AWS_ENDPOINT_URL": state["endpoint"],
        "AWS_ACCESS_KEY_ID": credentials["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": credentials["aws_secret_access_key"],
    }
    if "aws_session_token" in credentials:
        env["AWS_SESSION_TOKEN"] = credentials["aws_session_token"]
    env["AWS_DEFAULT_REGION"] = env["AWS_REGION"] = state["region"]
    return env


def credentials(state: dict[str, Any], principal: str, product: str | None = None) -> dict:
    """The credentials `mesh local creds` prints: a domain role's session, an admin's
    (`admin`: the platform account's; `admin:ACCOUNT`), or (`product`, for a consumer) what
    Lake Formation would vend it for reading that product."""
    if principal == ADMIN or principal.startswith(f"{ADMIN}:"):
        account = principal.partition(":")[2] or state["platform"]
        if product is not None:
            raise UsageError("--product is for a consumer role, not an admin")
        if account not in state["admins"]:
            known = ", ".join(sorted(state["admins"]))
            raise UsageError(f"no account {account} in the kept mesh (accounts: {known})")
        return state["admins"][account]["credentials"]
    if principal not in state["roles"]:
        known = ", ".join(sorted(state["roles"]))
        raise UsageError(f"{principal!r} is not a role of the kept mesh (roles: {known}, admin)")
    if product is None:
        return state["roles"][principal]["credentials"]
    if principal.partition(":")[2] != "consumer":
        raise UsageError(
            f"--product vends what Lake Formation gives a consumer; {principal} is a producer, "
            "which reads and writes its own products with its own session"
        )
    if product not in state["products"]:
        raise UsageError(f"{product!r} is not a product of the kept mesh")
    return _vend(state, state["roles"][principal]["arn"], product)


def _clients(state: dict, credentials: dict[str, str], *services: str) -> list:
    make = client_factory(state, credentials)
    return [make(s) for s in services]


def client_factory(state: dict, credentials: dict[str, str]):
    """service -> a client of the kept mesh's emulator with `credentials`."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=state["region"], **credentials)
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    return lambda service: session.client(service, endpoint_url=state["endpoint"], config=config)


def _vend(state: dict, role_arn: str, product: str) -> dict[str, str]:
    stored = state["products"][product]
    admin = state["admins"][stored["account"]]  # Lake Formation vends in the producer's account
    lf, iam, sts = _clients(state, admin["credentials"], "lakeformation", "iam", "sts")
    if not _selects_whole_table(lf, role_arn, stored):
        raise MeshError(
            f"{role_arn} holds no Lake Formation SELECT on all of {product}'s columns: Lake "
            "Formation vends credentials for the files only with whole-table access (a "
            "column-limited grant is read through an integrated engine such as Athena, which "
            "the emulator does not have)"
        )
    name = VEND_ROLE_PREFIX + hashlib.sha256(f"{role_arn} {product}".encode()).hexdigest()[:16]
    try:
        vend_arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": admin["arn"]}, "Action": "sts:AssumeRole"}
            ],
        }
        vend_arn = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description=f"mesh local sandbox: what Lake Formation vends {role_arn} for {product}",
        )["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=name, PolicyName="read", PolicyDocument=json.dumps(_read_policy(stored))
        )
    session = sts.assume_role(RoleArn=vend_arn, RoleSessionName="lakeformation-vended")
    return _keys(session["Credentials"])


def _read_policy(stored: dict) -> dict:
    """Read the product's objects and list its bucket, decrypt with its domain key."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{stored['bucket_arn']}/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": stored["bucket_arn"]},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": stored["key_arn"]},
        ],
    }


def _selects_whole_table(lf, role_arn: str, stored: dict) -> bool:
    """Whether the emulator's Lake Formation permissions give `role_arn` SELECT on the table
    with every column."""
    token = None
    while True:
        page = lf.list_permissions(**({"NextToken": token} if token else {}))
        for entry in page["PrincipalResourcePermissions"]:
            if entry["Principal"]["DataLakePrincipalIdentifier"] != role_arn:
                continue
            if "SELECT" not in entry["Permissions"]:
                continue
            resource = entry["Resource"]
            table = resource.get("Table") or {}
            if table.get("DatabaseName") == stored["database"] and (
                table.get("Name") == stored["table"] or "TableWildcard" in table
            ):
                return True
            columns = resource.get("TableWithColumns") or {}
            if (columns.get("DatabaseName"), columns.get("Name")) != (
                stored["database"],
                stored["table"],
            ):
                continue
            wildcard = columns.get("ColumnWildcard")
            if (wildcard is not None and not wildcard.get("ExcludedColumnNames")) or set(
                columns.get("ColumnNames") or ()
            ) >= set(stored["columns"]):
                return True
        token = page.get("NextToken")
        if not token:
            return False


__all__ = [
    "ADMIN",
    "NoSandbox",
    "Sandbox",
    "credentials",
    "enforcement_commands",
    "environment",
    "open_sandbox",
    "read_state",
    "state_path",
    "wait_for_state",
]
