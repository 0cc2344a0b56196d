"""`mesh expiring`: the grants whose access ended lately, and the stacks that must deploy to
revoke them (what `.github/workflows/mesh-expiry.yml` deploys every night)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra import api
from infra.cli.common import DirArg, TextOrJson, emit_json, print_invalid
from infra.util.textsafe import one_line


def expiring(
    directory: DirArg = Path("blueprints"),
    since: Annotated[
        int,
        typer.Option(
            "--since",
            min=1,
            max=366,
            help="Days to look back: grants that ended on one of them (a missed night is "
            "caught up by the next).",
        ),
    ] = 7,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
) -> None:
    """List the grants whose access ended lately and the stacks that must deploy to revoke them.

    A Lake Formation permission takes no condition: it is revoked when a stack declaring its
    grant deploys after the grant's last day. JSON: {"today", "since", "ended": [{"product",
    "consumer", "ended", "expires", "stacks"}], "stacks": [...]}, the stacks named as their
    Pulumi.<stack>.yaml. Exit 0 (also when nothing ended), 1 invalid blueprints, 2 usage.

    Example: mesh expiring --format json | jq -r '.stacks[]'
    """
    try:
        today, ended = api.expiring(directory, since)
    except api.InvalidTree as exc:
        print_invalid(exc)
        raise typer.Exit(1) from None
    stacks = sorted({s for e in ended for s in e.stacks})
    if format is TextOrJson.json:
        emit_json(
            {
                "today": today.isoformat(),
                "since": since,
                "ended": [e.as_json() for e in ended],
                "stacks": stacks,
            }
        )
        return
    for e in ended:
        typer.echo(
            one_line(
                f"{e.product} -> {e.consumer}: ended {e.ended.isoformat()}; deploy "
                f"{', '.join(e.stacks) or '(no stack config declares it)'}"
            )
        )
    typer.echo(
        f"{len(ended)} grant(s) ended in the {since} day(s) up to {today.isoformat()}; "
        f"stacks to deploy: {', '.join(stacks) or 'none'}"
    )
