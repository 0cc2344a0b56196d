"""`mesh init stacks` and `mesh init deploy`: the stack configs of a stack-per-domain mesh
(`infra.scaffold.stacks`) and its rollout workflow (`infra.scaffold.deploy`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import MeshCommand
from infra.cli.init import init_app
from infra.scaffold.deploy import DEFAULT_INSTALL
from infra.util.textsafe import one_line


@init_app.command("stacks", cls=MeshCommand)
def init_stacks(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Directory of blueprint YAML files.")
    ] = Path("blueprints"),
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 when a config is missing.")
    ] = False,
) -> None:
    """Write a stack config (Pulumi.DOMAIN.yaml) for every domain without one.

    Each holds mesh:stack DOMAIN and the prefix, account, region, deploy role and blueprint
    directory of the platform stack's config (Pulumi.platform.yaml), which every stack must
    share. Existing configs are left as they are; a config for a domain that does not exist,
    or one whose shared values differ from the platform's, is reported (exit 1).

    Example: mesh init stacks blueprints && git add Pulumi.*.yaml
    """
    from infra.governance.stack_configs import project_dir as project_of
    from infra.scaffold.stacks import missing_configs

    project_dir = project_of(directory)
    missing, problems = missing_configs(directory, project_dir)
    for path, text in sorted(missing.items()):
        if check:
            typer.echo(f"missing {path.name}")
        else:
            path.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {path.name}")
    for p in problems:
        typer.echo(one_line(f"error: {p}"), err=True)
    if not missing and not problems:
        typer.echo("every domain has its stack config")
    raise typer.Exit(1 if problems or (check and missing) else 0)


@init_app.command("deploy", cls=MeshCommand)
def init_deploy(
    root: Annotated[
        Path, typer.Argument(help="The repository's root (the workflow goes under .github/).")
    ] = Path("."),
    branch: Annotated[str, typer.Option(help="The protected branch merges deploy from.")] = "main",
    blueprints: Annotated[
        str, typer.Option(help="The blueprint directory, relative to the root.")
    ] = "blueprints",
    install: Annotated[
        str,
        typer.Option(help="What `pip install` installs into .venv (mesh and the program)."),
    ] = DEFAULT_INSTALL,
    waves: Annotated[int, typer.Option(help="Deploy waves the workflow has jobs for.")] = 4,
    chunks: Annotated[
        int, typer.Option(help="Matrices of up to 256 stacks per wave (1,024 stacks: 4).")
    ] = 4,
    attempts: Annotated[
        int, typer.Option(help="Runs of a stack on Lake Formation's concurrent modifications.")
    ] = 4,
    region: Annotated[str, typer.Option(help="The AWS region of the deploy credentials.")] = (
        "eu-west-1"
    ),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing workflow.")] = False,
) -> None:
    """Write .github/workflows/mesh-deploy.yml: the rollout of the stacks a change touches.

    Preview on a pull request, pulumi up after a merge, one stack by hand; wave after wave as
    mesh stacks orders them, one job and one pulumi process per stack, a concurrency group per
    stack, retries on Lake Formation's ConcurrentModificationException, and a summary of what
    each stack changed. Credentials per AWS account: GitHub environments mesh-ACCOUNT, each with
    the secret MESH_DEPLOY_ROLE_ARN (assumed through OIDC).

    Example: mesh init deploy . --branch main --chunks 8
    """
    from infra.scaffold.deploy import WORKFLOW, deploy_workflow_text, write_file

    text = deploy_workflow_text(branch, blueprints, install, waves, chunks, attempts, region=region)
    path = write_file(root, WORKFLOW, text, force=force)
    typer.echo(f"wrote {path}")
    typer.echo(
        "next: an environment mesh-<account> per AWS account of the mesh with the secret "
        "MESH_DEPLOY_ROLE_ARN (a role trusting GitHub's OIDC provider for this repository), "
        "the secret PULUMI_ACCESS_TOKEN, and mesh init stacks for the stack configs"
    )


@init_app.command("drift", cls=MeshCommand)
def init_drift(
    root: Annotated[
        Path, typer.Argument(help="The repository's root (the workflow goes under .github/).")
    ] = Path("."),
    branch: Annotated[str, typer.Option(help="The branch whose blueprints are live.")] = "main",
    blueprints: Annotated[
        str, typer.Option(help="The blueprint directory, relative to the root.")
    ] = "blueprints",
    install: Annotated[
        str, typer.Option(help="What `pip install` installs into .venv.")
    ] = DEFAULT_INSTALL,
    cron: Annotated[str, typer.Option(help="When it runs (UTC, cron syntax).")] = "17 5 * * *",
    region: Annotated[str, typer.Option(help="The AWS region of the credentials.")] = ("eu-west-1"),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing workflow.")] = False,
) -> None:
    """Write .github/workflows/mesh-drift.yml: mesh drift on a schedule, as one issue.

    The issue (label mesh-drift) is opened on the first drift, updated while drift lasts and
    closed by the first run without. Credentials: the GitHub environment mesh-drift with the
    secret MESH_DRIFT_ROLE_ARN (a role of the platform account, assumed through OIDC).

    Example: mesh init drift . --cron "17 5 * * 1-5"
    """
    from infra.scaffold.deploy import DRIFT_WORKFLOW, drift_workflow_text, write_file

    text = drift_workflow_text(branch, blueprints, install, cron, region)
    path = write_file(root, DRIFT_WORKFLOW, text, force=force)
    typer.echo(f"wrote {path}")
