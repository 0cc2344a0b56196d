"""`mesh new domain` and `mesh new product`: prompts or options, blueprints in the sample's
style that validate, nothing overwritten, nothing written when the result would not validate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import SAMPLE, TODAY
from typer.testing import CliRunner

from infra.cli import app

CRM = """\
domain: crm
description: Customer relationships and support tickets
owner: {team: crm-data, email: crm-data@example.com, github: "@acme/crm-data"}
cost_center: CC-5000
products: []
policies: {}
exceptions: []
"""
CRM_FLAGS = (
    "--description",
    "Customer relationships and support tickets",
    "--email",
    "crm-data@example.com",
    "--cost-center",
    "CC-5000",
)


def _run(*args, input: str | None = None) -> tuple[int, str, str]:
    done = CliRunner().invoke(
        app, [str(a) for a in args], input=input, env={"MESH_TODAY": TODAY.isoformat()}
    )
    return done.exit_code, done.stdout, done.stderr


def _tree(tmp_path: Path) -> Path:
    tree = tmp_path / "blueprints"
    shutil.copytree(SAMPLE, tree)
    return tree


def _valid(tree: Path) -> bool:
    code, out, _ = _run("validate", tree, "--format", "json")
    return code == 0 and json.loads(out)["ok"]


def test_a_new_domain_from_options(tmp_path):
    tree = _tree(tmp_path)
    code, out, err = _run("new", "domain", "crm", tree, *CRM_FLAGS, "--no-input")
    assert (code, err) == (0, "")
    assert out == (
        f"created {tree / 'crm.yaml'} (it validates); its owners review it once CODEOWNERS is "
        f"regenerated (mesh codeowners {tree})\n"
    )
    # team NAME-data, GitHub handle in the platform team's organisation: the defaults
    assert (tree / "crm.yaml").read_text() == CRM
    assert _valid(tree)


def test_a_new_domain_asks_for_what_the_options_leave_out(tmp_path):
    tree = _tree(tmp_path)
    answers = "Tickets of the support desk\n\nsupport@example.com\n@acme/helpdesk\nCC-5001\n111122223333\n"
    code, out, _ = _run("new", "domain", "support", tree, input=answers)
    assert code == 0, out
    assert "Owning team [support-data]: " in out
    assert "(@org/team; it approves the domain's grants) [@acme/support-data]: " in out
    assert (tree / "support.yaml").read_text() == (
        "domain: support\n"
        "description: Tickets of the support desk\n"
        'owner: {team: support-data, email: support@example.com, github: "@acme/helpdesk"}\n'
        "cost_center: CC-5001\n"
        'account: "111122223333"\n'
        "products: []\npolicies: {}\nexceptions: []\n"
    )
    assert _valid(tree)


def test_a_bad_answer_is_asked_again_and_the_others_are_kept(tmp_path):
    """One wrong value (the e-mail address, then the account) is asked again, alone: every
    other answer stays as given."""
    tree = _tree(tmp_path)
    answers = (
        "Tickets of the support desk\n\nnot-an-address\n\nCC-5001\n12\n"  # two bad
        "support@example.com\n111122223333\n"  # the two, again
    )
    code, out, err = _run("new", "domain", "support", tree, input=answers)
    assert code == 0, out + err
    assert "error E013 owner.email: 'not-an-address' is not valid" in err
    assert "error E013 account: '12' is not valid" in err
    assert out.count("The team's e-mail address: ") == 2
    assert out.count("AWS account (blank: the stack's): ") == 2
    assert out.count("Description (what the domain is about): ") == 1
    assert out.count("Cost center (e.g. CC-1001): ") == 1
    assert (tree / "support.yaml").read_text() == (
        "domain: support\n"
        "description: Tickets of the support desk\n"
        'owner: {team: support-data, email: support@example.com, github: "@acme/support-data"}\n'
        "cost_center: CC-5001\n"
        'account: "111122223333"\n'
        "products: []\npolicies: {}\nexceptions: []\n"
    )
    # with --no-input nothing is asked: the error and exit 1, as before
    code, _, err = _run("new", "domain", "desk", tree, *CRM_FLAGS, "--email", "x", "--no-input")
    assert code == 1 and not (tree / "desk.yaml").exists()


def test_text_that_yaml_would_misread_is_quoted(tmp_path):
    tree = _tree(tmp_path)
    flags = dict(zip(CRM_FLAGS[::2], CRM_FLAGS[1::2], strict=True))
    flags["--description"] = "yes: #1 - the 'CRM' & more"
    args = [x for kv in flags.items() for x in kv]
    assert _run("new", "domain", "crm", tree, *args, "--no-input")[0] == 0
    assert "description: \"yes: #1 - the 'CRM' & more\"\n" in (tree / "crm.yaml").read_text()
    assert _valid(tree)


def test_nothing_is_overwritten(tmp_path):
    tree = _tree(tmp_path)
    before = (tree / "sales.yaml").read_text()
    code, _, err = _run("new", "domain", "sales", tree, *CRM_FLAGS, "--no-input")
    assert code == 1 and "sales.yaml exists: not overwritten" in err
    # asked before any question: nobody answers in vain
    code, out, err = _run("new", "domain", "sales", tree, input="x\n")
    assert code == 1 and out == ""
    code, _, err = _run("new", "product", "sales", "orders", tree, "--no-input")
    assert code == 1 and "sales.orders exists in" in err
    assert (tree / "sales.yaml").read_text() == before


def test_no_input_names_every_missing_option(tmp_path):
    tree = _tree(tmp_path)
    code, _, err = _run("new", "domain", "crm", tree, "--email", "a@b.example", "--no-input")
    assert code == 2
    assert err.strip() == "error: --no-input: missing --description, --cost-center"
    code, _, err = _run("new", "domain", "crm", tree, input="")  # stdin closed: no answer
    assert code == 2 and "no answer for --description" in err
    code, _, err = _run("new", "domain", "../crm", tree, *CRM_FLAGS, "--no-input")
    assert code == 2 and "domain '../crm': expected a lower-case letter" in err
    assert sorted(p.name for p in tree.iterdir()) == sorted(p.name for p in SAMPLE.iterdir())


def test_what_would_not_validate_is_not_written(tmp_path):
    tree = _tree(tmp_path)
    code, _, err = _run(
        "new", "domain", "crm", tree, *CRM_FLAGS[:3], "not-an-address", *CRM_FLAGS[4:], "--no-input"
    )
    assert code == 1
    assert f"{tree / 'crm.yaml'}:3: error E013 owner.email: 'not-an-address' is not valid" in err
    assert err.splitlines()[-1] == (
        "error: crm.yaml would not validate (1 error(s)): nothing is written"
    )
    assert not (tree / "crm.yaml").exists()


def test_a_new_product_from_options(tmp_path):
    tree = _tree(tmp_path)
    before = (tree / "sales.yaml").read_text()
    code, out, err = _run(
        "new", "product", "sales", "refunds", tree,
        "--description", "One row per refund",
        "--classification", "confidential",
        "--freshness-slo-hours", "24",
        "--column", "refund_id:string",
        "--column", "customer_email:string:pii",
        "--column", "amount:decimal(12,2)",
        "--partition-key", "dt:string",
        "--no-input",
    )  # fmt: skip
    assert (code, err) == (0, ""), out
    after = (tree / "sales.yaml").read_text()
    products_end = before.index("policies:")
    assert (
        after
        == before[:products_end]
        + (
            "  - name: refunds\n"
            "    description: One row per refund\n"
            "    classification: confidential\n"
            "    retention_days: 365\n"
            "    freshness_slo_hours: 24\n"
            "    schema:\n"
            "      - {name: refund_id, type: string}\n"
            "      - {name: customer_email, type: string, pii: true}\n"
            "      - {name: amount, type: 'decimal(12,2)'}\n"
            "    partition_keys:\n"
            "      - {name: dt, type: string}\n"
        )
        + before[products_end:]
    )
    assert _valid(tree)


def test_a_new_product_keeps_a_crlf_blueprints_line_ends(tmp_path):
    tree = _tree(tmp_path)
    crlf = (tree / "sales.yaml").read_text().replace("\n", "\r\n")
    (tree / "sales.yaml").write_bytes(crlf.encode())
    code, out, err = _run(
        "new", "product", "sales", "refunds", tree,
        "--description", "One row per refund",
        "--classification", "internal",
        "--column", "refund_id:string",
        "--no-input",
    )  # fmt: skip
    assert (code, err) == (0, ""), out
    raw = (tree / "sales.yaml").read_bytes().decode()
    assert raw.count("\n") == raw.count("\r\n") > crlf.count("\r\n")  # every line, new ones too
    assert raw.startswith(crlf[: crlf.index("policies:")])
    assert "  - name: refunds\r\n    description: One row per refund\r\n" in raw
    assert _valid(tree)


def test_a_new_product_asks_and_checks_each_column(tmp_path):
    tree = _tree(tmp_path)
    answers = (
        "Campaign budgets per month\n"  # description
        "\n"  # classification: internal
        "csv\n"  # format
        "\n"  # retention: 365
        "budget\n"  # a column without a type: asked again
        "campaign_id:string\n"
        "amount:double\n"
        "\n"  # done
        "\n"  # no partition key
    )
    code, out, err = _run("new", "product", "marketing", "budgets", tree, input=answers)
    assert code == 0, (out, err)
    assert "expected name:type or name:type:pii" in err
    text = (tree / "marketing.yaml").read_text()
    assert (
        "  - name: budgets\n"
        "    description: Campaign budgets per month\n"
        "    classification: internal\n"
        "    format: csv\n"
        "    retention_days: 365\n"
        "    schema:\n"
        "      - {name: campaign_id, type: string}\n"
        "      - {name: amount, type: double}\n"
    ) in text
    assert "Freshness" not in out  # internal data needs no SLO: not asked
    assert _valid(tree)


def test_a_product_governance_refuses_is_not_written(tmp_path):
    tree = _tree(tmp_path)
    before = (tree / "sales.yaml").read_text()
    code, _, err = _run(
        "new", "product", "sales", "refunds", tree, "--description", "One row per refund",
        "--classification", "confidential", "--retention-days", "30",
        "--column", "refund_id:string", "--no-input",
    )  # fmt: skip
    assert code == 1
    assert "error GOV-006 products[3].retention_days:" in err
    assert (tree / "sales.yaml").read_text() == before
    code, _, err = _run("new", "product", "crm", "tickets", tree, "--no-input")
    assert code == 1 and "no blueprint crm.yaml" in err and "mesh new domain crm" in err


def test_a_new_domain_then_a_product_is_a_change_platform_approves(tmp_path):
    base, head = _tree(tmp_path), tmp_path / "head"
    shutil.copytree(base, head)
    assert _run("new", "domain", "crm", head, *CRM_FLAGS, "--no-input")[0] == 0
    code, _, err = _run(
        "new", "product", "crm", "tickets", head, "--description", "One row per ticket",
        "--column", "ticket_id:string", "--no-input",
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = _run("diff", base, head, "--validate", "--format", "json")
    assert code == 0  # a domain nobody reads yet: no access, nothing to review
    assert json.loads(out)["required_approvals"] == [
        {
            "approver": "platform",
            "reason": "new domain crm",
            "domain": "crm",
            "product": None,
            "principal": None,
        }
    ]
