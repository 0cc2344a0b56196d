"""An exported contract as a given ODCS version's JSON Schema accepts it.

Export builds the newest form (`mapping.API_VERSION`, the ODCS package's models); for an older
version it is rewritten here, field by field, where that version's schema differs:

- v3.1.0 has no `vendor` on custom properties: ours (vendor `mesh`) become unvendored ones
  named `mesh` + the name (`blueprint` -> `meshBlueprint`, `grant` -> `meshGrant`), which import
  reads back as the vendored ones (`mapping._mesh_custom`);
- v3.1.0 has no `map` logical type and no `map` field: a Glue map column is `logicalType:
  object` with its whole Glue type as `physicalType` (`map<string,int>`), which import reads.
"""

from __future__ import annotations

import copy
from typing import Any

from infra.contracts.mapping import API_VERSION, ODCS_VERSIONS, VENDOR, vendorless


def for_version(contract: dict, version: str) -> dict:
    """`contract` (the newest form) as `version` accepts it; the same dict for the newest."""
    if version not in ODCS_VERSIONS:
        raise ValueError(f"unknown ODCS version {version!r}: expected one of {ODCS_VERSIONS}")
    if version == API_VERSION:
        return contract
    out = copy.deepcopy(contract)
    out["apiVersion"] = version
    _rewrite(out)
    return out


def _rewrite(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _rewrite(item)
        return
    if not isinstance(node, dict):
        return
    for cp in node.get("customProperties") or []:
        if isinstance(cp, dict) and "vendor" in cp:
            vendor = cp.pop("vendor")
            if vendor == VENDOR:
                cp["property"] = vendorless(cp["property"])
    if node.get("logicalType") == "map":
        node["logicalType"] = "object"
        node.pop("map", None)
    for key, value in node.items():
        if key != "customProperties":  # custom values are data, not contract fields
            _rewrite(value)
