"""Names: the sample mesh's logical and physical names are a snapshot that changes only when a
blueprint does, and names AWS would refuse are reported against the blueprint line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import FIXTURES, ROOT, SINGLE, TODAY

from infra.blueprints.load import load_mesh
from infra.engines.recording import ResourceGraph, run_program
from infra.errors import Problem
from infra.model.mesh import Mesh
from infra.provision.names import Names, PhysicalNameError, check_names, check_prefix, name_problems
from infra.provision.program import StackSettings

SNAPSHOT = FIXTURES / "naming" / "names.json"
UPDATE_VARIABLE = "MESH_UPDATE_SNAPSHOTS"
# The input that is the resource's physical name in AWS, for resources that have one.
PHYSICAL = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:iam/role:Role": "name",
    "aws:iam/rolePolicy:RolePolicy": "name",
    "aws:glue/catalogDatabase:CatalogDatabase": "name",
    "aws:glue/catalogTable:CatalogTable": "name",
    "aws:kms/alias:Alias": "name",
    "aws:athena/workgroup:Workgroup": "name",
}


def load(directory) -> Mesh:
    result = load_mesh(directory, today=TODAY)
    assert result.errors == []
    return result.mesh


def names_of(graph: ResourceGraph) -> list[dict]:
    return [
        {
            "type": r.type,
            "name": r.name,
            "parent": r.parent,
            "physical": r.inputs[PHYSICAL[r.type]] if r.type in PHYSICAL else None,
        }
        for r in graph.resources
    ]


def _describe(entries: list[dict]) -> str:
    return "\n".join(
        f"    {e['type']} {e['name']}" + (f" ({e['physical']})" if e["physical"] else "")
        for e in entries
    )


# ---------------------------------------------------------------- the snapshot


def test_sample_names_match_the_snapshot():
    current = names_of(run_program(load(SINGLE), StackSettings(), TODAY))
    if os.environ.get(UPDATE_VARIABLE) == "1":  # one resource a line: reviewable diffs
        SNAPSHOT.write_text("[\n" + ",\n".join(json.dumps(e) for e in current) + "\n]\n")
    if not SNAPSHOT.exists():
        pytest.fail(f"{SNAPSHOT} is missing: create it with {UPDATE_VARIABLE}=1", pytrace=False)
    expected = json.loads(SNAPSHOT.read_text())
    if current == expected:
        return
    old = {(e["type"], e["name"]): e for e in expected}
    new = {(e["type"], e["name"]): e for e in current}
    removed = [old[k] for k in old if k not in new]
    added = [new[k] for k in new if k not in old]
    changed = [(old[k], new[k]) for k in old if k in new and old[k] != new[k]]
    lines = [
        f"The sample mesh's resource names differ from {SNAPSHOT.relative_to(ROOT)}.",
        (
            "A changed logical name makes `pulumi up` delete the old resource and create a new "
            "one; a changed physical name replaces the bucket, table or role in AWS."
        ),
        (
            "If a blueprint under blueprints/ changed on purpose (new product, grant, declared "
            f"rename), regenerate the snapshot with {UPDATE_VARIABLE}=1 pytest "
            "tests/test_naming.py and review its diff in the PR. Otherwise this is a regression "
            "in infra/naming.py or the components: fix the code, not the snapshot."
        ),
    ]
    if removed:
        lines += ["  removed:", _describe(removed)]
    if added:
        lines += ["  added:", _describe(added)]
    for before, after in changed:
        lines.append(f"  changed: {before} -> {after}")
    pytest.fail("\n".join(lines), pytrace=False)


def test_snapshot_covers_every_physical_name():
    entries = json.loads(SNAPSHOT.read_text())
    physical = {e["physical"] for e in entries if e["type"] == "aws:s3/bucket:Bucket"}
    assert len(physical) == 10 + 5  # products, and one query-results bucket per domain
    assert "mesh-finance-revenue-daily" in physical  # '_' became '-'
    assert {e["physical"] for e in entries if e["type"] == "aws:kms/alias:Alias"} == {
        f"alias/mesh/{d}" for d in ("analytics", "finance", "logistics", "marketing", "sales")
    }


def test_names_depend_only_on_blueprints_and_prefix():
    mesh = load(SINGLE)
    first = names_of(run_program(mesh, StackSettings(), TODAY))
    # another day, another account: logical and physical names stay (grants may come and go)
    later = run_program(mesh, StackSettings(account="999999999999"), TODAY.replace(year=2027))
    assert {(e["type"], e["name"], e["physical"]) for e in first if "@" not in e["name"]} == {
        (e["type"], e["name"], e["physical"]) for e in names_of(later) if "@" not in e["name"]
    }


# ---------------------------------------------------------------- names AWS would refuse


def test_too_long_bucket_is_reported_with_file_and_line():
    mesh = load(FIXTURES / "naming/too_long")
    assert check_names(mesh, Names("mesh")) == [
        Problem(
            file=str(FIXTURES / "naming/too_long/sales_and_marketing_operations.yaml"),
            line=12,
            path="products[1].name",
            code="E033",
            message="bucket name 'mesh-sales-and-marketing-operations-attribution-by-channel-and-"
            "week' is 67 characters; S3 allows 63: shorten the domain or product name (or the "
            "stack prefix 'mesh')",
        )
    ]


def test_names_colliding_after_normalisation_are_reported():
    """sales + x_orders and sales_x + orders both make the bucket mesh-sales-x-orders."""
    mesh = load(FIXTURES / "naming/collide")
    assert check_names(mesh, Names("mesh")) == [
        Problem(
            file=str(FIXTURES / "naming/collide/sales_x.yaml"),
            line=6,
            path="products[0].name",
            code="E032",
            message="bucket name 'mesh-sales-x-orders' of sales_x.orders collides with that of "
            "sales.x_orders (names are joined with '-' and '_' becomes '-'): rename one of the "
            "two",
        )
    ]


def test_a_new_product_cannot_take_a_renamed_products_bucket():
    loaded = load_mesh(FIXTURES / "naming/rename_collision", today=TODAY)
    # the loader refuses the old name still in use (E050); the names collide too (E032)
    assert [(e.code, e.line, e.path) for e in loaded.errors] == [
        ("E050", 9, "products[0].previous_names[0]")
    ]
    [problem] = check_names(loaded.mesh, Names("mesh"))
    assert (problem.line, problem.path, problem.code) == (15, "products[1].name", "E032")
    assert problem.message.startswith(
        "bucket name 'mesh-sales-orders' of sales.orders collides with that of sales.order_lines"
    )


def test_a_bucket_name_ending_with_a_dash_is_reported():
    """`orders_` is a valid product name, but S3 refuses a bucket name ending with '-'."""
    mesh = load(FIXTURES / "naming/trailing_underscore")
    [problem] = check_names(mesh, Names("mesh"))
    assert (problem.line, problem.path, problem.code) == (6, "products[0].name", "E013")
    assert problem.message.startswith(
        "bucket name 'mesh-sales-orders-' of sales.orders_ is not a valid S3 bucket name"
    )


def test_sample_names_fit_with_the_longest_prefix():
    assert check_names(load(SINGLE), Names("a" * 20)) == []


def test_role_length_guard():
    """Valid prefixes and domain names cannot exceed 64 characters (20+1+31+9; lf-access is as long as consumer); the guard
    still reports a role name AWS would refuse, against the domain."""
    mesh = load(FIXTURES / "naming/too_long")
    products = {bp.domain: list(bp.products) for bp in mesh.blueprints}
    problems = [p for p in name_problems(Names("p" * 30), products) if p[1] is None]
    assert [(domain, code) for domain, _, code, _ in problems] == [
        ("sales_and_marketing_operations", "E033"),  # producer
        ("sales_and_marketing_operations", "E033"),  # consumer
        ("sales_and_marketing_operations", "E033"),  # lf-access
        ("sales_and_marketing_operations", "E033"),  # its query-results bucket
    ]
    assert "is 70 characters; AWS allows 64" in problems[0][3]
    assert problems[3][3].startswith(
        "query-results bucket name 'pppppppppppppppppppppppppppppp-sales-and-marketing-operations"
        "-athena' is 68 characters; S3 allows 63"
    )


def test_a_product_cannot_take_the_name_of_a_query_results_bucket():
    """`<prefix>-<domain>-athena` is the domain's Athena results bucket: a product `athena` of
    that domain (or a product `x_athena` of a domain `<d>` when a domain `<d>_x` exists) would
    name the same bucket; E032 at whichever of the two comes second."""
    from infra.model.spec import Product

    names = Names("mesh")
    raw = {
        "name": "athena",
        "description": "x",
        "classification": "internal",
        "format": "parquet",
        "retention_days": 30,
        "schema": [{"name": "a", "type": "string"}],
    }
    product = Product.model_validate(raw)
    results = Product.model_validate({**raw, "name": "x_athena"})
    own = list(name_problems(names, {"sales": [product]}))
    assert [(d, i, c) for d, i, c, _ in own] == [("sales", 0, "E032")]
    assert "collides with that of the query results of sales" in own[0][3]
    other = list(name_problems(names, {"sales": [results], "sales_x": []}))
    assert [(d, i, c) for d, i, c, _ in other] == [("sales_x", None, "E032")]
    assert "query-results bucket name 'mesh-sales-x-athena' of domain sales_x" in other[0][3]
    assert list(name_problems(names, {"a_x": [], "a": [], "b": []})) == []


@pytest.mark.parametrize("prefix", ["a", "acme", "acme-mesh", "dev2", "a" * 20])
def test_valid_prefixes(prefix):
    assert check_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "prefix",
    ["", "Acme", "1acme", "-acme", "acme-", "acme_mesh", "acme.mesh", "a" * 21, "xn--acme"],
)
def test_invalid_prefixes(prefix):
    with pytest.raises(PhysicalNameError, match="config key mesh:prefix"):
        check_prefix(prefix)


def test_stack_settings_validate_the_prefix():
    with pytest.raises(PhysicalNameError, match="stack prefix 'acme-' is not valid"):
        StackSettings(prefix="acme-").names  # noqa: B018


def test_plan_refuses_a_mesh_with_names_aws_would_refuse():
    directory = FIXTURES / "naming/too_long"
    proc = subprocess.run(
        [sys.executable, "-m", "infra.cli", "plan", str(directory)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        f"{directory / 'sales_and_marketing_operations.yaml'}:12: error E033 products[1].name: "
        "bucket name 'mesh-sales-and-marketing-operations-attribution-by-channel-and-week' is 67 "
        "characters; S3 allows 63: shorten the domain or product name (or the stack prefix "
        "'mesh')\n"
        "1 error(s): fix the blueprints first (mesh validate)\n"
    )
    assert "Traceback" not in proc.stderr
