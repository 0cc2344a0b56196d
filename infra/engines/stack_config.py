"""One stack's settings as `pulumi up` reads them, without the Pulumi CLI: `mesh plan --config
Pulumi.NAME.yaml` (or `--stack`, `--prefix`, `--account`) plans exactly that stack.

A stack config file is read the way the Pulumi CLI hands it to the program: the values of its
`config:` map as strings (lists and maps as JSON), over the defaults the project file
(`Pulumi.yaml` beside it) declares, and then `StackSettings.from_pulumi_config` — the code
`pulumi up` runs — turns them into settings, with the same errors for a missing or wrong value.
The values are set in a copy of the current context, so nothing of them stays behind.

Both files are read as hostile input, with the reader every other command uses
(`infra.blueprints.stack_files`): a FIFO or a device (a link to `/dev/zero`) is refused before it
is read, a link out of its directory too, and a YAML error names the file and the line without
printing the file's text. Each problem is a usage error (exit 2) naming the file. (In
`infra.engines`: the reader is the blueprints', the settings the program's, and `provision` and
`blueprints` are independent layers.)
"""

from __future__ import annotations

import contextvars
import json
import re
from pathlib import Path

import pulumi
from pulumi.runtime import config as pulumi_config

from infra.blueprints.stack_files import (
    project_values,
    read_config_file,
    read_project_file,
    readable,
)
from infra.errors import UsageError
from infra.provision.names import PhysicalNameError
from infra.provision.program import SCOPE_ALL, SCOPE_PLATFORM, StackSettings

_ACCOUNT = re.compile(r"^\d{12}$")


def stack_settings(
    config: Path | None = None,
    *,
    stack: str | None = None,
    prefix: str | None = None,
    account: str | None = None,
) -> StackSettings:
    """The settings of the stack that `config` (a `Pulumi.<stack>.yaml`) configures; without
    one, the local defaults with the scope, prefix and account given. Options given beside a
    config file must agree with it: the plan is the stack's as `pulumi up` runs it."""
    if config is None:
        settings = StackSettings(
            prefix=StackSettings.prefix if prefix is None else prefix,
            account=StackSettings.account if account is None else account,
            scope=stack or SCOPE_ALL,
        )
    else:
        settings = read_stack_config(config)
        stack_name = _stack_name(config)
        if stack is not None and stack not in (settings.scope, stack_name):
            raise UsageError(
                f"--stack {stack}, but {config} is the config of stack {stack_name or '?'}, "
                f"which declares mesh:stack {settings.scope}"
            )
        for option, given, held, key in (
            ("--prefix", prefix, settings.prefix, "mesh:prefix"),
            ("--account", account, settings.account, "mesh:account"),
        ):
            if given is not None and given != held:
                raise UsageError(f"{option} {given}, but {config} sets {key}: {held}")
    if not _ACCOUNT.match(settings.account):
        where = f"mesh:account in {config}" if config is not None else "--account"
        raise UsageError(f"{where}: {settings.account!r} is not an AWS account id (12 digits)")
    try:
        settings.names  # noqa: B018 - checks the prefix
    except PhysicalNameError as exc:
        raise UsageError(str(exc)) from None
    return settings


def check_scope(settings: StackSettings, domains: list[str], directory: Path) -> None:
    """A stack scope is `all`, `platform` or the name of a blueprint file of the tree."""
    if settings.scope in (SCOPE_ALL, SCOPE_PLATFORM) or settings.scope in domains:
        return
    config = directory.resolve().parent / f"Pulumi.{settings.scope}.yaml"
    hint = (
        f"; to plan the stack configured by {config.name}, use --config {config.name}"
        if config.is_file()
        else ""
    )
    listed = ", ".join(domains[:10]) + (", ..." if len(domains) > 10 else "")
    raise UsageError(
        f"--stack {settings.scope} is neither all, platform nor a domain of {directory} "
        f"({listed}){hint}"
    )


def read_stack_config(path: Path) -> StackSettings:
    """`StackSettings.from_pulumi_config` over the values of the stack config file `path`."""
    values = {**_project_defaults(path.parent), **_config_values(path)}

    def read() -> StackSettings:
        pulumi_config.set_all_config(values)
        return StackSettings.from_pulumi_config(path.parent)

    try:
        return contextvars.copy_context().run(read)
    except pulumi.RunError as exc:
        raise UsageError(f"{path}: {exc}") from None


def _stack_name(path: Path) -> str | None:
    """`dev` for `Pulumi.dev.yaml`: the stack a config file belongs to, by Pulumi's naming."""
    match = re.fullmatch(r"Pulumi\.(.+)\.ya?ml", path.name)
    return match.group(1) if match else None


def _config_values(path: Path) -> dict[str, str]:
    config = readable(read_config_file(path)).config
    values = {}
    for key, value in config.items():
        if isinstance(value, dict) and "secure" in value:
            if str(key).startswith(("mesh:", "aws:region")):
                raise UsageError(
                    f"{path}: {key} is a secret, which only the Pulumi CLI can decrypt"
                )
            continue  # a secret nobody here reads (e.g. a provider credential)
        values[str(key)] = _as_config_string(value)
    return values


def _project_defaults(project_dir: Path) -> dict[str, str]:
    """What the project file gives every stack (`stack_files.project_values`: a `default:`, a
    `value:` or a bare value), as the Pulumi CLI hands it to the program."""
    found = read_project_file(project_dir)
    if found is None:
        return {}
    project = readable(found, "the project file")
    return {key: _as_config_string(v) for key, (v, _loc) in project_values(project).items()}


def _as_config_string(value: object) -> str:
    """How the Pulumi CLI passes a config value to the program."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)
