"""Whose credentials `mesh doctor` reads each account with (`infra.engines.doctor.Access`):
the kept local mesh's administrators, or AWS itself as `pulumi up` reaches it."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.engines.doctor import Access, NoAccess
from infra.errors import UsageError
from infra.provision.program import StackSettings


def local_access(state: dict) -> Access:
    """The kept local mesh (`infra.engines.sandbox`): each account's administrator, over HTTP."""
    from infra.engines.sandbox import client_factory

    made: dict[tuple[str, str], Any] = {}

    def access(service: str, account: str) -> Any:
        if account not in state["admins"]:
            raise NoAccess(f"the kept local mesh has no account {account}")
        key = (service, account)
        if key not in made:
            made[key] = client_factory(state, state["admins"][account]["credentials"])(service)
        return made[key]

    return access


def aws_access(settings: StackSettings) -> Access:
    """AWS itself: the ambient credentials in the platform account (the deployer's, as `pulumi
    up` has them), a session of the deploy role in every other account (as the program takes)."""
    import boto3

    base = boto3.session.Session(region_name=settings.region)
    sessions: dict[str, Any] = {settings.account: base}

    def access(service: str, account: str) -> Any:
        if account not in sessions:
            arn = f"arn:aws:iam::{account}:role/{settings.deploy_role_name}"
            try:
                creds = base.client("sts").assume_role(
                    RoleArn=arn, RoleSessionName=f"{settings.prefix}-doctor"
                )["Credentials"]
            except (ClientError, BotoCoreError) as exc:
                raise NoAccess(f"cannot assume {arn}: {exc}") from None
            sessions[account] = boto3.session.Session(
                region_name=settings.region,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
        return sessions[account].client(service)

    return access


STACK_ENV = "MESH_STACK_CONFIG"  # the stack config `mesh doctor` checks (against AWS)


def stack_settings(directory) -> StackSettings:
    """Against AWS: the stack config named by $MESH_STACK_CONFIG, else the project's one stack
    config that declares the platform (`all` or `platform`, not the bootstrap)."""
    import os
    from pathlib import Path

    from infra.engines.stack_config import read_stack_config
    from infra.governance.project_checks import project_stacks_of

    if named := os.environ.get(STACK_ENV):
        return read_stack_config(Path(named))
    stacks = [s for s in project_stacks_of(directory) if s.includes_platform() and not s.bootstrap]
    if len(stacks) != 1:
        names = ", ".join(s.file.name for s in stacks) or "none"
        raise UsageError(
            f"which stack? the project has {len(stacks)} platform stack configs ({names}): "
            f"set {STACK_ENV}=Pulumi.<stack>.yaml"
        )
    return read_stack_config(stacks[0].file)
