"""The bypasses a security review found, each reproduced through the CLI as a pull request would
attempt it: the PR check (`mesh diff BASE HEAD --validate`) must block it (exit 1) or ask for a
reviewer (exit 3), with the code and line that say why. Each of these passed (exit 0) before.

BASE is a small mesh written by the tests (shop produces, bi/crm/audit consume); HEAD is BASE
with the attack applied.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from conftest import TODAY
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from infra.cli import app

runner = CliRunner()


def _consumer_domain(name: str) -> dict:
    return {
        "domain": name,
        "description": f"The {name} domain, a consumer",
        "owner": {"team": f"{name}-team", "email": f"{name}@example.com"},
        "cost_center": "CC-2000",
        "products": [],
    }


def base_mesh() -> dict[str, dict]:
    shop = {
        "domain": "shop",
        "description": "Orders of the web shop",
        "owner": {"team": "shop-data", "email": "shop-data@example.com"},
        "cost_center": "CC-1001",
        "products": [
            {
                "name": "orders",
                "description": "One row per order line",
                "classification": "internal",
                "format": "parquet",
                "retention_days": 365,
                "schema": [
                    {"name": "order_id", "type": "string"},
                    {"name": "email", "type": "string", "pii": True},
                    {"name": "name", "type": "string"},
                    {"name": "amount", "type": "decimal(12,2)"},
                ],
                "partition_keys": [{"name": "dt", "type": "string"}],
                "consumers": [
                    {
                        "domain": "bi",
                        "columns": ["order_id", "name"],
                        "justification": "revenue dashboards",
                    },
                    {"domain": "crm", "justification": "campaign attribution"},
                ],
            },
            {
                "name": "payroll",
                "description": "Monthly payroll per employee",
                "classification": "restricted",
                "format": "parquet",
                "retention_days": 3650,
                "freshness_slo_hours": 720,
                "schema": [{"name": "employee", "type": "string"}],
                "consumers": [],
            },
        ],
    }
    return {"shop": shop, **{d: _consumer_domain(d) for d in ("bi", "crm", "audit")}}


def write(directory: Path, bps: dict[str, dict]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, bp in bps.items():
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(bp, sort_keys=False))
    return directory


def pr_check(tmp_path: Path, attack, fmt: str = "json", base=None):
    base_bps = base or base_mesh()
    head_bps = copy.deepcopy(base_bps)
    attack(head_bps)
    b, h = write(tmp_path / "base", base_bps), write(tmp_path / "head", head_bps)
    run = runner.invoke(
        app, ["diff", str(b), str(h), "--validate", "--format", fmt], env={"MESH_TODAY": str(TODAY)}
    )
    assert "Traceback" not in run.output
    return run, h


def orders(bps: dict) -> dict:
    return bps["shop"]["products"][0]


def located(doc: dict, key: str = "errors") -> list[tuple]:
    return [(e["code"], Path(e["file"]).name, e["path"]) for e in doc[key]]


# ------------------------------------------------------------------ column-rename laundering


def test_a_fake_column_rename_cannot_launder_pii(tmp_path):
    """bi reads `name`; the PR unmarks `email` and claims it was renamed from `name`, which is
    still a column: the old diff mapped bi's grant through the rename and saw nothing, while
    bi now read email."""

    def attack(bps):
        schema = orders(bps)["schema"]
        schema[1] = {"name": "email", "type": "string", "previous_names": ["name"]}
        orders(bps)["consumers"][0]["columns"] = ["order_id", "email"]

    run, _ = pr_check(tmp_path, attack)
    doc = json.loads(run.stdout)
    assert run.exit_code == 1
    # `name` is still a column (E050), and it existed before this change (E051)
    assert located(doc) == [
        ("E050", "shop.yaml", "products[0].schema[1].previous_names[0]"),
        ("E051", "shop.yaml", "products[0].schema[1].previous_names[0]"),
    ]


def test_a_rename_whose_new_name_existed_before_is_refused(tmp_path):
    """`amount` disappears and `name` claims to be it: but `name` existed in BASE."""

    def attack(bps):
        schema = orders(bps)["schema"]
        del schema[3]
        schema[2]["previous_names"] = ["amount"]

    run, _ = pr_check(tmp_path, attack)
    doc = json.loads(run.stdout)
    assert run.exit_code == 1
    assert located(doc) == [("E051", "shop.yaml", "products[0].schema[2].previous_names[0]")]


def test_a_product_rename_to_an_existing_product_is_refused(tmp_path):
    def attack(bps):
        bps["shop"]["products"][1]["previous_names"] = ["orders"]

    run, _ = pr_check(tmp_path, attack)
    doc = json.loads(run.stdout)
    assert run.exit_code == 1
    assert ("E050", "shop.yaml", "products[1].previous_names[0]") in located(doc)


# ------------------------------------------------------------------ PII in partition keys


def test_a_pii_partition_key_is_refused(tmp_path):
    def attack(bps):
        orders(bps)["partition_keys"].append({"name": "customer", "type": "string", "pii": True})

    run, _ = pr_check(tmp_path, attack)
    doc = json.loads(run.stdout)
    assert run.exit_code == 1
    assert located(doc) == [("E046", "shop.yaml", "products[0].partition_keys[1].pii")]


def test_a_new_partition_key_is_new_access_for_every_reader(tmp_path):
    def attack(bps):
        orders(bps)["partition_keys"].append({"name": "region", "type": "string"})

    run, _ = pr_check(tmp_path, attack)
    doc = json.loads(run.stdout)
    assert run.exit_code == 3
    assert sorted((g["principal"], g["reasons"][0]) for g in doc["new_access"]) == [
        ("bi:consumer", "more_partition_keys"),
        ("crm:consumer", "more_partition_keys"),
    ]


# ------------------------------------------------------------------ changes that need review


REVIEWED = {
    "classification_downgraded": lambda bps: orders(bps).update(classification="public"),
    "pii_removed": lambda bps: orders(bps)["schema"][1].pop("pii"),
    "retention_shortened": lambda bps: orders(bps).update(retention_days=30),
    "decommission_added": lambda bps: orders(bps).update(
        decommission={"date": str(TODAY + dt.timedelta(days=60)), "reason": "replaced"}
    ),
    "data_deletion_allowed": lambda bps: orders(bps).update(
        decommission={
            "date": str(TODAY + dt.timedelta(days=60)),
            "reason": "replaced",
            "data": "delete",
        }
    ),
    "owner_changed": lambda bps: bps["shop"]["owner"].update(team="other-team"),
    "exception_added": lambda bps: bps["shop"].update(
        exceptions=[
            {
                "policy": "GOV-007",
                "product": "orders",
                "justification": "no SLO while the feed is rebuilt",
                "expires": str(TODAY + dt.timedelta(days=30)),
            }
        ]
    ),
    "domain_policy_loosened": lambda bps: bps["shop"].update(policies={"max_grant_days": 365}),
}


@pytest.mark.parametrize("change", sorted(REVIEWED))
def test_a_change_that_needs_review_is_not_a_clean_exit(tmp_path, change):
    base = base_mesh()
    if change == "domain_policy_loosened":
        base["shop"]["policies"] = {"max_grant_days": 200}
    run, _ = pr_check(tmp_path, REVIEWED[change], base=base)
    doc = json.loads(run.stdout)
    assert run.exit_code == 3, run.output
    items = [(r["change"], r["domain"], Path(r["file"]).name) for r in doc["review_required"]]
    assert (change, "shop", "shop.yaml") in items
    assert all(isinstance(r["line"], int) for r in doc["review_required"])
    md, _ = pr_check(tmp_path / "md", REVIEWED[change], "markdown", base=base)
    assert md.exit_code == 3 and "change(s) need review" in md.stdout and change in md.stdout


def test_an_exception_renewed_needs_review(tmp_path):
    base = base_mesh()
    exception = {
        "policy": "GOV-007",
        "product": "orders",
        "justification": "no SLO while the feed is rebuilt",
        "expires": str(TODAY + dt.timedelta(days=10)),
    }
    base["shop"]["exceptions"] = [exception]

    def renew(bps):
        bps["shop"]["exceptions"][0]["expires"] = str(TODAY + dt.timedelta(days=90))

    run, _ = pr_check(tmp_path, renew, base=base)
    doc = json.loads(run.stdout)
    assert run.exit_code == 3
    assert [r["change"] for r in doc["review_required"]] == ["exception_renewed"]


# ------------------------------------------------------------------ decommission needs notice


def test_a_decommission_without_notice_is_refused(tmp_path):
    def attack(bps):
        orders(bps)["decommission"] = {"date": str(TODAY + dt.timedelta(days=3)), "reason": "now"}

    run, _ = pr_check(tmp_path, attack)
    doc = json.loads(run.stdout)
    assert run.exit_code == 1
    assert located(doc) == [("E052", "shop.yaml", "products[0].decommission.date")]
    assert "at least 30 days of notice" in doc["errors"][0]["message"]


# ------------------------------------------------------------------ retention below the floor


def test_an_exception_must_name_a_retention_below_the_floor(tmp_path):
    def attack(bps):
        orders(bps)["retention_days"] = 7  # internal data: floor 30
        bps["shop"]["exceptions"] = [
            {
                "policy": "GOV-006",
                "product": "orders",
                "justification": "clean up quickly",
                "expires": str(TODAY + dt.timedelta(days=30)),
            }
        ]

    run, _ = pr_check(tmp_path, attack)
    doc = json.loads(run.stdout)
    assert run.exit_code == 1
    assert ("GOV-006", "shop.yaml", "products[0].retention_days") in located(doc)

    def named(bps):
        attack(bps)
        bps["shop"]["exceptions"][0]["retention_days"] = 7

    run, _ = pr_check(tmp_path / "named", named)
    doc = json.loads(run.stdout)
    assert run.exit_code == 3  # waived, and still a shortened retention to review
    assert {r["change"] for r in doc["review_required"]} == {
        "retention_shortened",
        "exception_added",
    }


# ------------------------------------------------------------------ expiry without blocking


def lapsed_base() -> dict:
    """shop shares its restricted payroll with audit under an exception that expired
    yesterday: the grant is revoked, and nothing else is blocked."""
    base = base_mesh()
    payroll = base["shop"]["products"][1]
    payroll["consumers"] = [
        {
            "domain": "audit",
            "justification": "year-end audit",
            "expires": str(TODAY + dt.timedelta(days=100)),
        }
    ]
    base["shop"]["exceptions"] = [
        {
            "policy": "GOV-004",
            "product": "payroll",
            "justification": "year-end audit",
            "expires": str(TODAY - dt.timedelta(days=1)),
        }
    ]
    return base


def test_an_expired_exception_does_not_block_other_domains_prs(tmp_path):
    def other_domain(bps):
        bps["bi"]["description"] = "The bi domain, dashboards for everyone"

    run, _ = pr_check(tmp_path, other_domain, base=lapsed_base())
    doc = json.loads(run.stdout)
    assert run.exit_code == 0, run.output
    assert doc["errors"] == []
    assert ("GOV-004", "shop.yaml", "products[1].consumers[0].domain") in located(doc, "warnings")


def test_an_expired_exception_still_blocks_its_own_domains_prs(tmp_path):
    def same_domain(bps):
        bps["shop"]["description"] = "Orders of the web shop, EU"

    run, _ = pr_check(tmp_path, same_domain, base=lapsed_base())
    doc = json.loads(run.stdout)
    assert run.exit_code == 1
    assert located(doc) == [("GOV-004", "shop.yaml", "products[1].consumers[0].domain")]


def test_plan_revokes_the_grant_an_expired_exception_allowed(tmp_path):
    directory = write(tmp_path / "mesh", lapsed_base())
    run = runner.invoke(
        app, ["plan", str(directory), "--format", "json"], env={"MESH_TODAY": str(TODAY)}
    )
    assert run.exit_code == 0, run.output
    grants = {
        r["name"] for r in json.loads(run.stdout)["resources"] if r["type"] == "mesh:index:Grant"
    }
    assert "shop.payroll@audit" not in grants
    assert grants == {"shop.orders@bi", "shop.orders@crm"}


# ------------------------------------------------------------------ injection into the comment


HOSTILE = (
    "audit <!-- the rest of this comment is hidden --> | fake | cells |\n"
    "::error file=shop.yaml::forged annotation `code` @acme/everyone \u202egnp.exe"
)


def injected(bps):
    orders(bps)["consumers"].append({"domain": "audit", "justification": "quarterly audit"})
    bps["shop"]["exceptions"] = [
        {
            "policy": "GOV-007",
            "product": "orders",
            "justification": HOSTILE,
            "expires": str(TODAY + dt.timedelta(days=30)),
        }
    ]


def test_blueprint_text_cannot_hide_the_new_access_table(tmp_path):
    run, _ = pr_check(tmp_path, injected, "markdown")
    assert run.exit_code == 3
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(run.stdout)
    assert "<!--" not in html and "\u202e" not in html
    assert "<table>" in html
    table = html.split("<table>")[1].split("</table>")[0]
    assert "<code>audit:consumer</code>" in table and "<code>shop.orders</code>" in table
    assert table.count("<tr>") == 2  # the header and the one new grant: no forged row
    assert "@acme" not in html.replace("@\u200bacme", "")  # no mention pings anyone


def test_blueprint_text_cannot_forge_a_log_line_or_an_annotation(tmp_path):
    head = write(tmp_path / "head", base_mesh())
    bps = base_mesh()
    injected(bps)
    write(head, bps)
    doc = json.loads(
        runner.invoke(
            app, ["validate", str(head), "--format", "json"], env={"MESH_TODAY": str(TODAY)}
        ).stdout
    )
    problems = len(doc["errors"]) + len(doc["warnings"])
    for fmt in ("text", "github"):
        run = runner.invoke(
            app, ["validate", str(head), "--format", fmt], env={"MESH_TODAY": str(TODAY)}
        )
        lines = run.stdout.splitlines()
        if fmt == "github":  # exactly one annotation per problem: nothing starts a second one
            assert len(lines) == problems and problems >= 1
            assert all(line.startswith(("::warning file=", "::error file=")) for line in lines)
        else:  # one line per problem and the verdict: no forged workflow command
            assert len(lines) == problems + 1
            assert not any(line.startswith("::") for line in lines)
        assert "\u202e" not in run.stdout


# ------------------------------------------------------------------ Lake Formation ordering


def test_the_catalog_is_created_after_the_lake_formation_settings(tmp_path):
    directory = write(tmp_path / "mesh", base_mesh())
    run = runner.invoke(
        app, ["plan", str(directory), "--format", "json"], env={"MESH_TODAY": str(TODAY)}
    )
    by_name = {r["name"]: r for r in json.loads(run.stdout)["resources"]}
    for name, r in by_name.items():
        if r["type"] == "aws:glue/catalogDatabase:CatalogDatabase":
            assert "platform-lake-settings" in r["depends_on"], name


# ------------------------------------------------------------------ names across prefixes


def test_two_stacks_of_the_project_cannot_share_a_bucket(tmp_path):
    """Prefix `mesh-dev` + domain `sales` and prefix `mesh` + domain `dev_sales` give the same
    bucket and database: refused where the second stack's blueprint names it."""
    project = tmp_path / "project"
    (project / "blueprints").mkdir(parents=True)
    for stack, prefix in (("dev", "mesh-dev"), ("prod", "mesh")):
        (project / f"Pulumi.{stack}.yaml").write_text(f"config:\n  mesh:prefix: {prefix}\n")
    bps = base_mesh()
    sales = copy.deepcopy(bps["shop"])
    sales["domain"] = "sales"
    dev_sales = copy.deepcopy(bps["shop"])
    dev_sales["domain"] = "dev_sales"
    write(project / "blueprints", {"sales": sales, "dev_sales": dev_sales, "bi": bps["bi"],
                                   "crm": bps["crm"], "audit": bps["audit"]})  # fmt: skip
    run = runner.invoke(
        app, ["validate", str(project / "blueprints"), "--format", "json"],
        env={"MESH_TODAY": str(TODAY)},
    )  # fmt: skip
    doc = json.loads(run.stdout)
    assert run.exit_code == 1
    assert sorted(located(doc)) == [
        ("E049", "sales.yaml", "domain"),
        ("E049", "sales.yaml", "products[0].name"),
        ("E049", "sales.yaml", "products[1].name"),
    ]


