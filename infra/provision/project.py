"""Checks across the stacks of one project (every `Pulumi.<stack>.yaml` beside the blueprints):
what no single stack can see.

- E049: a bucket name two stack configs would create in different accounts. S3's global
  namespace holds a name once in the partition, so the second stack fails with
  `BucketAlreadyExists` (e.g. the same prefix deploying `sales` into one account in one stack
  and into another in a second). Names in the account's regional namespace
  (`mesh:bucketNamespace: account-regional`) carry the account and cannot collide so.
- E091: a stack prefix whose consumers' catalog pattern (`<prefix>_*`, in
  `infra.provision.documents.consumer_policy`) reaches the Glue databases of another stack of
  the project in an account they share: prefix `acme-mesh` reads `acme_mesh_*`, which is also
  every database of prefix `acme-mesh-eu` (`acme_mesh_eu_sales`). Lake Formation still gates the
  tables, but the IAM side of the catalog must not reach another stack's; existing databases
  are never renamed, so the second prefix is refused.
- E090: two stack configs that would declare the Lake Formation settings of one account
  differently, or as two deployments. The settings are a per-account singleton: the last
  `pulumi up` wins, and one that drops `parameters` resets CROSS_ACCOUNT_VERSION. One
  deployment may be configured in two shapes (one stack for the mesh, or a platform stack plus
  a stack per domain: the same prefix and bucket namespace, the same declared settings):
  only one of them is deployed, and their settings agree.

A stack config that does not read (a missing admin list, a wrong value) is left out here:
`pulumi up` and `mesh plan --config` refuse it with its own error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from infra.errors import Problem
from infra.model.mesh import Mesh
from infra.provision.accounts import DEFAULT_DEPLOY_ROLE, DEFAULT_REGION, Accounts
from infra.provision.lake_settings import LakeDeclaration, declarations
from infra.provision.names import (
    BUCKET_NAMESPACES,
    GLOBAL_NAMESPACE,
    PREFIX_PATTERN,
    Names,
    physical_product_name,
)

_ACCOUNT = re.compile(r"^\d{12}$")
ALL, PLATFORM = "all", "platform"


@dataclass(frozen=True)
class ProjectStack:
    """What one `Pulumi.<stack>.yaml` declares, read as text (`infra.blueprints.stack_files`):
    `mesh validate` runs on every pull request and loads no Pulumi (`StackSettings.from_pulumi_config` reads the same
    keys for `pulumi up`)."""

    file: Path
    prefix: str
    account: str
    region: str = DEFAULT_REGION
    scope: str = ALL
    single_account: bool = False
    namespace: str = GLOBAL_NAMESPACE
    admins: tuple[str, ...] = ()
    read_only_admins: tuple[str, ...] = ()
    trusted_owners: tuple[str, ...] = ()
    deploy_role_name: str = DEFAULT_DEPLOY_ROLE
    bootstrap: bool = False
    _lines: dict[str, int] = field(default_factory=dict, compare=False)

    @property
    def name(self) -> str:
        """The stack's name, as Pulumi names it after the file (`dev` for Pulumi.dev.yaml)."""
        return self.file.name.removeprefix("Pulumi.").rsplit(".", 1)[0]

    @property
    def deployment(self) -> tuple[str, str]:
        """What makes two configs one deployment: the same physical names."""
        return (self.prefix, self.namespace)

    @property
    def names(self) -> Names:
        return Names(self.prefix, self.namespace, self.region)

    def includes_platform(self) -> bool:
        return self.scope in (ALL, PLATFORM)

    def includes_domain(self, domain: str) -> bool:
        return self.scope in (ALL, domain)

    def accounts(self, mesh: Mesh) -> Accounts:
        if self.single_account:
            return Accounts(self.account, {}, self.region, self.deploy_role_name)
        named = {d: a for d in mesh.all_domains if (a := mesh.account_of(d)) is not None}
        return Accounts(self.account, named, self.region, self.deploy_role_name)

    def lake_declarations(self, mesh: Mesh) -> dict[str, LakeDeclaration]:
        accounts = self.accounts(mesh)
        foreign = {a: accounts.deploy_role_arn(a) for a in accounts.foreign(mesh.all_domains)}
        return declarations(
            accounts.platform, foreign, self.admins, self.read_only_admins, self.trusted_owners
        )

    def line_of(self, key: str) -> int | None:
        return self._lines.get(key)


def _strings(value: object) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


class ConfigFile(Protocol):
    """A stack config as `infra.blueprints.stack_files` reads it (hostile input: the PR check
    reads a pull request's)."""

    file: Path | None
    config: dict[str, Any]
    problem: object | None

    def line(self, *loc: str | int) -> int | None: ...


def project_stack(read: ConfigFile) -> ProjectStack | None:
    """The stack config `read`; None when it is not one `pulumi up` would accept (it did not
    read, a missing prefix or account, a wrong value: `pulumi up` and `mesh plan --config`
    refuse it with their own error)."""
    if read.problem is not None or read.file is None:
        return None
    config = read.config
    get = config.get
    prefix, account = get("mesh:prefix"), str(get("mesh:account", ""))
    scope, namespace = get("mesh:stack", ALL), get("mesh:bucketNamespace", GLOBAL_NAMESPACE)
    lists = [_strings(get(k)) for k in ("mesh:lakeFormationAdmins",
             "mesh:lakeFormationReadOnlyAdmins", "mesh:lakeFormationTrustedOwners")]  # fmt: skip
    if (
        not isinstance(prefix, str)
        or not PREFIX_PATTERN.fullmatch(prefix)
        or not _ACCOUNT.match(account)
        or not isinstance(scope, str)
        or namespace not in BUCKET_NAMESPACES
        or any(v is None for v in lists)
    ):
        return None
    admins, readers, owners = lists
    if scope in (ALL, PLATFORM) and not admins:
        return None  # pulumi up refuses it: mesh:lakeFormationAdmins is required
    lines = {
        key: line
        for key in config
        if key.startswith(("mesh:", "aws:")) and (line := read.line("config", key)) is not None
    }
    return ProjectStack(
        read.file,
        prefix,
        account,
        str(get("aws:region", DEFAULT_REGION)),
        scope,
        get("mesh:singleAccount") is True,
        namespace,
        admins or (f"arn:aws:iam::{account}:role/{prefix}-platform-deployer",),
        readers,
        owners,
        str(get("mesh:deployRoleName") or DEFAULT_DEPLOY_ROLE),
        get("mesh:bootstrap") is True,
        lines,
    )


