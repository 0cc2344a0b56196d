"""What every Glue database and table waits for: the Lake Formation-only defaults of its account.

A Glue database or table created while its account still gives new objects to
`IAM_ALLOWED_PRINCIPALS` (the account's default until the platform's `DataLakeSettings` say
otherwise) keeps that permission, and then every role with the constant Glue read policy reads
whole tables, PII included. So nothing in the catalog is created before the settings:

- in a stack that declares the account's settings (`all`, `platform`), the database depends
  on the `DataLakeSettings` resource itself;
- in a domain stack, the settings are the platform stack's: the platform stack exports the
  accounts whose settings it has applied (`PLATFORM_OUTPUT`, resolved only after every
  `DataLakeSettings` of the stack), and the domain stack reads that output through one
  `pulumi.StackReference` (`REFERENCE`, to `mesh:platformStack`). Each database of the domain
  stack (its own and the resource links it creates in consumer accounts) depends on that
  reference, through an output that fails the deployment, before anything is created, when
  the platform stack has not applied its account's settings.
"""

from __future__ import annotations

import pulumi

PLATFORM_OUTPUT = "lakeFormationOnlyAccounts"  # the platform stack's output (sorted account ids)
REFERENCE = "platform-stack"  # logical name of the domain stack's reference to the platform
DEFAULT_PLATFORM_STACK = "platform"  # mesh:platformStack: the platform stack's name


class NotLakeFormationOnly(pulumi.RunError):
    """The platform stack has not applied the Lake Formation-only defaults of an account."""


def applied_accounts(settings: dict[str, pulumi.Resource]) -> pulumi.Output[list[str]]:
    """The platform stack's output: the accounts of `settings` (account -> its
    `DataLakeSettings`), known only once every one of them is applied."""
    ids = [s.id for s in settings.values()]  # type: ignore[attr-defined]
    accounts = sorted(settings)
    return pulumi.Output.all(*ids).apply(lambda _: accounts)


def check_applied(account: str, applied: object, platform_stack: str) -> None:
    """Refuse to go on when the platform stack's output does not list `account`."""
    if not isinstance(applied, list) or account not in applied:
        raise NotLakeFormationOnly(
            f"the platform stack {platform_stack!r} has not applied the Lake Formation settings "
            f"of account {account} (its output {PLATFORM_OUTPUT} is {applied!r}): new Glue "
            "databases and tables there would be readable by IAM_ALLOWED_PRINCIPALS; deploy the "
            "platform stack first (pulumi up --stack platform), nothing was created"
        )


class LakeGuard:
    """For each account, what its Glue databases depend on (`of`)."""

    def __init__(
        self,
        settings: dict[str, pulumi.Resource] | None = None,
        platform_stack: str | None = None,
    ) -> None:
        """`settings`: the `DataLakeSettings` this stack declares, by account; `platform_stack`:
        the platform stack to reference for every other account (a domain stack)."""
        self._settings = dict(settings or {})
        self._platform_stack = platform_stack
        self._reference: pulumi.StackReference | None = None
        self._guards: dict[str, pulumi.Output[pulumi.Resource]] = {}

    def of(self, account: str) -> pulumi.Input[pulumi.Resource] | None:
        """The settings of `account` when this stack declares them; else (a domain stack) the
        platform stack's reference, once its output lists `account`; None when this stack
        neither declares them nor references a platform (never for the program's stacks)."""
        if account in self._settings:
            return self._settings[account]
        if self._platform_stack is None:
            return None
        if account not in self._guards:
            ref = self.reference
            stack = self._platform_stack

            def checked(applied: object) -> pulumi.Resource:
                check_applied(account, applied, stack)
                return ref

            self._guards[account] = ref.get_output(PLATFORM_OUTPUT).apply(checked)
        return self._guards[account]

    @property
    def reference(self) -> pulumi.StackReference:
        if self._reference is None:
            assert self._platform_stack is not None
            self._reference = pulumi.StackReference(REFERENCE, stack_name=self._platform_stack)
        return self._reference
