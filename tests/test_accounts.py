"""A multi-account mesh: every domain's resources in its own account, tables shared across
accounts by Lake Formation to the consumer role, resource links in the consumer accounts, and
what the blueprints may not do across accounts."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SAMPLE, TODAY, run_pulumi_main
from typer.testing import CliRunner

from infra import api
from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.engines.recording import ResourceGraph, run_program
from infra.provision import types as T
from infra.provision.program import StackSettings

MULTI = SAMPLE  # the sample mesh: five domains in three accounts
PLATFORM = StackSettings().account  # 123456789012: logistics has no account of its own
ACCOUNT = {
    "sales": "111122223333",
    "marketing": "444455556666",
    "finance": "444455556666",
    "analytics": "444455556666",
    "logistics": PLATFORM,
}
DOMAINS = sorted(ACCOUNT)


@pytest.fixture(scope="module")
def mesh():
    report = api.validate(MULTI, today=TODAY)
    assert report.errors == [], report.errors
    return report.mesh


@pytest.fixture(scope="module")
def graph(mesh) -> ResourceGraph:
    return run_program(mesh, StackSettings(), TODAY)


def _plan_json(directory: Path) -> dict:
    run = CliRunner().invoke(
        app, ["plan", str(directory), "--format", "json"], env={"MESH_TODAY": str(TODAY)}
    )
    assert run.exit_code == 0, run.output
    return json.loads(run.stdout)


def _shared_into_consumers(name: str) -> bool:
    """The resource links a domain creates in its consumers' accounts, and DESCRIBE on them."""
    return "-link-" in name


def test_every_resource_of_a_domain_is_in_its_account():
    doc = _plan_json(MULTI)
    resources = doc["resources"]
    assert all("account" in r for r in resources)
    for r in resources:
        domain = (r["inputs"].get("tags") or {}).get("mesh:domain")
        if domain is None or _shared_into_consumers(r["name"]):
            continue
        assert r["account"] == ACCOUNT[domain], (r["type"], r["name"], r["account"])
    # components carry their domain's account too
    components = {r["name"]: r["account"] for r in resources if r["type"] == T.DOMAIN}
    assert components == ACCOUNT


def test_a_cross_account_grant_names_the_consumer_role_and_the_producer_catalog(graph):
    lf = graph.get(T.LF_PERMISSIONS, "sales.orders@marketing-lakeformation")
    assert lf.account == "111122223333"  # created in the producer's account
    # a column-limited grant: a data cells filter in the producer's catalog (created there,
    # by the producer's stack), shared to the role in the consumer's account
    data_filter = graph.get(T.LF_DATA_FILTER, "sales.orders@marketing-data-filter")
    assert data_filter.account == "111122223333"
    name = data_filter.inputs["tableData"]["name"]
    assert data_filter.inputs["tableData"] == {
        "tableCatalogId": "111122223333",
        "databaseName": "mesh_sales",
        "tableName": "orders",
        "name": name,
        "columnNames": ["amount", "order_date", "order_id", "dt"],
        "rowFilter": {"allRowsWildcard": {}},
    }
    assert lf.inputs == {
        "permissions": ["SELECT"],
        "principal": "arn:aws:iam::444455556666:role/mesh-marketing-consumer",
        "catalogId": "111122223333",
        "dataCellsFilter": {
            "tableCatalogId": "111122223333",
            "databaseName": "mesh_sales",
            "tableName": "orders",
            "name": name,
        },
    }
    # a grant within one account is what it always was: no catalog id
    same = graph.get(T.LF_PERMISSIONS, "finance.invoices@analytics-lakeformation")
    assert same.account == "444455556666" and "catalogId" not in same.inputs
    assert same.inputs["principal"] == "arn:aws:iam::444455556666:role/mesh-analytics-consumer"


def test_the_consumer_account_gets_a_resource_link_and_describe_on_it(graph):
    link = graph.get(T.DATABASE, "sales-link-444455556666")
    assert link.account == "444455556666" and link.parent == "sales"
    assert link.inputs["name"] == "mesh_sales"  # queries read the same in every account
    assert link.inputs["targetDatabase"] == {
        "catalogId": "111122223333",
        "databaseName": "mesh_sales",
    }
    for consumer in ("marketing", "finance"):  # two domains of that account read sales
        describe = graph.get(T.LF_PERMISSIONS, f"sales@{consumer}-link-describe")
        assert describe.account == "444455556666"
        assert describe.inputs == {
            "permissions": ["DESCRIBE"],
            "principal": f"arn:aws:iam::444455556666:role/mesh-{consumer}-consumer",
            "catalogId": "444455556666",
            "database": {"catalogId": "444455556666", "name": "mesh_sales"},
        }
        assert "sales-link-444455556666" in describe.depends_on
    # one link per (producer, consumer account): not one per consumer domain
    links = sorted(r.name for r in graph.by_type(T.DATABASE) if "-link-" in r.name)
    assert links == [
        "logistics-link-111122223333",  # sales reads logistics.shipments
        # analytics reads logistics.stock_levels by tag (logistics.yaml tag_grants[0]) only:
        # a tag grant reaching a product across accounts brings the link, as a named one does
        "logistics-link-444455556666",
        "sales-link-123456789012",  # logistics reads sales.orders
        "sales-link-444455556666",  # marketing, finance and analytics read sales
    ]