def project_stacks(configs: Iterable[ConfigFile]) -> list[ProjectStack]:
    """Every stack config of the project (`infra.blueprints.stack_files.read_stack_configs`)
    that `pulumi up` would accept, in the order given."""
    found = (project_stack(c) for c in configs)
    return [s for s in found if s is not None]


def bucket_collisions(mesh: Mesh, stacks: list[ProjectStack]) -> list[Problem]:
    """E049: a bucket name two stacks would create in two different accounts."""
    first: dict[str, tuple[str, ProjectStack]] = {}  # bucket -> (account, stack)
    problems = []
    for stack in stacks:
        names, accounts = stack.names, stack.accounts(mesh)
        for bp in mesh.blueprints:
            if not stack.includes_domain(bp.domain):
                continue
            account = accounts.of(bp.domain)
            for i, product in enumerate(bp.products):
                bucket = names.bucket(bp.domain, physical_product_name(product), account)
                seen_account, seen = first.setdefault(bucket, (account, stack))
                if seen_account == account:
                    continue
                problems.append(
                    mesh.source(bp.domain).problem(
                        ("products", i, "name"),
                        "E049",
                        f"bucket {bucket!r} of {bp.domain}.{product.name} would be created in "
                        f"account {account} by {stack.file.name} and in account {seen_account} "
                        f"by {seen.file.name}: a bucket name exists once in all of S3; give new "
                        "stacks mesh:bucketNamespace: account-regional (names that carry their "
                        "account), or another mesh:prefix",
                    )
                )
    return problems


def _declared(mesh: Mesh, stack: ProjectStack) -> dict[str, tuple]:
    """account -> what the stack's settings there declare (comparable)."""
    if not stack.includes_platform() or stack.bootstrap:  # bootstrap: deploy roles only
        return {}
    lake = stack.lake_declarations(mesh)
    multi = stack.accounts(mesh).multi

    def key(d: LakeDeclaration) -> tuple:
        return (d.admins, d.read_only_admins, d.trusted_owners, multi)

    return {account: key(d) for account, d in lake.items()}


def settings_owners(mesh: Mesh, stacks: list[ProjectStack]) -> list[Problem]:
    """E090: two stacks that would write one account's Lake Formation settings differently."""
    owner: dict[str, tuple[ProjectStack, tuple]] = {}
    problems = []
    for stack in stacks:
        for account, declared in sorted(_declared(mesh, stack).items()):
            first, held = owner.setdefault(account, (stack, declared))
            if first is stack:
                continue
            if first.deployment == stack.deployment and held == declared:
                continue  # one deployment in two shapes, declaring the same
            why = (
                "another deployment (prefix and bucket namespace differ)"
                if first.deployment != stack.deployment
                else "different administrators, trusted owners or cross-account version"
            )
            problems.append(
                Problem(
                    str(stack.file),
                    stack.line_of("mesh:account"),
                    "config.mesh:account",
                    "E090",
                    f"{stack.file.name} would declare the Lake Formation settings of account "
                    f"{account}, which {first.file.name} declares, as {why}: the settings are "
                    "one per account and the last pulumi up overwrites them; let one stack "
                    "own each account (give this stack its own account)",
                )
            )
    return problems


def _reach(mesh: Mesh, stack: ProjectStack) -> tuple[set[str], bool]:
    """The accounts a stack's consumer roles live in, and whether their catalog pattern spans
    every account (a multi-account stack's is `arn:aws:glue:<region>:*:...`)."""
    accounts = stack.accounts(mesh)
    where = {accounts.of(bp.domain) for bp in mesh.blueprints}
    return where | {accounts.platform}, accounts.multi


def prefix_overlaps(mesh: Mesh, stacks: list[ProjectStack]) -> list[Problem]:
    """E091: a stack whose consumer catalog pattern matches another stack's databases."""
    problems = []
    seen: set[tuple[str, str]] = set()
    for a in stacks:
        for b in stacks:
            pa, pb = a.prefix, b.prefix
            if pa == pb or (pa, pb) in seen:
                continue
            pattern, theirs = Names(pa).database_prefix(), Names(pb).database_prefix()
            if not theirs.startswith(pattern):
                continue
            (where_a, any_a), (where_b, _) = _reach(mesh, a), _reach(mesh, b)
            if not (any_a or where_a & where_b):
                continue  # different accounts, and a's pattern names its own
            seen.add((pa, pb))
            problems.append(
                Problem(
                    str(b.file),
                    b.line_of("mesh:prefix"),
                    "config.mesh:prefix",
                    "E091",
                    f"prefix {pb!r} ({b.file.name}) gives databases {theirs}*, which the consumer "
                    f"roles of prefix {pa!r} ({a.file.name}) read through their catalog pattern "
                    f"{pattern}*: choose a prefix that does not extend {pa!r} with '-' (existing "
                    "databases are never renamed)",
                )
            )
    return problems
