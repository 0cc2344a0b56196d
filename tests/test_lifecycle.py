"""Grant lifecycle and safe change, end to end through the CLI with a fixed clock (MESH_TODAY).

- Expiring grants: `mesh validate` warns W001 (within 30 days) and W002 (expired); `mesh audit`
  lists expired grants as expired (not as access) in the matrix and the reports.
- Retiring products: a product removed without a decommission block, before its date, or with
  its data retained is an error of `mesh validate --base BASE` and of `mesh diff` (exit 1),
  located at the product's line in the BASE file; removing one decommissioned with data: delete
  after its date is allowed with a warning (that is how data gets deleted). A domain's blueprint
  removed, or a product's physical name changed, is an error too.
- Renames declared with previous_names are not removals, and `mesh diff` shows them as renames.

Every case starts from tests/fixtures/lifecycle/base (today = 2026-11-25):
shop.orders   shared with crm until 2026-12-10 (W001) and bi until 2026-10-31 (expired, W002)
shop.returns  decommissioned 2026-11-01, data: retain
shop.carts    decommissioned 2026-11-01, data: delete
shop.wishlists to be decommissioned 2027-01-31, data: delete
crm.contacts  shared with bi; bi owns nothing
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, TODAY
from typer.testing import CliRunner

from infra.cli import app

BASE = FIXTURES / "lifecycle" / "base"
SHOP = str(BASE / "shop.yaml")
# lines of the base fixture the removal errors point at
LINE = {"orders": 6, "returns": 27, "carts": 41, "wishlists": 55}

Blueprints = dict[str, dict]


def mesh(*args: str, today: str = TODAY.isoformat()):
    return CliRunner().invoke(app, list(args), env={"MESH_TODAY": today})


def tree(tmp_path: Path, edit: Callable[[Blueprints], None] | None = None, name="head") -> Path:
    """A copy of BASE (as data) with `edit` applied; a domain deleted from the dict is a file
    removed from the tree."""
    blueprints = {p.stem: yaml.safe_load(p.read_text()) for p in sorted(BASE.glob("*.yaml"))}
    if edit:
        edit(blueprints)
    out = tmp_path / name
    out.mkdir()
    for stem, data in blueprints.items():
        (out / f"{stem}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def product(bps: Blueprints, pid: str) -> dict:
    domain, name = pid.split(".")
    return next(p for p in bps[domain]["products"] if p["name"] == name)


def remove(*pids: str) -> Callable[[Blueprints], None]:
    def edit(bps: Blueprints) -> None:
        for pid in pids:
            domain, name = pid.split(".")
            bps[domain]["products"] = [p for p in bps[domain]["products"] if p["name"] != name]

    return edit


def validate_json(head: Path, *extra: str, today: str = TODAY.isoformat()) -> tuple[int, dict]:
    run = mesh("validate", str(head), "--format", "json", *extra, today=today)
    assert "Traceback" not in run.output
    return run.exit_code, json.loads(run.stdout)


def codes(problems: list[dict]) -> list[tuple]:
    return [(p["code"], p["file"], p["line"], p["path"]) for p in problems]


# ------------------------------------------------------------------ expiring grants


def test_validate_warns_about_expiring_and_expired_grants():
    code, doc = validate_json(BASE)
    assert code == 0 and doc["ok"] is True and doc["errors"] == []
    assert codes(doc["warnings"]) == [
        ("W001", SHOP, 21, "products[0].consumers[0].expires"),
        ("W002", SHOP, 25, "products[0].consumers[1].expires"),
    ]
    soon, gone = (w["message"] for w in doc["warnings"])
    assert "expires in 15 day(s), on 2026-12-10" in soon
    assert "expired on 2026-10-31 and grants nothing" in gone


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        ("2026-11-09", []),  # 31 days before the last day: no warning yet
        ("2026-11-10", ["W001"]),  # 30 days: warned
        ("2026-12-10", ["W001"]),  # the last day of access: still access
        ("2026-12-11", ["W002"]),  # the day after: expired
    ],
)
def test_the_clock_moves_a_grant_from_soon_to_expired(today, expected):
    code, doc = validate_json(BASE, today=today)
    assert code == 0
    crm = [w["code"] for w in doc["warnings"] if w["path"] == "products[0].consumers[0].expires"]
    assert crm == expected


def test_expiry_warnings_as_github_annotations():
    run = mesh("validate", str(BASE), "--format", "github")
    assert run.exit_code == 0
    assert f"::warning file={SHOP},line=21,title=W001::" in run.stdout
    assert f"::warning file={SHOP},line=25,title=W002::" in run.stdout


def _audit(tmp_path: Path, today: str) -> tuple[dict, str, str]:
    out = tmp_path / f"audit-{today}"
    run = mesh("audit", str(BASE), "--out", str(out), today=today)
    assert run.exit_code == 0, run.output
    matrix = json.loads((out / "access-matrix.json").read_text())
    return matrix, (out / "report.md").read_text(), (out / "report.html").read_text()


def _pairs(grants: list[dict]) -> set[tuple[str, str]]:
    return {(g["principal"], g["product"]) for g in grants}


def test_audit_shows_expired_grants_as_expired(tmp_path):
    matrix, md, html = _audit(tmp_path, TODAY.isoformat())
    # bi's grant on shop.orders expired: listed as expired, never as access
    assert ("bi:consumer", "shop.orders") not in _pairs(matrix["grants"])
    expired = {(g["principal"], g["product"]): g for g in matrix["expired"]}
    assert expired[("bi:consumer", "shop.orders")]["expires"] == "2026-10-31"
    assert ("crm:consumer", "shop.orders") in _pairs(matrix["grants"])
    # decommissioned products: their grants are revoked from the date
    assert {("bi:consumer", "shop.returns"), ("crm:consumer", "shop.carts")} <= set(expired)
    assert ("crm:consumer", "shop.wishlists") in _pairs(matrix["grants"])  # date still ahead

    section = md.split("## Expired grants (grant nothing)")[1].split("\n## ")[0]
    assert (
        "| shop.orders | bi:consumer | amount, order_date, order_id | expired 2026-10-31 |"
        in section
    )
    assert "| shop.carts | crm:consumer | cart_id, items | decommissioned 2026-11-01 |" in section
    assert "crm:consumer" not in section.split("shop.carts")[0]  # crm's orders grant is live
    assert "<h2>Expired grants</h2>" in html and "2026-10-31" in html


def test_audit_on_a_later_day_moves_the_grant_to_expired(tmp_path):
    matrix, md, _ = _audit(tmp_path, "2026-12-11")
    assert ("crm:consumer", "shop.orders") not in _pairs(matrix["grants"])
    assert ("crm:consumer", "shop.orders") in _pairs(matrix["expired"])
    section = md.split("## Expired grants (grant nothing)")[1].split("\n## ")[0]
    assert "| shop.orders | crm:consumer | amount, order_id | expired 2026-12-10 |" in section


# ------------------------------------------------------------------ retiring products


def test_removing_a_product_without_decommission_is_an_error(tmp_path):
    head = tree(tmp_path, remove("shop.orders"))
    code, doc = validate_json(head, "--base", str(BASE))
    assert code == 1 and doc["ok"] is False
    assert codes(doc["errors"]) == [("E040", SHOP, LINE["orders"], "products[0].name")]
    message = doc["errors"][0]["message"]
    assert "shop.orders is removed without a decommission block" in message
    for hint in ("decommission: {date: YYYY-MM-DD, reason: ..., data: retain|delete}",
                 "keep it in the blueprint", "previous_names"):  # fmt: skip
        assert hint in message


def test_without_base_the_same_tree_is_valid(tmp_path):
    """A removal is a fact about the change, not about the tree: only --base sees it."""
    head = tree(tmp_path, remove("shop.orders"))
    code, doc = validate_json(head)
    assert code == 0 and doc["errors"] == []


def test_removing_before_the_decommission_date_is_an_error(tmp_path):
    head = tree(tmp_path, remove("shop.wishlists"))
    code, doc = validate_json(head, "--base", str(BASE))
    assert code == 1
    assert codes(doc["errors"]) == [("E041", SHOP, LINE["wishlists"], "products[3].name")]
    assert "before its decommission date 2027-01-31" in doc["errors"][0]["message"]


def test_removing_retained_data_is_an_error_even_after_the_date(tmp_path):
    head = tree(tmp_path, remove("shop.returns"))
    code, doc = validate_json(head, "--base", str(BASE))
    assert code == 1
    assert codes(doc["errors"]) == [("E042", SHOP, LINE["returns"], "products[1].name")]
    message = doc["errors"][0]["message"]
    assert "data: retain" in message and "change data to delete" in message


def test_removing_deleted_data_after_the_date_is_allowed_with_a_warning(tmp_path):
    head = tree(tmp_path, remove("shop.carts"))
    code, doc = validate_json(head, "--base", str(BASE))
    assert code == 0 and doc["ok"] is True
    assert ("W005", SHOP, LINE["carts"], "products[2].name") in codes(doc["warnings"])
    assert (
        "mesh:allowDataDeletion"
        in next(w for w in doc["warnings"] if w["code"] == "W005")["message"]
    )


def test_the_same_removal_on_a_day_before_the_date_is_an_error(tmp_path):
    head = tree(tmp_path, remove("shop.carts"))
    code, doc = validate_json(head, "--base", str(BASE), today="2026-10-15")
    assert code == 1
    assert codes(doc["errors"]) == [("E041", SHOP, LINE["carts"], "products[2].name")]


def test_every_unsafe_removal_is_reported_at_once(tmp_path):
    head = tree(tmp_path, remove("shop.orders", "shop.returns", "shop.wishlists", "shop.carts"))
    code, doc = validate_json(head, "--base", str(BASE))
    assert code == 1
    assert [e["code"] for e in doc["errors"]] == ["E040", "E042", "E041"]
    assert [w["code"] for w in doc["warnings"]] == ["W005"]


def test_removing_a_domain_blueprint_is_an_error(tmp_path):
    def edit(bps):
        del bps["crm"]
        for p in bps["shop"]["products"]:
            p["consumers"] = [c for c in p.get("consumers", []) if c["domain"] != "crm"]

    code, doc = validate_json(tree(tmp_path, edit), "--base", str(BASE))
    assert code == 1
    assert codes(doc["errors"]) == [("E043", str(BASE / "crm.yaml"), 1, "domain")]
    assert "contacts" in doc["errors"][0]["message"]


def test_a_declared_rename_is_not_a_removal(tmp_path):
    def edit(bps):
        orders = product(bps, "shop.orders")
        orders["name"], orders["previous_names"] = "order_lines", ["orders"]

    code, doc = validate_json(tree(tmp_path, edit), "--base", str(BASE))
    assert code == 0 and doc["errors"] == []


def test_an_undeclared_rename_is_a_removal(tmp_path):
    def edit(bps):
        product(bps, "shop.orders")["name"] = "order_lines"

    code, doc = validate_json(tree(tmp_path, edit), "--base", str(BASE))
    assert code == 1
    assert [e["code"] for e in doc["errors"]] == ["E040"]
    assert "list the old name in previous_names" in doc["errors"][0]["message"]


def test_changing_the_physical_name_is_an_error_at_the_head_line(tmp_path):
    def edit(bps):
        orders = product(bps, "shop.orders")
        orders["name"], orders["previous_names"] = "order_lines", ["legacy", "orders"]

    head = tree(tmp_path, edit)
    code, doc = validate_json(head, "--base", str(BASE))
    assert code == 1
    [error] = doc["errors"]
    assert (error["code"], error["file"], error["path"]) == (
        "E044",
        str(head / "shop.yaml"),
        "products[0].previous_names",
    )
    assert error["line"] is not None
    assert "keep 'orders' as the first entry of previous_names" in error["message"]


def test_a_head_file_that_does_not_load_does_not_count_as_removals(tmp_path):
    head = tree(tmp_path)
    (head / "shop.yaml").write_text("domain: shop\nproducts: [\n")
    code, doc = validate_json(head, "--base", str(BASE))
    assert code == 1
    assert {e["code"] for e in doc["errors"]} == {"E002"}  # its own error, not E040 x 4


def test_a_base_file_that_does_not_load_is_a_warning(tmp_path):
    base = tree(tmp_path, name="base")
    (base / "bi.yaml").write_text("domain: bi\n  oops: [\n")
    code, doc = validate_json(tree(tmp_path), "--base", str(base))
    assert code == 0
    assert ("W006", str(base / "bi.yaml"), None, "") in codes(doc["warnings"])


def test_base_option_usage_errors_exit_2(tmp_path):
    run = mesh("validate", str(BASE), "--base", str(tmp_path / "missing"))
    assert run.exit_code == 2 and "'--base'" in run.output
    (tmp_path / "file.yaml").write_text("x: 1\n")
    assert mesh("validate", str(BASE), "--base", str(tmp_path / "file.yaml")).exit_code == 2


def test_the_pr_check_does_not_load_pulumi(tmp_path):
    """`mesh validate --base` runs on every pull request: no Pulumi engine on that path."""
    head = tree(tmp_path, remove("shop.orders"))
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from infra.cli import app\n"
        f"run = CliRunner().invoke(app, ['validate', {str(head)!r}, '--base', {str(BASE)!r}])\n"
        "print(run.exit_code, sorted(m for m in sys.modules if m.split('.')[0].startswith('pulumi')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "[]"]


def test_removal_errors_as_text_and_github_annotations(tmp_path):
    head = tree(tmp_path, remove("shop.orders"))
    run = mesh("validate", str(head), "--base", str(BASE))
    assert run.exit_code == 1
    assert f"{SHOP}:{LINE['orders']}: error E040 products[0].name: product shop.orders" in (
        run.stdout
    )
    run = mesh("validate", str(head), "--base", str(BASE), "--format", "github")
    assert f"::error file={SHOP},line={LINE['orders']},title=E040::" in run.stdout


# ------------------------------------------------------------------ mesh diff


def test_diff_blocks_an_unsafe_removal_with_exit_1(tmp_path):
    head = tree(tmp_path, remove("shop.orders"))
    run = mesh("diff", str(BASE), str(head), "--format", "json")
    assert run.exit_code == 1, run.output
    doc = json.loads(run.stdout)
    assert list(doc)[:3] == ["new_access", "removed_access", "changed"]  # the contract keys
    assert codes(doc["errors"]) == [("E040", SHOP, LINE["orders"], "products[0].name")]
    assert "shop.orders" in doc["removed_products"]

    text = mesh("diff", str(BASE), str(head))
    assert text.exit_code == 1
    assert text.stdout.startswith("UNSAFE CHANGE (fix before merging): 1 error(s)\n")
    assert f"{SHOP}:{LINE['orders']}: error E040 product shop.orders is removed" in text.stdout

    md = mesh("diff", str(BASE), str(head), "--format", "markdown")
    assert md.exit_code == 1
    assert "> [!CAUTION]" in md.stdout and f"<code>{SHOP}:{LINE['orders']}</code> E040" in md.stdout


def test_diff_exit_1_wins_over_new_access(tmp_path):
    def edit(bps):
        remove("shop.orders")(bps)
        product(bps, "crm.contacts")["consumers"].append(
            {"domain": "shop", "justification": "order follow-up"}
        )

    run = mesh("diff", str(BASE), str(tree(tmp_path, edit)), "--format", "json")
    doc = json.loads(run.stdout)
    assert doc["new_access"] and doc["errors"]
    assert run.exit_code == 1


def test_diff_allows_deleting_decommissioned_data_after_the_date(tmp_path):
    run = mesh("diff", str(BASE), str(tree(tmp_path, remove("shop.carts"))), "--format", "json")
    assert run.exit_code == 0
    doc = json.loads(run.stdout)
    assert doc["errors"] == [] and [w["code"] for w in doc["warnings"]] == ["W005"]


# ------------------------------------------------------------------ renames in the diff


def _renamed(bps: Blueprints) -> None:
    orders = product(bps, "shop.orders")
    orders["name"], orders["previous_names"] = "order_lines", ["orders"]
    amount = next(c for c in orders["schema"] if c["name"] == "amount")
    amount["name"], amount["previous_names"] = "gross_amount", ["amount"]
    for grant in orders["consumers"]:  # the grants name the column by its new name
        grant["columns"] = ["gross_amount" if c == "amount" else c for c in grant["columns"]]


def test_diff_shows_product_and_column_renames(tmp_path):
    head = tree(tmp_path, _renamed)
    run = mesh("diff", str(BASE), str(head), "--format", "json")
    assert run.exit_code == 0, run.output
    doc = json.loads(run.stdout)
    assert doc["renamed_products"] == {"shop.orders": "shop.order_lines"}
    assert doc["renamed_columns"] == {"shop.order_lines": {"amount": "gross_amount"}}
    assert doc["errors"] == [] and doc["new_access"] == [] and doc["removed_access"] == []
    # crm reads amount: the rename breaks its queries, and says so
    [breaking] = doc["breaking_schema"]
    assert (breaking["column"], breaking["change"], breaking["after_name"]) == (
        "amount",
        "renamed",
        "gross_amount",
    )

    text = mesh("diff", str(BASE), str(head)).stdout
    assert "renamed products: shop.orders -> shop.order_lines" in text
    assert "renamed columns: shop.order_lines.amount -> gross_amount" in text
    md = mesh("diff", str(BASE), str(head), "--format", "markdown").stdout
    assert "renamed products: <code>shop.orders</code> → <code>shop.order_lines</code>" in md
    assert "renamed columns: <code>shop.order_lines.amount</code> → <code>gross_amount</code>" in md


def test_a_rename_is_shown_once_not_on_every_later_change(tmp_path):
    renamed = tree(tmp_path, _renamed, name="renamed")
    later = tree(tmp_path, _renamed, name="later")
    doc = json.loads(mesh("diff", str(renamed), str(later), "--format", "json").stdout)
    assert doc["renamed_products"] == {} and doc["renamed_columns"] == {}


def test_a_partition_key_rename_is_a_column_rename(tmp_path):
    def edit(bps):
        dt_key = product(bps, "shop.orders")["partition_keys"][0]
        dt_key["name"], dt_key["previous_names"] = "day", ["dt"]

    doc = json.loads(mesh("diff", str(BASE), str(tree(tmp_path, edit)), "-f", "json").stdout)
    assert doc["renamed_columns"] == {"shop.orders": {"dt": "day"}}
