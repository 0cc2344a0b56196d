"""`mesh new domain` and `mesh new product`: the questions, asked (typer prompts) or given as
options; the work is `infra.scaffold.blueprint`'s.

Every value has an option, so a script passes them all with `--no-input` (a missing one is then
a usage error naming it); without `--no-input` each missing value is asked for. Exit codes: 0
written, 1 refused (the file or product exists, or the result would not validate: nothing is
written), 2 usage error.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from infra.cli.common import DirArg, MeshCommand, MeshGroup
from infra.errors import UsageError

new_app = typer.Typer(
    name="new",
    cls=MeshGroup,
    help="Start a domain or a product: blueprint text in the sample's style that validates.",
    no_args_is_help=True,
)

NoInput = Annotated[
    bool,
    typer.Option(
        "--no-input", help="Never prompt: every value from the options (for scripts and CI)."
    ),
]


class _Ask:
    """Asks for the values the options left out, or (`--no-input`) collects their names."""

    def __init__(self, no_input: bool) -> None:
        self.no_input = no_input
        self.missing: list[str] = []

    def __call__(
        self, value: Any, flag: str, text: str, default: Any = None, required: bool = True, **kw
    ) -> Any:
        if value is not None:
            return value
        if self.no_input:
            if required and default is None:
                self.missing.append(flag)
            return default
        if not required and default is None:
            default, kw["show_default"] = "", False
        try:
            answer = typer.prompt(text, default=default, **kw)
        except typer.Abort:
            raise UsageError(
                f"no answer for {flag}: give it as an option (--no-input never prompts)"
            ) from None
        return answer if answer != "" else None

    def done(self) -> None:
        if self.missing:
            raise UsageError(f"--no-input: missing {', '.join(self.missing)}")


# a blueprint path (`Problem.path`) of a new domain -> the option (and question) that gave it
_DOMAIN_FIELDS = {
    "description": "--description",
    "owner.team": "--team",
    "owner.email": "--email",
    "owner.github": "--github",
    "cost_center": "--cost-center",
    "account": "--account",
}


def _answers_to_ask_again(problems: list) -> list[str]:
    """The options whose answers caused `problems`, in question order; [] when a problem is
    not one answer's (then asking again would not help)."""
    flags = [_DOMAIN_FIELDS.get(p.path) for p in problems]
    if not flags or None in flags:
        return []
    return [f for f in _DOMAIN_FIELDS.values() if f in flags]


def _refused(exc) -> None:
    for p in exc.problems:
        typer.echo(p.text(), err=True)


def _report(written, what: str, then: str = "") -> None:
    for p in written.warnings:
        typer.echo(p.text())
    typer.echo(f"{what} {written.path} (it validates){then}")


@new_app.command("domain", cls=MeshCommand)
def domain(
    name: Annotated[str, typer.Argument(help="The domain's name; its file is NAME.yaml.")],
    directory: DirArg = Path("blueprints"),
    description: Annotated[str | None, typer.Option(help="What the domain is about.")] = None,
    team: Annotated[str | None, typer.Option(help="Owning team (default NAME-data).")] = None,
    email: Annotated[str | None, typer.Option(help="The owning team's e-mail address.")] = None,
    github: Annotated[
        str | None, typer.Option(help="The owning team's GitHub handle, @org/team.")
    ] = None,
    cost_center: Annotated[str | None, typer.Option("--cost-center", help="e.g. CC-1001.")] = None,
    account: Annotated[
        str | None, typer.Option(help="The domain's AWS account (default: the stack's).")
    ] = None,
    no_input: NoInput = False,
) -> None:
    """Create blueprints/NAME.yaml for a new domain (no products yet); never overwrites.

    Example: mesh new domain crm --description "Customer relationships" --email crm@example.com
    --cost-center CC-5000 --github @acme/crm-data --no-input
    """
    from infra.scaffold import blueprint as sb

    sb.domain_target(directory, name)
    ask = _Ask(no_input)
    org = sb.github_org(directory)
    given = {
        "--description": description,
        "--team": team,
        "--email": email,
        "--github": github,
        "--cost-center": cost_center,
        "--account": account,
    }

    def question(flag: str, value: Any = None) -> Any:
        team = given["--team"]
        questions = {
            "--description": ("Description (what the domain is about)", None, True),
            "--team": ("Owning team", f"{name.replace('_', '-')}-data", True),
            "--email": ("The team's e-mail address", None, True),
            "--github": (
                "The team's GitHub handle (@org/team; it approves the domain's grants)",
                f"@{org}/{team}" if org and team else None,
                False,
            ),
            "--cost-center": ("Cost center (e.g. CC-1001)", None, True),
            "--account": ("AWS account (blank: the stack's)", None, False),
        }
        text, default, required = questions[flag]
        return ask(value, flag, text, default=default, required=required)

    for flag, value in list(given.items()):
        given[flag] = question(flag, value)
    ask.done()
    while True:
        answers = sb.DomainAnswers(
            name,
            given["--description"],
            given["--team"],
            given["--email"],
            given["--cost-center"],
            given["--github"],
            given["--account"],
        )
        try:
            written = sb.new_domain(directory, answers)
            break
        except sb.Refused as exc:
            _refused(exc)
            again = _answers_to_ask_again(exc.problems)
            if no_input or not again:
                raise
            # interactive: only the answers that were wrong are asked again, the others kept
            for flag in again:
                given[flag] = question(flag)
    _report(
        written,
        "created",
        f"; its owners review it once CODEOWNERS is regenerated (mesh codeowners {directory})",
    )