# ------------------------------------------------------------------ what AWS would refuse


REFUSED = {
    "aws-tag-key": (
        lambda bps: orders(bps).update(tags={"aws:cloudformation:stack": "x"}),
        ("E048", "shop.yaml", "products[0].tags.aws:cloudformation:stack"),
    ),
    "long-tag-value": (
        lambda bps: orders(bps).update(tags={"team": "x" * 257}),
        ("E048", "shop.yaml", "products[0].tags.team"),
    ),
    "too-many-tags": (
        lambda bps: orders(bps).update(tags={f"t{i}": "x" for i in range(46)}),
        ("E048", "shop.yaml", "products[0].tags"),
    ),
    "long-column-comment": (
        lambda bps: orders(bps)["schema"][0].update(description="c" * 256),
        ("E048", "shop.yaml", "products[0].schema[0].description"),
    ),
    "empty-column-list": (
        lambda bps: orders(bps)["consumers"][0].update(columns=[]),
        ("E012", "shop.yaml", "products[0].consumers[0].columns"),
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_aws_would_refuse_is_refused_at_validate(tmp_path, case):
    attack, expected = REFUSED[case]
    run, _ = pr_check(tmp_path, attack)
    doc = json.loads(run.stdout)
    assert run.exit_code == 1
    assert expected in located(doc), located(doc)


def test_a_domain_named_all_is_refused(tmp_path):
    bps = base_mesh()
    bps["all"] = _consumer_domain("all")
    run = runner.invoke(
        app, ["validate", str(write(tmp_path / "m", bps)), "--format", "json"],
        env={"MESH_TODAY": str(TODAY)},
    )  # fmt: skip
    assert run.exit_code == 1
    assert ("E047", "all.yaml", "domain") in located(json.loads(run.stdout))


# ------------------------------------------------------------------ least privilege, audited


def test_the_audit_shows_the_tightened_documents(tmp_path):
    directory = write(tmp_path / "mesh", base_mesh())
    out = tmp_path / "out"
    run = runner.invoke(
        app, ["audit", str(directory), "--out", str(out)], env={"MESH_TODAY": str(TODAY)}
    )
    assert run.exit_code == 0, run.output
    lf = json.loads(next((out / "policies").glob("shop*lf-access.json")).read_text())
    [trust] = [d["document"] for d in lf["documents"] if d["kind"] == "trust"]
    [statement] = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"]["ArnLike"] == {
        "aws:SourceArn": "arn:aws:lakeformation:eu-west-1:123456789012:*"
    }
    documents = [d["document"] for p in (out / "policies").glob("*.json") if p.name != "index.json"
                 for d in json.loads(p.read_text())["documents"]]  # fmt: skip
    actions = {a for d in documents for s in d["Statement"]
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}  # fmt: skip
    assert "kms:Encrypt" not in actions and "sts:SetSourceIdentity" not in actions
