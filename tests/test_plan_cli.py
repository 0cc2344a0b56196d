"""`mesh plan --format json`: the CLI contract (../shared/DESIGN.md), run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

from conftest import ROOT, SINGLE, TODAY

from infra.blueprints.load import load_mesh
from infra.engines.recording import run_program
from infra.provision.program import StackSettings


def test_plan_json_is_one_document_with_the_contract_keys():
    proc = subprocess.run(
        [sys.executable, "-m", "infra.cli", "plan", str(SINGLE), "--format", "json"],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # the whole of stdout is one JSON document
    assert set(doc) == {"resources", "counts"}
    assert [
        set(r)
        for r in doc["resources"]
        if set(r) != {"type", "name", "parent", "account", "inputs", "protect", "depends_on"}
    ] == []
    assert doc["counts"] == dict(Counter(r["type"] for r in doc["resources"]))
    # 181 before the query path: + 11 per domain (results bucket and 5 guards, workgroup, 2
    # query policies, 2 DESCRIBE on default) + 4 data cells filters
    assert sum(doc["counts"].values()) == len(doc["resources"]) == 181 + 5 * 11 + 4
    # the CLI prints what the library records, nothing added or lost on the way
    graph = run_program(load_mesh(SINGLE, today=TODAY).mesh, StackSettings(), TODAY)
    assert doc == json.loads(json.dumps(graph.plan_json()))
    protected = {r["name"] for r in doc["resources"] if r["protect"]}
    assert "sales.orders-bucket" in protected and "sales.orders-policy" in protected  # a guard
    # creation order a reviewer can check: the catalog after the Lake Formation settings
    by_name = {r["name"]: r for r in doc["resources"]}
    assert "platform-lake-settings" in by_name["sales-database"]["depends_on"]
    assert "sales@finance-iam" not in protected
