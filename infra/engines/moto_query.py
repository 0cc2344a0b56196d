"""The local engine's appliers for the query path and the data cells filters
(`infra.provision.query`): what moto can hold of them.

- Athena workgroups: moto's Athena backend keeps a workgroup's configuration (output
  location, encryption, enforcement) as sent; it runs no query. Its API is out of reach of
  this botocore (rest-json, which moto 5.2.5 does not answer for Athena), so the engine
  writes into and reads from the backend itself (`LocalAws.athena`).
- Lake Formation data cells filters: moto 5.2.5 implements no CreateDataCellsFilter (its
  ListDataCellsFilter always answers an empty list) and stores a permission on a filter
  without looking at it. So the engine keeps each filter's definition itself
  (`DataFilters`), grants the permission in moto as it would on AWS, and the read-back
  resolves the permission through the kept definition. That is evidence of what was declared
  and granted, not of what Lake Formation would enforce (it enforces nothing in moto).
"""

from __future__ import annotations

import threading
from typing import Any


def _tags(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())]


def apply_workgroup(name: str, i: dict, at: Any) -> tuple[str, dict]:
    config = i.get("configuration") or {}
    result = config.get("resultConfiguration") or {}
    encryption = result.get("encryptionConfiguration") or {}
    configuration: dict[str, Any] = {
        "EnforceWorkGroupConfiguration": bool(config.get("enforceWorkgroupConfiguration")),
        "PublishCloudWatchMetricsEnabled": bool(config.get("publishCloudwatchMetricsEnabled")),
        "ResultConfiguration": {
            "OutputLocation": result.get("outputLocation", ""),
            "EncryptionConfiguration": {
                "EncryptionOption": encryption.get("encryptionOption", ""),
                **({"KmsKey": encryption["kmsKeyArn"]} if encryption.get("kmsKeyArn") else {}),
            },
            **(
                {"ExpectedBucketOwner": result["expectedBucketOwner"]}
                if result.get("expectedBucketOwner")
                else {}
            ),
        },
    }
    created = at.aws.athena(at.account).create_work_group(
        name=i["name"],
        configuration=configuration,
        description=i.get("description", ""),
        tags=_tags(i.get("tags")),
    )
    if created is None:
        raise ValueError(f"workgroup {i['name']!r} already exists")
    arn = f"arn:{at.env.partition}:athena:{at.env.region}:{at.env.account}:workgroup/{i['name']}"
    return i["name"], {"arn": arn}


class DataFilters:
    """Data cells filters the emulator cannot hold: (catalog, database, table, name) -> the
    recorded `tableData` (camelCase, as the program declared it)."""

    def __init__(self) -> None:
        self.held: dict[tuple[str, str, str, str], dict] = {}
        self._lock = threading.Lock()

    def apply(self, name: str, i: dict, at: Any) -> tuple[str, dict]:
        data = dict(i["tableData"])
        key = (
            data.get("tableCatalogId") or at.account,
            data["databaseName"],
            data["tableName"],
            data["name"],
        )
        with self._lock:
            if key in self.held:
                raise ValueError(f"data cells filter {key} already exists")
            self.held[key] = data
        return ",".join(key), {}
