"""Tag-based access, the model: effective LF-tags, Lake Formation's matching, and what each
tag grant reaches in the declared access (`infra.model.lftags`, `infra.model.access`)."""

from __future__ import annotations

import datetime as dt

import pytest
from lftags_fixtures import ANALYTICS, MESH_FILE, SALES, TODAY, write

from infra.blueprints.load import load_mesh
from infra.model import lftags
from infra.model.access import declared_access
from infra.model.spec import Classification


@pytest.fixture
def mesh(tmp_path):
    report = load_mesh(
        write(tmp_path, _mesh=MESH_FILE, sales=SALES, analytics=ANALYTICS), today=TODAY
    )
    assert [p.code for p in report.errors] == []
    return report.mesh


def test_effective_tags_inherit_and_override(mesh):
    _bp, orders = mesh.product("sales.orders")
    table = lftags.product_tags("sales", orders)
    assert table == {
        "domain": "sales",
        "classification": "internal",
        "pii": "false",
        "sensitivity": "low",
        "area": "shop",
    }
    email, note = orders.columns[1], orders.columns[3]
    assert lftags.column_tags(table, email) == {**table, "sensitivity": "high", "pii": "true"}
    assert lftags.overrides(table, email) == {"sensitivity": "high", "pii": "true"}
    assert lftags.overrides(table, note) == {"sensitivity": "high"}
    assert lftags.overrides(table, orders.columns[0]) == {}


def test_matching_is_and_across_keys_or_within_a_key():
    expr = lftags._expression({"a": ["1", "2"], "b": ["x"]})
    assert lftags.matches(expr, {"a": "2", "b": "x", "c": "z"})
    assert not lftags.matches(expr, {"a": "3", "b": "x"})
    assert not lftags.matches(expr, {"a": "1"})  # a key of the expression missing


def test_domain_grant_is_anded_with_its_domain_and_leaves_pii_out(mesh):
    refs = lftags.tag_grant_refs(mesh)
    assert [(r.scope, r.index) for r in refs] == [("_mesh", 0), ("sales", 0)]
    assert refs[1].expression == (
        ("classification", ("internal", "public")),
        ("domain", ("sales",)),
        ("pii", ("false",)),
        ("sensitivity", ("low",)),
    )
    assert refs[1].via_tags == {
        "classification": ["internal", "public"],
        "domain": ["sales"],
        "sensitivity": ["low"],
    }
    assert refs[0].expression == (("classification", ("public",)), ("pii", ("false",)))


def test_expansion_columns_follow_column_overrides(mesh):
    ref = lftags.tag_grant_refs(mesh)[1]
    found = {(m.domain, m.product): m.columns for m in lftags.expand(mesh, ref, TODAY)}
    # orders: email is PII (and high), note is retagged high: both left out.
    # prices: public but has no sensitivity tag at all: the expression's key is missing
    assert found == {("sales", "orders"): ("amount", "order_id")}


def test_tag_grants_enter_the_declared_access_with_their_expression(mesh):
    model = declared_access(mesh, TODAY)
    tagged = [g for g in model.grants if g.via_tags is not None]
    assert [(g.principal, g.product, g.columns, g.tag_grant) for g in tagged] == [
        ("analytics:consumer", "sales.orders", ("amount", "order_id"), ("sales", 0)),
        ("analytics:consumer", "sales.prices", ("price", "sku"), ("_mesh", 0)),
    ]
    prices = tagged[1]
    assert prices.whole_table and not prices.pii and prices.expires == dt.date(2027, 12, 31)
    assert prices.as_json()["via_tags"] == {"classification": ["public"]}
    assert tagged[0].as_json()["via_tags"] == {
        "classification": ["internal", "public"],
        "domain": ["sales"],
        "sensitivity": ["low"],
    }
    # named grants' JSON is unchanged: no via_tags key
    assert all("via_tags" not in g.as_json() for g in model.grants if g.via_tags is None)


def test_expired_tag_grant_grants_nothing(mesh):
    model = declared_access(mesh, dt.date(2027, 7, 1))
    assert [(g.product, g.tag_grant) for g in model.grants if g.via_tags] == [
        ("sales.prices", ("_mesh", 0))
    ]
    assert [(g.product, g.tag_grant) for g in model.expired if g.via_tags] == [
        ("sales.orders", ("sales", 0))
    ]


def test_approved_pii_includes_pii_columns(tmp_path):
    sales = SALES.replace(
        "justification: dashboards,",
        "justification: dashboards, include_pii: true, approved_by: privacy,",
    ).replace("sensitivity: [low]}", "sensitivity: [low, high]}")
    report = load_mesh(
        write(tmp_path, _mesh=MESH_FILE, sales=sales, analytics=ANALYTICS), today=TODAY
    )
    assert [p.code for p in report.errors] == []
    [orders] = [
        g for g in declared_access(report.mesh, TODAY).grants if g.tag_grant == ("sales", 0)
    ]
    assert orders.columns == ("amount", "email", "note", "order_id")
    assert orders.pii and orders.whole_table


def test_a_column_whose_override_matches_is_granted_without_its_table(tmp_path):
    mesh_file = MESH_FILE.replace("{classification: [public]}", "{area: [shop]}")
    report = load_mesh(
        write(tmp_path, _mesh=mesh_file, sales=SALES, analytics=ANALYTICS), today=TODAY
    )
    ref = lftags.tag_grant_refs(report.mesh)[0]
    found = {m.product: m.columns for m in lftags.expand(report.mesh, ref, TODAY)}
    # orders is area=shop (PII email out); prices has no area, but its column price does
    assert found == {"orders": ("amount", "note", "order_id"), "prices": ("price",)}


def test_ontology_has_the_derived_keys_first(mesh):
    keys = lftags.ontology(mesh)
    assert list(keys) == ["domain", "classification", "pii", "sensitivity", "area"]
    assert keys["domain"].values == ("analytics", "sales")
    assert keys["classification"].values == ("public", "internal", "confidential", "restricted")
    assert keys["classification"].values == tuple(c.value for c in Classification)
    assert keys["sensitivity"] == lftags.OntologyKey("sensitivity", ("low", "high"))
