"""Tag-based access in the audit report: a grant by tag expression shows its expression, and the
report's grant table filters by LF-tag (`key=value`: the product's tags or the expression's)."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import SAMPLE, TODAY

from infra import api
from infra.audit.audit import audit
from infra.audit.report import build, render_html
from infra.audit.report_md import render_markdown
from infra.engines.recording import run_program
from infra.provision.program import StackSettings


@pytest.fixture(scope="module")
def result():
    mesh = api.validate(SAMPLE, today=TODAY).mesh
    graph = run_program(mesh, StackSettings(), TODAY)
    done = audit(mesh, graph.resources, TODAY, generated_at="2026-11-25T00:00:00Z")
    # the rows of the report are the effective grants; here the declared ones, so that the
    # report's side is tested whatever the evaluator says about tag policies
    return dataclasses.replace(done, effective=list(done.declared.grants))


def test_a_tag_grant_row_names_its_expression_and_the_products_tags(result):
    rows = {(g.principal, g.product): g for d in build(result).domains for g in d.rows}
    stock = rows[("analytics:consumer", "logistics.stock_levels")]
    assert stock.via_tags == "classification=internal domain=logistics"
    assert stock.via == "lakeformation (by LF-tags classification=internal domain=logistics)"
    assert stock.lf_tags == "domain=logistics classification=internal pii=false"
    returns = rows[("marketing:consumer", "sales.returns")]
    assert returns.via_tags == "classification=internal sensitivity=low"
    named = rows[("analytics:consumer", "sales.returns")]  # a named grant: no expression
    assert named.via_tags == "" and named.via == "lakeformation"
    assert named.lf_tags == "domain=sales classification=internal pii=false sensitivity=low"


def test_the_html_report_filters_by_lf_tag(result):
    html = render_html(result)
    assert '<input name="lftag" type="search" placeholder="e.g. sensitivity=low"' in html
    assert 'data-viatags="classification=internal domain=logistics"' in html
    assert (
        'data-lftags="domain=sales classification=confidential pii=false sensitivity=low"' in html
    )
    assert "hasTag(d.lftags, lftag) || hasTag(d.viatags, lftag)" in html


def test_the_markdown_report_shows_the_expression(result):
    md = render_markdown(result)
    assert "lakeformation (by LF-tags classification=internal sensitivity=low)" in md
