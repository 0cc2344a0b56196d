"""Fuzzing the CLI as a pull request meets it: `mesh validate HEAD`, `mesh validate HEAD --base
BASE` and `mesh diff BASE HEAD` on mutated copies of a small mesh, in process (CliRunner).

The base is tests/fixtures/lifecycle/base (expiring grants, decommissioned products). A head is
1-4 mutations of it, on the data (products removed or renamed with or without previous_names,
columns renamed, decommission blocks and expiry dates changed, consumers from a pool of good,
unknown, reserved and path-traversal names, keys deleted or retyped, files removed, added or
renamed) or on the bytes (truncation, junk, duplicated lines, an alias bomb), and the clock is
one of a few days around the fixture's dates.

Every run must exit with a code of the contract (validate 0/1, diff 0/1/3; never 2 here),
print no traceback, and keep its JSON contract; and the safety errors of `validate --base` must
be exactly those of `mesh diff` whenever the diff could load both trees.

CI runs 1,000 examples (`MESH_FUZZ_EXAMPLES` changes it, e.g. 10000 for a longer local run).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from conftest import FIXTURES
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from infra.cli import app
from infra.errors import CODES

BASE = FIXTURES / "lifecycle" / "base"
SEEDS = {p.name: p.read_bytes() for p in sorted(BASE.glob("*.yaml"))}
EXAMPLES = int(os.environ.get("MESH_FUZZ_EXAMPLES", "1000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# the checks against BASE (change safety): what `mesh diff` reports beside the access changes
LIFECYCLE_CODES = (
    {"E040", "E041", "E042", "E043", "E044", "E051", "E052"}
    | {"E071"}  # the first _mesh.yaml comes alone
    | {"E072", "E073"}  # positional formats (csv); a product's format changed
    | {"E080", "E081"}  # a retired domain's blueprint removed too early, or with retained data
)
PROBLEM_KEYS = {"file", "line", "path", "code", "message"}
runner = CliRunner()

NAMES = st.sampled_from(
    ["orders", "order_lines", "returns", "carts", "wishlists", "contacts", "shop", "crm", "bi",
     "order", "select", "date", "table", "a/b", "..", "../etc", "", "x" * 40, "Orders", "ñ",
     "legacy", "orders_v2"]
)  # fmt: skip
DATES = st.sampled_from(
    [dt.date(2026, 10, 31), dt.date(2026, 11, 1), dt.date(2026, 11, 25), dt.date(2026, 12, 10),
     dt.date(2027, 1, 31), "2027-02-30", "soon", None]
)  # fmt: skip
TODAYS = st.sampled_from(["2026-10-15", "2026-11-25", "2026-12-11", "2027-02-01"])
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.text(max_size=12), DATES,
    st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=5), st.none(),
    max_size=2),
)  # fmt: skip

Draw = Callable[[st.SearchStrategy], Any]
Tree = dict[str, bytes]  # file name -> content


# ------------------------------------------------------------------ mutations on the data


def _load(content: bytes) -> Any:
    """The data of a file to mutate, or None. Files with anchors (a bomb added by `garble`) are
    left alone: walking their expansion here would take the time the loader refuses to."""
    if b"&" in content:
        return None
    try:
        return yaml.safe_load(content)
    except yaml.YAMLError:
        return None


def _products(data: Any) -> list:
    if isinstance(data, dict) and isinstance(data.get("products"), list):
        return [p for p in data["products"] if isinstance(p, dict)]
    return []


def _on_product(draw: Draw, tree: Tree, change: Callable[[Draw, dict, list], None]) -> None:
    name = draw(st.sampled_from(sorted(tree)))
    data = _load(tree[name])
    products = _products(data)
    if not products:
        return
    product = draw(st.sampled_from(products))
    change(draw, product, data["products"])
    tree[name] = yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


def remove_product(draw: Draw, product: dict, products: list) -> None:
    products.remove(product)


def rename_product(draw: Draw, product: dict, products: list) -> None:
    old, product["name"] = product.get("name"), draw(NAMES)
    kind = draw(st.sampled_from(["declared", "undeclared", "reordered", "dropped"]))
    if kind == "declared":
        earlier = product.get("previous_names")
        product["previous_names"] = [*(earlier if isinstance(earlier, list) else []), old]
    elif kind == "reordered":
        product["previous_names"] = [draw(NAMES), old]
    elif kind == "dropped":
        product.pop("previous_names", None)


def rename_column(draw: Draw, product: dict, products: list) -> None:
    schema = product.get("schema")  # a mutated blueprint may hold anything here
    columns = [c for c in schema if isinstance(c, dict)] if isinstance(schema, list) else []
    if columns:
        column = draw(st.sampled_from(columns))
        old, column["name"] = column.get("name"), draw(NAMES)
        if draw(st.booleans()):
            column["previous_names"] = [old]


def decommission(draw: Draw, product: dict, products: list) -> None:
    if draw(st.booleans()) and "decommission" in product:
        del product["decommission"]
        return
    product["decommission"] = {
        "date": draw(DATES),
        "reason": draw(st.sampled_from(["retired", "", "replaced by a stream"])),
        "data": draw(st.sampled_from(["retain", "delete", "shred"])),
    }


def consumers(draw: Draw, product: dict, products: list) -> None:
    grants = product.setdefault("consumers", [])
    if not isinstance(grants, list):
        return
    for _ in range(draw(st.integers(0, 40))):
        grant = {"domain": draw(NAMES), "justification": "fuzz"}
        if draw(st.booleans()):
            grant["expires"] = draw(DATES)
        if draw(st.booleans()):
            grant["columns"] = draw(st.lists(NAMES, max_size=3))
        grants.append(grant)
    for grant in grants:
        if isinstance(grant, dict) and draw(st.booleans()):
            grant["expires"] = draw(DATES)


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _paths(value, (*prefix, i))
    return out


def poke(draw: Draw, tree: Tree) -> None:
    """Delete or retype the value at a random path (valid YAML, probably an invalid blueprint)."""
    name = draw(st.sampled_from(sorted(tree)))
    data = _load(tree[name])
    paths = [p for p in _paths(data) if p]
    if not paths:
        return
    *parent_path, last = draw(st.sampled_from(paths))
    parent = data
    for part in parent_path:
        parent = parent[part]
    if draw(st.booleans()):
        del parent[last]
    else:
        parent[last] = draw(VALUES)
    tree[name] = yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=None
    ).encode()


def files(draw: Draw, tree: Tree) -> None:
    """Remove a file, rename it (also to a hidden or traversal-looking name) or add one."""
    name = draw(st.sampled_from(sorted(tree)))
    kind = draw(st.sampled_from(["remove", "rename", "add"]))
    if kind == "remove" and len(tree) > 1:
        del tree[name]
    elif kind == "rename":
        new = draw(st.sampled_from(["..yaml", ".shop.yaml", "shop.yml", "crm2.yaml", "x.yaml"]))
        tree[new] = tree.pop(name)
    else:
        domain = draw(NAMES)
        text = SEEDS["bi.yaml"].decode().replace("domain: bi", f"domain: {json.dumps(domain)}")
        tree[f"{domain or 'empty'}.yaml".replace("/", "_")] = text.encode()


# ------------------------------------------------------------------ mutations on the bytes


def garble(draw: Draw, tree: Tree) -> None:
    name = draw(st.sampled_from(sorted(tree)))
    content = tree[name]
    at = draw(st.integers(0, len(content)))
    kind = draw(st.sampled_from(["truncate", "junk", "duplicate", "bomb"]))
    if kind == "truncate":
        tree[name] = content[:at]
    elif kind == "junk":
        junk = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(
            [b"\xff", b"\x00", b": [", b"&a", b"*a", b"!!python/object", b"\t", b"- -"]))  # fmt: skip
        tree[name] = content[:at] + junk + content[at:]
    elif kind == "duplicate":
        lines = content.splitlines(keepends=True)
        if lines:
            i = draw(st.integers(0, len(lines) - 1))
            tree[name] = b"".join(lines[: i + 1] + lines[i:])
    else:
        bomb = "".join(
            f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 8)
        )
        tree[name] = content + b"a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + bomb.encode()


PRODUCT_CHANGES = [remove_product, rename_product, rename_column, decommission, consumers]
TREE_CHANGES = [poke, files, garble]


@st.composite
def heads(draw: Draw) -> Tree:
    tree = dict(SEEDS)
    for _ in range(draw(st.integers(1, 4))):
        change = draw(st.sampled_from(PRODUCT_CHANGES * 2 + TREE_CHANGES))  # most PRs parse
        if change in PRODUCT_CHANGES:
            _on_product(draw, tree, change)
        else:
            change(draw, tree)
    return tree


# ------------------------------------------------------------------ running the CLI


def _run(today: str, *args: str):
    run = runner.invoke(app, list(args), env={"MESH_TODAY": today})
    output = run.output
    assert "Traceback" not in output, output
    assert run.exception is None or isinstance(run.exception, SystemExit), repr(run.exception)
    return run


def _problems_ok(problems: list[dict]) -> None:
    for p in problems:
        assert set(p) == PROBLEM_KEYS, p
        assert p["code"] in CODES or p["code"].startswith("GOV-"), p
        assert p["line"] is None or p["line"] >= 1, p


def _validate(today: str, head: Path, *extra: str) -> dict:
    run = _run(today, "validate", str(head), "--format", "json", *extra)
    assert run.exit_code in (0, 1), run.output
    doc = json.loads(run.stdout)
    assert set(doc) == {"ok", "errors", "warnings"}
    assert doc["ok"] is (run.exit_code == 0) is (doc["errors"] == [])
    _problems_ok(doc["errors"] + doc["warnings"])
    return doc


def _check(today: str, tree: Tree, note: Callable[[str], object] = event) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        head = Path(tmp) / "head"
        head.mkdir()
        for name, content in tree.items():
            (head / name).write_bytes(content)
        plain = _validate(today, head)
        checked = _validate(today, head, "--base", str(BASE))
        # the base adds problems of the change; it never hides one of the tree
        assert {json.dumps(e, sort_keys=True) for e in plain["errors"]} <= {
            json.dumps(e, sort_keys=True) for e in checked["errors"]
        }
        diff = _run(today, "diff", str(BASE), str(head), "--format", "json")
        assert diff.exit_code in (0, 1, 3), diff.output
        note(f"validate exit {1 - plain['ok']}, with --base {1 - checked['ok']}")
        doc = json.loads(diff.stdout)  # one JSON document, whatever the tree
        if "fix the blueprints first" in diff.stderr:  # a tree the loader refuses, exit 1:
            assert diff.exit_code == 1 and doc["errors"]  # its problems, no access computed
            assert doc["new_access"] == doc["required_approvals"] == []
            _problems_ok(doc["errors"] + doc["warnings"])
            note("diff: head refused by the loader")
            return
        assert {"new_access", "removed_access", "changed", "errors", "warnings"} <= set(doc)
        _problems_ok(doc["errors"] + doc["warnings"])
        review = doc["new_access"] or doc["review_required"] or doc["platform_file_change"]
        expected = 1 if doc["errors"] else 3 if review else 0
        assert diff.exit_code == expected
        safety = {(e["code"], e["file"], e["line"]) for e in doc["errors"]}
        note(f"diff exit {diff.exit_code}")
        for code in sorted({c for c, _, _ in safety}):
            note(f"safety error {code}")
        assert safety == {
            (e["code"], e["file"], e["line"])
            for e in checked["errors"]
            if e["code"] in LIFECYCLE_CODES
        }


@FUZZ
@given(tree=heads(), today=TODAYS)
def test_cli_on_mutated_trees(tree: Tree, today: str):
    _check(today, tree)


def test_the_unmutated_tree_is_clean_on_every_day():
    for today in ("2026-10-15", "2026-11-25", "2026-12-11", "2027-02-01"):
        _check(today, dict(SEEDS), note=lambda _: None)
