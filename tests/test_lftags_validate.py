"""Tag-based access, validation: the ontology, tag values and keys, who assigned them, tag
grants, GOV-015 and Lake Formation's LF-tag quotas at their boundaries, each with file:line
(`infra.blueprints.lftags`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lftags_fixtures import ANALYTICS, MESH_FILE, SALES, TODAY, write
from typer.testing import CliRunner

from infra.cli import app


def _validate(root: Path) -> tuple[int, list[str], list[str]]:
    done = CliRunner().invoke(app, ["validate", str(root)], env={"MESH_TODAY": TODAY.isoformat()})
    lines = [line.removeprefix(f"{root}/") for line in done.stdout.splitlines()]
    errors = [line for line in lines if " error " in line]
    warnings = [line for line in lines if " warning " in line]
    return done.exit_code, errors, warnings


def _tree(tmp_path: Path, mesh: str = MESH_FILE, sales: str = SALES, **more: str) -> Path:
    return write(tmp_path, _mesh=mesh, sales=sales, analytics=ANALYTICS, **more)


def _codes(lines: list[str]) -> list[str]:
    """`file:line: error CODE field` of each line, without the message."""
    return [line.split(": ", 2)[0] + " " + line.split(": ", 2)[1] for line in lines]


def test_the_small_tagged_mesh_is_valid(tmp_path):
    code, errors, warnings = _validate(_tree(tmp_path))
    assert (code, errors, warnings) == (0, [], [])


def test_a_tag_value_outside_the_ontology_is_an_error_at_its_line(tmp_path):
    sales = SALES.replace(
        "lf_tags: {sensitivity: low, area: shop}", "lf_tags: {sensitivity: low, area: moon}"
    )
    code, errors, _ = _validate(_tree(tmp_path, sales=sales))
    assert code == 1
    assert errors == [
        (
            "sales.yaml:13: error E101 products[0].lf_tags.area: 'moon' is not a value of LF-tag "
            "'area'; expected one of: shop, ops"
        )
    ]


def test_a_key_not_in_the_ontology_and_a_derived_key_are_errors(tmp_path):
    sales = SALES.replace(
        "lf_tags: {sensitivity: low, area: shop}", "lf_tags: {sensitivity: low, colour: red}"
    ).replace("{name: amount, type: int}", "{name: amount, type: int, lf_tags: {domain: x}}")
    code, errors, _ = _validate(_tree(tmp_path, sales=sales))
    assert code == 1
    assert _codes(errors) == [
        "sales.yaml:13 error E100 products[0].lf_tags.colour",
        "sales.yaml:18 error E102 products[0].schema[2].lf_tags.domain",
    ]
    assert "not in the ontology (lf_tags of _mesh.yaml: area, sensitivity; derived: " in errors[0]


def test_declaring_a_derived_key_in_the_ontology_is_an_error(tmp_path):
    mesh = MESH_FILE.replace(
        "  area:", "  classification: {values: [a], description: mine}\n  area:"
    )
    code, errors, _ = _validate(_tree(tmp_path, mesh=mesh))
    assert code == 1
    assert _codes(errors) == ["_mesh.yaml:7 error E102 lf_tags.classification"]


def test_an_unauthorised_tag_key_assignment_is_an_error(tmp_path):
    # sensitivity is assigned_by: privacy; without lf_tags_approved_by every assignment of it
    # on the product and its columns is reported, at its own line
    sales = SALES.replace("    lf_tags_approved_by: privacy\n", "")
    code, errors, _ = _validate(_tree(tmp_path, sales=sales))
    assert code == 1
    assert _codes(errors) == [
        "sales.yaml:13 error E103 products[0].lf_tags.sensitivity",
        "sales.yaml:16 error E103 products[0].schema[1].lf_tags.sensitivity",
        "sales.yaml:18 error E103 products[0].schema[3].lf_tags.sensitivity",
    ]
    assert (
        "LF-tag 'sensitivity' is assigned by privacy only (_mesh.yaml: assigned_by: privacy); "
        "sales.orders has no lf_tags_approved_by: set lf_tags_approved_by: privacy once "
        "privacy (@acme/privacy) approves" in errors[0]
    )
    # another group's approval is not privacy's
    sales = SALES.replace("lf_tags_approved_by: privacy", "lf_tags_approved_by: security")
    code, errors, _ = _validate(_tree(tmp_path, sales=sales))
    assert code == 1 and len(errors) == 3
    assert "has lf_tags_approved_by 'security', which is not privacy" in errors[0]
    # a member of privacy approves as the group does
    sales = SALES.replace("lf_tags_approved_by: privacy", 'lf_tags_approved_by: "@acme/privacy"')
    assert _validate(_tree(tmp_path, sales=sales))[:2] == (0, [])


def test_a_domain_tag_grant_over_other_domains_and_to_unknown_domains(tmp_path):
    sales = SALES.replace(
        "lf_tags: {classification: [internal, public], sensitivity: [low]}",
        "lf_tags: {classification: [internal], domain: [sales, analytics]}",
    ).replace(
        "  - {domain: analytics, lf_tags: {classification",
        "  - {domain: nowhere, lf_tags: {classification",
    )
    code, errors, _ = _validate(_tree(tmp_path, sales=sales))
    assert code == 1
    assert _codes(errors) == [
        "sales.yaml:6 error E104 tag_grants[0].domain",
        "sales.yaml:6 error E105 tag_grants[0].lf_tags.domain",
    ]
    assert "the expression names other domains (analytics)" in errors[1]


def test_a_mesh_wide_tag_grant_needs_the_platform_group(tmp_path):
    mesh = MESH_FILE.replace(", approved_by: platform}", "}")
    code, errors, _ = _validate(_tree(tmp_path, mesh=mesh))
    assert code == 1
    assert _codes(errors) == ["_mesh.yaml:9 error E106 tag_grants[0]"]
    mesh = MESH_FILE.replace("approved_by: platform}", "approved_by: security}")
    code, errors, _ = _validate(_tree(tmp_path, mesh=mesh))
    assert _codes(errors) == ["_mesh.yaml:10 error E106 tag_grants[0].approved_by"]


def test_a_tag_grant_sharing_pii_needs_privacy(tmp_path):
    sales = SALES.replace(
        "justification: dashboards,", "justification: dashboards, include_pii: true,"
    )
    code, errors, _ = _validate(_tree(tmp_path, sales=sales))
    assert code == 1
    assert _codes(errors) == ["sales.yaml:7 error E107 tag_grants[0].include_pii"]
    sales = SALES.replace(
        "justification: dashboards,",
        "justification: dashboards, include_pii: true, approved_by: platform,",
    )
    code, errors, _ = _validate(_tree(tmp_path, sales=sales))
    assert _codes(errors) == ["sales.yaml:7 error E107 tag_grants[0].approved_by"]


def test_lf_tags_on_a_partition_key_are_an_error(tmp_path):
    sales = SALES.replace(
        "      - {name: price, type: int, lf_tags: {area: shop}}\n",
        "      - {name: price, type: int, lf_tags: {area: shop}}\n    partition_keys:\n"
        "      - {name: dt, type: string, lf_tags: {area: ops}}\n",
    )
    _code, errors, _ = _validate(_tree(tmp_path, sales=sales))
    assert _codes(errors) == ["sales.yaml:28 error E108 products[1].partition_keys[0].lf_tags"]


def test_retagging_a_pii_column_below_its_product_is_gov_015(tmp_path):
    sales = SALES.replace(
        "lf_tags: {sensitivity: low, area: shop}", "lf_tags: {sensitivity: high, area: shop}"
    ).replace(
        "{name: email, type: string, pii: true, lf_tags: {sensitivity: high}}",
        "{name: email, type: string, pii: true, lf_tags: {sensitivity: low}}",
    )
    code, errors, _ = _validate(_tree(tmp_path, sales=sales))
    assert code == 1
    assert errors == [
        (
            "sales.yaml:17: error GOV-015 products[0].schema[1].lf_tags.sensitivity: PII column "
            "'email' of sales.orders is tagged sensitivity: low, less sensitive than its "
            "product's sensitivity: high (values least sensitive first: low, high); a grant on "
            "low would read it"
        )
    ]


def test_a_grant_reaching_nothing_and_an_expired_grant_warn(tmp_path):
    mesh = MESH_FILE.replace("{classification: [public]}", "{classification: [restricted]}")
    sales = SALES.replace("expires: 2027-06-30}", "expires: 2026-12-01}")
    code, errors, warnings = _validate(_tree(tmp_path, mesh=mesh, sales=sales))
    assert (code, errors) == (0, [])
    assert _codes(warnings) == [
        "_mesh.yaml:9 warning W040 tag_grants[0].lf_tags",
        "sales.yaml:7 warning W002 tag_grants[0].expires",
    ]


# ------------------------------------------------------------------ quotas at their boundaries


def _ontology(keys: int, values: int = 1) -> str:
    head = MESH_FILE.split("lf_tags:")[0]
    vals = ", ".join(f"v{i}" for i in range(values))
    return (
        head
        + "lf_tags:\n"
        + "".join(f"  k{i}: {{values: [{vals}], description: key {i}}}\n" for i in range(keys))
    )


PLAIN_SALES = (
    SALES.split("tag_grants:")[0]
    + "products:"
    + SALES.split("products:")[1]
    .replace("    lf_tags: {sensitivity: low, area: shop}\n    lf_tags_approved_by: privacy\n", "")
    .replace(", lf_tags: {sensitivity: high}", "")
    .replace(", lf_tags: {area: shop}", "")
)


@pytest.mark.parametrize(("values", "ok"), [(1000, True), (1001, False)])
def test_values_per_lf_tag_quota(tmp_path, values, ok):
    code, errors, _ = _validate(_tree(tmp_path, mesh=_ontology(1, values), sales=PLAIN_SALES))
    if ok:
        assert (code, errors) == (0, [])
    else:
        assert _codes(errors) == ["_mesh.yaml:6 error E110 lf_tags.k0.values"]
        assert "has 1,001 values; Lake Formation allows 1,000 per LF-tag" in errors[0]


@pytest.mark.parametrize(("keys", "ok"), [(997, True), (998, False)])
def test_lf_tag_keys_per_account_quota(tmp_path, keys, ok):
    # 997 declared + 3 derived (domain, classification, pii) = 1,000 keys in each account
    code, errors, _ = _validate(_tree(tmp_path, mesh=_ontology(keys), sales=PLAIN_SALES))
    if ok:
        assert (code, errors) == (0, [])
    else:
        assert _codes(errors) == ["_mesh.yaml:5 error E112 lf_tags"]
        assert "1,001 LF-tag keys (3 derived" in errors[0]


@pytest.mark.parametrize(("own", "ok"), [(47, True), (48, False)])
def test_lf_tags_per_resource_quota(tmp_path, own, ok):
    # a table carries the 3 derived keys and its own: 47 + 3 = 50 is Lake Formation's limit
    tags = ", ".join(f"k{i}: v0" for i in range(own))
    sales = PLAIN_SALES.replace(
        "    classification: internal\n", f"    classification: internal\n    lf_tags: {{{tags}}}\n"
    )
    code, errors, _ = _validate(_tree(tmp_path, mesh=_ontology(50), sales=sales))
    if ok:
        assert (code, errors) == (0, [])
    else:
        assert _codes(errors) == ["sales.yaml:9 error E111 products[0].lf_tags"]
        assert "would carry 51 LF-tags (48 of its own" in errors[0]


@pytest.mark.parametrize(("domains", "ok"), [(1000, True), (1001, False)])
def test_domain_values_per_account_quota(tmp_path, domains, ok):
    # the derived `domain` LF-tag of an account holds its domains (`lf_tags: {}`: tag-based
    # access on, with the derived keys only)
    mesh = MESH_FILE.split("lf_tags:")[0] + "lf_tags: {}\n"
    write(tmp_path, _mesh=mesh)
    product = PLAIN_SALES.split("products:")[1].split("  - name: prices")[0]
    for i in range(domains):
        write(
            tmp_path,
            **{
                f"d{i:04d}": ANALYTICS.replace("analytics", f"d{i:04d}").replace(
                    "products: []\n", "account: '111122223333'\nproducts:" + product
                )
            },
        )
    code, errors, _ = _validate(tmp_path)
    if ok:
        assert (code, errors) == (0, [])
    else:
        assert _codes(errors) == ["d0000.yaml:5 error E110 account"]
        assert "would hold 1,001 values of the derived LF-tag 'domain'" in errors[0]


def test_without_an_ontology_tag_based_access_is_off(tmp_path):
    mesh = MESH_FILE.split("lf_tags:")[0] + "tag_grants:" + MESH_FILE.split("tag_grants:")[1]
    code, errors, _ = _validate(_tree(tmp_path, mesh=mesh, sales=PLAIN_SALES))
    assert code == 1
    assert _codes(errors) == ["_mesh.yaml:6 error E100 tag_grants[0]"]
    assert "tag-based access is off in this mesh: _mesh.yaml declares no lf_tags" in errors[0]


def test_tag_grants_meet_the_grant_policies_of_the_products_they_reach(tmp_path):
    """A tag grant reaching restricted data is GOV-004, one reaching confidential data without
    expires GOV-005, at the tag grant's line (with the product it reaches, so the producing
    domain's exception can waive it as for a named grant)."""
    sales = """\
domain: sales
description: Sales of the shop
owner: {team: sales-data, email: sales@example.com, github: "@acme/sales"}
cost_center: CC-1
tag_grants:
  - {domain: analytics, lf_tags: {classification: [restricted, confidential]}, justification: x}
products:
  - name: orders
    description: One row per order
    classification: confidential
    retention_days: 90
    freshness_slo_hours: 24
    schema:
      - {name: order_id, type: string}
  - name: payroll
    description: Monthly payroll
    classification: restricted
    retention_days: 90
    freshness_slo_hours: 24
    schema:
      - {name: month, type: string}
"""
    code, errors, _ = _validate(_tree(tmp_path, sales=sales))
    assert code == 1
    assert _codes(errors) == [
        "sales.yaml:6 error GOV-005 tag_grants[0]",
        "sales.yaml:6 error GOV-005 tag_grants[0]",
        "sales.yaml:6 error GOV-004 tag_grants[0].lf_tags",
    ]
    assert "reaches sales.orders (confidential) and has no expires" in errors[0]
    assert "reaches sales.payroll, which is restricted" in errors[2]
