"""The PR comment (`mesh diff --format markdown`) as a new user meets it: an invalid HEAD still
gets a comment (its problems, then that access waits) and valid JSON; warnings of files the PR
did not touch are counted, not repeated; long messages are wrapped, and no text of a blueprint
leaves its list item or table cell (checked with a Markdown parser, markdown-it-py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import SAMPLE, TODAY
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from infra.cli import app

GRANT = (
    "      - domain: marketing\n",
    (
        "      - domain: analytics\n        expires: 2027-03-31\n        justification: churn\n"
        "      - domain: marketing\n"
    ),
)  # sales.orders to analytics: new access in sales.yaml


def _run(*args) -> tuple[int, str]:
    done = CliRunner().invoke(app, [str(a) for a in args], env={"MESH_TODAY": TODAY.isoformat()})
    return done.exit_code, done.stdout


def _pr(tmp_path: Path, *edits: tuple[str, str], domain: str = "sales") -> tuple[Path, Path]:
    """BASE and HEAD as relative paths (run in `tmp_path`): the comment is the same anywhere."""
    base, head = Path("base"), Path("head")
    shutil.copytree(SAMPLE, base)
    shutil.copytree(SAMPLE, head)
    path = head / f"{domain}.yaml"
    text = path.read_text()
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text)
    return base, head


def test_an_invalid_head_still_gets_a_comment_and_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base, head = _pr(tmp_path, ("cost_center: CC-1001", "cost_center: CC 1001"))
    code, md = _run("diff", base, head, "--format", "markdown")  # without --validate too
    assert code == 1
    assert md.splitlines() == [
        "### Data mesh access changes",
        "",
        "> [!CAUTION]",
        "> **1 unsafe change(s): fix before merging.**",
        "> - <code>head/sales.yaml:4</code> E013: 'CC 1001' is not valid: expected text matching",
        ">   ^\\[A-Za-z0-9-\\]{1,32}$",
        "",
        (
            "- 1 warning(s) in files this change does not touch, not repeated here (<code>mesh "
            "validate</code>"
        ),
        "  lists them)",
        "",
        "Access changes wait until HEAD is valid.",
    ]
    code, out = _run("diff", base, head, "--format", "json")
    doc = json.loads(out)
    assert code == 1 and [e["code"] for e in doc["errors"]] == ["E013"]
    assert doc["new_access"] == [] and doc["required_approvals"] == []


def test_a_governance_error_waits_for_head_in_the_comment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base, head = _pr(tmp_path, (GRANT[0], GRANT[1].replace("        expires: 2027-03-31\n", "")))
    code, md = _run("diff", base, head, "--validate", "--format", "markdown")
    assert code == 1
    assert "GOV-005" in md and md.rstrip().endswith("Access changes wait until HEAD is valid.")
    assert "Approvals" not in md  # nothing is computed for an invalid HEAD


def test_warnings_of_untouched_files_are_counted_not_repeated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    expiring = (
        "        expires: 2027-03-31\n        justification: pick-and-pack planning",
        "        expires: 2026-12-01\n        justification: pick-and-pack planning",
    )
    base, head = _pr(tmp_path, GRANT, expiring)
    code, md = _run("diff", base, head, "--validate", "--format", "markdown")
    assert code == 3
    start = md.index("- :warning:")
    assert md[start:].splitlines()[:4] == [
        (
            "- :warning: <code>head/sales.yaml:39</code> W001: grant of sales.orders to logistics "
            "expires in 6"
        ),
        "  day(s), on 2026-12-01",
        (
            "- 1 warning(s) in files this change does not touch, not repeated here (<code>mesh "
            "validate</code>"
        ),
        "  lists them)",
    ]
    # the JSON and the text keep every warning: W002 of logistics.yaml, which the PR leaves
    doc = json.loads(_run("diff", base, head, "--validate", "--format", "json")[1])
    assert [(Path(w["file"]).name, w["code"]) for w in doc["warnings"]] == [
        ("logistics.yaml", "W002"),
        ("sales.yaml", "W001"),
    ]


HOSTILE = (
    "see | the - list\n# heading > quote 1. item --- <!-- hide --> <img src=x> `code` "
    "[link](http://evil.example/) @everyone " + "long " * 30 + "- [ ] fake task"
)


def _tokens(md: str) -> list:
    return MarkdownIt("commonmark").enable("table").parse(md)


def test_blueprint_text_stays_in_its_item_and_cell(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    decommission = (
        "    retention_days: 365\n    schema:\n      - {name: return_id",
        (
            "    retention_days: 365\n"
            f"    decommission: {{date: 2027-02-01, reason: {json.dumps(HOSTILE)}}}\n"
            "    schema:\n      - {name: return_id"
        ),
    )
    grant = (
        GRANT[0],
        GRANT[1].replace("justification: churn", f"justification: {json.dumps(HOSTILE)}"),
    )
    base, head = _pr(tmp_path, grant, decommission)
    code, md = _run("diff", base, head, "--validate", "--format", "markdown")
    assert code == 3
    tokens = _tokens(md)
    # no HTML but the comment's own, no heading but its own, no link, no image
    html = {t.content for t in tokens if t.type == "html_block"}
    inline = {
        c.content for t in tokens if t.children for c in t.children if c.type == "html_inline"
    }
    assert html == set() and inline <= {"<code>", "</code>", "<sub>", "</sub>"}
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == ["Data mesh access changes", "New access", "Approvals"]
    kinds = {c.type for t in tokens if t.children for c in t.children}
    assert not kinds & {"link_open", "image", "code_inline"}
    # the quoted review list has exactly one item per review item (decommission, data)
    depth, items = 0, 0
    for t in tokens:
        depth += {"blockquote_open": 1, "blockquote_close": -1}.get(t.type, 0)
        items += depth > 0 and t.type == "list_item_open"
    assert items == 1
    # every table row of new access has its 7 cells
    rows, cells = 0, 0
    for t in tokens:
        rows += t.type == "tr_open"
        cells += t.type in ("td_open", "th_open")
    assert rows and cells == 7 * rows
    # wrapped: no line of the comment's own text runs on (one long word may)
    long = [line for line in md.splitlines() if len(line) > 100 and not line.startswith("|")]
    assert all(" " not in line[100:] for line in long if "<sub>" not in line), long


def test_a_wrapped_line_never_opens_a_block():
    from infra.util.textsafe import md_text, md_wrap

    text = md_text("aa - cc # dd 12. ee > ff --- gg 3) hh + ii = jj")
    for width in range(6, 16):
        lines = md_wrap(text, width, "- ", "  ")
        assert " ".join(line[2:] for line in lines).replace("\\", "") == text.replace("\\", "")
        doc = MarkdownIt("commonmark").parse("\n".join(lines))
        assert [t.type for t in doc if t.type.endswith("_open")] == [
            "bullet_list_open",
            "list_item_open",
            "paragraph_open",
        ], (width, lines)
