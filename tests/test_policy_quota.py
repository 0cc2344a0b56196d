"""IAM's inline-policy quota on consumer roles (E036): sized exactly as deployed, refused at
validate time instead of half-way through `pulumi up`."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from conftest import SAMPLE, TODAY
from hypothesis import given, settings
from hypothesis import strategies as st
from resource_types import ROLE_POLICY
from typer.testing import CliRunner

from infra.cli import app
from infra.documents import consumer_access_policy
from infra.engines.recording import run_program
from infra.loader import load_mesh
from infra.naming import (
    ROLE_INLINE_POLICY_MAX,
    ROLE_INLINE_POLICY_WARN,
    SIZING_ENV,
    SIZING_KEY_ARN,
    Names,
    PolicySizer,
    check_names,
    consumer_policy_sizes,
    policy_size,
)
from infra.program import StackSettings

NAMES = Names("mesh")


def test_sizes_are_those_of_the_deployed_policies():
    """Recorded with the sizing account and region, every pair policy has exactly the size the
    quota check computed (the recording mocks' key ids are UUIDs, as AWS's)."""
    mesh = load_mesh(SAMPLE, today=TODAY).mesh
    settings = StackSettings(account=SIZING_ENV.account, region=SIZING_ENV.region)
    graph = run_program(mesh, settings, TODAY)
    deployed: dict[str, dict[str, int]] = {}
    for r in graph.by_type(ROLE_POLICY):
        if r.parent and "@" in r.parent:
            producer, consumer = r.parent.split("@")
            deployed.setdefault(consumer, {})[producer] = policy_size(
                json.loads(r.inputs["policy"])
            )
    assert consumer_policy_sizes(mesh, NAMES, TODAY) == deployed
    assert sum(len(v) for v in deployed.values()) == 9


NAME = st.from_regex(r"[a-z][a-z0-9_]{1,30}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(
    database=NAME,
    tables=st.lists(NAME, min_size=1, max_size=12),
    direct=st.lists(st.integers(min_value=0, max_value=11), max_size=12),
)
def test_sizer_equals_the_builder(database, tables, direct):
    """The sizer's arithmetic gives the builder's exact size, for any names and any mix of
    whole-table (direct) and column-limited grants, duplicates included."""
    buckets = [f"mesh-{database}-{tables[i % len(tables)]}".replace("_", "-") for i in direct]
    built = consumer_access_policy(
        SIZING_ENV, database, tables, buckets, SIZING_KEY_ARN if buckets else None
    )
    sizer = PolicySizer(SIZING_ENV, SIZING_KEY_ARN)
    assert sizer.size(database, tables, buckets) == policy_size(built)


def test_size_ignores_whitespace():
    assert policy_size({"a": [1, 2], "b": "x y"}) == len('{"a":[1,2],"b":"x y"}')


def _blueprint(domain: str, products: list[dict]) -> dict:
    return {
        "domain": domain,
        "description": f"The {domain} domain",
        "owner": {"team": f"{domain}-data", "email": f"{domain}@example.com"},
        "cost_center": "CC-1",
        "products": products,
    }


def _product(name: str, consumer: str) -> dict:
    return {
        "name": name,
        "description": "One row per item sold in the web shop",
        "classification": "internal",
        "format": "parquet",
        "retention_days": 365,
        "schema": [{"name": "id", "type": "string"}],
        "consumers": [{"domain": consumer, "justification": "reporting"}],
    }


def _mesh(directory: Path, products: int) -> Path:
    """`shop` grants `products` whole tables to `hub` (each adds a Glue table ARN and the
    bucket's two ARNs to hub's one policy from shop)."""
    directory.mkdir()
    shop = _blueprint("shop", [_product(f"table_{i:04d}", "hub") for i in range(products)])
    for bp in (shop, _blueprint("hub", [])):
        (directory / f"{bp['domain']}.yaml").write_text(yaml.safe_dump(bp, sort_keys=False))
    return directory


def _largest_under_quota(tmp_path: Path) -> int:
    """The most whole-table grants shop can give hub within the quota."""
    n = 1
    while True:
        mesh = load_mesh(_mesh(tmp_path / f"probe{n}", n + 1), today=TODAY).mesh
        if consumer_policy_sizes(mesh, NAMES, TODAY)["hub"]["shop"] > ROLE_INLINE_POLICY_MAX:
            return n
        n += 1


def test_quota_boundary_is_exact(tmp_path):
    limit = _largest_under_quota(tmp_path)
    assert 50 <= limit <= 80  # one pair policy holds this many whole-table grants
    at = load_mesh(_mesh(tmp_path / "at", limit), today=TODAY).mesh
    assert consumer_policy_sizes(at, NAMES, TODAY)["hub"]["shop"] <= ROLE_INLINE_POLICY_MAX
    [near] = check_names(at, NAMES, TODAY)  # within the quota, but not by much
    assert (near.code, near.severity.value, Path(near.file).name, near.line) == (
        "W007",
        "warning",
        "hub.yaml",
        1,
    )
    over = load_mesh(_mesh(tmp_path / "over", limit + 1), today=TODAY).mesh
    [problem] = check_names(over, NAMES, TODAY)
    assert (problem.code, Path(problem.file).name, problem.line, problem.path) == (
        "E036",
        "hub.yaml",
        1,
        "domain",
    )
    size = consumer_policy_sizes(over, NAMES, TODAY)["hub"]["shop"]
    assert problem.message.startswith(
        f"the grants to hub need {size:,} characters of inline IAM policy on role "
        f"'mesh-hub-consumer'; AWS allows 10,240 per role: 1 producing domain(s) grant it, "
        f"the largest shop ({size:,})."
    )


def test_warning_starts_at_ninety_percent(tmp_path):
    sizes = {
        n: consumer_policy_sizes(
            load_mesh(_mesh(tmp_path / f"n{n}", n), today=TODAY).mesh, NAMES, TODAY
        )["hub"]["shop"]
        for n in range(40, 66)
    }
    for n, size in sizes.items():
        mesh = load_mesh(tmp_path / f"n{n}", today=TODAY).mesh
        codes = [p.code for p in check_names(mesh, NAMES, TODAY)]
        assert codes == (["W007"] if size >= ROLE_INLINE_POLICY_WARN else []), (n, size)
    assert min(sizes.values()) < ROLE_INLINE_POLICY_WARN <= max(sizes.values())


def test_validate_warns_near_the_quota_and_still_passes(tmp_path):
    directory = _mesh(tmp_path / "mesh", 62)
    result = CliRunner().invoke(app, ["validate", str(directory), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["errors"] == []
    assert [(w["code"], Path(w["file"]).name) for w in doc["warnings"]] == [("W007", "hub.yaml")]


def test_validate_refuses_a_consumer_over_the_quota(tmp_path):
    directory = _mesh(tmp_path / "mesh", 90)
    result = CliRunner().invoke(app, ["validate", str(directory), "--format", "json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert [(e["code"], Path(e["file"]).name, e["line"]) for e in doc["errors"]] == [
        ("E036", "hub.yaml", 1)
    ]


def test_expired_grants_do_not_count(tmp_path):
    directory = _mesh(tmp_path / "mesh", 90)
    shop = yaml.safe_load((directory / "shop.yaml").read_text())
    for product in shop["products"][:60]:
        product["consumers"][0]["expires"] = "2026-01-31"
    (directory / "shop.yaml").write_text(yaml.safe_dump(shop, sort_keys=False))
    mesh = load_mesh(directory, today=TODAY).mesh
    assert [p.code for p in check_names(mesh, NAMES, TODAY)] == []
