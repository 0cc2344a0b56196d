"""`mesh contract export` and `mesh contract import`: the typer commands, over
`infra.cli.contract_commands` (export) and `infra.cli.contract_import` (import).

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

from infra.cli.common import DirArg, MeshCommand, MeshGroup, TextOrJson
from infra.model.spec import Classification

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


class OdcsVersion(str, Enum):  # infra.contracts.mapping.ODCS_VERSIONS, newest first
    v3_2_0 = "v3.2.0"
    v3_1_0 = "v3.1.0"


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
    odcs_version: Annotated[
        OdcsVersion,
        typer.Option(
            "--odcs-version",
            help="The ODCS version to write (its JSON Schema checks every contract).",
        ),
    ] = OdcsVersion.v3_2_0,
) -> None:
    """Write one ODCS v3 contract per product, each checked against the JSON Schema of the
    ODCS version written.

    Nothing is written unless every contract passes the schema.

    Example: mesh contract export blueprints --out contracts --product sales.orders
    --odcs-version v3.1.0
    """
    from infra.cli.contract_commands import export_contracts

    export_contracts(out, directory, product, prefix, account, odcs_version.value)


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
        list[str] | None,
        typer.Option(
            "--name",
            metavar="NEW|OBJECT=NEW",
            help="Product name of the one schema object imported, or OBJECT=NEW to rename the "
            "product of one of several (repeatable; default: the object's name, made to fit).",
        ),
    ] = None,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            help="Import only this schema object (default: every one, each a product).",
        ),
    ] = None,
    classification: Annotated[
        Classification | None,
        typer.Option(
            "--classification",
            help="Classification of products whose contract states none (per-property "
            "classification in the contract wins).",
        ),
    ] = None,
    retention_days: Annotated[
        int | None,
        typer.Option(
            "--retention-days",
            min=1,
            metavar="N",
            help="Retention of products whose contract has no retention SLA.",
        ),
    ] = None,
    purpose: Annotated[
        str | None,
        typer.Option(
            "--purpose",
            metavar="TEXT",
            help="Description of products whose contract has none.",
        ),
    ] = None,
    prefix: PrefixOption = None,
    account: AccountOption = None,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
) -> None:
    """Create or update products in their domain's blueprint from an ODCS v3 contract: each
    schema object becomes a product (or the one --schema names).

    The blueprint keeps its comments and layout. What it cannot hold is listed as warnings
    (stderr); it is written only when every product imports and passes mesh validate.
    Governance fields a contract does not state come from --classification, --retention-days
    and --purpose, never from a default.

    Example: mesh contract import shop.odcs.yaml --domain sales --classification internal
    --retention-days 365
    """
    from infra.cli.contract_import import import_contract
    from infra.contracts.importing import Governance

    if purpose is not None and not purpose.strip():
        typer.echo("error: --purpose is empty", err=True)
        raise typer.Exit(2)
    governance = Governance(
        classification.value if classification is not None else None,
        retention_days,
        purpose.strip() if purpose is not None else None,
    )
    import_contract(
        contract,
        domain,
        into,
        name or [],
        schema,
        prefix,
        account,
        format is TextOrJson.json,
        governance,
    )
