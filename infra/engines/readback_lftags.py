"""LF-tags read back from the emulator, account by account, and compared with the plan: each
catalog's LF-tags (keys and values) exactly, and the tags of each database, table and column
the program assigns. The permissions on tag expressions are read back with every other Lake
Formation permission (`infra.engines.readback`). Evidence of configuration: moto evaluates no
tag expression (`infra.engines.moto_lftags`); the audit's evaluator proves what one reaches."""

from __future__ import annotations

import json

from infra.engines.moto import LocalAws
from infra.engines.moto_lftags import assigned_pairs, resource_of
from infra.engines.readback import Check
from infra.engines.recording import ResourceGraph
from infra.provision import types as T

ASSIGNMENTS = (T.LF_RESOURCE_TAGS, T.LF_RESOURCE_TAG)


def _where(resource: dict, column: str) -> str:
    kind, ref = next(iter(resource.items()))
    if kind == "Database":
        return ref["Name"]
    return f"{ref['DatabaseName']}.{ref['Name']}" + (f".{column}" if column else "")


def lf_tags_read_back(aws: LocalAws, graph: ResourceGraph, default_account: str) -> list[Check]:
    checks: list[Check] = []
    ontology: dict[str, dict[str, list[str]]] = {}
    for r in graph.by_type(T.LF_TAG):
        catalog = r.inputs.get("catalogId") or r.account or default_account
        ontology.setdefault(catalog, {})[r.inputs["key"]] = sorted(r.inputs["values"])
    for catalog, want in sorted(ontology.items()):
        listed = aws.in_account("lakeformation", catalog).list_lf_tags(CatalogId=catalog)
        got = {t["TagKey"]: sorted(t["TagValues"]) for t in listed.get("LFTags", [])}
        checks.append(
            Check(
                "lakeformation",
                f"{catalog}:lf-tags",
                f"{len(want)} LF-tags with their values as declared",
                got == want,
                "" if got == want else f"got {got}",
                catalog,
            )
        )
    # (account, resource JSON, column) -> the tags the program assigns it, in all
    declared: dict[tuple[str, str, str], dict[str, str]] = {}
    for r in [r for t in ASSIGNMENTS for r in graph.by_type(t)]:
        resource, columns = resource_of(r.inputs)
        account = r.account or default_account
        for column in columns or ("",):
            key = (account, json.dumps(resource, sort_keys=True), column)
            declared.setdefault(key, {}).update(assigned_pairs(r.type, r.inputs))
    for (account, raw, column), want in sorted(declared.items()):
        resource = json.loads(raw)
        if column:
            resource = {
                "TableWithColumns": {**resource["TableWithColumns"], "ColumnNames": [column]}
            }
        held = aws.in_account("lakeformation", account).get_resource_lf_tags(Resource=resource)
        if column:
            on = [c["LFTags"] for c in held.get("LFTagsOnColumns", []) if c["Name"] == column]
            pairs = on[0] if on else []
        else:
            pairs = held.get("LFTagOnDatabase" if "Database" in resource else "LFTagsOnTable", [])
        got = {p["TagKey"]: ",".join(p["TagValues"]) for p in pairs}
        checks.append(
            Check(
                "lakeformation",
                f"{account}:{_where(resource, column)}",
                f"LF-tags {dict(sorted(want.items()))}",
                got == want,
                "" if got == want else f"got {got}",
                account,
            )
        )
    return checks
