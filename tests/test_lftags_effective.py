"""Lake Formation tag-based access in the audit (`infra.audit.lftags`): the recorded graph's
LF-tags, their inheritance database -> table -> column, and the permissions granted on tag
expressions, evaluated exactly as named permissions are — per table and column the expression
matches, with what sharing by tag needs across accounts."""

from __future__ import annotations

import copy
import shutil

import pytest
from conftest import SAMPLE, SINGLE, TODAY

from infra.audit.effective import compute
from infra.audit.lftags import as_dict
from infra.audit.view import index
from infra.blueprints.load import load_mesh
from infra.engines.recording import Recorded, run_program
from infra.provision import types as T
from infra.provision.graph import lf_tag_policy
from infra.provision.program import StackSettings

ONE = "123456789012"  # the single-account fixture's account
SALES, SHARED = "111122223333", "444455556666"  # the sample: sales's, and finance's (and more)
ONTOLOGY = {
    "classification": ["confidential", "internal", "public"],
    "sensitivity": ["high", "low"],
}


def _res(type_: str, name: str, inputs: dict, account: str) -> Recorded:
    return Recorded(
        type_, name, f"urn:{name}", None, inputs, False, False, [], True, account=account
    )


def _ontology(account: str) -> list[Recorded]:
    return [
        _res(T.LF_TAG, f"lf-tag-{key}-{account}", {"key": key, "values": values}, account)
        for key, values in ONTOLOGY.items()
    ]


def _on_database(database: str, account: str, **tags: str) -> Recorded:
    return _res(
        T.LF_RESOURCE_TAGS,
        f"{database}-lf-tags",
        {
            "database": {"name": database, "catalogId": account},
            "lfTags": [{"key": k, "value": v} for k, v in tags.items()],
        },
        account,
    )


def _on_table(database: str, table: str, account: str, **tags: str) -> Recorded:
    return _res(
        T.LF_RESOURCE_TAGS,
        f"{database}.{table}-lf-tags",
        {
            "table": {"databaseName": database, "name": table, "catalogId": account},
            "lfTags": [{"key": k, "value": v} for k, v in tags.items()],
        },
        account,
    )


def _on_columns(database: str, table: str, columns: list[str], account: str, **tags) -> Recorded:
    return _res(
        T.LF_RESOURCE_TAGS,
        f"{database}.{table}-{'-'.join(columns)}-lf-tags",
        {
            "tableWithColumns": {
                "databaseName": database,
                "name": table,
                "columnNames": columns,
                "catalogId": account,
            },
            "lfTags": [{"key": k, "value": v} for k, v in tags.items()],
        },
        account,
    )


def _tag_grant(
    name: str, role: str, expression: dict, account: str, resource_type="TABLE", perms=("SELECT",)
) -> Recorded:
    return _res(
        T.LF_PERMISSIONS,
        name,
        {
            "principal": role,
            "permissions": list(perms),
            "catalogId": account,
            "lfTagPolicy": {
                "resourceType": resource_type,
                "catalogId": account,
                "expressions": [{"key": k, "values": v} for k, v in expression.items()],
            },
        },
        account,
    )


def _untagged(directory) -> list:
    """The recorded graph without the program's own LF-tags and tag grants: each test tags it
    as it needs."""
    resources = run_program(
        load_mesh(directory, today=TODAY).mesh, StackSettings(), TODAY
    ).resources
    return [
        r
        for r in resources
        if r.type not in (T.LF_TAG, T.LF_RESOURCE_TAGS) and "lfTagPolicy" not in r.inputs
    ]


@pytest.fixture(scope="module")
def single():
    return _untagged(SINGLE)


@pytest.fixture(scope="module")
def sample():
    return _untagged(SAMPLE)


def _without(resources, *names: str) -> list:
    return [r for r in copy.deepcopy(resources) if r.name not in names]


def _reads(resources, principal: str) -> list[tuple]:
    """(product, readable columns, expression) of every grant of `principal`."""
    access = compute(index(resources), TODAY)
    return [
        (g.product, g.columns, as_dict(g.via_tags) if g.via_tags else None)
        for g in access.grants
        if g.principal == principal
    ]


def _problems(resources) -> list[str]:
    return compute(index(resources), TODAY).problems


MARKETING = f"arn:aws:iam::{ONE}:role/mesh-marketing-consumer"
REVENUE = ("currency", "day", "revenue")
INVOICES = ("billing_name", "invoice_id", "issued_on", "net_amount", "order_id", "tax_amount")
INTERNAL = {"classification": ["internal"]}


def _marketing_by_tag(single, *tagging: Recorded, expression=None) -> list:
    """The single-account sample with marketing's named grant on finance.revenue_daily replaced
    by one on a tag expression, and the finance database classified internal."""
    return [
        *_without(single, "finance.revenue_daily@marketing-lakeformation"),
        *_ontology(ONE),
        _on_database("mesh_finance", ONE, classification="internal"),
        *tagging,
        _tag_grant("marketing-tags-0", MARKETING, expression or INTERNAL, ONE),
    ]