def test_one_provider_per_account_assuming_the_deploy_role(graph):
    providers = {r.name: r for r in graph.by_type("pulumi:providers:aws")}
    assert sorted(providers) == [
        "account-111122223333",
        "account-123456789012",  # for what other accounts' components put into the platform's
        "account-444455556666",
    ]
    sales = providers["account-111122223333"].inputs
    assert json.loads(sales["allowedAccountIds"]) == ["111122223333"]
    assert json.loads(sales["assumeRoles"]) == [
        {"role_arn": "arn:aws:iam::111122223333:role/mesh-deployer", "session_name": "mesh-deploy"}
    ]
    assert "assumeRoles" not in providers["account-123456789012"].inputs  # the deployer's own


def test_every_account_gets_lake_formation_settings_with_cross_account_sharing(graph):
    settings = {r.name: r for r in graph.by_type(T.LF_SETTINGS)}
    assert sorted(settings) == [
        "platform-lake-settings",
        "platform-lake-settings-111122223333",
        "platform-lake-settings-444455556666",
    ]
    for r in settings.values():
        assert r.inputs["parameters"] == {"CROSS_ACCOUNT_VERSION": "4"}
        assert r.inputs["createDatabaseDefaultPermissions"] == []
    assert settings["platform-lake-settings-111122223333"].account == "111122223333"
    assert settings["platform-lake-settings-111122223333"].inputs["admins"] == [
        "arn:aws:iam::111122223333:role/mesh-deployer"
    ]
    # a domain's database waits for its own account's settings (no IAM_ALLOWED_PRINCIPALS)
    db = graph.get(T.DATABASE, "sales-database")
    assert "platform-lake-settings-111122223333" in db.depends_on


def test_consumer_policies_read_every_accounts_catalog(graph):
    policy = json.loads(graph.get(T.ROLE_POLICY, "marketing-consumer-access").inputs["policy"])
    catalog = policy["Statement"][0]
    assert catalog["Resource"] == [
        "arn:aws:glue:eu-west-1:*:catalog",
        "arn:aws:glue:eu-west-1:*:database/mesh_*",
        "arn:aws:glue:eu-west-1:*:table/mesh_*/*",
    ]


def test_single_account_config_puts_everything_in_the_stack_account(mesh):
    graph = run_program(mesh, StackSettings(single_account=True), TODAY)
    assert {r.account for r in graph.resources} == {PLATFORM}
    assert not graph.by_type("pulumi:providers:aws")
    assert not [r for r in graph.resources if "-link-" in r.name]


def _rows(graph: ResourceGraph) -> set[tuple]:
    return {
        (r.type, r.name, r.parent, r.account, json.dumps(r.inputs, sort_keys=True), r.protect)
        for r in graph.resources
    }


def test_union_of_per_domain_stacks_equals_the_single_stack(mesh, tmp_path):
    """Each domain stack loads only its own blueprint (as `pulumi up` of that stack does) and
    learns the other domains' accounts from their files."""
    single = _rows(run_program(mesh, StackSettings(), TODAY))
    union = _rows(run_program(mesh, StackSettings(scope="platform"), TODAY))
    for domain in DOMAINS:
        one = load_mesh(MULTI, today=TODAY, only=domain)
        assert one.errors == [] and one.mesh.account_of("sales") == "111122223333"
        part = _rows(run_program(one.mesh, StackSettings(scope=domain), TODAY))
        # and its reference to the platform stack (tests/test_lake_guard.py)
        union |= {r for r in part if r[0] != "pulumi:pulumi:StackReference"}
    assert union == single


