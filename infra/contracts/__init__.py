"""Data contracts: a product's blueprint and its ODCS v3 contract as two views of one thing.

One module per job, on the maintained ODCS pydantic models (`open-data-contract-standard`):
- `types`: Glue column types <-> ODCS logical/physical types (pure, no ODCS import).
- `mapping`: the shared mapping table (vendor, classifications, PII words, SLA synonyms,
  duration units, schema defaults), the ODCS package and the JSON Schema it ships.
- `export`: a product as an ODCS contract (`export_contract`, `contract_yaml`).
- `reading`: a contract file read defensively (`read_contract`): the loader's reader, a
  liberal reading of common deviations, the ODCS model, the JSON Schema.
- `importing` (with its halves `import_columns` and `import_fields`): a product built from
  one schema object (`ContractImport`).
- `dropped`: what the blueprint could not keep, computed by comparing the contract with the
  export of the imported product (CW01 dropped, CW02 another form), so the round trip
  export -> import -> export is exact for everything the warnings do not name.
- `edit`: comment-preserving, atomic update of a domain blueprint (ruamel.yaml).

The commands live in `infra.cli.contract` (typer options) and `infra.cli.contract_commands`
(the work); they import these modules inside the commands, so `mesh validate` and `mesh diff`
start as fast as before.
"""
