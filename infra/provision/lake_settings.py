"""What each account's Lake Formation settings declare: a per-account singleton, so nothing the
platform declares may be dropped, and what the account needs is added to it.

`DataLakeSettings` is written whole (`PutDataLakeSettings`): an administrator, read-only
administrator or trusted owner the resource does not name is removed. So the stack's lists
(`mesh:lakeFormationAdmins`, `mesh:lakeFormationReadOnlyAdmins`,
`mesh:lakeFormationTrustedOwners`) are merged with what the mesh needs in each account (there,
the deploy role administers the account: it creates the resource links' DESCRIBE grants), and
each principal goes to the settings of the account its ARN names (Lake Formation administrators
are principals of their own account); a principal of an account the stack declares no settings
for stays with the platform account's, as before: nothing configured is dropped. `mesh doctor`
names what an account's settings hold today that the declaration would remove.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):")


@dataclass(frozen=True)
class LakeDeclaration:
    """One account's declared settings (beyond the defaults every account gets: no
    IAM_ALLOWED_PRINCIPALS on new databases and tables, and the cross-account version)."""

    account: str
    admins: tuple[str, ...]
    read_only_admins: tuple[str, ...] = ()
    trusted_owners: tuple[str, ...] = ()


def arn_account(arn: str) -> str | None:
    """The account of an IAM ARN; None for anything else (kept with the platform's)."""
    match = _ARN_ACCOUNT.match(arn)
    return match.group(1) if match else None


def _routed(principals: Iterable[str], platform: str, accounts: set[str]) -> dict:
    out: dict[str, list[str]] = {a: [] for a in accounts}
    for arn in principals:
        account = arn_account(arn)
        account = account if account in out else platform
        if arn not in out[account]:
            out[account].append(arn)
    return out


def declarations(
    platform: str,
    foreign: dict[str, str],
    admins: Iterable[str],
    read_only_admins: Iterable[str] = (),
    trusted_owners: Iterable[str] = (),
) -> dict[str, LakeDeclaration]:
    """The settings of the platform account and of each `foreign` account (account -> its
    deploy role's ARN, an administrator there first): the configured principals in the account
    their ARN names; the trusted owners (account ids) in every account but their own."""
    accounts = {platform, *foreign}
    routed = _routed(admins, platform, accounts)
    readers = _routed(read_only_admins, platform, accounts)
    owners = tuple(dict.fromkeys(trusted_owners))  # account ids (checked with the config)
    out = {}
    for account in sorted(accounts):
        needed = (foreign[account],) if account in foreign else ()
        out[account] = LakeDeclaration(
            account,
            tuple(dict.fromkeys((*needed, *routed[account]))),
            tuple(readers[account]),
            tuple(o for o in owners if o != account),
        )
    return out
