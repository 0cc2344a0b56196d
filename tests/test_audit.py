"""`mesh audit`: effective access computed from the recorded resource graph equals the declared
access on the sample mesh, a broken component output shows up as a difference, parliament finds
nothing of MEDIUM or higher, and the output files follow the contract."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import subprocess
import sys

import pytest
from conftest import ROOT, SINGLE, TODAY
from typer.testing import CliRunner

from infra.audit import lint as lint_mod
from infra.audit.audit import audit
from infra.audit.view import PolicyDoc
from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.engines.recording import run_program
from infra.model.access import declared_access
from infra.provision.program import StackSettings

MATRIX_GRANT_KEYS = {
    "principal",
    "product",
    "access",
    "columns",
    "pii",
    "expires",
    "s3_direct",
    "via",
    "row_filter",
    "engines",
    "account",
    "product_account",
}
DOMAINS = ("analytics", "finance", "logistics", "marketing", "sales")
PRINCIPALS = sorted(f"{d}:{k}" for d in DOMAINS for k in ("consumer", "producer"))


@pytest.fixture(scope="module")
def mesh():
    return load_mesh(SINGLE, today=TODAY).mesh


@pytest.fixture(scope="module")
def resources(mesh):
    return run_program(mesh, StackSettings(), TODAY).resources


@pytest.fixture(scope="module")
def result(mesh, resources):
    return audit(mesh, resources, TODAY, generated_at="2026-11-25T00:00:00Z")


def _mutated(resources, name: str, change) -> list:
    """A deep copy of the graph with `change(inputs)` applied to resource `name`."""
    out = copy.deepcopy(resources)
    (target,) = [r for r in out if r.name == name]
    change(target.inputs)
    return out


def _edit_policy(key: str, change):
    def apply(inputs):
        doc = json.loads(inputs[key])
        change(doc)
        inputs[key] = json.dumps(doc)

    return apply


def _statement(doc: dict, sid: str) -> dict:
    return next(s for s in doc["Statement"] if s.get("Sid") == sid)


# ---------------------------------------------------------------- the sample mesh


def test_sample_effective_access_equals_declared(result, mesh):
    assert result.differences == []
    assert result.detail.problems == [] and result.detail.uncertain == []
    declared = declared_access(mesh, TODAY)
    assert [g.as_json() for g in result.effective] == [g.as_json() for g in declared.grants]
    assert result.ok


def test_effective_access_comes_from_the_resources(result):
    """Spot-check the evidence: column-limited and whole-table grants read through Lake
    Formation only; the one opted-in direct read through the product's bucket policy and the
    domain's key policy, which name the reader."""
    by_key = {(e.principal, e.product): e for e in result.detail.grants}
    limited = by_key[("marketing:consumer", "sales.orders")]
    assert [p.channel for p in limited.paths] == ["lakeformation-read"]
    assert limited.columns == ("amount", "order_date", "order_id")
    full = by_key[("finance:consumer", "sales.orders")]
    assert [p.channel for p in full.paths] == ["lakeformation-read"]
    assert full.pii and "customer_email" in full.columns
    direct = by_key[("analytics:consumer", "finance.revenue_daily")]
    assert [p.channel for p in direct.paths] == ["s3-read", "lakeformation-read"]
    s3 = direct.paths[0]
    assert s3.evidence == (
        "bucket/finance.revenue_daily-policy#DirectReadObjects",
        "key/finance-key#DirectReadDecrypt1",
    )


def test_parliament_reports_nothing_of_medium_or_higher(result):
    # 15 trust + 25 inline (15 + a query path per producer and consumer role) + 15 bucket
    # (10 products + 5 query results) + 5 key
    assert result.lint.documents == 15 + 25 + 15 + 5
    assert [f.as_json() for f in result.lint.failing] == []
    ignored = {f.issue for f in result.lint.findings if f.ignored}
    assert ignored == {"CREDENTIALS_EXPOSURE", "PERMISSIONS_MANAGEMENT_ACTIONS"}
    assert {f.severity for f in result.lint.findings if not f.ignored} <= {"LOW", "INFO"}


