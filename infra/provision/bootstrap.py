"""The bootstrap stack (`mesh:bootstrap: true`): each domain account's deploy role, before the
mesh's first `pulumi up`.

The program assumes `mesh:deployRoleName` in every domain account other than the platform's
(`infra.provision.program._Providers`); nothing creates that role but this stack. It runs with
the platform account's credentials and reaches each other account through a role that exists
there already (`mesh:bootstrapRoleName`, default `OrganizationAccountAccessRole`, which AWS
Organizations creates in every account it creates), and declares there:

- the deploy role, assumable by the platform's deployers (the IAM roles of the platform account
  among `mesh:lakeFormationAdmins`: the identities that run `pulumi up`);
- its one inline policy, exactly what the program needs in that account
  (`infra.provision.deploy_role.deploy_policy`, the AWS RAM permissions of cross-account sharing
  included).

The roles are not data: they are not protected, and `pulumi destroy --stack bootstrap` removes
them (after the mesh's stacks no longer need them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.provision import types as T
from infra.provision.arns import AwsEnv
from infra.provision.deploy_role import DEPLOY_POLICY_NAME, deploy_policy, deploy_trust
from infra.provision.lake_settings import arn_account

DEFAULT_BOOTSTRAP_ROLE = "OrganizationAccountAccessRole"
BOOTSTRAP = "bootstrap"  # the component's logical name


@dataclass(frozen=True)
class DeployRoleArgs:
    env: AwsEnv  # the domain account
    role_name: str  # mesh:deployRoleName
    prefix: str
    deployers: tuple[str, ...]
    cross_account: bool
    provider: pulumi.ProviderResource


class Bootstrap(pulumi.ComponentResource):
    """One deploy role (and its policy) per domain account."""

    def __init__(self, name: str, roles: list[DeployRoleArgs]):
        super().__init__(T.BOOTSTRAP, name, None, None)
        self.roles: dict[str, aws.iam.Role] = {}
        for r in roles:
            opts = pulumi.ResourceOptions(parent=self, provider=r.provider)
            role = aws.iam.Role(
                f"{name}-{r.env.account}-deploy-role",
                name=r.role_name,
                description="Deploys the data mesh (pulumi up) into this account",
                assume_role_policy=json.dumps(deploy_trust(list(r.deployers))),
                max_session_duration=3600,
                opts=opts,
            )
            aws.iam.RolePolicy(
                f"{name}-{r.env.account}-deploy-policy",
                name=DEPLOY_POLICY_NAME,
                role=role.name,
                policy=json.dumps(deploy_policy(r.env, r.prefix, r.cross_account)),
                opts=opts,
            )
            self.roles[r.env.account] = role
        self.register_outputs({})


def deployers(admins: tuple[str, ...], platform: str) -> tuple[str, ...]:
    """The platform's deployers: the IAM roles of the platform account among the Lake
    Formation administrators (the identity running `pulumi up` must be one of them)."""
    found = tuple(a for a in admins if arn_account(a) == platform and ":role/" in a)
    if not found:
        raise pulumi.RunError(
            "the bootstrap stack trusts the platform's deployers, the IAM roles of account "
            f"{platform} in mesh:lakeFormationAdmins, and there is none: add the role that runs "
            "pulumi up"
        )
    return found


def build_bootstrap(
    accounts,
    domains,
    prefix: str,
    region: str,
    admins: tuple[str, ...],
    bootstrap_role: str,
) -> Bootstrap:
    """The deploy role of every account other than the platform's that `domains` live in
    (`accounts`: `infra.provision.accounts.Accounts`), each with a provider named like the
    program's (`account-<id>`), assuming `bootstrap_role` there."""
    trusted = deployers(admins, accounts.platform)
    roles = []
    for account in accounts.foreign(domains):
        env = accounts.env_of_account(account)
        provider = aws.Provider(
            f"account-{account}",  # the engines read the account from this name
            region=region,
            allowed_account_ids=[account],
            assume_roles=[
                {
                    "role_arn": env.role_arn(bootstrap_role),
                    "session_name": f"{prefix}-bootstrap",
                }
            ],
        )
        roles.append(
            DeployRoleArgs(
                env, accounts.deploy_role_name, prefix, trusted, accounts.multi, provider
            )
        )
    return Bootstrap(BOOTSTRAP, roles)
