"""The work of `mesh contract export` and `mesh contract import` (the typer commands in
`infra.cli.contract` only parse options and call these). Imported when a contract command runs.

Exit codes: 0 ok, 1 invalid contract or blueprint (nothing is written), 2 usage error.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from infra import clock
from infra.cli.common import load_valid

_PRODUCT_ID = re.compile(r"^([a-z][a-z0-9_]{1,30})\.([a-z][a-z0-9_]{1,30})$")
_ACCOUNT = re.compile(r"^\d{12}$")


def _usage(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _settings(prefix: str | None, account: str | None):
    from infra.provision.names import PhysicalNameError
    from infra.provision.program import StackSettings

    settings = StackSettings(
        prefix=prefix if prefix is not None else StackSettings.prefix,
        account=account if account is not None else StackSettings.account,
    )
    try:
        settings.names  # noqa: B018 - checks the prefix
    except PhysicalNameError as exc:
        raise _usage(str(exc)) from None
    if not _ACCOUNT.match(settings.account):
        raise _usage(f"--account {settings.account!r} is not an AWS account id (12 digits)")
    return settings


def export_contracts(
    out: Path,
    directory: Path,
    product: str | None,
    prefix: str | None,
    account: str | None,
    version: str,
) -> None:
    """Write one contract per product (or the one --product names) in ODCS `version`; exits
    like the command."""
    from infra.contracts import export, mapping, versions

    settings = _settings(prefix, account)
    if product is not None and not _PRODUCT_ID.match(product):
        raise _usage(f"--product {product!r} is not DOMAIN.PRODUCT (e.g. sales.orders)")
    if out.exists() and not out.is_dir():
        raise _usage(f"--out {str(out)!r} is not a directory")
    result = load_valid(directory, settings)
    mesh = result.mesh
    chosen = list(mesh.products())
    if product is not None:
        chosen = [(bp, p) for bp, p in chosen if f"{bp.domain}.{p.name}" == product]
        if not chosen:
            raise _usage(f"no product {product!r} in {str(directory)!r}")
    today = clock.today()
    files: list[tuple[Path, str]] = []
    failed = False
    for bp, p in chosen:
        src = mesh.source(bp.domain)
        index = bp.products.index(p)
        try:
            contract = export.export_contract(
                bp, p, settings.names, settings.account, today, settings.region
            )
            contract = versions.for_version(contract, version)
            findings = mapping.schema_errors(contract, version=version)
        except export.ExportError as exc:
            findings = [((), str(exc))]
        for loc, message in findings:
            failed = True
            where = src.problem(("products", index), "C009", "")
            typer.echo(
                f"{where.where}: error C009 products[{index}]: the contract of "
                f"{bp.domain}.{p.name} is not valid ODCS at {_path(loc) or '(top)'}: {message}",
                err=True,
            )
        if not findings:
            name = Path(src.path).name
            files.append(
                (out / f"{bp.domain}.{p.name}.odcs.yaml", export.contract_yaml(contract, name))
            )
    if failed:
        typer.echo("no contract written: fix the blueprints first", err=True)
        raise typer.Exit(1)
    out.mkdir(parents=True, exist_ok=True)
    for path, text in files:
        path.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {path}")
    typer.echo(f"{len(files)} contract(s) in {out}, each valid ODCS {version}")


def _path(loc) -> str:
    from infra.model.source import format_path

    return format_path(loc)
