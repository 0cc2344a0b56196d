"""`mesh doctor`: a read-only preflight of the accounts a stack deploys into (the work is in
`infra.engines.doctor`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import DirArg, TextOrJson, emit_json, load_valid
from infra.util.textsafe import one_line


def doctor(
    directory: DirArg = Path("blueprints"),
    local: Annotated[
        bool,
        typer.Option("--local", help="Check the kept local mesh (mesh up --local --keep)."),
    ] = False,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
) -> None:
    """Check, read-only, that every account has what the deploy needs, and name what is missing.

    With each account's credentials: the deploy role and its permissions (AWS RAM's included),
    Lake Formation administrators and defaults, CROSS_ACCOUNT_VERSION, RAM sharing with the
    Organization or pending invitations, bucket names already taken, quotas where Service
    Quotas has them. Against AWS it checks the stack config $MESH_STACK_CONFIG (else the
    project's one platform stack config): the platform account with the ambient credentials,
    the others through the deploy role. Exit 0 all in place, 1 something missing (each piece
    and its fix), 2 usage.

    Example: mesh up --local --keep & mesh doctor --local --format json
    """
    from infra.engines import doctor as engine
    from infra.engines import doctor_access, sandbox
    from infra.provision.program import StackSettings

    if local:
        settings = StackSettings()  # what mesh up --local deployed
        access = doctor_access.local_access(sandbox.read_state())
    else:
        settings = doctor_access.stack_settings(directory)
        access = doctor_access.aws_access(settings)
    mesh = load_valid(directory, settings).mesh
    report = engine.diagnose(mesh, settings, access, check_caller=not local)
    if format is TextOrJson.json:
        emit_json(report.as_json())
    else:
        for c in report.checks:
            line = f"{'ok     ' if c.ok else 'MISSING'} {c.account} {c.check}: {c.message}"
            typer.echo(one_line(line + ("" if c.ok else f" -> fix: {c.fix}")))
        for n in report.notes:
            typer.echo(one_line(f"note    {n.account} {n.check}: {n.message}"
                                + (f" -> {n.fix}" if n.fix else "")))  # fmt: skip
        missing = len(report.missing)
        typer.echo(
            f"{'READY' if not missing else 'NOT READY'}: {len(report.checks)} check(s), "
            f"{missing} missing, {len(report.notes)} note(s)"
        )
    raise typer.Exit(0 if report.ok else 1)
