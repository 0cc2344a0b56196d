"""LF-tags read back from the emulator, account by account, and compared with the plan: each
catalog's LF-tags (keys and values) exactly, the tags of each database, table and column the
program assigns, and — where the stack creates LF-tags — nothing assigned where the program
assigns none (`infra.provision.lftags`): on a database (it tags tables, never databases), on a
table it leaves untagged (a decommissioned product's, or a retired domain's), on a column that
overrides nothing of its table's. The same reads as `mesh drift` (`untagged_reads`). The permissions on tag expressions are read back with every other Lake
Formation permission (`infra.engines.readback`). Evidence of configuration: moto evaluates no
tag expression (`infra.engines.moto_lftags`); the audit's evaluator proves what one reaches."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from infra.engines.moto import LocalAws
from infra.engines.moto_lftags import assigned_pairs, resource_of
from infra.engines.readback import Check
from infra.engines.recording import ResourceGraph
from infra.provision import types as T

ASSIGNMENTS = (T.LF_RESOURCE_TAGS, T.LF_RESOURCE_TAG)


def where(resource: dict, column: str) -> str:
    kind, ref = next(iter(resource.items()))
    if kind == "Database":
        return ref["Name"]
    return f"{ref['DatabaseName']}.{ref['Name']}" + (f".{column}" if column else "")


def lf_tags_read_back(aws: LocalAws, graph: ResourceGraph, default_account: str) -> list[Check]:
    checks: list[Check] = []
    for catalog, want in sorted(declared_ontology(graph, default_account).items()):
        got = live_ontology(aws.in_account("lakeformation", catalog), catalog)
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
    assignments = declared_assignments(graph, default_account)
    for (account, raw, column), want in sorted(assignments.items()):
        resource = json.loads(raw)
        got = live_assignment(aws.in_account("lakeformation", account), resource, column)
        checks.append(
            Check(
                "lakeformation",
                f"{account}:{where(resource, column)}",
                f"LF-tags {dict(sorted(want.items()))}",
                got == want,
                "" if got == want else f"got {got}",
                account,
            )
        )
    if declared_ontology(graph, default_account):  # else no LF-tag to assign: none could fail
        reads = untagged_reads(graph, default_account, aws.in_account)
        checks += [_none_assigned(*read) for read in reads]
    return checks


def _none_assigned(account: str, resource: dict, columns: list[str], held: dict) -> Check:
    """The check of one read of `untagged_reads`: nothing is assigned there."""
    if columns:
        rule = f"no LF-tags on its {len(columns)} column(s) the program does not tag"
    elif "Database" in resource:
        rule = "no LF-tags on a database (the program tags tables, never databases)"
    else:
        rule = "no LF-tags on a table the program leaves untagged (decommissioned, or retired)"
    got = {c: pairs for c, pairs in sorted(held.items()) if pairs} if columns else held.get("", {})
    return Check(
        "lakeformation",
        f"{account}:{where(resource, '')}",
        rule,
        not got,
        f"got {got}" if got else "",
        account,
    )


def declared_ontology(graph: ResourceGraph, default_account: str) -> dict[str, dict[str, list]]:
    """Catalog -> each LF-tag key the program creates there -> its values, sorted."""
    ontology: dict[str, dict[str, list[str]]] = {}
    for r in graph.by_type(T.LF_TAG):
        catalog = r.inputs.get("catalogId") or r.account or default_account
        ontology.setdefault(catalog, {})[r.inputs["key"]] = sorted(r.inputs["values"])
    return ontology


def live_ontology(lf, catalog: str) -> dict[str, list[str]]:
    """Each LF-tag key of the catalog -> its values, sorted (every page)."""
    got: dict[str, list[str]] = {}
    for page in lf.get_paginator("list_lf_tags").paginate(CatalogId=catalog):
        got.update({t["TagKey"]: sorted(t["TagValues"]) for t in page.get("LFTags", [])})
    return got


def declared_assignments(
    graph: ResourceGraph, default_account: str
) -> dict[tuple[str, str, str], dict[str, str]]:
    """(account, resource JSON, column or "") -> the LF-tags the program assigns it, in all."""
    declared: dict[tuple[str, str, str], dict[str, str]] = {}
    for r in [r for t in ASSIGNMENTS for r in graph.by_type(t)]:
        resource, columns = resource_of(r.inputs)
        account = r.account or default_account
        for column in columns or ("",):
            key = (account, json.dumps(resource, sort_keys=True), column)
            declared.setdefault(key, {}).update(assigned_pairs(r.type, r.inputs))
    return declared


def identity(account: str, resource: dict, column: str) -> tuple[str, str, str, str]:
    """(catalog, database, table or "", column or "") of an API `Resource`, however it names
    its catalog (by default the account's)."""
    kind, ref = next(iter(resource.items()))
    catalog = ref.get("CatalogId") or account
    if kind == "Database":
        return catalog, ref["Name"], "", ""
    return catalog, ref["DatabaseName"], ref["Name"], column


def created_catalog(graph: ResourceGraph, default_account: str) -> list[tuple[str, dict, list]]:
    """(account, `Resource`, columns) of each Glue database the stack creates (not a resource
    link: no data of its own) and each table, with the table's columns and partition keys."""
    out: list[tuple[str, dict, list]] = []
    for r in graph.by_type(T.DATABASE):
        if not r.inputs.get("targetDatabase"):
            of = {"CatalogId": r.inputs["catalogId"]} if r.inputs.get("catalogId") else {}
            database = {"Database": {**of, "Name": r.inputs["name"]}}
            out.append((r.account or default_account, database, []))
    for r in graph.by_type(T.TABLE):
        i = r.inputs
        of = {"CatalogId": i["catalogId"]} if i.get("catalogId") else {}
        table = {"Table": {**of, "DatabaseName": i["databaseName"], "Name": i["name"]}}
        columns = (i.get("storageDescriptor") or {}).get("columns") or []
        raw = [*columns, *(i.get("partitionKeys") or [])]
        out.append((r.account or default_account, table, [c["name"] for c in raw]))
    return out


def live_columns(lf, table: dict, columns: list[str]) -> dict[str, dict[str, str]]:
    """The LF-tags assigned on each of the table's `columns` itself, in one read: column ->
    key -> value(s, comma-joined); a column with none is absent."""
    resource = {"TableWithColumns": {**table["Table"], "ColumnNames": list(columns)}}
    held = lf.get_resource_lf_tags(Resource=resource, ShowAssignedLFTags=True)
    return {
        c["Name"]: {p["TagKey"]: ",".join(p["TagValues"]) for p in c["LFTags"]}
        for c in held.get("LFTagsOnColumns", [])
        if c["Name"] in columns and c.get("LFTags")
    }


def live_assignment(lf, resource: dict, column: str) -> dict[str, str]:
    """The LF-tags assigned on the resource (a database, a table, or the table's `column`)
    itself, not those it inherits: key -> value(s, comma-joined)."""
    if column:
        resource = {"TableWithColumns": {**resource["TableWithColumns"], "ColumnNames": [column]}}
    held = lf.get_resource_lf_tags(Resource=resource, ShowAssignedLFTags=True)
    if column:
        on = [c["LFTags"] for c in held.get("LFTagsOnColumns", []) if c["Name"] == column]
        pairs = on[0] if on else []
    else:
        pairs = held.get("LFTagOnDatabase" if "Database" in resource else "LFTagsOnTable", [])
    return {p["TagKey"]: ",".join(p["TagValues"]) for p in pairs}


Read = tuple[str, dict, list[str], dict[str, dict[str, str]]]


def untagged_reads(
    graph: ResourceGraph, default_account: str, client: Callable[[str, str], Any]
) -> Iterator[Read]:
    """What is assigned where the stack creates and tags nothing, one read at a time:
    (account, `Resource`, the columns read ([]: the database or table itself), column ("": the
    resource itself) -> key -> value(s, comma-joined)). One read per untagged database, one per
    untagged table, one per table for all its untagged columns; a database or table gone
    (deleted by hand: AWS's EntityNotFoundException) has nothing assigned."""
    assignments = declared_assignments(graph, default_account)
    tagged = {identity(a, json.loads(raw), c) for a, raw, c in assignments}
    for account, resource, columns in created_catalog(graph, default_account):
        lf = client("lakeformation", account)
        if identity(account, resource, "") not in tagged:
            yield account, resource, [], {"": _unless_gone(live_assignment, lf, resource, "")}
        untagged = [c for c in columns if identity(account, resource, c) not in tagged]
        if untagged:
            yield account, resource, untagged, _unless_gone(live_columns, lf, resource, untagged)


def _unless_gone(read: Callable[..., dict], *args: Any) -> dict:
    """What `read(*args)` returns; nothing for a database or table that is not there."""
    try:
        return read(*args)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
            raise
        return {}