def test_the_policy_parser_ands_conditions_and_sorts_values():
    policy = lf_tag_policy(
        {
            "lfTagPolicy": {
                "resourceType": "TABLE",
                "expressions": [
                    {"key": "sensitivity", "values": ["low", "high"]},
                    {"key": "classification", "values": ["public"]},
                    {"key": "sensitivity", "values": ["low"]},
                ],
            }
        }
    )
    assert policy is not None
    assert policy.expression == (("classification", ("public",)), ("sensitivity", ("low",)))
    assert lf_tag_policy({"table": {"databaseName": "d", "name": "t"}}) is None


def test_a_tag_grant_reads_every_table_its_expression_matches_through_inheritance(single):
    overridden = _on_table("mesh_finance", "payroll", ONE, classification="confidential")
    assert _reads(_marketing_by_tag(single, overridden), "marketing:consumer") == [
        ("finance.invoices", INVOICES, INTERNAL),  # inherits internal from its database
        ("finance.revenue_daily", REVENUE, INTERNAL),
        ("sales.orders", ("amount", "order_date", "order_id"), None),
    ]  # payroll: its own tag overrides the database's


def test_a_column_retagged_out_of_the_expression_is_not_readable(single):
    retagged = _on_columns(
        "mesh_finance", "revenue_daily", ["revenue"], ONE, classification="confidential"
    )
    reads = {p: c for p, c, _ in _reads(_marketing_by_tag(single, retagged), "marketing:consumer")}
    assert reads["finance.revenue_daily"] == ("currency", "day")
    assert reads["finance.invoices"] == INVOICES


def test_a_table_none_of_whose_columns_match_is_not_reached_one_that_has_one_is(single):
    tagging = [
        _on_table("mesh_finance", "payroll", ONE, classification="confidential"),
        _on_columns("mesh_finance", "payroll", ["month"], ONE, classification="internal"),
        _on_table("mesh_finance", "invoices", ONE, classification="public"),
    ]
    assert _reads(_marketing_by_tag(single, *tagging), "marketing:consumer")[:2] == [
        ("finance.payroll", ("month",), INTERNAL),
        ("finance.revenue_daily", REVENUE, INTERNAL),
    ]


def test_keys_and_values_or(single):
    both = {"classification": ["internal", "public"], "sensitivity": ["low"]}
    tagging = [
        _on_table("mesh_finance", "revenue_daily", ONE, sensitivity="low"),  # internal AND low
        _on_table("mesh_finance", "invoices", ONE, classification="public", sensitivity="low"),
        # payroll: internal (inherited), no sensitivity: the AND fails
    ]
    reads = _reads(_marketing_by_tag(single, *tagging, expression=both), "marketing:consumer")
    assert [(p, v) for p, _, v in reads] == [
        ("finance.invoices", both),
        ("finance.revenue_daily", both),
        ("sales.orders", None),
    ]


def test_without_the_grant_or_with_a_value_the_ontology_lacks_nothing_is_read(single):
    absent = [r for r in _marketing_by_tag(single) if r.name != "marketing-tags-0"]
    assert [p for p, _, _ in _reads(absent, "marketing:consumer")] == ["sales.orders"]
    unknown = _marketing_by_tag(single, expression={"classification": ["secret"]})
    assert [p for p, _, _ in _reads(unknown, "marketing:consumer")] == ["sales.orders"]
    assert _problems(unknown) == [
        (
            f"marketing-tags-0: Lake Formation refuses the grant to {MARKETING} on "
            "{'classification': ['secret']}: secret is not a value of LF-tag classification in "
            f"catalog {ONE}; it grants nothing"
        )
    ]


def test_an_assignment_outside_the_ontology_is_refused_and_tags_nothing(single):
    wrong = _on_table("mesh_finance", "payroll", ONE, classification="secret")
    resources = _marketing_by_tag(single, wrong)
    assert "finance.payroll" in [p for p, _, _ in _reads(resources, "marketing:consumer")]
    assert _problems(resources) == [
        (
            "mesh_finance.payroll-lf-tags: secret is not a value of LF-tag classification in "
            f"catalog {ONE}: Lake Formation refuses the assignment"
        )
    ]


def test_named_and_tag_grants_add_up_and_the_named_one_shows_no_expression(single):
    resources = [
        *_marketing_by_tag(single),
        *[r for r in single if r.name == "finance.revenue_daily@marketing-lakeformation"],
    ]
    reads = {p: v for p, _, v in _reads(resources, "marketing:consumer")}
    assert reads["finance.revenue_daily"] is None and reads["finance.invoices"] == INTERNAL


