"""Export: one product of a blueprint as an ODCS v3 contract (plain JSON data, checked by
the ODCS model).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from infra.contracts import types as T
from infra.contracts.mapping import (
    _MAPPED_COLUMN,
    _MAPPED_OWNER,
    _MAPPED_PRODUCT,
    API_VERSION,
    CONTRACT_VERSION,
    _camel,
    _custom,
    _extras,
    _odcs,
    table_location,
)
from infra.model.spec import Blueprint, Column, DataFormat, Product
from infra.provision.accounts import DEFAULT_REGION
from infra.provision.names import Names, physical_product_name
from infra.provision.querydocs import output_location

ATHENA_CATALOG = "awsdatacatalog"  # Glue's Data Catalog, as Athena names it


class ExportError(ValueError):
    """A product that has no valid ODCS rendering; the message names the blueprint field."""


def contract_status(product: Product, today: dt.date) -> str:
    if product.decommission is None:
        return "active"
    return "retired" if product.decommission.date <= today else "deprecated"


def _property(column: Column, level: str, position: int | None = None) -> dict:
    prop: dict[str, Any] = {"name": column.name, **T.odcs_type(column.type)}
    if column.description:
        prop["description"] = column.description
    if position is not None:
        prop["partitioned"] = True
        prop["partitionKeyPosition"] = position
    prop["classification"] = level
    custom = []
    if column.pii:
        custom.append(_custom("pii", True, vendor=None))  # datacontract-cli's convention
    extras = _extras(column, _MAPPED_COLUMN)
    if extras:
        custom.append(_custom("blueprint", extras))
    if custom:
        prop["customProperties"] = custom
    return prop


def _nested_property(prop: dict, name: str) -> dict | None:
    """Field `name` of a struct property (through array items)."""
    for child in prop.get("properties") or []:
        if child.get("name") == name:
            return child
    if isinstance(prop.get("items"), dict):
        return _nested_property(prop["items"], name)
    return None


def _attach_quality(product: Product, table: dict) -> None:
    for i, rule in enumerate(product.quality):
        entry = rule.model_dump(mode="json", exclude_none=True)
        column = entry.pop("column", None)
        target = table
        if column is not None:
            first, *rest = column.split(".")
            target = next((p for p in table["properties"] if p["name"] == first), None)
            for part in rest:
                target = _nested_property(target, part) if target is not None else None
            if target is None:
                raise ExportError(
                    f"quality[{i}].column {column!r} names no column or struct field of "
                    f"{product.name!r}"
                )
        target.setdefault("quality", []).append(entry)


def export_contract(
    bp: Blueprint,
    product: Product,
    names: Names,
    default_account: str,
    today: dt.date,
    region: str = DEFAULT_REGION,
) -> dict:
    """The ODCS v3 contract of `product` as plain JSON data, checked by the ODCS model (what
    the model would not keep is a bug: ExportError). `region`: the stack's, for the Athena
    server."""
    domain = bp.domain
    physical = physical_product_name(product)
    bucket = names.bucket(domain, physical, bp.account or default_account)
    level = product.classification.value
    fmt = product.format.value
    properties = [_property(c, level) for c in product.columns]
    properties += [_property(k, level, i) for i, k in enumerate(product.partition_keys, 1)]
    table: dict[str, Any] = {
        "name": product.name,
        "physicalName": names.table(physical),
        "physicalType": "table",
        "logicalType": "object",
        "description": product.description,
        "properties": properties,
    }
    _attach_quality(product, table)
    s3 = {
        "server": "s3",
        "type": "s3",
        "location": f"{table_location(bucket)}**/*.{fmt}",
        "format": fmt,
    }
    if product.format is DataFormat.json:
        s3["delimiter"] = "new_line"
    glue = {
        "server": "glue",
        "type": "glue",
        "account": str(getattr(bp, "account", None) or default_account),
        "database": names.database(domain),
        "location": table_location(bucket),
        "format": fmt,
    }
    servers = [s3, glue]
    if not (bp.decommission is not None and bp.decommission.date <= today):
        # the domain's query path (a retired domain has none): where `datacontract test
        # --server athena` reads the table as a consumer does, through Lake Formation
        account = bp.account or default_account
        athena = {
            "server": "athena",
            "type": "athena",
            "schema": names.database(domain),
            "catalog": ATHENA_CATALOG,
            "stagingDir": output_location(names.query_results_bucket(domain, account)),
            "regionName": region,
            "customProperties": [_custom("workgroup", names.workgroup(domain))],
        }
        servers.append(athena)
    team: dict[str, Any] = {
        "name": bp.owner.team,
        "members": [{"username": bp.owner.email, "role": "owner"}],
    }
    owner_extras = _extras(bp.owner, _MAPPED_OWNER)
    if owner_extras:
        team["customProperties"] = [_custom(_camel(k), v) for k, v in owner_extras.items()]
    roles = [
        {
            "role": names.role(domain, "producer"),
            "access": "write",
            "description": "the owning domain's producer: writes and reads the product",
            "customProperties": [_custom("principal", f"{domain}:producer")],
        }
    ]
    for consumer in product.consumers:
        role: dict[str, Any] = {
            "role": names.role(consumer.domain, "consumer"),
            "access": "read",
            "description": consumer.justification,
        }
        if consumer.approved_by:
            role["firstLevelApprovers"] = consumer.approved_by
        role["customProperties"] = [
            _custom("principal", f"{consumer.domain}:consumer"),
            _custom("grant", consumer.model_dump(mode="json", exclude_defaults=True)),
        ]
        roles.append(role)
    sla: list[dict] = []
    if product.freshness_slo_hours is not None:
        sla.append({"property": "latency", "value": product.freshness_slo_hours, "unit": "h"})
    sla.append({"property": "retention", "value": product.retention_days, "unit": "d"})
    contract: dict[str, Any] = {
        "version": CONTRACT_VERSION,
        "kind": "DataContract",
        "apiVersion": API_VERSION,
        "id": f"{domain}.{product.name}",
        "name": product.name,
        "status": contract_status(product, today),
        "servers": servers,
        "dataProduct": product.name,
        "description": {"purpose": product.description},
        "domain": domain,
        "schema": [table],
        "team": team,
        "roles": roles,
        "slaProperties": sla,
        "customProperties": [_custom("blueprint", _extras(product, _MAPPED_PRODUCT))],
    }
    model = _odcs().OpenDataContractStandard.model_validate(contract)
    dumped = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    if dumped != contract:  # a value the ODCS model drops (a null, an unknown key)
        raise ExportError(f"the ODCS model does not keep the contract of {domain}.{product.name}")
    return dumped


def contract_yaml(contract: dict, source: str) -> str:
    """The contract as YAML (the ODCS model's own writer), with a header naming its source."""
    model = _odcs().OpenDataContractStandard.model_validate(contract)
    header = (
        f"# ODCS {contract['apiVersion']} data contract of {contract['id']}, exported by `mesh contract "
        f"export` from {source}.\n# Edit the blueprint, or edit this file and `mesh contract "
        "import` it; custom properties of vendor mesh carry blueprint fields ODCS has no "
        "place for.\n"
    )
    return header + model.to_yaml()
