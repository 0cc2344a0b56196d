"""report.md and report.html of `mesh audit`: hostile blueprint text stays text, the header's
numbers equal the tables, and the page holds at 100 domains (linear size, a domain-level view)."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import SAMPLE, TODAY, untagged
from hypothesis import given
from hypothesis import strategies as st
from report_fixtures import declared_only, generated_mesh
from typer.testing import CliRunner

import infra.audit
from infra.audit.audit import audit
from infra.audit.markdown import md_cell
from infra.audit.report import render_html
from infra.audit.report_md import render_markdown
from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.engines.recording import run_program
from infra.provision.program import StackSettings

# ---------------------------------------------------------------- Markdown cells


def _delimiters(line: str) -> int:
    """`|` that end a Markdown table cell: those not escaped by an odd run of backslashes."""
    return sum(1 for m in re.finditer(r"(\\*)\|", line) if len(m.group(1)) % 2 == 0)


def test_md_cell_keeps_hostile_text_in_its_cell():
    hostile = "a | b\\| c\n<img src=x onerror=alert(1)> &amp; [x](http://evil.example) ![i](y)\r\nz"
    cell = md_cell(hostile)
    assert "\n" not in cell and "\r" not in cell
    assert _delimiters(f"| {cell} |") == 2  # the row's own two, none from the text
    assert "<" not in cell and "&amp;amp;" in cell  # no tag, no entity of its own
    assert "](" not in cell.replace("\\](", "")  # no link or image: brackets are escaped
    assert cell.startswith("a \\| b\\\\\\| c ")


@given(st.text())
def test_md_cell_never_breaks_a_table_row(text):
    cell = md_cell(text)
    assert _delimiters(f"| {cell} | next |") == 3
    assert len(cell.splitlines()) <= 1 and "<" not in cell


# ---------------------------------------------------------------- helpers


class _Page(HTMLParser):
    """Every start tag with its attributes, the text, and the rows of each table id."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.script: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        (self.script if self._in_script else self.text).append(data)


def section(html: str, sid: str) -> str:
    """The HTML of `<section id=sid>` (sections holding no nested section)."""
    return html.split(f'<section id="{sid}">', 1)[1].split("</section>", 1)[0]


