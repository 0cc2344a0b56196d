"""Retiring a domain in two pull requests: a domain-level `decommission:` (with notice, E052)
ends every grant the domain gives and receives on its date and removes its roles, the PR check
shows the cascade (each consumer that loses access, by a named grant or an LF-tag expression)
and requires, for every product, the approvals a product decommission requires; after the date
a second PR removes the blueprint (W030 with data: delete; E080 before the date, E081 with
data: retain, E043 without any)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, TODAY
from typer.testing import CliRunner

from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.engines.recording import run_program
from infra.provision.program import StackSettings

AFTER = dt.date(2027, 2, 1)  # the day after the retirement
RETIRE = (
    'account: "444455556666"\n'
    "decommission: {date: 2027-01-31, reason: campaign data moves to the CDP, data: delete}\n"
)


def mesh(*args, today: dt.date = TODAY):
    done = CliRunner().invoke(app, [str(a) for a in args], env={"MESH_TODAY": today.isoformat()})
    return done.exit_code, done.stdout, done.stderr


def copy(where: Path) -> Path:
    shutil.copytree(ROOT / "blueprints", where)
    return where


def retire(tree: Path, line: str = RETIRE) -> Path:
    path = tree / "marketing.yaml"
    path.write_text(path.read_text().replace('account: "444455556666"\n', line, 1))
    return tree


def drop_grants_to_marketing(tree: Path) -> None:
    edits = {
        "sales.yaml": "      - domain: marketing\n        columns: [order_id, amount, order_date]\n"
        "        expires: 2027-06-30\n        justification: campaign attribution\n",
        "finance.yaml": "      - domain: marketing\n        justification: return on ad spend\n",
    }
    for name, text in edits.items():
        path = tree / name
        assert text in path.read_text()
        path.write_text(path.read_text().replace(text, "", 1))
    # and the mesh-wide tag grant to marketing (the sample's _mesh.yaml ends with it)
    platform = tree / "_mesh.yaml"
    platform.write_text(platform.read_text().split("tag_grants:")[0] + "tag_grants: []\n")


CASCADE = [
    "analytics:consumer loses access to marketing.attribution on 2027-01-31",
    "analytics:consumer loses access to marketing.campaigns on 2027-01-31",
    "finance:consumer loses access to marketing.campaigns on 2027-01-31",
    (
        "marketing:consumer loses access to finance.revenue_daily on 2027-01-31 (the grant in "
        "finance's blueprint ends)"
    ),
    (
        "marketing:consumer loses access to sales.orders on 2027-01-31 (the grant in sales's "
        "blueprint ends)"
    ),
]


# the sample's mesh-wide tag grant to marketing (`_mesh.yaml` line 14) reaches sales.returns
TAG_RECEIVED = (
    "marketing:consumer loses access by LF-tag expression {classification: [internal], "
    "sensitivity: [low]} to sales.returns on 2027-01-31 (the tag grant _mesh.yaml tag_grants[0] "
    "ends)"
)


def test_pr_one_decommissions_the_domain_and_shows_the_cascade(tmp_path):
    base, head = copy(tmp_path / "base"), retire(copy(tmp_path / "head"))
    code, out, err = mesh("diff", base, head, "--validate", "--format", "json")
    assert code == 3, err  # nothing unsafe; a change to review
    doc = json.loads(out)
    assert doc["errors"] == [] and doc["new_access"] == [] and doc["removed_access"] == []
    items = [(r["change"], r["product"], r["reason"]) for r in doc["review_required"]]
    retired = (
        "domain marketing retired from 2027-01-31 (data: delete): campaign data moves to the CDP"
    )
    assert [i for i in items if i[0] == "decommission_added"] == [
        ("decommission_added", "marketing.campaigns", retired),
        ("decommission_added", "marketing.attribution", retired),
    ]
    assert sorted(i[1] for i in items if i[0] == "data_deletion_allowed") == [
        "marketing.attribution", "marketing.campaigns",
    ]  # fmt: skip
    assert sorted(i[2] for i in items if i[0] == "domain_retired_cascade") == sorted(
        [*CASCADE, TAG_RECEIVED]
    )
    # the approvals of a product decommission, for every product: its owners and platform
    approvers = {(a["approver"], a["product"]) for a in doc["required_approvals"]}
    for product in ("marketing.campaigns", "marketing.attribution"):
        assert ("@acme/growth-analytics", product) in approvers
        assert ("platform", product) in approvers
    approvals = tmp_path / "approvals.json"
    approvals.write_text(json.dumps({"approved_by": ["@acme/growth-analytics"]}))
    assert mesh("diff", base, head, "--approvals", approvals)[0] == 1  # platform missing
    approvals.write_text(
        json.dumps({"approved_by": ["@acme/growth-analytics", "@acme/data-platform"]})
    )
    assert mesh("diff", base, head, "--approvals", approvals)[0] == 0
    # the PR comment lists the cascade
    code, md, _ = mesh("diff", base, head, "--format", "markdown")
    flowing = " ".join(md.replace("\n>", "\n").split())  # its lines wrap
    for line in CASCADE:
        assert line in flowing
    # the tag grant's item, its brackets escaped (blueprint text: never Markdown)
    assert (
        f"<code>{head}/_mesh.yaml:14</code> domain_retired_cascade: sales.returns: "
        r"marketing:consumer loses access by LF-tag expression {classification: \[internal\], "
        r"sensitivity: \[low\]} to sales.returns on 2027-01-31 (the tag grant _mesh.yaml "
        r"tag_grants\[0\] ends)"
    ) in flowing


def test_too_little_notice_is_refused(tmp_path):
    base = copy(tmp_path / "base")
    head = retire(
        copy(tmp_path / "head"),
        'account: "444455556666"\ndecommission: {date: 2026-12-01, reason: now, data: retain}\n',
    )
    code, out, _ = mesh("validate", head, "--base", base, "--format", "json")
    errors = json.loads(out)["errors"]
    assert code == 1 and [(e["code"], e["path"]) for e in errors] == [("E052", "decommission.date")]
    assert "the earliest date is 2026-12-25" in errors[0]["message"]


def _plan(tree: Path, today: dt.date, **settings):
    mesh_ = load_mesh(tree, today=today).mesh
    return run_program(mesh_, StackSettings(**settings), today)


def test_on_the_date_every_grant_ends_and_the_roles_go(tmp_path):
    head = retire(copy(tmp_path / "head"))
    before = _plan(head, TODAY)
    after = _plan(head, AFTER, allow_data_deletion=True)
    roles = lambda g: {r.inputs["name"] for r in g.by_type("aws:iam/role:Role")}
    grants = lambda g: {r.name for r in g.by_type("mesh:index:Grant")}
    assert {"mesh-marketing-producer", "mesh-marketing-consumer"} <= roles(before)
    assert roles(before) - roles(after) == {"mesh-marketing-producer", "mesh-marketing-consumer"}
    gone = grants(before) - grants(after)
    assert {g for g in gone if "marketing" in g} == {
        "marketing.campaigns@finance", "marketing.campaigns@analytics",
        "marketing.attribution@analytics", "sales.orders@marketing",
        "finance.revenue_daily@marketing",
    }  # fmt: skip
    assert not any("marketing" in g for g in grants(after))
    # no policy or permission names a marketing role any more
    text = json.dumps([r.inputs for r in after.resources])
    assert "mesh-marketing-producer" not in text and "mesh-marketing-consumer" not in text
    # its storage stays, deletable now that both switches say so (else protected)
    bucket = after.get("aws:s3/bucket:Bucket", "marketing.campaigns-bucket")
    assert bucket.protect is False
    kept = _plan(head, AFTER).get("aws:s3/bucket:Bucket", "marketing.campaigns-bucket")
    assert kept.protect is True
    # a per-domain stack of a producer knows it too, without loading marketing's blueprint
    sales = load_mesh(head, today=AFTER, only="sales").mesh
    graph = run_program(sales, StackSettings(scope="sales"), AFTER)
    assert "sales.orders@marketing" not in {r.name for r in graph.by_type("mesh:index:Grant")}
    assert "sales.orders@finance" in {r.name for r in graph.by_type("mesh:index:Grant")}


def test_pr_two_removes_the_blueprint_after_the_date(tmp_path):
    base = retire(copy(tmp_path / "base"))  # PR one, merged
    head = copy(tmp_path / "head")
    retire(head)
    (head / "marketing.yaml").unlink()
    drop_grants_to_marketing(head)
    # before the date: refused
    code, out, _ = mesh(
        "validate", head, "--base", base, "--format", "json", today=dt.date(2027, 1, 15)
    )
    assert code == 1
    assert [(e["code"], e["path"]) for e in json.loads(out)["errors"]] == [
        ("E080", "decommission.date")
    ]
    # after it: allowed, with the warning that the data goes where the stack allows it
    code, out, _err = mesh("validate", head, "--base", base, "--format", "json", today=AFTER)
    doc = json.loads(out)
    assert code == 0, doc["errors"]
    assert [(w["code"], w["path"]) for w in doc["warnings"] if w["code"] == "W030"] == [
        ("W030", "decommission.data")
    ]
    code, out, _ = mesh("diff", base, head, "--format", "json", today=AFTER)
    assert json.loads(out)["removed_access"] == []  # it all ended on the date, in PR one's tree


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (
            'account: "444455556666"\ndecommission: {date: 2027-01-31, reason: r, data: retain}\n',
            "E081",
        ),
        ('account: "444455556666"\n', "E043"),
    ],
)
def test_a_retained_or_undeclared_domain_stays(tmp_path, line, code):
    base = retire(copy(tmp_path / "base"), line)
    head = copy(tmp_path / "head")
    (head / "marketing.yaml").unlink()
    drop_grants_to_marketing(head)
    done, out, _ = mesh("validate", head, "--base", base, "--format", "json", today=AFTER)
    assert done == 1
    assert [e["code"] for e in json.loads(out)["errors"]] == [code]


# ------------------------------------------------------------------ grants by LF-tag expression


def cascade(base: Path, head: Path, fmt: str = "json"):
    code, out, err = mesh("diff", base, head, "--format", fmt)
    assert code == 3, err
    if fmt != "json":
        return out
    doc = json.loads(out)
    items = [r for r in doc["review_required"] if r["change"] == "domain_retired_cascade"]
    return items, doc["required_approvals"]


def edit(trees: list[Path], name: str, old: str, new: str) -> None:
    for tree in trees:
        path = tree / name
        assert old in path.read_text(), (name, old)
        path.write_text(path.read_text().replace(old, new, 1))


def by_tags(items: list[dict]) -> list[dict]:
    return [i for i in items if "by LF-tag expression" in i["reason"]]


def test_a_retiring_domain_loses_what_its_tag_grants_reach(tmp_path):
    base, head = copy(tmp_path / "base"), retire(copy(tmp_path / "head"))
    items, approvals = cascade(base, head)
    assert by_tags(items) == [
        {
            "domain": "marketing",
            "product": "sales.returns",
            "change": "domain_retired_cascade",
            "reason": TAG_RECEIVED,
            "file": str(head / "_mesh.yaml"),  # where the grant is declared
            "line": 14,
        }
    ]
    # the approvals of every cascade item: the retiring domain's owners and platform
    assert [
        (a["approver"], a["domain"], a["principal"])
        for a in approvals
        if a["product"] == "sales.returns"
    ] == [("@acme/growth-analytics", "marketing", None), ("platform", "marketing", None)]
    text = cascade(base, head, "text")
    assert (
        f"  ? {head}/_mesh.yaml:14: domain_retired_cascade sales.returns -- {TAG_RECEIVED}\n"
        in (text)
    )


FINANCE_TAG_GRANT = (
    "  - domain: finance\n"
    "    lf_tags: {classification: [internal]}\n"
    "    justification: every internal product, for the cost model\n"
    "    expires: 2027-06-30\n"
    "    approved_by: platform\n"
)


def test_a_tag_grant_of_another_domain_on_the_retiring_tables_ends(tmp_path):
    base, head = copy(tmp_path / "base"), copy(tmp_path / "head")
    for tree in (base, head):  # a second mesh-wide grant, merged before: _mesh.yaml line 19
        platform = tree / "_mesh.yaml"
        platform.write_text(platform.read_text() + FINANCE_TAG_GRANT)
    retire(head)
    items, _ = cascade(base, head)
    assert [
        (i["reason"], Path(i["file"]).name, i["line"], i["product"]) for i in by_tags(items)
    ] == [
        (TAG_RECEIVED, "_mesh.yaml", 14, "sales.returns"),
        (
            (
                "finance:consumer loses access by LF-tag expression {classification: [internal]} "
                "to marketing.campaigns on 2027-01-31"
            ),  # not marketing.attribution: confidential
            "_mesh.yaml",
            19,
            "marketing.campaigns",
        ),
    ]
    assert {i["domain"] for i in items} == {"marketing"}


def test_the_tag_grant_a_retiring_domain_gives_over_its_own_tables_ends(tmp_path):
    base, head = copy(tmp_path / "base"), copy(tmp_path / "head")
    edit(
        [head],
        "logistics.yaml",
        "cost_center: CC-4100\n",
        "cost_center: CC-4100\ndecommission: {date: 2027-01-31, reason: outsourced, data: retain}\n",
    )
    items, _ = cascade(base, head)
    assert by_tags(items) == [
        {
            "domain": "logistics",
            "product": "logistics.stock_levels",  # logistics.shipments is confidential
            "change": "domain_retired_cascade",
            "reason": (
                "analytics:consumer loses access by LF-tag expression {classification: "
                "[internal], domain: [logistics]} to logistics.stock_levels on 2027-01-31"
            ),
            "file": str(head / "logistics.yaml"),
            "line": 50,  # logistics.yaml tag_grants[0]
        }
    ]


@pytest.mark.parametrize(
    ("name", "old", "new", "ends"),
    [
        # the grant's last day of access: the day before the retirement (no item), or the day
        ("_mesh.yaml", "expires: 2027-04-30\n", "expires: 2027-01-30\n", False),
        ("_mesh.yaml", "expires: 2027-04-30\n", "expires: 2027-01-31\n", True),
        # the product it reaches is decommissioned before the date, or on it: its own item
        (
            "sales.yaml",
            "  - name: returns\n",
            "  - name: returns\n    decommission: {date: 2027-01-20, reason: r, data: retain}\n",
            False,
        ),
        (
            "sales.yaml",
            "  - name: returns\n",
            "  - name: returns\n    decommission: {date: 2027-01-31, reason: r, data: retain}\n",
            False,
        ),
        (
            "sales.yaml",
            "  - name: returns\n",
            "  - name: returns\n    decommission: {date: 2027-02-01, reason: r, data: retain}\n",
            True,
        ),
    ],
)
def test_a_tag_grant_that_ends_before_the_date_does_not_cascade(tmp_path, name, old, new, ends):
    base, head = copy(tmp_path / "base"), copy(tmp_path / "head")
    edit([base, head], name, old, new)  # merged before the retirement
    retire(head)
    items, _ = cascade(base, head)
    assert [i["reason"] for i in by_tags(items)] == ([TAG_RECEIVED] if ends else [])


def without_tags(tree: Path) -> Path:
    """The sample with tag-based access off: no ontology, no LF-tag, no tag grant."""
    platform = tree / "_mesh.yaml"
    platform.write_text(platform.read_text().split("lf_tags:")[0])
    sales = tree / "sales.yaml"
    text = sales.read_text().replace(", lf_tags: {sensitivity: high}", "")
    sales.write_text(
        "".join(
            line
            for line in text.splitlines(keepends=True)
            if not line.lstrip().startswith(("lf_tags:", "lf_tags_approved_by:"))
        )
    )
    logistics = tree / "logistics.yaml"
    logistics.write_text(logistics.read_text().split("tag_grants:")[0])
    return tree


def test_without_tags_the_cascade_is_the_named_grants(tmp_path):
    base = without_tags(copy(tmp_path / "base"))
    head = retire(without_tags(copy(tmp_path / "head")))
    code, out, _ = mesh("validate", head, "--format", "json")
    assert code == 0, out
    assert "lf_tags" not in "".join(p.read_text() for p in head.iterdir())
    items, _ = cascade(base, head)
    assert sorted(i["reason"] for i in items) == CASCADE
    assert {(Path(i["file"]).name, i["line"]) for i in items} == {("marketing.yaml", 6)}


def test_a_domain_retired_earlier_has_no_grant_left_to_end(tmp_path):
    # finance retires two weeks before marketing (merged before): its grants ended with it
    base, head = copy(tmp_path / "base"), copy(tmp_path / "head")
    finance = "decommission: {date: 2027-01-15, reason: finance moves to the ERP, data: retain}\n"
    edit([base, head], "finance.yaml", "exceptions: []\n", f"exceptions: []\n{finance}")
    retire(head)
    items, _ = cascade(base, head)
    assert sorted(i["reason"] for i in items if "by LF-tag" not in i["reason"]) == [
        "analytics:consumer loses access to marketing.attribution on 2027-01-31",
        "analytics:consumer loses access to marketing.campaigns on 2027-01-31",
        (
            "marketing:consumer loses access to sales.orders on 2027-01-31 (the grant in sales's "
            "blueprint ends)"
        ),
    ]
