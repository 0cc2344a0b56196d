"""`mesh init ci`: write the pull-request workflow (`infra.scaffold.ci`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import MeshCommand, MeshGroup

init_app = typer.Typer(
    name="init",
    cls=MeshGroup,
    help="Set a repository up for the mesh: its PR check, stack configs, rollout and drift workflows.",
    no_args_is_help=True,
)


@init_app.command("ci", cls=MeshCommand)
def ci(
    root: Annotated[
        Path, typer.Argument(help="The repository's root (the workflows go under .github/).")
    ] = Path("."),
    blueprints: Annotated[
        str, typer.Option(help="The blueprint directory, relative to the root.")
    ] = "blueprints",
    install: Annotated[
        str | None,
        typer.Option(
            help="Where the workflow installs the checker from, pinned: ./base (this project's "
            "repository: mesh as the base branch has it), 'mesh-provisioner==VERSION', or "
            "'mesh-provisioner @ git+https://github.com/ORG/REPO@COMMIT'. Default: ./base in "
            "this project's repository, else the running mesh's commit when it was installed "
            "from git."
        ),
    ] = None,
    branch: Annotated[
        str | None,
        typer.Option(
            help="The protected branch: pull requests into any other get a failing status. "
            "Default: the repository's default branch."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace existing workflows.")] = False,
) -> None:
    """Write .github/workflows/mesh-pr.yml (diff, PR comment, approvals gate, audit artifact,
    the commit status mesh-pr) and its review relay mesh-pr-review.yml.

    The check runs as the default branch has it (pull_request_target, workflow_run); the pull
    request's files are data only.

    Example: mesh init ci . --install 'mesh-provisioner @ git+https://github.com/acme/mesh@<commit>'
    """
    from infra.scaffold.ci import CiOptions, default_install, workflow_texts, write_workflows

    options = CiOptions(blueprints, install or default_install(root), branch)
    for path in write_workflows(root, workflow_texts(options), force=force):
        typer.echo(f"wrote {path}")
    typer.echo(
        "next: make the commit status mesh-pr a required status check of "
        f"{branch or 'the default branch'}; give it a token that reads team membership (secret "
        f"MESH_APPROVALS_TOKEN); own .github/ by the platform team (mesh codeowners "
        f"{blueprints} > .github/CODEOWNERS); a new mesh starts with a pull request that adds "
        f"only {blueprints}/_mesh.yaml (README: The workflow)"
    )
