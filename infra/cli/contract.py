"""`mesh contract export` and `mesh contract import`: the typer commands, over
`infra.cli.contract_commands`.

Added to the main app as `mesh contract` (see `infra.cli`). This module holds the options
only: the work, the ODCS models, ruamel.yaml, jsonschema and the Pulumi program's settings are
imported when a contract command runs, so the other commands start as fast as before.

Exit codes: 0 ok, 1 invalid contract or blueprint (nothing is written), 2 usage error.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import DirArg, MeshCommand, MeshGroup

contract_app = typer.Typer(
    name="contract",
    cls=MeshGroup,
    help="ODCS v3 data contracts: export each product as a contract, import a contract into its "
    "domain's blueprint.",
    no_args_is_help=True,
)

PrefixOption = Annotated[
    str | None,
    typer.Option(
        "--prefix", help="Stack name prefix of the physical names (default: the stack's, mesh)."
    ),
]
AccountOption = Annotated[
    str | None,
    typer.Option(
        "--account",
        help="AWS account of the Glue server when the blueprint names none (default: the "
        "stack's, 123456789012).",
    ),
]


@contract_app.command("export", cls=MeshCommand)
def export_command(
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", metavar="OUT", help="Directory for <domain>.<product>.odcs.yaml files."
        ),
    ],
    directory: DirArg = Path("blueprints"),
    product: Annotated[
        str | None,
        typer.Option("--product", "-p", help="Only this product (DOMAIN.PRODUCT)."),
    ] = None,
    prefix: PrefixOption = None,
    account: AccountOption = None,
) -> None:
    """Write one ODCS v3 contract per product, each checked against the ODCS JSON Schema.

    Nothing is written unless every contract passes the schema.

    Example: mesh contract export blueprints --out contracts --product sales.orders
    """
    from infra.cli.contract_commands import export_contracts

    export_contracts(out, directory, product, prefix, account)


class ImportFormat(str, Enum):
    text = "text"
    json = "json"


@contract_app.command("import", cls=MeshCommand)
def import_command(
    contract: Annotated[Path, typer.Argument(metavar="FILE", help="ODCS v3 contract (YAML).")],
    domain: Annotated[
        str | None,
        typer.Option("--domain", "-d", help="Domain to import into (default: the contract's)."),
    ] = None,
    into: Annotated[
        Path, typer.Option("--into", help="Blueprint directory holding <domain>.yaml.")
    ] = Path("blueprints"),
    name: Annotated[
        str | None,
        typer.Option("--name", help="Product name (default: the schema object's name)."),
    ] = None,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema", help="The schema object to import, when the contract has several."
        ),
    ] = None,
    prefix: PrefixOption = None,
    account: AccountOption = None,
    format: Annotated[ImportFormat, typer.Option("--format", "-f")] = ImportFormat.text,
) -> None:
    """Create or update a product in its domain's blueprint from an ODCS v3 contract.

    The blueprint keeps its comments and layout. What it cannot hold is listed as warnings
    (stderr); it is written only when the import succeeds and passes mesh validate.

    Example: mesh contract import contracts/sales.orders.odcs.yaml --domain sales
    """
    from infra.cli.contract_commands import import_contract

    import_contract(
        contract, domain, into, name, schema, prefix, account, format is ImportFormat.json
    )
