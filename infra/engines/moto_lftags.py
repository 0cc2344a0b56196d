"""LF-tags in the local engine: the ontology (`LfTag`), the tags assigned to databases, tables
and columns (`ResourceLfTags`, `ResourceLfTag`) and permissions on tag expressions, applied to
the emulator (`infra.engines.moto_deploy`), read back by `infra.engines.readback_lftags`.

What moto 5.2.6 implements of them (moto/lakeformation/models.py), and how it is met:

- `CreateLFTag`, `GetLFTag`, `ListLFTags`: stored per catalog, as given;
- `AddLFTagsToResource`: stored per database, table or column — but it *replaces* the resource's
  tags (AWS adds to them, a key at a time), and checks only that the key exists, not the value.
  So the engine sends each resource every tag the program assigned it so far, and refuses a
  value the catalog's LF-tag does not have, as AWS does ("Tag or tag value does not exist");
- `GetResourceLFTags`: the tags assigned on the resource itself only (AWS also returns the
  inherited ones); a database or table never tagged is a server error (a `KeyError` in moto),
  where AWS answers that nothing is assigned: `untagged_reads_as_aws` makes moto answer so
  while an emulator runs (`mesh drift` reads every database and table the stack creates).
  moto does not check that the resource exists (AWS: EntityNotFoundException);
- `GrantPermissions` with an `LFTagPolicy` resource, and `ListPermissions`: stored and listed as
  given (a listing filtered by resource does not match tag policies: the read-back lists all);
- not implemented: `SearchTablesByLFTags`, `SearchDatabasesByLFTags`, LF-tag expressions
  (`CreateLFTagExpression`), and any evaluation of a tag expression — moto enforces no Lake
  Formation permission, so which tables and columns an expression reaches is proven by the
  audit's evaluator (`infra.audit.lftags`), not by the emulator.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from infra.provision import types as T
from infra.provision.graph import lf_tag_policy


def tag_policy_resource(inputs: Mapping[str, Any]) -> dict | None:
    """The Lake Formation API's `Resource` of a permission on a tag expression (None: it names
    its resource)."""
    policy = lf_tag_policy(inputs)
    if policy is None:
        return None
    catalog = policy.catalog_id or inputs.get("catalogId")
    return {
        "LFTagPolicy": {
            **({"CatalogId": catalog} if catalog else {}),
            "ResourceType": policy.resource_type,
            "Expression": [{"TagKey": k, "TagValues": list(v)} for k, v in policy.expression],
        }
    }


def resource_of(inputs: Mapping[str, Any]) -> tuple[dict, tuple[str, ...]]:
    """The API's `Resource` a `ResourceLfTags` names, and its columns (() for a database or
    table); one column's `Resource` per call, so that each column keeps its own tags."""
    t = inputs.get("tableWithColumns")
    if isinstance(t, Mapping):
        of = {"CatalogId": t["catalogId"]} if t.get("catalogId") else {}
        columns = tuple(t.get("columnNames") or ())
        base = {**of, "DatabaseName": t["databaseName"], "Name": t["name"]}
        return {"TableWithColumns": base}, columns
    t = inputs.get("table")
    if isinstance(t, Mapping):
        of = {"CatalogId": t["catalogId"]} if t.get("catalogId") else {}
        return {"Table": {**of, "DatabaseName": t["databaseName"], "Name": t["name"]}}, ()
    d = inputs["database"]
    of = {"CatalogId": d["catalogId"]} if d.get("catalogId") else {}
    return {"Database": {**of, "Name": d["name"]}}, ()