class _Classification(str, Enum):
    public = "public"
    internal = "internal"
    confidential = "confidential"
    restricted = "restricted"


class _Format(str, Enum):
    parquet = "parquet"
    json = "json"
    csv = "csv"


def _columns(ask: _Ask, given: list[str], flag: str, text: str, form: str, at_least: int) -> list:
    """Columns from the options, or asked one by one until an empty answer."""
    from infra.scaffold.blueprint import parse_column

    def parse(spec: str):
        try:
            return parse_column(spec)
        except ValueError as exc:  # pydantic's ValidationError is one
            raise UsageError(f"{flag}: {_first_error(exc)}") from None

    if given or ask.no_input:
        if len(given) < at_least:
            ask.missing.append(flag)
        return [parse(s) for s in given]
    out: list = []
    while True:
        spec = ask(None, flag, f"{text} #{len(out) + 1} ({form}; blank: done)", required=False)
        if spec is None:
            if len(out) >= at_least:
                return out
            typer.echo(f"at least {at_least} needed", err=True)
            continue
        try:
            out.append(parse(spec))
        except UsageError as exc:
            typer.echo(f"error: {exc}", err=True)


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        e = errors(include_url=False)[0]
        return f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
    return str(exc)


@new_app.command("product", cls=MeshCommand)
def product(
    domain_name: Annotated[str, typer.Argument(metavar="DOMAIN", help="The owning domain.")],
    name: Annotated[str, typer.Argument(help="The product's name, unique in the domain.")],
    directory: DirArg = Path("blueprints"),
    description: Annotated[str | None, typer.Option(help="What one row is.")] = None,
    classification: Annotated[_Classification | None, typer.Option()] = None,
    format: Annotated[_Format | None, typer.Option("--format")] = None,
    retention_days: Annotated[int | None, typer.Option("--retention-days")] = None,
    freshness_slo_hours: Annotated[int | None, typer.Option("--freshness-slo-hours")] = None,
    column: Annotated[
        list[str] | None,
        typer.Option("--column", help="name:type or name:type:pii (repeat; at least one)."),
    ] = None,
    partition_key: Annotated[
        list[str] | None, typer.Option("--partition-key", help="name:type (repeat).")
    ] = None,
    no_input: NoInput = False,
) -> None:
    """Add a product to DOMAIN's blueprint (comments and layout kept); never overwrites one.

    Example: mesh new product sales refunds --description "One row per refund"
    --classification confidential --freshness-slo-hours 24 --column refund_id:string
    --column amount:decimal(12,2) --partition-key dt:string --no-input
    """
    from infra.governance.catalogue import FRESHNESS_SLO_FROM
    from infra.model.spec import Classification, DataFormat
    from infra.scaffold import blueprint as sb

    try:
        sb.product_target(directory, domain_name, name)
    except sb.Refused as exc:
        _refused(exc)
        raise
    ask = _Ask(no_input)
    description = ask(description, "--description", "Description (what one row is)")
    chosen = ask(
        classification,
        "--classification",
        "Classification",
        default=_Classification.internal.value,
        type=_Classification,
    )
    level = Classification(getattr(chosen, "value", chosen))
    fmt = ask(
        format,
        "--format",
        "Format",
        default=_Format.parquet.value,
        type=_Format,
    )
    retention = ask(retention_days, "--retention-days", "Retention (days)", default=365, type=int)
    if freshness_slo_hours is None and level.rank >= FRESHNESS_SLO_FROM.rank:
        freshness_slo_hours = ask(
            None, "--freshness-slo-hours", "Freshness SLO (hours)", default=24, type=int
        )
    columns = _columns(ask, column or [], "--column", "Column", "name:type[:pii]", 1)
    keys = _columns(ask, partition_key or [], "--partition-key", "Partition key", "name:type", 0)
    ask.done()
    answers = sb.ProductAnswers(
        name,
        description,
        level,
        DataFormat(getattr(fmt, "value", fmt)),
        retention,
        tuple(columns),
        tuple(keys),
        freshness_slo_hours,
    )
    try:
        written = sb.new_product(directory, domain_name, answers)
    except sb.Refused as exc:
        _refused(exc)
        raise
    _report(written, f"added {domain_name}.{name} to")
