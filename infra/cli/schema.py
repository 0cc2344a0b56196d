"""`mesh schema`: the JSON Schema of a blueprint (for editor completion and validation)."""

from __future__ import annotations

from typing import Annotated

import typer

from infra.cli.common import emit_json


def schema(
    editor: Annotated[
        bool,
        typer.Option(
            "--editor",
            help="One schema for every file of a blueprint directory: a blueprint, or (no "
            "domain key) the platform file _mesh.yaml, for an editor glob such as "
            "blueprints/*.yaml.",
        ),
    ] = False,
) -> None:
    """Print the JSON Schema of a blueprint (for editor completion and validation).

    Example: mesh schema --editor > .blueprint.schema.json
    """
    if editor:
        from infra.model.platform import editor_json_schema

        emit_json(editor_json_schema())
        return
    from infra.model.spec import blueprint_json_schema

    emit_json(blueprint_json_schema())