def test_ignores_are_specific_a_reintroduced_create_grant_fails(result):
    key_doc = next(d for d in result.graph.documents if d.id == "key/sales-key")
    doc = copy.deepcopy(key_doc.document)
    _statement(doc, "KeyAdministration")["Action"].append("kms:CreateGrant")
    widened = PolicyDoc(
        key_doc.id,
        "key",
        key_doc.resource_type,
        key_doc.resource_name,
        key_doc.attached_to,
        None,
        json.dumps(doc),
        doc,
    )
    failing = [f for f in lint_mod.lint_document(widened) if f.fails]
    assert [f.issue for f in failing] == ["PERMISSIONS_MANAGEMENT_ACTIONS"]
    assert "kms:creategrant" in failing[0].location["actions"]


def test_memoised_lint_finds_exactly_what_parliament_finds_alone(resources, monkeypatch):
    """parliament's get_allowed_actions is kept per policy (lint.py); every finding, of every
    document of the sample, is the same as with parliament's own, recomputed each time."""
    from parliament.policy import Policy

    from infra.audit.view import index

    graph = index(resources)
    memoised = lint_mod.lint(graph).findings
    lint_mod._parliament.cache_clear()
    monkeypatch.setattr(Policy, "get_allowed_actions", Policy.get_allowed_actions.original)
    alone = lint_mod.lint(graph).findings
    lint_mod._parliament.cache_clear()
    assert memoised == alone and len(alone) > 0


def test_identity_policy_with_star_action_fails_lint():
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}],
        }
    )
    doc = PolicyDoc(
        "inline/x", "inline", "aws:iam/rolePolicy:RolePolicy", "x", "r", "p", text, json.loads(text)
    )
    assert any(f.fails for f in lint_mod.lint_document(doc))


def test_trust_policies_are_linted_with_their_role_as_resource(result):
    trust = next(d for d in result.graph.documents if d.id == "trust/sales-consumer")
    arn = result.graph.roles["mesh-sales-consumer"].arn
    adapted = json.loads(lint_mod.lintable_text(trust, arn))
    assert [s["Resource"] for s in adapted["Statement"]] == [arn, arn]
    assert "Resource" not in trust.document["Statement"][0]  # the deployed document is untouched
    assert not any(f.issue == "MALFORMED" for f in result.lint.findings)


# ---------------------------------------------------------------- broken components are caught


MARKETING_ROLE = "arn:aws:iam::123456789012:role/mesh-marketing-consumer"


def _name_reader(sid: str, arn: str = MARKETING_ROLE):
    """Add `arn` to the principals of statement `sid` of a bucket or key policy."""

    def change(doc):
        _statement(doc, sid)["Principal"]["AWS"].append(arn)

    return change


def _add_direct_read(bucket: str, arn: str = MARKETING_ROLE):
    def change(doc):
        doc["Statement"].append(
            {
                "Sid": "Sneaky",
                "Effect": "Allow",
                "Principal": {"AWS": [arn]},
                "Action": ["s3:GetObject"],
                "Resource": f"arn:aws:s3:::{bucket}/data/*",
            }
        )

    return change


def test_a_reader_added_to_a_bucket_and_key_policy_is_reported(mesh, resources):
    """marketing reads finance.revenue_daily through Lake Formation; named in the bucket policy
    alone, only the key policy stops it (a problem); named in both, it reads the files: its
    effective grant no longer matches the declared one."""
    broken = _mutated(
        resources,
        "finance.revenue_daily-policy",
        _edit_policy("policy", _name_reader("DirectReadObjects")),
    )
    outcome = audit(mesh, broken, TODAY)
    assert outcome.differences == []
    assert [p.split(" is allowed")[0] for p in outcome.detail.problems] == [
        "marketing:consumer: s3:GetObject on mesh-finance-revenue-daily"
    ]
    assert not outcome.ok
    broken = _mutated(
        broken, "finance-key", _edit_policy("policy", _name_reader("DirectReadDecrypt1"))
    )
    outcome = audit(mesh, broken, TODAY)
    assert [(d.kind, d.principal, d.product, d.fields) for d in outcome.differences] == [
        (
            "mismatch",
            "marketing:consumer",
            "finance.revenue_daily",
            ("s3_direct", "via", "engines"),  # engines: any reading the files ("s3") too
        )
    ]
    assert any(
        "ACCESS MISMATCH [mismatch] marketing:consumer -> finance.revenue_daily" in line
        for line in outcome.failures()
    )


