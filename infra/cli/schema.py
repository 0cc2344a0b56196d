"""`mesh schema`: the JSON Schema of a blueprint (for editor completion and validation)."""

from __future__ import annotations

from infra.cli.common import emit_json


def schema() -> None:
    """Print the JSON Schema of a blueprint (for editor completion and validation)."""
    from infra.model.spec import blueprint_json_schema

    emit_json(blueprint_json_schema())
