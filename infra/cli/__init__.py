"""The `mesh` command line. Thin: one module per command, each calling `infra.api` and
formatting its result; this module assembles them.

Exit codes (contract): 0 ok, 1 findings or invalid input, 2 usage error, 3 (diff) new access.
A `MeshError` raised anywhere below a command is its one-line message and exit code, whether the
command runs from the console script or from a test's `CliRunner`.
"""

from __future__ import annotations

import os
import sys

import typer
from typer.core import TyperGroup

from infra.cli.audit import audit
from infra.cli.codeowners import codeowners
from infra.cli.contract import contract_app
from infra.cli.diff import diff
from infra.cli.init import init_app
from infra.cli.new import new_app
from infra.cli.plan import plan
from infra.cli.policies import policies
from infra.cli.schema import schema
from infra.cli.up import up
from infra.cli.validate import validate
from infra.errors import MeshError


class _MeshGroup(TyperGroup):
    """Turns a `MeshError` into `error: <message>` on stderr and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MeshError as exc:
            if os.environ.get("MESH_DEBUG"):
                raise
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_MeshGroup,
    add_completion=False,
    no_args_is_help=True,
    help="Data mesh provisioner: validate blueprints, plan and deploy the mesh, audit access.",
    pretty_exceptions_enable=False,
)
app.command("validate")(validate)
app.command("plan")(plan)
app.command("up")(up)
app.command("schema")(schema)
app.command("policies")(policies)
app.command("audit")(audit)
app.command("diff")(diff)
app.command("codeowners")(codeowners)
app.add_typer(contract_app, name="contract")
app.add_typer(init_app, name="init")
app.add_typer(new_app, name="new")


def main() -> None:
    """Console entry point: never lets a traceback reach the user unless MESH_DEBUG is set."""
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("MESH_DEBUG"):
            raise
        typer.echo(
            f"internal error: {type(exc).__name__}: {exc} (set MESH_DEBUG=1 for details)", err=True
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
