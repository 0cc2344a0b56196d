"""`mesh doctor`'s `glue-policy` check: the Data Catalog resource policy of an account that
shares across accounts lets AWS RAM share its databases and tables.

Lake Formation shares named resources across accounts through AWS RAM. An account without a
Data Catalog resource policy needs nothing; one with a policy must allow `glue:ShareResource` to
the service principal `ram.amazonaws.com` on the account's tables, databases and catalog, or its
cross-account grants fail ("Managing cross-account permissions using both AWS Glue and Lake
Formation", https://docs.aws.amazon.com/lake-formation/latest/dg/hybrid-cross-account.html).
A statement with a condition is not relied on (its keys are RAM's, not known here), and a Deny
that may apply fails the check."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.audit.iameval import as_list, glob_match

SHARE = "glue:ShareResource"
RAM = "ram.amazonaws.com"


def shared_resources(partition: str, region: str, account: str) -> tuple[str, ...]:
    """What the policy must let RAM share: every table, every database, the catalog."""
    arn = f"arn:{partition}:glue:{region}:{account}"
    return (f"{arn}:table/*/*", f"{arn}:database/*", f"{arn}:catalog")


def _to_ram(principal: Any) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    services = as_list(principal.get("Service"))
    return any(p in ("*", RAM) for p in services) or "*" in as_list(principal.get("AWS"))


def _element(stmt: dict, key: str, holds: Callable[[Any], bool]) -> bool:
    """Whether the statement's `key` (or its `Not` form) applies."""
    if key in stmt:
        return any(holds(v) for v in as_list(stmt[key]))
    if f"Not{key}" in stmt:
        return not any(holds(v) for v in as_list(stmt[f"Not{key}"]))
    return False


def _applies(stmt: dict, resource: str) -> bool:
    """Whether the statement applies to RAM's ShareResource on `resource` (a wildcard ARN,
    covered by a pattern that matches it as written)."""
    if "Principal" in stmt:
        to_ram = _to_ram(stmt["Principal"])
    else:
        to_ram = "NotPrincipal" in stmt and not _to_ram(stmt["NotPrincipal"])
    return (
        to_ram
        and _element(stmt, "Action", lambda a: glob_match(str(a), SHARE, case_sensitive=False))
        and _element(stmt, "Resource", lambda r: glob_match(str(r), resource))
    )


def blocked(policy: dict, resources: tuple[str, ...]) -> list[str]:
    """The resources RAM may not share under `policy`: denied by a statement that may apply,
    or allowed by no unconditional statement."""
    statements = [s for s in as_list(policy.get("Statement")) if isinstance(s, dict)]
    out = []
    for resource in resources:
        denied = any(s.get("Effect") == "Deny" and _applies(s, resource) for s in statements)
        allowed = any(
            s.get("Effect") == "Allow" and "Condition" not in s and _applies(s, resource)
            for s in statements
        )
        if denied or not allowed:
            out.append(resource)
    return out


def check_catalog_policy(
    glue: Any, resources: tuple[str, ...], add: Callable[[bool, str], None]
) -> None:
    """Read the account's Data Catalog resource policy with `glue` and report through `add`."""
    try:
        held = glue.get_resource_policy()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
            add(False, f"Data Catalog resource policy unreadable: {exc}")
            return
        held = {}
    except BotoCoreError as exc:
        add(False, f"Data Catalog resource policy unreadable: {exc}")
        return
    text = held.get("PolicyInJson")
    if not text:
        add(True, "no Data Catalog resource policy: AWS RAM may share the catalog")
        return
    try:
        policy = json.loads(text)
    except ValueError:
        add(False, "the Data Catalog resource policy is not JSON")
        return
    missing = blocked(policy if isinstance(policy, dict) else {}, resources)
    add(
        not missing,
        f"the Data Catalog resource policy lets {RAM} {SHARE}"
        if not missing
        else f"the Data Catalog resource policy does not let {RAM} {SHARE} on "
        f"{', '.join(missing)}: cross-account grants from this account fail",
    )