def cards(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-count="([a-z-]+)">(\d+)<', html)}


def grant_rows(html: str) -> list[str]:
    return re.findall(r"<tr data-domain=[^>]*>.*?</tr>", section(html, "grant-table"))


def body_rows(fragment: str) -> int:
    """Rows of the first table's tbody in `fragment`."""
    return fragment.split("<tbody>", 1)[1].split("</tbody>", 1)[0].count("<tr")


def md_section(md: str, title: str) -> list[str]:
    return md.split(f"\n## {title}")[1].split("\n## ")[0].splitlines()


def md_rows(lines: list[str]) -> list[str]:
    rows = [line for line in lines if line.startswith("| ")]
    return rows[1:]  # without the header (the |---| line does not start with "| ")


def md_count(md: str, what: str) -> int:
    row = next(line for line in md_section(md, "Counts") if line.startswith(f"| {what} |"))
    return int(row.split(" | ")[1])


# ---------------------------------------------------------------- a real audit with numbers


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """`mesh audit` of a generated mesh (5 domains x 5 products, 3 consumers per product)
    made 20 days before the clock: PII grants, grants ending within 30 days, lint findings."""
    root = tmp_path_factory.mktemp("generated")
    generated_mesh(root / "bp", 5, 3, TODAY)
    out = root / "out"
    run = CliRunner().invoke(app, ["audit", str(root / "bp"), "--out", str(out)])
    assert run.exit_code == 0, run.output
    return (out / "report.html").read_text(), (out / "report.md").read_text(), out, run.stdout


def test_header_numbers_equal_the_tables(generated):
    html, _, out, cli = generated
    n = cards(html)
    rows = grant_rows(html)
    matrix = json.loads((out / "access-matrix.json").read_text())
    assert n["effective"] == len(rows) == len(matrix["grants"])
    writes = sum('class="tag write"' in r for r in rows)
    assert (
        n["consumer"] == len(rows) - writes == sum(g["access"] == "read" for g in matrix["grants"])
    )
    assert writes == n["products"] == 25
    assert n["pii"] == sum('class="tag pii"' in r for r in rows) > 0
    soon = [int(d) for d in re.findall(r'data-days="(\d+)"', "".join(rows)) if int(d) <= 30]
    assert n["expiring"] == body_rows(section(html, "expiring")) == len(soon) > 0
    assert n["expired"] == len(matrix["expired"]) == 0
    assert n["differences"] == 0 and n["domains"] == 5
    # lint: the header's findings are the sum of the table's Findings column, ignored apart
    lint = section(html, "lint")
    table, ignored = lint.split('id="ignored-table"')
    assert n["lint-findings"] == sum(map(int, re.findall(r'data-findings="(\d+)"', table))) > 0
    assert n["lint-failing"] == 0
    ignored_n = sum(map(int, re.findall(r'data-findings="(\d+)"', ignored)))
    said = re.search(r"parliament: (\d+) finding\(s\), 0 of MEDIUM or higher, (\d+) ignored", cli)
    assert (n["lint-findings"], ignored_n) == (int(said[1]), int(said[2]))
    # the domain view's edges carry exactly the consumer grants (and their PII)
    domains = section(html, "domains").split('id="domain-details"')[0]
    out_edges = re.findall(r'<span class="edge[^"]*">→ \S+ (\d+) grants?(?: · (\d+) PII)?', domains)
    assert sum(int(g) for g, _ in out_edges) == n["consumer"]
    assert sum(int(p or 0) for _, p in out_edges) == n["pii"]


def test_the_page_explains_consumer_and_effective_grants(generated):
    html, _, _, _ = generated
    n = cards(html)
    text = " ".join(" ".join(_Page(html).text).split())
    assert (
        f"Effective grants ({n['effective']}) are every access the generated resources give" in text
    )
    assert f"{n['products']} producer write grants" in text
    assert f"plus {n['consumer']} consumer grants (read access one domain granted" in text


def test_markdown_numbers_equal_its_tables(generated):
    _, md, _, _ = generated
    grants = md_rows(md_section(md, "Who can read which columns"))
    assert md_count(md, "effective grants") == len(grants)
    assert md_count(md, "… consumer grants (read, between domains)") == sum(
        " | read | " in r for r in grants
    )
    assert md_count(md, "consumer grants ending within 30 days") == len(
        md_rows(md_section(md, "Expiring soon"))
    )
    domains = md_rows(md_section(md, "Domains"))
    assert len(domains) == md_count(md, "domains") == 5
    edges = md_rows(md_section(md, "Domain → domain"))
    assert sum(int(r.split(" | ")[2]) for r in edges) == md_count(
        md, "… consumer grants (read, between domains)"
    )
    lint = md_rows(md_section(md, "Policy lint"))
    findings = [r for r in lint if r.startswith(("| LOW |", "| INFO |", "| MEDIUM |", "| HIGH |"))]
    assert sum(int(r.split(" | ")[3]) for r in findings) == md_count(
        md, "lint findings (not ignored)"
    )
    # every table row of the report has as many cells as its header
    for block in md.split("\n\n"):
        table = [line for line in block.splitlines() if line.startswith("|")]
        if table:
            assert {_delimiters(line) for line in table} == {_delimiters(table[0])}, table[0]


# ---------------------------------------------------------------- hostile blueprint text

JUSTIFICATION = (
    "</td></tr><script>alert('j')</script><img src=x onerror=alert(1)> | **bold** "
    "[x](http://evil.example/) ![i](http://evil.example/i.png) &amp; end\nsecond line"
)
APPROVER = '"><svg/onload=alert(2)>@evil.example'  # a valid e-mail address for the schema
DESCRIPTION = '<style>*{display:none}</style><a href="http://evil.example/">x</a> }{ -->'
SAFE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "header", "h1", "h2", "h3", "div",
    "ul", "li", "b", "span", "nav", "a", "section", "p", "table", "thead", "tbody", "tr", "th",
    "td", "code", "svg", "rect", "text", "path", "form", "label", "select", "option", "input",
    "datalist", "button", "output", "script",
}  # fmt: skip


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(SAMPLE, root / "bp")
    # without a platform file, approved_by is any e-mail address: text the blueprint chooses
    (root / "bp" / "_mesh.yaml").unlink()
    untagged(root / "bp")  # without it, tag-based access is off
    sales = root / "bp" / "sales.yaml"
    text = sales.read_text()
    for old, new in (
        (
            "justification: revenue reconciliation against invoices",
            "justification: " + JUSTIFICATION,
        ),
        ("approved_by: privacy", "approved_by: " + APPROVER),
        (
            "description: Orders, customers and returns of the web shop",
            "description: " + DESCRIPTION,
        ),
    ):
        key, _, value = new.partition(": ")
        assert old in text
        text = text.replace(old, f"{key}: {json.dumps(value)}")  # JSON is a YAML string
    sales.write_text(text)
    out = root / "out"
    run = CliRunner().invoke(app, ["audit", str(root / "bp"), "--out", str(out)])
    assert run.exit_code == 0, run.output
    return (out / "report.html").read_text(), (out / "report.md").read_text()


