"""Drift of LF-tags (`mesh drift`): the live LF-tags and their assignments against the plan.

- The ontology, in each catalog where the stack creates LF-tags (the platform's, or the whole
  mesh's): a key it declares that is gone is `missing`, one whose values were edited is
  `changed`, a key it does not declare is `unexpected` (anyone who may grant on it can reach
  every table it is assigned to, outside the blueprints).
- The assignments, on each database, table and column the stack tags: a declared key no longer
  assigned is `missing`, one assigned another value is `changed`, a key assigned there by hand
  is `unexpected` (a tag grant on it reaches the resource). Only what is assigned on the
  resource itself is compared (`ShowAssignedLFTags`), not what it inherits.
- The assignments on each Glue database (not a resource link), table and column the stack
  creates and does not tag: every key assigned there is `unexpected` — by hand, so any grant
  on that key and value reaches the data outside the blueprints. One read per database, one
  per table and one per table for all its untagged columns; a resource gone (deleted by hand)
  has nothing assigned.

Permissions on tag expressions are compared with every other Lake Formation permission
(`infra.engines.drift`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from infra.engines.readback_lftags import (
    declared_assignments,
    declared_ontology,
    live_assignment,
    live_ontology,
    untagged_reads,
    where,
)
from infra.engines.recording import ResourceGraph

# (unexpected | missing | changed, kind, account, resource, detail)
Found = tuple[str, str, str, str, str]


def lf_tag_drift(
    graph: ResourceGraph, default_account: str, client: Callable[[str, str], Any]
) -> list[Found]:
    """What drifted of the stack's LF-tags and assignments, in a stable order."""
    found: list[Found] = []
    for catalog, want in sorted(declared_ontology(graph, default_account).items()):
        got = live_ontology(client("lakeformation", catalog), catalog)
        for group, key, detail in _compared(want, got, lambda _, v: f"values {', '.join(v)}"):
            found.append((group, "lf_tag", catalog, key, detail))
    assignments = declared_assignments(graph, default_account)
    for (account, raw, column), want in sorted(assignments.items()):
        resource = json.loads(raw)
        got = live_assignment(client("lakeformation", account), resource, column)
        for group, _, detail in _compared(want, got, lambda k, v: f"{k}={v}"):
            found.append((group, "lf_tag_assignment", account, where(resource, column), detail))
    for account, resource, _, held in untagged_reads(graph, default_account, client):
        for column, pairs in sorted(held.items()):
            for key, value in sorted(pairs.items()):
                at = where(resource, column)
                found.append(("unexpected", "lf_tag_assignment", account, at, f"{key}={value}"))
    return found


def _compared(want: dict, got: dict, show: Callable[[str, Any], str]):
    """(group, key, detail) per key that differs: declared and gone, live and undeclared, or
    another value."""
    for key in sorted(want.keys() | got.keys()):
        if key not in got:
            yield "missing", key, show(key, want[key])
        elif key not in want:
            yield "unexpected", key, show(key, got[key])
        elif got[key] != want[key]:
            yield "changed", key, f"{show(key, got[key])}; declared {show(key, want[key])}"
