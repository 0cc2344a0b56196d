"""Retiring a domain in two pull requests: a domain-level `decommission:` (with notice, E052)
ends every grant the domain gives and receives on its date and removes its roles, the PR check
shows the cascade (each consumer that loses access) and requires, for every product, the
approvals a product decommission requires; after the date a second PR removes the blueprint
(W030 with data: delete; E080 before the date, E081 with data: retain, E043 without any)."""

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
    assert sorted(i[2] for i in items if i[0] == "domain_retired_cascade") == CASCADE
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
