"""Data contracts: a product's blueprint and its ODCS v3 contract as two views of one thing.

- `types`: Glue column types <-> ODCS logical/physical types (pure, no ODCS import).
- `odcs`: the mapping both ways, on the maintained ODCS pydantic models
  (`open-data-contract-standard`) and the JSON Schema that package ships.
- `edit`: comment-preserving, atomic update of a domain blueprint (ruamel.yaml).
- `commands`: what the two commands do (reading, checking, printing, exit codes).
- `cli`: the typer options of `mesh contract export|import`, registered by `register(app)`.

Only `cli` is imported by `infra.cli`; it imports the others (and ODCS, ruamel, jsonschema) inside
its commands, so `mesh validate` and `mesh diff` start as fast as before.
"""