def test_s3_path_around_a_column_restriction_is_reported(mesh, resources):
    """A column-limited consumer named in the product's bucket policy: the key policy still
    stops it (reported as a problem); once the key policy lets it decrypt too, it reads every
    column (a mismatch)."""
    broken = _mutated(
        resources,
        "sales.orders-policy",
        _edit_policy("policy", _add_direct_read("mesh-sales-orders")),
    )
    outcome = audit(mesh, broken, TODAY)
    assert outcome.differences == []
    assert len(outcome.detail.problems) == 1
    assert (
        "marketing:consumer: s3:GetObject on mesh-sales-orders is allowed"
        in (outcome.detail.problems[0])
    )
    assert not outcome.ok

    def add_decrypt(doc):
        doc["Statement"].append(
            {
                "Sid": "SneakyDecrypt",
                "Effect": "Allow",
                "Principal": {"AWS": [MARKETING_ROLE]},
                "Action": ["kms:Decrypt"],
                "Resource": "*",
            }
        )

    broken = _mutated(broken, "sales-key", _edit_policy("policy", add_decrypt))
    outcome = audit(mesh, broken, TODAY)
    (diff,) = outcome.differences
    assert (diff.kind, diff.principal, diff.product) == (
        "mismatch",
        "marketing:consumer",
        "sales.orders",
    )
    assert set(diff.fields) == {"columns", "pii", "s3_direct", "via", "engines"}


def test_a_consumer_role_without_catalog_read_loses_every_lake_formation_grant(mesh, resources):
    def strip(doc):
        doc["Statement"] = [s for s in doc["Statement"] if s["Sid"] != "ReadMeshCatalog"]

    broken = _mutated(resources, "marketing-consumer-access", _edit_policy("policy", strip))
    outcome = audit(mesh, broken, TODAY)
    assert [(d.kind, d.principal, d.product) for d in outcome.differences] == [
        ("missing", "marketing:consumer", "finance.revenue_daily"),
        ("missing", "marketing:consumer", "sales.orders"),
    ]
    assert any("IAM does not allow glue:GetTable" in p for p in outcome.detail.problems)


def test_catalog_read_scoped_to_another_prefix_is_not_enough(mesh, resources):
    """The consumer policy reads the mesh's databases by prefix: a prefix that does not cover
    them makes sales' grants unusable, exactly those."""

    def narrow(doc):
        stmt = _statement(doc, "ReadMeshCatalog")
        stmt["Resource"] = [r.replace("mesh_*", "other_*") for r in stmt["Resource"]]

    broken = _mutated(resources, "sales-consumer-access", _edit_policy("policy", narrow))
    outcome = audit(mesh, broken, TODAY)
    assert [(d.kind, d.principal, d.product) for d in outcome.differences] == [
        ("missing", "sales:consumer", "logistics.shipments"),
        ("missing", "sales:consumer", "logistics.stock_levels"),
    ]


def test_lake_formation_columns_are_read_from_the_data_filter(mesh, resources):
    """The grant's data cells filter names a column the grant does not allow: the evaluator
    reads the columns through the filter the permission names, and reports the mismatch."""

    def more(inputs):
        inputs["tableData"]["columnNames"].append("customer_email")

    broken = _mutated(resources, "sales.orders@marketing-data-filter", more)
    (diff,) = audit(mesh, broken, TODAY).differences
    assert diff.kind == "mismatch" and diff.fields == ("columns", "pii")
    assert "customer_email" in diff.effective["columns"]


