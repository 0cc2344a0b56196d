"""`mesh local creds`: credentials of a role of the kept local mesh (`mesh up --local --keep`),
as `export` lines for a shell or as JSON (the AWS `credential_process` format). The work is in
`infra.engines.sandbox`."""

from __future__ import annotations

import json
import shlex
from enum import Enum
from typing import Annotated

import typer

from infra.cli.common import MeshCommand, MeshGroup
from infra.errors import MeshError

DEFAULT_WAIT = 300.0  # seconds: the sample mesh deploys and verifies in well under a minute

local_app = typer.Typer(
    name="local",
    cls=MeshGroup,
    help="Use the kept local mesh (mesh up --local --keep) as a sandbox, with IAM enforced.",
    no_args_is_help=True,
)


class CredsFormat(str, Enum):
    env = "env"
    json = "json"


@local_app.command("creds", cls=MeshCommand)
def creds(
    principal: Annotated[
        str,
        typer.Argument(
            metavar="DOMAIN:ROLE",
            help="A domain role (sales:producer, marketing:consumer), or admin for the "
            "platform's user, which may do everything.",
        ),
    ],
    product: Annotated[
        str | None,
        typer.Option(
            "--product",
            "-p",
            metavar="DOMAIN.PRODUCT",
            help="For a consumer: what Lake Formation would vend it for reading this product's "
            "files (only with SELECT on the whole table).",
        ),
    ] = None,
    format: Annotated[CredsFormat, typer.Option("--format", "-f")] = CredsFormat.env,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=0,
            metavar="SECONDS",
            help="How long to wait for a kept mesh that is still deploying and verifying "
            "(mesh up --local --keep &); 0: do not wait.",
        ),
    ] = DEFAULT_WAIT,
) -> None:
    """Print credentials of an assumed domain role of the kept local mesh.

    The session was taken when the mesh was kept; the emulator checks every request it signs
    against the role's IAM policies. env: export lines (eval "$(mesh local creds
    sales:producer)"); json: one document in the credential_process format, with the endpoint
    and region beside. A kept mesh that is still starting is waited for (--wait); exit 1 when
    none is kept, it failed its verification, or Lake Formation grants nothing to vend. On any
    failure the env format prints `false`, so that eval fails too.

    Example: eval "$(mesh local creds sales:producer)" && aws s3 ls s3://mesh-sales-orders/
    """
    from infra.engines import sandbox

    try:
        state = sandbox.wait_for_state(wait)
        credentials = sandbox.credentials(state, principal, product)
    except MeshError:
        if format is CredsFormat.env:
            # `eval "$(mesh local creds ...)"` evaluates stdout: without this, an empty stdout
            # would leave the shell without credentials and eval would still exit 0
            typer.echo("false  # mesh local creds failed: no credentials (the error is on stderr)")
        raise
    if format is CredsFormat.json:
        doc = {
            "Version": 1,
            "AccessKeyId": credentials["aws_access_key_id"],
            "SecretAccessKey": credentials["aws_secret_access_key"],
            **(
                {"SessionToken": credentials["aws_session_token"]}
                if "aws_session_token" in credentials
                else {}
            ),
            "Endpoint": state["endpoint"],
            "Region": state["region"],
            "Principal": principal,
            **({"Product": product} if product else {}),
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    for key, value in sandbox.environment(state, credentials).items():
        typer.echo(f"export {key}={shlex.quote(value)}")
