"""The stack config values the accounts work added (`mesh:lakeFormationReadOnlyAdmins`,
`mesh:lakeFormationTrustedOwners`, `mesh:bucketNamespace`) and `mesh:allowDataDeletion`, read as `pulumi up` reads them:
a wrong value is a `pulumi.RunError` naming the key and what was expected."""

from __future__ import annotations

import re

import pulumi

from infra.provision.names import BUCKET_NAMESPACES, GLOBAL_NAMESPACE


def strings(config: pulumi.Config, key: str) -> tuple[str, ...]:
    value = config.get_object(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise pulumi.RunError(
            f"config mesh:{key} is {value!r}: expected a list of strings, e.g. "
            f'pulumi config set --path "mesh:{key}[0]" <value>'
        )
    return tuple(value)


def account_ids(values: tuple[str, ...]) -> tuple[str, ...]:
    for v in values:
        if not re.fullmatch(r"\d{12}", v):
            raise pulumi.RunError(
                f"config mesh:lakeFormationTrustedOwners: {v!r} is not an AWS account id (12 "
                "digits, quoted)"
            )
    return values


def bucket_namespace(value: str | None) -> str:
    """`mesh:bucketNamespace`: global (the default: every stack deployed before the choice
    existed keeps its names) or account-regional (new stacks)."""
    if value is None:
        return GLOBAL_NAMESPACE
    if value not in BUCKET_NAMESPACES:
        raise pulumi.RunError(
            f"config mesh:bucketNamespace is {value!r}: expected {' or '.join(BUCKET_NAMESPACES)} "
            "(choose once, when the stack is created: a stack's bucket names never change)"
        )
    return value


def deletion_switch(value: object) -> bool | frozenset[str]:
    """`mesh:allowDataDeletion`: true, false (the default) or a list of domain names."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, list) and all(isinstance(d, str) for d in value):
        return frozenset(value)
    raise pulumi.RunError(
        f"config mesh:allowDataDeletion is {value!r}: expected true, false or a list of domain "
        'names, e.g. pulumi config set --path "mesh:allowDataDeletion[0]" sales'
    )