def assigned_pairs(type_: str, inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    raw = [inputs["lfTag"]] if type_ == T.LF_RESOURCE_TAG else inputs.get("lfTags") or []
    return [(t["key"], t["value"]) for t in raw]


class LfTagAppliers:
    """Appliers of the LF-tag resource types, with what was assigned per resource (moto keeps
    only the last call's tags of a resource)."""

    def __init__(self) -> None:
        # (account, resource JSON, column or "") -> key -> value
        self.assigned: dict[tuple[str, str, str], dict[str, str]] = {}

    def appliers(self) -> dict:
        return {
            T.LF_TAG: self.lf_tag,
            T.LF_RESOURCE_TAGS: self.resource_tags(T.LF_RESOURCE_TAGS),
            T.LF_RESOURCE_TAG: self.resource_tags(T.LF_RESOURCE_TAG),
        }

    def lf_tag(self, name: str, i: dict, at: Any) -> tuple[str, dict]:
        catalog = {"CatalogId": i["catalogId"]} if i.get("catalogId") else {}
        at.client("lakeformation").create_lf_tag(
            **catalog, TagKey=i["key"], TagValues=list(i["values"])
        )
        return f"{i.get('catalogId') or at.account}:{i['key']}", {}

    def resource_tags(self, type_: str):
        def apply(name: str, i: dict, at: Any) -> tuple[str, dict]:
            lf = at.client("lakeformation")
            resource, columns = resource_of(i)
            catalog = next(iter(resource.values())).get("CatalogId")
            of = {"CatalogId": catalog} if catalog else {}
            pairs = assigned_pairs(type_, i)
            for key, value in pairs:
                allowed = lf.get_lf_tag(**of, TagKey=key).get("TagValues") or []
                if value not in allowed:
                    raise ValueError(  # AWS's EntityNotFoundException; moto checks keys only
                        f"Tag or tag value does not exist: {key}={value} (catalog "
                        f"{catalog or at.account} has {sorted(allowed)})"
                    )
            for column in columns or ("",):
                one = resource
                if column:
                    table = dict(resource["TableWithColumns"], ColumnNames=[column])
                    one = {"TableWithColumns": table}
                key3 = (at.account, json.dumps(resource, sort_keys=True), column)
                held = self.assigned.setdefault(key3, {})
                held.update(pairs)
                failures = lf.add_lf_tags_to_resource(
                    **of,
                    Resource=one,
                    LFTags=[{"TagKey": k, "TagValues": [v]} for k, v in sorted(held.items())],
                ).get("Failures")
                if failures:
                    raise ValueError(f"AddLFTagsToResource failed: {failures}")
            return f"{name}-id", {}

        return apply


ON_TAGS = "tags "  # how a permission on a tag expression's "database" starts (`policy_entry`)


def policy_entry(principal: str, policy: Mapping[str, Any], perms: tuple) -> tuple:
    """A permission on a tag expression as `infra.engines.readback.permissions` lists it:
    (principal, "tags <TYPE> <expression JSON>", "", None, permissions, None)."""
    expression = sorted(
        (e["TagKey"], sorted(e["TagValues"])) for e in policy.get("Expression") or ()
    )
    where = f"{ON_TAGS}{policy.get('ResourceType')} {json.dumps(expression)}"
    return (principal, where, "", None, perms, None)


def declared_policies(resources, default_account: str) -> set[tuple]:
    """(account, *`policy_entry`) of every permission on a tag expression the graph declares."""
    out = set()
    for r in resources:
        if r.type != T.LF_PERMISSIONS:
            continue
        resource = tag_policy_resource(r.inputs)
        if resource is not None:
            perms = tuple(sorted(r.inputs["permissions"]))
            entry = policy_entry(r.inputs["principal"], resource["LFTagPolicy"], perms)
            out.add((r.account or default_account, *entry))
    return out


def untagged_reads_as_aws() -> Callable[[], None]:
    """moto's `GetResourceLFTags` of a database or table never tagged answers nothing assigned,
    as AWS does, instead of a server error, while this emulator runs. Returns the undo."""
    from moto.lakeformation.models import LakeFormationBackend

    original = LakeFormationBackend.get_resource_lf_tags

    def read(self, catalog_id: str, resource: dict[str, Any]) -> tuple[list, list, list]:
        database, table = resource.get("Database"), resource.get("Table")
        if database is not None:
            held = (database.get("CatalogId", self.account_id), database["Name"])
            if held not in self.lf_database_tags:
                return [], [], []
        if table is not None:
            of = table.get("CatalogId", self.account_id)
            if (of, table["DatabaseName"], table["Name"]) not in self.lf_table_tags:
                return [], [], []
        return original(self, catalog_id, resource)

    LakeFormationBackend.get_resource_lf_tags = read

    def restore() -> None:
        LakeFormationBackend.get_resource_lf_tags = original

    return restore
