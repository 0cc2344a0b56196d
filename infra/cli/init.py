"""`mesh init ci`: write the pull-request workflow (`infra.scaffold.ci`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import MeshCommand, MeshGroup

init_app = typer.Typer(
    name="init",
    cls=MeshGroup,
    help="Set a repository up for the mesh: its CI workflow.",
    no_args_is_help=True,
)


@init_app.command("ci", cls=MeshCommand)
def ci(
    root: Annotated[
        Path, typer.Argument(help="The repository's root (the workflow goes under .github/).")
    ] = Path("."),
    blueprints: Annotated[
        str, typer.Option(help="The blueprint directory, relative to the root.")
    ] = "blueprints",
    install: Annotated[
        str,
        typer.Option(
            help="What `pip install` installs: ./base (mesh as the base branch has it) or a "
            "requirement such as mesh-provisioner==0.1.0."
        ),
    ] = "./base",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing workflow.")] = False,
) -> None:
    """Write .github/workflows/mesh-pr.yml: diff, PR comment, approvals gate, audit artifact.

    Example: mesh init ci . --blueprints blueprints && mesh codeowners > .github/CODEOWNERS
    """
    from infra.scaffold.ci import workflow_text, write_workflow

    path = write_workflow(root, workflow_text(blueprints, install), force=force)
    typer.echo(f"wrote {path}")
    typer.echo(
        "next: make its job a required status check of the base branch; give it a token that "
        "reads team membership (secret MESH_APPROVALS_TOKEN); own .github/ by the platform team "
        f"(mesh codeowners {blueprints} > .github/CODEOWNERS)"
    )