def test_public_bucket_statement_is_reported(mesh, resources):
    def public(doc):
        doc["Statement"].append(
            {
                "Sid": "Oops",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::mesh-sales-returns/*",
            }
        )

    broken = _mutated(resources, "sales.returns-policy", _edit_policy("policy", public))
    outcome = audit(mesh, broken, TODAY)
    assert any(
        p.startswith("*: s3:GetObject on mesh-sales-returns is allowed")
        for p in outcome.detail.problems
    )
    assert not outcome.ok


def test_expired_grant_still_provisioned_is_reported(mesh):
    """Resources deployed while the logistics.shipments grant to analytics was still valid,
    audited after its expiry: the grant is effective but not declared any more."""
    stale = run_program(mesh, StackSettings(), dt.date(2026, 10, 1)).resources
    outcome = audit(mesh, stale, TODAY)
    assert [(d.kind, d.principal, d.product, d.message) for d in outcome.differences] == [
        (
            "unexpected",
            "analytics:consumer",
            "logistics.shipments",
            "expired on 2026-10-31 but still effective",
        )
    ]


# ---------------------------------------------------------------- files (CLI as users run it)


@pytest.fixture(scope="module")
def audit_out(tmp_path_factory, resources):
    """`mesh audit SINGLE --out OUT` in-process (the program runs again, the lint is cached)."""
    out = tmp_path_factory.mktemp("audit")
    run = CliRunner().invoke(app, ["audit", str(SINGLE), "--out", str(out)])
    return run, out


def test_cli_audit_passes_on_the_sample(audit_out):
    run, _ = audit_out
    assert run.exit_code == 0, run.output
    assert "effective access == declared access" in run.stdout
    assert "0 of MEDIUM or higher" in run.stdout
    assert run.stdout.strip().endswith("audit: PASS")


def test_output_layout(audit_out):
    _, out = audit_out
    assert sorted(p.name for p in out.iterdir()) == [
        "access-matrix.json",
        "policies",
        "report.html",
        "report.md",
    ]
    # one file per role: the two principals of each domain, and its Lake Formation service role,
    # named <domain>.<kind>.json (no ':' in a file name), and the index
    names = sorted(p.name for p in (out / "policies").iterdir())
    assert names == sorted(
        [f"{d}.{k}.json" for d in DOMAINS for k in ("consumer", "producer", "lf-access")]
        + ["index.json"]
    )
    assert not [n for n in names if ":" in n]


def test_policy_index_maps_every_principal_to_its_file(audit_out, result):
    _, out = audit_out
    index = json.loads((out / "policies" / "index.json").read_text())
    assert list(index) == ["principals"]
    assert index["principals"] == {p: p.replace(":", ".") + ".json" for p in result.principals()}
    assert index["principals"]["sales:consumer"] == "sales.consumer.json"
    assert index["principals"]["sales:lf-access"] == "sales.lf-access.json"
    for principal, name in index["principals"].items():  # each file holds its principal
        assert json.loads((out / "policies" / name).read_text())["principal"] == principal


def test_a_rerun_removes_old_style_and_stale_policy_files(tmp_path, result):
    from infra.audit.audit import write

    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "sales:consumer.json").write_text("{}")  # the name before 2026-12
    (policies / "gone.consumer.json").write_text("{}")  # a domain that no longer exists
    write(result, tmp_path)
    names = {p.name for p in policies.iterdir()}
    assert "sales:consumer.json" not in names and "gone.consumer.json" not in names
    assert "sales.consumer.json" in names


@pytest.mark.parametrize(
    "principal", ["sales", "sales:", ":consumer", "../x:consumer", "a/b:consumer", "s:c:d"]
)
def test_principal_file_names_refuse_what_is_not_a_principal_id(principal):
    from infra.audit.layout import principal_file_name

    with pytest.raises(ValueError, match="<domain>:<kind>"):
        principal_file_name(principal)


def test_access_matrix_contract(audit_out, mesh):
    _, out = audit_out
    matrix = json.loads((out / "access-matrix.json").read_text())
    assert list(matrix) == ["generated_at", "grants", "expired"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", matrix["generated_at"])
    assert all(set(g) == MATRIX_GRANT_KEYS for g in matrix["grants"] + matrix["expired"])
    keys = [(g["principal"], g["product"]) for g in matrix["grants"]]
    assert keys == sorted(keys)
    # one account: every principal and product in the stack's
    assert {(g["account"], g["product_account"]) for g in matrix["grants"]} == {
        (StackSettings().account, StackSettings().account)
    }
    assert [
        {k: v for k, v in g.items() if k not in ("account", "product_account")}
        for g in matrix["grants"]
    ] == [g.as_json() for g in declared_access(mesh, TODAY).grants]
    assert [(g["principal"], g["product"]) for g in matrix["expired"]] == [
        ("analytics:consumer", "logistics.shipments")
    ]
    producer = next(
        g
        for g in matrix["grants"]
        if g["principal"] == "sales:producer" and g["product"] == "sales.orders"
    )
    assert producer["access"] == "write" and producer["expires"] is None


def test_principal_file_holds_the_exact_deployed_documents(audit_out, resources):
    _, out = audit_out
    doc = json.loads((out / "policies" / "sales.consumer.json").read_text())
    assert doc["principal"] == "sales:consumer"
    assert doc["role"]["arn"] == "arn:aws:iam::123456789012:role/mesh-sales-consumer"
    by_id = {d["id"]: d for d in doc["documents"]}
    recorded = {r.name: r for r in resources}
    assert by_id["trust/sales-consumer"]["document"] == json.loads(
        recorded["sales-consumer"].inputs["assumeRolePolicy"]
    )
    # the role's two constant policies (catalog access, query path); the key policy names it
    # for its query results only; both logistics grants are Lake Formation only
    assert sorted(by_id) == [
        "bucket/sales-query-results-policy",  # its domain's query results location
        "inline/sales-consumer-access",
        "inline/sales-consumer-query",
        "key/sales-key",
        "trust/sales-consumer",
    ]
    assert by_id["inline/sales-consumer-access"]["document"] == json.loads(
        recorded["sales-consumer-access"].inputs["policy"]
    )
    assert {p["table"] for p in doc["lakeformation_permissions"]} == {"shipments", "stock_levels"}


def test_principal_file_of_a_direct_reader_holds_the_bucket_and_key_policy(audit_out):
    _, out = audit_out
    doc = json.loads((out / "policies" / "analytics.consumer.json").read_text())
    relations = {d["id"]: d["relation"] for d in doc["documents"]}
    assert relations == {
        "trust/analytics-consumer": "attached",
        "inline/analytics-consumer-access": "attached",
        "inline/analytics-consumer-query": "attached",
        "key/analytics-key": "names-principal",  # its own query results
        "bucket/analytics-query-results-policy": "governs-access",
        "bucket/finance.revenue_daily-policy": "names-principal",
        "key/finance-key": "names-principal",
    }


def test_every_document_is_in_some_principal_file(audit_out, result):
    _, out = audit_out
    seen = set()
    for path in (out / "policies").glob("*.*.json"):
        seen |= {d["id"] for d in json.loads(path.read_text())["documents"]}
    assert seen == {d.id for d in result.graph.documents}


def test_html_report_is_self_contained(audit_out):
    _, out = audit_out
    html = (out / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)
    assert "<link" not in html.lower() and " src=" not in html.lower()
    assert "@import" not in html and "url(" not in html
    # one script, the filter of the grant table; a policy that lets nothing else load or run
    assert html.lower().count("<script") == 1
    assert "default-src 'none'" in html and "unsafe-inline" not in html
    assert html.count("<svg") == 1 + len(DOMAINS)  # the domain matrix + one star per domain
    assert "Who can read which columns of which product, until when, approved by whom" in html
    # the approver of the PII grant (the privacy group of blueprints/_mesh.yaml), beside its why
    assert '<td class="text">privacy</td><td class="text">revenue reconciliation' in html
    expired = html.split('<section id="expired">')[1].split("</section>")[0]
    assert "logistics.shipments" in expired and "expired 2026-10-31" in expired


def test_markdown_report_answers_the_auditor_question(audit_out):
    _, out = audit_out
    md = (out / "report.md").read_text()
    assert "**PASS:" in md
    row = next(line for line in md.splitlines() if line.startswith("| sales.orders | finance:"))
    assert "**customer_email** (PII)" in row and "2027-09-30" in row
    assert "| privacy | revenue reconciliation" in row


def test_cli_audit_requires_out(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "infra.cli", "audit", str(SINGLE)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2


def test_service_roles_get_policy_files_but_are_not_access_principals(result):
    assert result.access_principals() == PRINCIPALS
    assert sorted(set(result.principals()) - set(PRINCIPALS)) == [f"{d}:lf-access" for d in DOMAINS]