def test_hostile_text_is_only_text_in_the_html(hostile):
    html, _ = hostile
    page = _Page(html)
    assert {tag for tag, _ in page.tags} <= SAFE_TAGS
    assert [tag for tag, _ in page.tags].count("script") == 1
    assert [tag for tag, _ in page.tags].count("style") == 1
    for tag, attrs in page.tags:
        assert not [a for a in attrs if a.startswith("on") or a == "style"], (tag, attrs)
        if tag == "a":
            assert attrs["href"].startswith(("#", "policies/", "access-matrix.json")), attrs
    text = "".join(page.text)
    assert JUSTIFICATION in text  # shown, character for character
    assert APPROVER in text and DESCRIPTION in text
    # and in attributes, where the filter reads it, it is an attribute value and nothing more
    approvers = [a["data-approver"] for t, a in page.tags if t == "tr" and a.get("data-approver")]
    assert approvers == [APPROVER]
    # the script is the package's file, untouched by any blueprint text
    assert (
        "".join(page.script)
        == (Path(infra.audit.__file__).parent / "templates" / "report.js").read_text()
    )


def test_hostile_text_is_only_text_in_the_markdown(hostile):
    _, md = hostile
    assert "<script" not in md and "<img" not in md and "<svg" not in md and "<style" not in md
    assert not re.search(r"(?<!\\)\]\((?!policies/)", md)  # links: only to the policy files
    row = next(line for line in md.splitlines() if line.startswith("| sales.orders | finance:"))
    assert _delimiters(row) == 11  # 10 cells, like its header
    assert "second line" in row  # the line break became a space, the row stayed one line
    assert "&lt;/td&gt;" not in row and "&lt;/td>&lt;/tr>&lt;script>" in row
    assert "\\[x\\](http://evil.example/)" in row


# ---------------------------------------------------------------- scale


def _render(tmp_path, domains: int) -> tuple[int, int, str]:
    mesh = generated_mesh(tmp_path / f"m{domains}", domains, 2, TODAY)
    result = declared_only(mesh, TODAY)
    html = render_html(result)
    return len(html.encode()), len(result.effective), html


def test_report_size_is_linear_in_grants_not_principals_x_products(tmp_path):
    small, small_grants, _ = _render(tmp_path, 20)
    large, large_grants, html = _render(tmp_path, 80)
    # 4x the domains: 4x the grants, 16x principals x products; bytes per grant stay put
    assert large_grants / small_grants == pytest.approx(4, rel=0.1)
    assert (large / large_grants) / (small / small_grants) < 1.15
    assert large / large_grants < 1800  # bytes per grant, pictures included (was 12,000)
    # at 80 domains: no matrix picture, one star per domain, sections shown one at a time
    assert html.count("<svg") == 80
    assert 'id="domain-details" class="collapsed"' in html


def test_markdown_aggregates_per_domain_then_details(tmp_path):
    mesh = generated_mesh(tmp_path / "m40", 40, 2, TODAY)
    md = render_markdown(declared_only(mesh, TODAY))
    titles = [line for line in md.splitlines() if line.startswith("## ")]
    assert (
        titles.index("## Domains")
        < titles.index("## Domain → domain")
        < titles.index(
            "## Who can read which columns of which product, until when, approved by whom"
        )
    )
    domains = md_rows(md_section(md, "Domains"))
    assert len(domains) == 40
    assert (
        "[consumer](policies/sales_0000.consumer.json)"
        in domains[[r.split(" | ")[0] for r in domains].index("| sales_0000")]
    )


def test_a_difference_is_counted_shown_and_marked_in_the_grant_table():
    """Resources deployed while analytics' grant on logistics.shipments was valid, audited
    after its expiry: one unexpected grant. The header, the differences table, the grant row
    and report.md all say so."""
    mesh = load_mesh(SAMPLE, today=TODAY).mesh
    stale = run_program(mesh, StackSettings(), dt.date(2026, 10, 1)).resources
    result = audit(mesh, stale, TODAY)
    assert [(d.principal, d.product) for d in result.differences] == [
        ("analytics:consumer", "logistics.shipments")
    ]
    html, md = render_html(result), render_markdown(result)
    assert cards(html)["differences"] == 1 == body_rows(section(html, "differences"))
    assert '<div class="banner fail" id="verdict">FAIL: 1 ACCESS DIFFERENCE(S)' in html
    (row,) = [r for r in grant_rows(html) if 'class="diff"' in r]
    assert 'data-product="logistics.shipments"' in row and "DIFFERS" in row
    assert 'data-principal="analytics:consumer"' in row
    assert md_count(md, "access differences") == 1
    (diff,) = md_rows(md_section(md, "Effective vs declared access"))
    assert diff.startswith("| **UNEXPECTED** | analytics:consumer | logistics.shipments |")
