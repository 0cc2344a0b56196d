"""Data contracts: a product's blueprint and its ODCS v3 contract as two views of one thing.

One module per job, on the maintained ODCS pydantic models (`open-data-contract-standard`):
- `types`: Glue column types <-> ODCS logical/physical types (pure, no ODCS import), over
- `typetable`: every ODCS logical type and the common physical types of the databases
  contracts come from, to the Glue type that holds them (with a note where it changes them).
- `mapping`: the shared mapping table (vendor, classifications, PII words, SLA synonyms,
  duration units, schema defaults), the ODCS package and the JSON Schema it ships.
- `export`: a product as an ODCS contract (`export_contract`, `contract_yaml`); `versions`
  rewrites it for an older ODCS version's JSON Schema (v3.1.0, vendored in `schemas/`).
- `reading`: a contract file read defensively (`read_contract`): the loader's reader, a
  liberal reading of common deviations, the ODCS model, the JSON Schema.
- `selecting`: which schema objects become which products (every one, or `--schema`; names
  made to fit, `--name OBJECT=NEW`).
- `importing` (with its halves `import_columns` and `import_fields`): a product built from
  one schema object (`ContractImport`), governance fields the contract leaves out taken from
  the run's options (`Governance`).
- `dropped`: what the blueprint could not keep, computed by comparing the contract with the
  export of the imported product (CW01 dropped, CW02 another form), so the round trip
  export -> import -> export is exact for everything the warnings do not name.
- `edit`: comment-preserving, atomic update of a domain blueprint (ruamel.yaml).

The commands live in `infra.cli.contract` (typer options), `infra.cli.contract_commands`
(export), `infra.cli.contract_import` and `infra.cli.contract_report` (import); they import
these modules inside the commands, so `mesh validate` and `mesh diff`
start as fast as before.
"""
