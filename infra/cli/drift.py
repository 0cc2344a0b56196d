"""`mesh drift`: the live accounts (or the kept local mesh) against what the blueprints declare
(`infra.engines.drift`). Exit 1 on drift."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from infra import clock
from infra.cli.common import TextOrJson, emit_json, load_valid
from infra.util.textsafe import one_line


def drift(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Directory of blueprint YAML files.")
    ] = Path("blueprints"),
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            metavar="STACK",
            help="Only what this stack declares: platform or a domain (default: all).",
        ),
    ] = None,
    local: Annotated[
        bool,
        typer.Option("--local", help="Read the kept local mesh (mesh up --local --keep)."),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            help="The stack config (Pulumi.NAME.yaml) of the deployed mesh [default: "
            "Pulumi.STACK.yaml with --stack, else Pulumi.platform.yaml or the project's "
            "whole-mesh stack].",
        ),
    ] = None,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
) -> None:
    """Compare the live accounts with what the blueprints declare; exit 1 on drift.

    Reads, with boto3, Lake Formation permissions on the mesh's databases and tables (also
    grants the mesh never made), role trust and inline policies, bucket and key policies,
    resource links, the data lake settings and LF-tags (also tags assigned by hand on the
    mesh's databases, tables and columns), in every account of the mesh: with the
    caller's credentials in the platform account and the deploy role in the others, or with
    --local in the kept local mesh. JSON: {"unexpected": [...], "missing": [...], "changed":
    [...]}, each finding {kind, account, resource, detail}.

    Example: mesh drift --local --format json
    """
    from infra.engines.drift import aws_client, local_client
    from infra.engines.drift import drift as compare
    from infra.engines.recording import run_program
    from infra.provision.program import SCOPE_ALL, StackSettings

    if local:
        from infra.engines.sandbox import read_state

        state = read_state()
        settings = StackSettings(scope=stack or SCOPE_ALL)
        client = local_client(state)
    else:
        settings = _deployed_settings(directory, stack, config)
        client = aws_client(settings)
    if stack is not None:
        from infra.blueprints.load import blueprint_files
        from infra.engines.stack_config import check_scope

        check_scope(settings, [p.stem for p in blueprint_files(directory)], directory)
    mesh = load_valid(directory, settings).mesh
    graph = run_program(mesh, settings, clock.today())
    accounts = settings.accounts(mesh)
    every = sorted({settings.account} | {accounts.of(d) for d in mesh.all_domains})
    result = compare(graph, settings, every, client, local=local)
    if format is TextOrJson.json:
        emit_json(result.as_json())
    else:
        for group in ("unexpected", "missing", "changed"):
            for f in getattr(result, group):
                typer.echo(one_line(f"{group}: {f.text()}"))
        n = len(result.unexpected) + len(result.missing) + len(result.changed)
        typer.echo(f"{n} finding(s)" if n else "no drift")
    raise typer.Exit(0 if result.clean else 1)


def _deployed_settings(directory: Path, stack: str | None, config: Path | None):
    from infra.diff.stack_configs import SCOPE_PLATFORM, project_configs
    from infra.engines.stack_config import stack_settings
    from infra.errors import UsageError

    if config is None:
        from infra.governance.stack_configs import project_dir as project_of

        configs = project_configs(project_of(directory))
        wanted = [c for c in configs if c.name == stack] if stack else []
        wanted = wanted or [c for c in configs if c.scope == SCOPE_PLATFORM]
        wanted = wanted or [c for c in configs if c.scope == "all"]
        if not wanted:
            raise UsageError(
                f"no stack config beside {directory}: name one with --config Pulumi.NAME.yaml"
            )
        config = wanted[0].path
    settings = stack_settings(config)
    return dataclasses.replace(settings, scope=stack or "all")
