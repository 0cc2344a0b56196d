"""`mesh schema`: the blueprint format documents itself, field by field."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from infra.cli import app


def schema() -> dict:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    return json.loads(result.stdout)


def walk(node, path="#"):
    """(path, property schema) of every property of every object in the schema."""
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            yield f"{path}/properties/{name}", prop
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}/{i}")


def test_every_property_has_a_description():
    found = list(walk(schema()))
    assert len(found) >= 79  # blueprint, owner, product, column, grant, quality rule, ...
    missing = [path for path, prop in found if not str(prop.get("description", "")).strip()]
    assert missing == []


def test_every_definition_has_a_description():
    definitions = schema()["$defs"]
    assert {"Product", "Column", "Consumer", "QualityRule", "Classification"} <= set(definitions)
    assert [name for name, d in definitions.items() if not d.get("description")] == []


def test_a_description_beside_a_reference_keeps_the_reference():
    """A field typed by a model or an enum keeps its `$ref` when it is described."""
    s = schema()
    assert s["properties"]["owner"] == {
        "$ref": "#/$defs/Owner",
        "description": "Who owns the domain",
    }
    assert s["$defs"]["Product"]["properties"]["classification"]["$ref"] == (
        "#/$defs/Classification"
    )
    assert s["required"] == ["domain", "description", "owner", "cost_center"]