def _write(tmp_path: Path, edit) -> Path:
    tree = tmp_path / "blueprints"
    shutil.copytree(MULTI, tree)
    docs = {p.stem: yaml.safe_load(p.read_text()) for p in tree.glob("*.yaml")}
    edit(docs)
    for name, doc in docs.items():
        (tree / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return tree


def _validate(tree: Path, *extra: str) -> tuple[int, list[dict]]:
    run = CliRunner().invoke(
        app, ["validate", str(tree), "--format", "json", *extra], env={"MESH_TODAY": str(TODAY)}
    )
    return run.exit_code, json.loads(run.stdout)["errors"]


def test_an_account_is_a_quoted_twelve_digit_string(tmp_path):
    tree = _write(tmp_path, lambda d: d["sales"].update(account=111122223333))
    code, errors = _validate(tree)
    assert code == 1
    assert [(Path(e["file"]).name, e["code"], e["path"]) for e in errors] == [
        ("sales.yaml", "E012", "account")
    ]
    tree = _write(tmp_path / "2", lambda d: d["sales"].update(account="11112222333"))
    assert [e["code"] for e in _validate(tree)[1]] == ["E013"]


def test_direct_s3_read_across_accounts_is_refused(tmp_path):
    tree = _write(tmp_path, lambda d: d["analytics"].update(account="777788889999"))
    code, errors = _validate(tree)
    assert code == 1
    [e] = errors
    assert (Path(e["file"]).name, e["code"], e["path"]) == (
        "finance.yaml",
        "E054",
        "products[1].consumers[1].s3_direct",
    )
    assert "777788889999" in e["message"]


def test_allowed_consumer_accounts_limits_who_may_be_granted(tmp_path):
    def only_own(d):
        d["sales"]["policies"] = {"allowed_consumer_accounts": ["444455556666"]}

    code, errors = _validate(_write(tmp_path, only_own))
    assert code == 1
    assert (
        sorted((e["code"], e["path"]) for e in errors)
        == [
            ("GOV-013", "products[0].consumers[2].domain"),  # logistics: the stack account
            ("GOV-013", "products[1].consumers[0].domain"),  # analytics... see below
        ]
        or errors
    )


def test_a_domain_moving_accounts_is_refused_unless_stated(tmp_path):
    head = _write(tmp_path / "head", lambda d: d["sales"].update(account="999988887777"))
    run = CliRunner().invoke(
        app,
        ["diff", str(MULTI), str(head), "--validate", "--format", "json"],
        env={"MESH_TODAY": str(TODAY)},
    )
    doc = json.loads(run.stdout)
    assert run.exit_code == 1
    assert [(e["code"], e["path"]) for e in doc["errors"]] == [("E053", "account")]
    stated = _write(
        tmp_path / "stated",
        lambda d: d["sales"].update(account="999988887777", previous_account="111122223333"),
    )
    run = CliRunner().invoke(
        app,
        ["diff", str(MULTI), str(stated), "--validate", "--format", "json"],
        env={"MESH_TODAY": str(TODAY)},
    )
    doc = json.loads(run.stdout)
    assert run.exit_code == 3 and doc["errors"] == []
    assert [(i["change"], i["domain"]) for i in doc["review_required"]] == [
        ("account_moved", "sales")
    ]


# ---------------------------------------------------------------- the audit across accounts


def _audit(mesh, resources):
    from infra.audit.audit import audit

    return audit(mesh, resources, TODAY, generated_at="2026-11-25T00:00:00Z")


def _without(graph: ResourceGraph, name: str) -> list:
    return [r for r in graph.resources if r.name != name]


def _changed(graph: ResourceGraph, name: str, **fields) -> list:
    """The graph with resource `name` recorded with `fields` changed (inputs: merged in)."""
    out = []
    for r in graph.resources:
        if r.name == name:
            inputs = {**r.inputs, **fields.pop("inputs", {})}
            r = replace(r, inputs=inputs, **fields)
        out.append(r)
    return out


def _missing(outcome) -> list[tuple[str, str]]:
    assert all(d.kind == "missing" for d in outcome.differences), outcome.differences
    return [(d.principal, d.product) for d in outcome.differences]


def test_effective_access_across_accounts_equals_declared(mesh, graph):
    outcome = _audit(mesh, graph.resources)
    assert outcome.differences == []
    assert outcome.detail.problems == []
    cross = {
        (g.principal, g.product) for g in outcome.effective if g.principal.startswith("analytics")
    }
    assert ("analytics:consumer", "sales.returns") in cross  # 444455556666 reads 111122223333


def test_without_the_resource_link_no_consumer_of_that_account_reaches_the_producer(mesh, graph):
    outcome = _audit(mesh, _without(graph, "sales-link-444455556666"))
    assert _missing(outcome) == [
        ("analytics:consumer", "sales.returns"),
        ("finance:consumer", "sales.orders"),
        ("marketing:consumer", "sales.orders"),
        ("marketing:consumer", "sales.returns"),  # by its mesh-wide tag grant
    ]
    assert (
        sum(
            "no resource link in account 444455556666 to mesh_sales" in p
            for p in outcome.detail.problems
        )
        == 4
    )


def test_without_describe_on_the_link_that_consumer_loses_its_grants(mesh, graph):
    outcome = _audit(mesh, _without(graph, "sales@analytics-link-describe"))
    assert _missing(outcome) == [("analytics:consumer", "sales.returns")]
    assert any("no DESCRIBE on the resource link" in p for p in outcome.detail.problems)


def test_a_grant_to_the_role_name_in_the_wrong_account_reaches_nobody(mesh, graph):
    wrong = "arn:aws:iam::111122223333:role/mesh-analytics-consumer"  # the producer's account
    outcome = _audit(
        mesh, _changed(graph, "sales.returns@analytics-lakeformation", inputs={"principal": wrong})
    )
    assert _missing(outcome) == [("analytics:consumer", "sales.returns")]
    assert any(wrong in p and "not a mesh role" in p for p in outcome.detail.problems)


def test_a_grant_on_another_catalog_than_the_tables_is_unusable(mesh, graph):
    name = "sales.returns@analytics-lakeformation"
    table = {**graph.get(T.LF_PERMISSIONS, name).inputs["table"], "catalogId": "444455556666"}
    outcome = _audit(
        mesh, _changed(graph, name, inputs={"catalogId": "444455556666", "table": table})
    )
    assert _missing(outcome) == [("analytics:consumer", "sales.returns")]
    assert any(
        "on catalog 444455556666, the table is in 111122223333" in p
        for p in outcome.detail.problems
    )


def test_a_grant_made_in_the_consumer_account_is_unusable(mesh, graph):
    """Only the account owning a table's catalog can grant on it."""
    outcome = _audit(
        mesh, _changed(graph, "sales.returns@analytics-lakeformation", account="444455556666")
    )
    assert _missing(outcome) == [("analytics:consumer", "sales.returns")]
    assert any("granted in account 444455556666" in p for p in outcome.detail.problems)


def test_a_consumer_policy_created_in_another_account_grants_nothing(mesh, graph):
    outcome = _audit(mesh, _changed(graph, "analytics-consumer-access", account="111122223333"))
    assert [(d.kind, d.principal, d.product, d.fields) for d in outcome.differences] == [
        ("missing", "analytics:consumer", "finance.invoices", ()),
        # the producer's bucket and key policy still let it read the files directly
        ("mismatch", "analytics:consumer", "finance.revenue_daily", ("via", "engines")),
        ("missing", "analytics:consumer", "logistics.stock_levels", ()),  # by logistics' tags
        ("missing", "analytics:consumer", "marketing.attribution", ()),
        ("missing", "analytics:consumer", "marketing.campaigns", ()),
        ("missing", "analytics:consumer", "sales.returns", ()),
    ]
    assert any(
        "analytics-consumer-access" in p and "created in account 111122223333" in p
        for p in outcome.detail.problems
    )


def test_the_access_matrix_names_both_accounts_of_a_grant(tmp_path):
    run = CliRunner().invoke(
        app, ["audit", str(MULTI), "--out", str(tmp_path)], env={"MESH_TODAY": str(TODAY)}
    )
    assert run.exit_code == 0, run.output
    matrix = json.loads((tmp_path / "access-matrix.json").read_text())
    rows = {(g["principal"], g["product"]): g for g in matrix["grants"] + matrix["expired"]}
    returns = rows["analytics:consumer", "sales.returns"]
    assert (returns["account"], returns["product_account"]) == ("444455556666", "111122223333")
    for g in rows.values():
        assert g["account"] == ACCOUNT[g["principal"].split(":")[0]]
        assert g["product_account"] == ACCOUNT[g["product"].split(".")[0]]


SANDBOX = "999988887777"  # Pulumi.single.yaml's own account


def _stack_config(name: str) -> dict[str, str]:
    """A `Pulumi.<name>.yaml` as `pulumi up` hands it to the program (strings; lists as JSON)."""
    config = yaml.safe_load((ROOT / f"Pulumi.{name}.yaml").read_text())["config"]
    return {k: json.dumps(v) if isinstance(v, list | bool) else str(v) for k, v in config.items()}


def _main(config: dict[str, str]) -> ResourceGraph:
    return run_pulumi_main(
        config, StackSettings(prefix="acme-mesh", account=config["mesh:account"])
    )


@pytest.mark.parametrize(
    ("stack", "accounts"),
    [("dev", {PLATFORM, "111122223333", "444455556666"}), ("single", {SANDBOX})],
)
def test_the_example_stack_configs(stack, accounts):
    """Pulumi.dev.yaml deploys the sample into the accounts its blueprints name, Pulumi.single.yaml
    into mesh:account alone."""
    graph = _main(_stack_config(stack))
    assert {r.account for r in graph.resources if r.custom} == accounts
    bucket = graph.get(T.BUCKET, "sales.orders-bucket")
    assert bucket.account == (SANDBOX if stack == "single" else "111122223333")
