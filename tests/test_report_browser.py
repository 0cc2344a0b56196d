"""report.html in a real browser: headless Chromium loads the report at 5 and 100 domains, with
no console error (a Content-Security-Policy violation is one), the filter narrows the grant
table to exactly the rows it should, the page works without its script and prints without its
controls; screenshots are saved for a person to look at.

Skipped when no Chromium binary is found (`.ci/run` installs Debian's `chromium` where it can).
Screenshots go to $MESH_SCREENSHOTS, default out/screenshots/ (ignored by git).

At 5 domains the report is a real `mesh audit`; at 100 domains it is rendered from the declared
access (tests/report_fixtures.py): the Pulumi program and parliament would take over a minute
there, and what is tested is the page, not the audit (bench/report_bench.py times the real one).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import ROOT, TODAY
from report_fixtures import declared_only, generated_mesh

from bench.chromium import Browser, find_browser
from infra.audit.audit import audit, write
from infra.audit.report import build, render_html
from infra.engines.recording import run_program
from infra.provision.program import StackSettings

BROWSER = find_browser()
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no Chromium binary on PATH (chromium, chromium-browser, google-chrome; or set "
    "MESH_CHROMIUM): apt-get install -y chromium",
)
SHOTS = Path(os.environ.get("MESH_SCREENSHOTS") or ROOT / "out" / "screenshots")
ROWS = "#grants tr[data-principal]"
VISIBLE = f"Array.from(document.querySelectorAll('{ROWS}')).filter(r => r.offsetParent !== null)"


@pytest.fixture(scope="module", params=[5, 100], ids=["5-domains", "100-domains"])
def report(request, tmp_path_factory):
    """(domains, report.html path, the report's view model)."""
    domains = request.param
    root = tmp_path_factory.mktemp(f"browser-{domains}")
    mesh = generated_mesh(root / "bp", domains, 3, TODAY)
    if domains <= 5:  # what `mesh audit` does
        result = audit(mesh, run_program(mesh, StackSettings(), TODAY).resources, TODAY)
        assert result.ok, result.failures()
        html = write(result, root / "out")[-1]
    else:
        result = declared_only(mesh, TODAY)
        html = root / "report.html"
        html.write_text(render_html(result), encoding="utf-8")
    return domains, html, build(result)


@pytest.fixture(scope="module")
def browser():
    with Browser(BROWSER) as b:
        yield b


def _filter(page, **values: str) -> int:
    """Set the filter's fields (others cleared) as a person would, and count visible rows."""
    page.evaluate("document.getElementById('grant-filter').reset()")
    for name, value in values.items():
        page.evaluate(
            f"(() => {{ const f = document.getElementById('grant-filter').elements[{json.dumps(name)}];"
            f" f.value = {json.dumps(value)};"
            " f.dispatchEvent(new Event('input', {bubbles: true})); })()"
        )
    return page.evaluate(f"{VISIBLE}.length")


def test_report_loads_and_the_filter_narrows_the_table(browser, report):
    domains, html, model = report
    browser.errors.clear()
    page = browser.open(html, 1400, 1000)
    total = model.counts.effective
    assert page.evaluate(f"document.querySelectorAll('{ROWS}').length") == total
    assert page.evaluate(f"{VISIBLE}.length") == total
    assert page.evaluate("document.getElementById('grant-filter').hidden") is False
    assert page.evaluate("document.getElementById('grant-count').value") == (
        f"showing {total} of {total} grants"
    )
    page.screenshot(SHOTS / f"report-{domains}-top.png")

    # domain: exactly the rows on that domain's products
    busiest = max(model.domains, key=lambda d: len(d.rows))
    assert 0 < _filter(page, domain=busiest.name) == len(busiest.rows) < total
    shown = page.evaluate(f"{VISIBLE}.map(r => r.dataset.domain)")
    assert set(shown) == {busiest.name}
    assert page.evaluate("document.getElementById('grant-count').value") == (
        f"showing {len(busiest.rows)} of {total} grants"
    )
    page.evaluate("document.getElementById('grant-table').scrollIntoView()")
    page.screenshot(
        SHOTS / f"report-{domains}-filtered.png",
        y=page.evaluate("document.getElementById('grant-table').offsetTop"),
    )
    # PII, ending within N days, principal, product, approver: each narrows to what it says
    rows = [g for d in model.domains for g in d.rows]
    assert _filter(page, pii="yes") == sum(g.pii for g in rows) < total
    assert _filter(page, days="30") == model.counts.expiring == len(model.expiring) > 0
    consumer = rows[-1].principal
    assert _filter(page, principal=consumer) == sum(g.principal == consumer for g in rows)
    approved = next(g for g in rows if g.approved_by)
    assert _filter(page, approver=approved.approved_by.upper()) == sum(
        g.approved_by == approved.approved_by for g in rows
    )
    product = rows[0].product
    both = sum(g.product == product and g.access == "write" for g in rows)
    assert _filter(page, product=product, principal=":producer") == both == 1
    assert _filter(page) == total  # cleared

    # a domain's "grants in the table" link sets the domain filter
    page.evaluate(f"document.querySelector('a[data-filter-domain=\"{busiest.name}\"]').click()")
    assert page.evaluate(f"{VISIBLE}.length") == len(busiest.rows)
    assert browser.errors == [], browser.console


def test_drill_down_into_one_domain(browser, report):
    domains, html, model = report
    page = browser.open(html, 1400, 1000)
    target = max(model.domains, key=lambda d: len(d.products) + len(d.targets))
    page.evaluate(f"location.hash = '#domain-{target.name}'")
    shown = page.evaluate(
        "Array.from(document.querySelectorAll('#domain-details > section.domain'))"
        ".filter(s => getComputedStyle(s).display !== 'none').map(s => s.id)"
    )
    # many domains: only the chosen one is open; few: all of them are shown
    expected = (
        [f"domain-{target.name}"]
        if model.collapsed
        else [f"domain-{d.name}" for d in model.domains]
    )
    assert shown == expected
    assert model.collapsed is (domains > 12)
    section = f"document.getElementById('domain-{target.name}')"
    text = page.evaluate(f"{section}.innerText")
    assert all(p.name in text for p in target.products)
    assert all(f"{p.kind}.json" in text for p in target.principals)  # links to policy files
    page.screenshot(SHOTS / f"report-{domains}-domain.png", y=page.evaluate(f"{section}.offsetTop"))
    assert browser.errors == [], browser.console


def test_without_its_script_every_row_is_there(browser, report):
    _, html, model = report
    page = browser.open(html, 1400, 1000, scripts=False)
    assert page.evaluate(f"{VISIBLE}.length") == model.counts.effective
    assert page.evaluate("getComputedStyle(document.getElementById('grant-filter')).display") == (
        "none"  # no dead controls
    )
    assert browser.errors == [], browser.console


def test_print_shows_every_row_and_no_controls(browser, report):
    domains, html, model = report
    page = browser.open(html, 1400, 1000)
    _filter(page, pii="yes")  # a filtered screen still prints the whole table
    page.media("print")
    assert page.evaluate("getComputedStyle(document.getElementById('grant-filter')).display") == (
        "none"
    )
    assert page.evaluate("getComputedStyle(document.querySelector('nav.toc')).display") == "none"
    assert page.evaluate(f"{VISIBLE}.length") == model.counts.effective
    sections = page.evaluate(
        "Array.from(document.querySelectorAll('#domain-details > section.domain'))"
        ".filter(s => getComputedStyle(s).display !== 'none').length"
    )
    assert sections == len(model.domains)  # every domain's section, collapsed or not
    # nothing wider than the page: the table is not cut off on paper
    assert page.evaluate(
        "document.getElementById('grants').getBoundingClientRect().right"
        " <= document.documentElement.clientWidth + 1"
    )
    if domains <= 5:
        page.pdf(SHOTS / f"report-{domains}.pdf")
    page.media("")
    assert browser.errors == [], browser.console