# ---------------------------------------------------------------- across accounts

FINANCE = f"arn:aws:iam::{SHARED}:role/mesh-finance-consumer"
ORDERS = (
    "amount", "currency", "customer_email", "customer_id", "order_date", "order_id", "quantity",
    "sku",
)  # fmt: skip


def _finance_by_tag(sample, *extra: Recorded) -> list:
    """The sample with finance's named grant on sales.orders (across accounts) replaced by one
    on a tag expression, granted in sales's account on its catalog."""
    return [
        *_without(sample, "sales.orders@finance-lakeformation"),
        *_ontology(SALES),
        _on_database("mesh_sales", SALES, classification="internal"),
        _on_table("mesh_sales", "returns", SALES, classification="public"),
        _tag_grant("finance-tags-0", FINANCE, INTERNAL, SALES),
        *extra,
    ]


def test_across_accounts_a_tag_grant_reads_through_the_resource_link(sample):
    reads = _reads(_finance_by_tag(sample), "finance:consumer")
    assert [(p, v) for p, _, v in reads] == [
        ("marketing.campaigns", None),
        ("sales.customers", INTERNAL),  # inherits internal from its database
        ("sales.orders", INTERNAL),
    ]  # sales.returns is public
    assert reads[2][1] == ORDERS
    assert not [p for p in _problems(_finance_by_tag(sample)) if "finance-tags-0" in p]


def test_across_accounts_a_tag_grant_needs_cross_account_version_3(sample):
    def version_2(resources):
        for r in resources:
            if r.name == f"platform-lake-settings-{SALES}":
                r.inputs["parameters"] = {"CROSS_ACCOUNT_VERSION": "2"}
        return resources

    broken = version_2(_finance_by_tag(sample))
    assert "sales.orders" not in [p for p, _, _ in _reads(broken, "finance:consumer")]
    [problem] = [p for p in _problems(broken) if "finance:consumer on sales.orders" in p]
    assert problem.endswith(
        f"cannot be used: account {SALES} shares with CROSS_ACCOUNT_VERSION 2: a tag grant to a "
        "role of another account needs 3 or later"
    )


def test_across_accounts_a_tag_grant_still_needs_the_resource_link(sample):
    broken = _without(_finance_by_tag(sample), "sales@finance-link-describe")
    [problem] = [p for p in _problems(broken) if "finance:consumer on sales.orders" in p]
    assert problem.endswith(f"no DESCRIBE on the resource link to mesh_sales in {SHARED}")


def test_the_mesh_s_pii_term_keeps_pii_columns_out_and_is_not_shown_as_the_expression(single):
    ontology = _res(T.LF_TAG, "lf-tag-pii", {"key": "pii", "values": ["false", "true"]}, ONE)
    tagging = [
        ontology,
        _on_table("mesh_finance", "invoices", ONE, pii="false"),
        _on_columns("mesh_finance", "invoices", ["billing_name"], ONE, pii="true"),
    ]
    expression = {**INTERNAL, "pii": ["false"]}
    reads = _reads(_marketing_by_tag(single, *tagging, expression=expression), "marketing:consumer")
    assert reads[0] == (
        "finance.invoices",
        ("invoice_id", "issued_on", "net_amount", "order_id", "tax_amount"),
        INTERNAL,
    )  # revenue_daily and payroll carry no pii tag: the AND fails
    assert [p for p, _, _ in reads] == ["finance.invoices", "sales.orders"]


def test_an_expired_tag_grant_is_not_provisioned_and_reads_nothing(tmp_path):
    """The sample's logistics grant to analytics by tag, expired: the program declares no
    permission for it, the evaluator finds no access, and the audit agrees with the blueprints
    (the grant is listed as expired, not missing)."""
    from infra.audit.audit import audit

    root = tmp_path / "blueprints"
    shutil.copytree(SAMPLE, root)
    path = root / "logistics.yaml"
    text = path.read_text()
    assert text.count("    expires: 2027-10-31\n") == 1
    path.write_text(text.replace("    expires: 2027-10-31\n", "    expires: 2026-11-01\n"))
    mesh = load_mesh(root, today=TODAY).mesh
    graph = run_program(mesh, StackSettings(), TODAY)
    assert not [
        r
        for r in graph.by_type(T.LF_PERMISSIONS)
        if "lfTagPolicy" in r.inputs and r.name.startswith("logistics@")
    ]
    outcome = audit(mesh, graph.resources, TODAY)
    assert outcome.differences == [] and outcome.detail.problems == []
    assert ("analytics:consumer", "logistics.stock_levels") not in {
        (g.principal, g.product) for g in outcome.effective
    }
    assert [(g.principal, g.product) for g in outcome.declared.expired if g.via_tags] == [
        ("analytics:consumer", "logistics.stock_levels")
    ]
