"""Which AWS account each domain lives in, and what a multi-account mesh cannot do.

A domain's blueprint may name its account (`account:`); the others live in the stack's
(`mesh:account`, the platform account). Lake Formation shares tables across accounts from the
producer's catalog to the consumer role directly; the consumer's account holds a resource link
to the producer's database (`infra.provision.components.Domain.share_to`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from infra.errors import Problem
from infra.model import access
from infra.model.mesh import Mesh
from infra.provision.arns import AwsEnv

DEFAULT_REGION = "eu-west-1"
DEFAULT_DEPLOY_ROLE = "mesh-deployer"  # in every domain account, assumed by `pulumi up`
# Lake Formation: cross-account grants of named resources an account may hold
CROSS_ACCOUNT_GRANTS_MAX = 1600
NEAR = 0.9  # W007 from here


@dataclass(frozen=True)
class Accounts:
    """The AWS account of every domain: the one its blueprint names, else the platform's
    (`mesh:account`). `multi` when any domain lives elsewhere: then the platform account also
    gets an explicit provider for the resources it receives from other accounts' components."""

    platform: str
    named: dict[str, str]  # domain -> the account its blueprint names
    region: str = DEFAULT_REGION
    deploy_role_name: str = DEFAULT_DEPLOY_ROLE

    def of(self, domain: str) -> str:
        return self.named.get(domain, self.platform)

    def env(self, domain: str) -> AwsEnv:
        return AwsEnv(account=self.of(domain), region=self.region)

    def env_of_account(self, account: str) -> AwsEnv:
        return AwsEnv(account=account, region=self.region)

    @property
    def multi(self) -> bool:
        return any(a != self.platform for a in self.named.values())

    def foreign(self, domains) -> list[str]:
        """The accounts other than the platform's that `domains` live in, sorted."""
        return sorted({self.of(d) for d in domains} - {self.platform})

    def deploy_role_arn(self, account: str) -> str:
        return self.env_of_account(account).role_arn(self.deploy_role_name)


def account_problems(mesh: Mesh, today: dt.date) -> list[Problem]:
    """E054: a direct S3 read to a domain in another account (S3 would need an identity policy
    in the consumer's account, and the consumer's policy grants no S3: read through Lake
    Formation). E055 (W007 from 90 %): more cross-account grants from one account than Lake
    Formation allows. Accounts as the blueprints name them (a domain without one is in the
    stack's account)."""
    problems: list[Problem] = []
    per_account: Counter[str] = Counter()
    first: dict[str, tuple[str, tuple]] = {}
    account_of = mesh.account_of
    if not any(bp.account for bp in mesh.blueprints) and not any(mesh.other_accounts.values()):
        return problems  # every domain in the stack's account: nothing crosses accounts
    for bp in mesh.blueprints:
        src = mesh.source(bp.domain)
        for pi, product in enumerate(bp.products):
            if all(account_of(c.domain) == bp.account for c in product.consumers):
                continue  # no consumer in another account (the active ones are among these)
            active = access.active_grants(mesh, bp, product, today)
            position = {id(c): i for i, c in enumerate(product.consumers)}
            for c, g in zip(active, access.consumer_grants(bp, product, active)):
                if account_of(c.domain) == bp.account:
                    continue
                ci = position[id(c)]
                per_account[bp.account or ""] += 1
                first.setdefault(bp.account or "", (bp.domain, ("products", pi, "consumers", ci)))
                if g.s3_direct:
                    problems.append(
                        src.problem(
                            ("products", pi, "consumers", ci, "s3_direct"),
                            "E054",
                            f"s3_direct to {c.domain}, which lives in another AWS account "
                            f"({mesh.account_of(c.domain) or 'the stack account'}): a direct "
                            "read across accounts needs S3 and KMS permissions in the consumer's "
                            "identity policy, which grants none; read through Lake Formation",
                        )
                    )
    for account, n in sorted(per_account.items()):
        if n < NEAR * CROSS_ACCOUNT_GRANTS_MAX:
            continue
        domain, loc = first[account]
        code = "E055" if n > CROSS_ACCOUNT_GRANTS_MAX else "W007"
        problems.append(
            mesh.source(domain).problem(
                loc,
                code,
                f"account {account or '(the stack account)'} would share {n} tables to other "
                f"accounts; Lake Formation allows {CROSS_ACCOUNT_GRANTS_MAX} cross-account grants "
                "per account (share whole databases, or move consumers into fewer accounts)",
            )
        )
    return problems
