"""The second security review (issue 25): ways a pull request gained data access or PII, or
dodged a required approval, while the PR check exited 0 (or 3 asking only for approvals the
author's own team could give). Each is reproduced through the CLI as in `tests/test_bypasses.py`
and must now be refused (exit 1) or reviewed by the right approvers.

The PR check runs on two checkouts side by side, as the workflow lays them out: BASE in
`base/` and HEAD in `head/`, each a project with its blueprints in `blueprints/` and, where a
test needs them, its stack configs (`Pulumi.<stack>.yaml`) beside that directory.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from conftest import TODAY
from test_bypasses import base_mesh, located, orders, write
from typer.testing import CliRunner

from infra.cli import app

runner = CliRunner()

MESH_FILE = {
    "approvers": {
        "privacy": {"description": "Data protection office", "members": ["@acme/privacy"]},
        "security": {"description": "Security engineering", "members": ["@acme/security"]},
        "platform": {"description": "Data platform team", "members": ["@acme/platform"]},
    },
}

STACK = {
    "config": {
        "aws:region": "eu-west-1",
        "mesh:prefix": "acme-mesh",
        "mesh:account": "123456789012",
        "mesh:stack": "all",
        "mesh:allowDataDeletion": False,
        "mesh:lakeFormationAdmins": ["arn:aws:iam::123456789012:role/platform-deployer"],
    }
}


def with_owners(bps: dict) -> dict:
    for name, bp in bps.items():
        bp["owner"]["github"] = f"@acme/{name}-team"
    return bps


def project(root: Path, bps: dict, mesh_file: dict | None, stacks: dict | None) -> Path:
    """A checkout: `root/blueprints/` (with `_mesh.yaml` when given) and the stack configs."""
    blueprints = write(root / "blueprints", bps)
    if mesh_file is not None:
        (blueprints / "_mesh.yaml").write_text(yaml.safe_dump(mesh_file, sort_keys=False))
    for name, doc in (stacks or {}).items():  # "" is the project file, Pulumi.yaml
        file = f"Pulumi.{name}.yaml" if name else "Pulumi.yaml"
        (root / file).write_text(yaml.safe_dump(doc, sort_keys=False))
    return blueprints


def check(
    tmp_path: Path,
    attack,
    *,
    base_bps: dict | None = None,
    mesh_file: dict | None = MESH_FILE,
    stacks: dict | None = None,
    approvals: list[str] | None = None,
    fmt: str = "json",
    head_mesh_file: dict | None = None,
):
    """`mesh diff base/blueprints head/blueprints --validate`: `attack(bps, stacks, head_root)`
    turns BASE into HEAD."""
    base_bps = base_bps or with_owners(base_mesh())
    head_bps, head_stacks = copy.deepcopy(base_bps), copy.deepcopy(stacks or {})
    b = project(tmp_path / "base", base_bps, mesh_file, stacks)
    attack(head_bps, head_stacks, tmp_path / "head")
    h = project(tmp_path / "head", head_bps, head_mesh_file or mesh_file, head_stacks)
    args = ["diff", str(b), str(h), "--validate", "--format", fmt]
    if approvals is not None:
        (tmp_path / "approvals.json").write_text(json.dumps({"approved_by": approvals}))
        args += ["--approvals", str(tmp_path / "approvals.json")]
    run = runner.invoke(app, args, env={"MESH_TODAY": str(TODAY)})
    assert "Traceback" not in run.output, run.output
    return run


def approvers(doc: dict) -> set[tuple[str, str | None]]:
    return {(a["approver"], a["principal"]) for a in doc["required_approvals"]}


# ------------------------------------------------------------------ 1. the whole repository


def test_a_stack_config_change_is_reviewed_by_platform_and_security(tmp_path):
    """One edit adds a Lake Formation admin: before, invisible to `mesh diff` (exit 0)."""

    def attack(bps, stacks, root):
        admins = stacks["dev"]["config"]["mesh:lakeFormationAdmins"]
        admins.append("arn:aws:iam::999999999999:role/intruder")

    run = check(tmp_path, attack, stacks={"dev": STACK})
    doc = json.loads(run.stdout)
    assert run.exit_code == 3, run.output
    [item] = doc["review_required"]
    assert (item["change"], Path(item["file"]).name, item["line"]) == (
        "stack_config_changed", "Pulumi.dev.yaml", 7,
    )  # fmt: skip
    assert "mesh:lakeFormationAdmins" in item["reason"] and "intruder" in item["reason"]
    assert approvers(doc) == {("platform", None), ("security", None)}
    # the author's own team cannot approve it; platform and security can
    run = check(tmp_path / "a", attack, stacks={"dev": STACK}, approvals=["@acme/shop-team"])
    assert run.exit_code == 1
    run = check(
        tmp_path / "b", attack, stacks={"dev": STACK},
        approvals=["@acme/platform", "@acme/security"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output


def test_each_watched_stack_setting_is_a_review_item(tmp_path):
    changes = {
        "mesh:allowDataDeletion": True,
        "mesh:singleAccount": True,
        "mesh:prefix": "other-mesh",
        "mesh:account": "210987654321",
    }

    def attack(bps, stacks, root):
        stacks["dev"]["config"].update(changes)
        stacks["prod"] = copy.deepcopy(STACK)  # a new stack: each of its values is new

    run = check(tmp_path, attack, stacks={"dev": STACK})
    doc = json.loads(run.stdout)
    assert run.exit_code == 3, run.output
    reasons = [(Path(r["file"]).name, r["reason"].split(" ")[1]) for r in doc["review_required"]]
    assert sorted(r for r in reasons if r[0] == "Pulumi.dev.yaml") == sorted(
        ("Pulumi.dev.yaml", key) for key in changes
    )
    assert ("Pulumi.prod.yaml", "mesh:lakeFormationAdmins") in reasons


def test_a_stack_config_deploying_an_unchecked_directory_is_refused(tmp_path):
    """`mesh:blueprints` points at a directory the check never read, holding a restricted PII
    grant: before, exit 0 and nobody asked."""

    def attack(bps, stacks, root):
        stacks["dev"]["config"]["mesh:blueprints"] = "shadow"
        shadow = copy.deepcopy(bps)
        orders(shadow)["consumers"].append(
            {"domain": "audit", "include_pii": True, "approved_by": "privacy",
             "justification": "hidden"}
        )  # fmt: skip
        write(root / "shadow", shadow)

    run = check(tmp_path, attack, stacks={"dev": STACK})
    doc = json.loads(run.stdout)
    assert run.exit_code == 1, run.output
    assert ("E070", "Pulumi.dev.yaml", "config.mesh:blueprints") in located(doc)
    [e070] = [e for e in doc["errors"] if e["code"] == "E070"]
    assert e070["line"] == 9 and "'shadow'" in e070["message"]


PROJECT = {
    "name": "mesh",
    "runtime": {"name": "python"},
    "main": "infra/",
    "config": {
        "blueprints": {"type": "string", "default": "blueprints"},
        "allowDataDeletion": {"default": False},
    },
}


def test_the_project_files_defaults_and_program_are_reviewed(tmp_path):
    """Pulumi.yaml decides every stack's defaults and which program runs: a default pointed
    at an unchecked directory is E070 at its line; another program is reviewed."""
    dev = copy.deepcopy(STACK)
    del dev["config"]["mesh:allowDataDeletion"]  # the project's default decides it
    stacks = {"": PROJECT, "dev": dev}

    def attack(bps, stacks, root):
        stacks[""]["config"]["blueprints"]["default"] = "shadow"
        stacks[""]["config"]["allowDataDeletion"]["default"] = True
        stacks[""]["main"] = "shadow_infra/"

    run = check(tmp_path, attack, stacks=stacks)
    doc = json.loads(run.stdout)
    assert run.exit_code == 1, run.output
    assert located(doc) == [("E070", "Pulumi.yaml", "config.blueprints.default")]
    items = {(Path(r["file"]).name, r["reason"].split(" ")[1]) for r in doc["review_required"]}
    assert items == {
        ("Pulumi.yaml", "main"),
        ("Pulumi.yaml", "mesh:allowDataDeletion"),
        ("Pulumi.yaml", "mesh:blueprints"),
    }


def test_a_value_the_project_file_gives_every_stack_is_reviewed(tmp_path):
    """Pulumi.yaml gives every stack a value with `value:` (and a key of another namespace
    takes only that form: Pulumi refuses its `default:`), or with a bare value: a pull request
    adding `aws:region: {value: ...}` or a Lake Formation admin as a value for every stack was
    not a review item (only `default:` was read)."""
    dev = copy.deepcopy(STACK)
    del dev["config"]["aws:region"]  # the project's value decides it
    stacks = {"": PROJECT, "dev": dev}

    def attack(bps, stacks, root):
        stacks[""]["config"]["aws:region"] = {"value": "us-east-1"}
        stacks[""]["config"]["lakeFormationReadOnlyAdmins"] = {
            "value": ["arn:aws:iam::999999999999:role/reader"]
        }
        stacks[""]["config"]["mesh:deployRoleName"] = "intruder-deployer"  # a bare value

    run = check(tmp_path, attack, stacks=stacks)
    doc = json.loads(run.stdout)
    assert run.exit_code == 3, run.output
    items = {
        (Path(r["file"]).name, r["reason"].split(" ")[1], r["line"] is not None)
        for r in doc["review_required"]
    }
    assert items == {
        ("Pulumi.yaml", "aws:region", True),
        ("Pulumi.yaml", "mesh:lakeFormationReadOnlyAdmins", True),
        ("Pulumi.yaml", "mesh:deployRoleName", True),
    }
    assert approvers(doc) == {("platform", None), ("security", None)}


def test_stack_configs_moved_where_the_check_does_not_read_them_are_refused(tmp_path):
    """Pulumi reads a stack's config from the project file's `stackConfigDir` (or the older
    `config: <dir>`): a pull request moving the stack configs there, with a Lake Formation admin
    added, left the project without a `Pulumi.*.yaml` beside it, and the check compared nothing
    (exit 0)."""
    stacks = {"": PROJECT, "dev": STACK}

    def move(bps, stacks, root, key="stackConfigDir"):
        moved = copy.deepcopy(stacks.pop("dev"))
        moved["config"]["mesh:lakeFormationAdmins"].append("arn:aws:iam::999999999999:role/x")
        (root / "envs").mkdir(parents=True)
        (root / "envs" / "Pulumi.dev.yaml").write_text(yaml.safe_dump(moved))
        stacks[""][key] = "envs"

    run = check(tmp_path, move, stacks=stacks)
    assert run.exit_code == 1, run.output
    doc = json.loads(run.stdout)
    assert located(doc) == [("E075", "Pulumi.yaml", "stackConfigDir")]
    [e075] = doc["errors"]
    assert e075["line"] == 11 and "'envs'" in e075["message"]
    # the older spelling: `config:` a directory, not the project's config keys
    run = check(tmp_path / "old", lambda *a: move(*a, key="config"), stacks=stacks)
    assert run.exit_code == 1, run.output
    assert [e["code"] for e in json.loads(run.stdout)["errors"]] == ["E005"]
    # a stack config beside Pulumi.yaml as well changes nothing: the others are elsewhere
    run = check(
        tmp_path / "both", lambda b, s, r: (move(b, s, r), s.update(dev=STACK)), stacks=stacks
    )
    assert run.exit_code == 1, run.output
    assert ("E075", "Pulumi.yaml", "stackConfigDir") in located(json.loads(run.stdout))


@pytest.mark.parametrize(
    "files",
    [
        {"Pulumi.json": "", "Pulumi.dev.json": "dev"},  # found before Pulumi.yaml
        {"Pulumi.yml": "", "Pulumi.dev.yml": "dev"},  # once Pulumi.yaml and its configs go
    ],
)
def test_a_project_file_pulumi_reads_instead_of_pulumi_yaml_is_refused(tmp_path, files):
    """Pulumi finds Pulumi.json, Pulumi.yaml, Pulumi.yml in this order and reads each stack's
    config with the project file's extension: a pull request adding Pulumi.json (or renaming
    both files to .yml) deployed stack configs the check never read (exit 0)."""
    stacks = {"": PROJECT, "dev": STACK}

    def attack(bps, stacks, root):
        evil = copy.deepcopy(STACK)
        evil["config"]["mesh:lakeFormationAdmins"].append("arn:aws:iam::999999999999:role/x")
        root.mkdir(parents=True)
        for name, what in files.items():
            (root / name).write_text(json.dumps(evil if what else PROJECT))
        if "Pulumi.yml" in files:
            stacks.clear()

    run = check(tmp_path, attack, stacks=stacks)
    assert run.exit_code == 1, run.output
    doc = json.loads(run.stdout)
    [project] = [n for n in files if n.count(".") == 1]
    assert located(doc) == [("E075", project, "")]
    assert f"remove {project}" in doc["errors"][0]["message"]


def test_the_codeowners_gives_everything_else_to_the_platform_team(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    blueprints = project(tmp_path, with_owners(base_mesh()), MESH_FILE, {"dev": STACK})
    monkeypatch.chdir(tmp_path)
    run = runner.invoke(app, ["codeowners", "blueprints"])
    assert run.exit_code == 0
    rules = [line for line in run.stdout.splitlines() if line and not line.startswith("#")]
    assert rules[0] == "* @acme/platform"  # first: the last matching rule wins
    assert rules[1] == "/blueprints/ @acme/platform"
    assert "/blueprints/shop.yaml @acme/shop-team" in rules
    from infra.governance.codeowners import owners_of, parse_codeowners

    parsed = parse_codeowners(run.stdout)
    for path in ("Pulumi.dev.yaml", "infra/api.py", "pyproject.toml", "policies/x.py", "new/f"):
        assert owners_of(parsed, path).owners == ("@acme/platform",), path
    assert owners_of(parsed, "blueprints/shop.yaml").owners == ("@acme/shop-team",)
    # a checked-in CODEOWNERS without the `*` rule leaves the stack configs to nobody: W011
    (tmp_path / "CODEOWNERS").write_text("\n".join(rules[1:]) + "\n")
    run = runner.invoke(
        app, ["validate", str(blueprints), "--format", "json"], env={"MESH_TODAY": str(TODAY)}
    )
    doc = json.loads(run.stdout)
    assert [(w["code"], w["file"]) for w in doc["warnings"] if w["code"] == "W011"] == [
        ("W011", "CODEOWNERS")
    ]


def test_mesh_policies_says_who_approves_a_stack_config_change():
    run = runner.invoke(app, ["policies"])
    assert "  a stack config changed (Pulumi.<stack>.yaml): platform and security" in run.stdout
    doc = json.loads(runner.invoke(app, ["policies", "--format", "json"]).stdout)
    assert {
        "change": "a stack config changed (Pulumi.<stack>.yaml)",
        "approvers": "platform and security",
    } in doc["approvals"]


# ------------------------------------------------------------------ 2. the first _mesh.yaml


def test_the_first_platform_file_comes_alone(tmp_path):
    """The PR adding the first `_mesh.yaml` names its author's teammate in every group and
    shares PII in the same change: before, one approval satisfied privacy, security and
    platform (exit 0 with --approvals)."""
    own = {
        "approvers": {
            g: {"description": g, "members": ["@acme/shop-team"]}
            for g in ("privacy", "security", "platform")
        }
    }

    def attack(bps, stacks, root):
        orders(bps)["consumers"].append(
            {"domain": "audit", "include_pii": True, "approved_by": "privacy",
             "justification": "subject access requests"}
        )  # fmt: skip

    run = check(tmp_path, attack, mesh_file=None, head_mesh_file=own, approvals=["@acme/shop-team"])
    doc = json.loads(run.stdout)
    assert run.exit_code == 1, run.output
    assert [(e["code"], Path(e["file"]).name) for e in doc["errors"]] == [("E071", "shop.yaml")]
    assert "adds the first _mesh.yaml" in doc["errors"][0]["message"]

    # alone, it is a platform-file change to review, nothing more
    run = check(tmp_path / "alone", lambda *a: None, mesh_file=None, head_mesh_file=own)
    doc = json.loads(run.stdout)
    assert run.exit_code == 3 and doc["errors"] == []
    assert doc["platform_file_change"]["reason"].startswith("_mesh.yaml is added")

    # a stack config changed in the same PR is refused as well
    def stack_too(bps, stacks, root):
        stacks["dev"]["config"]["mesh:prefix"] = "other"

    run = check(
        tmp_path / "stack", stack_too, mesh_file=None, head_mesh_file=own, stacks={"dev": STACK}
    )
    doc = json.loads(run.stdout)
    assert run.exit_code == 1
    assert [(e["code"], Path(e["file"]).name) for e in doc["errors"]] == [
        ("E071", "Pulumi.dev.yaml")
    ]


def _later(days: int) -> str:
    return str(TODAY + dt.timedelta(days=days))


# ------------------------------------------------------------------ 3. positional formats


def csv_base() -> dict:
    bps = with_owners(base_mesh())
    orders(bps)["format"] = "csv"
    return bps


POSITIONAL = {
    # bi reads `name`; with email moved into its place, bi's `name` is the PII field
    "reordered": (lambda s: s.insert(1, s.pop(2)), "products[0].schema[1]", "is moved"),
    "removed before the end": (lambda s: s.pop(1), "products[0].schema[1]", "'email' is removed"),
    "inserted before the end": (
        lambda s: s.insert(0, {"name": "region", "type": "string"}),
        "products[0].schema[0]",
        "'region' is inserted",
    ),
}


def test_a_positional_format_keeps_its_column_order(tmp_path):
    for n, (name, (change, path, what)) in enumerate(sorted(POSITIONAL.items())):

        def attack(bps, stacks, root, change=change):
            change(orders(bps)["schema"])

        run = check(tmp_path / str(n), attack, base_bps=csv_base())
        doc = json.loads(run.stdout)
        assert run.exit_code == 1, (name, run.output)
        assert located(doc) == [("E072", "shop.yaml", path)], name
        assert what in doc["errors"][0]["message"], name
    # appending at the end and dropping the last column are safe for csv
    for n, change in enumerate(
        (lambda s: s.append({"name": "region", "type": "string"}), lambda s: s.pop())
    ):
        run = check(
            tmp_path / f"ok{n}", lambda bps, *_, c=change: c(orders(bps)["schema"]),
            base_bps=csv_base(),
        )  # fmt: skip
        assert json.loads(run.stdout)["errors"] == [], run.output


def test_a_products_format_cannot_change(tmp_path):
    def attack(bps, stacks, root):
        orders(bps)["format"] = "csv"

    run = check(tmp_path, attack)
    doc = json.loads(run.stdout)
    assert run.exit_code == 1
    assert located(doc) == [("E073", "shop.yaml", "products[0].format")]


# ------------------------------------------------------------------ 4. a PII column leaves


def test_a_pii_column_that_leaves_the_schema_needs_privacy(tmp_path):
    """email (PII) is dropped and re-added as `contact`, not PII, which crm (every non-PII
    column) then reads: before, only shop's owners were asked."""

    def attack(bps, stacks, root):
        schema = orders(bps)["schema"]
        schema.pop(1)
        schema.append({"name": "contact", "type": "string"})

    owners_only = ["@acme/shop-team"]
    run = check(tmp_path, attack, approvals=owners_only)
    doc = json.loads(run.stdout)
    assert run.exit_code == 1, run.output
    [item] = [r for r in doc["review_required"] if r["change"] == "pii_column_dropped"]
    assert (Path(item["file"]).name, item["product"]) == ("shop.yaml", "shop.orders")
    assert "'email'" in item["reason"]
    assert {a["approver"] for a in doc["missing_approvals"]} == {"privacy", "platform"}
    run = check(
        tmp_path / "ok", attack, approvals=[*owners_only, "@acme/privacy", "@acme/platform"]
    )
    assert run.exit_code == 0, run.output


def test_a_pii_column_dropped_through_a_contract_import_needs_privacy(tmp_path):
    bps = with_owners(base_mesh())
    b = project(tmp_path / "base", bps, MESH_FILE, None)
    h = project(tmp_path / "head", bps, MESH_FILE, None)
    out = tmp_path / "contracts"
    run = runner.invoke(app, ["contract", "export", str(h), "--out", str(out),
                              "--product", "shop.orders"])  # fmt: skip
    assert run.exit_code == 0, run.output
    [path] = out.iterdir()
    contract = yaml.safe_load(path.read_text())
    props = contract["schema"][0]["properties"]
    props.remove(next(p for p in props if p["name"] == "email"))
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    run = runner.invoke(app, ["contract", "import", str(path), "--into", str(h)],
                        env={"MESH_TODAY": str(TODAY)})  # fmt: skip
    assert run.exit_code == 0, run.output
    run = runner.invoke(app, ["diff", str(b), str(h), "--validate", "--format", "json"],
                        env={"MESH_TODAY": str(TODAY)})  # fmt: skip
    doc = json.loads(run.stdout)
    assert run.exit_code == 3, run.output
    assert [r["change"] for r in doc["review_required"]] == ["pii_column_dropped"]
    assert ("privacy", None) in approvers(doc)


# ------------------------------------------------------------------ 7. a consumer's account move


def _mesh_with_accounts(*accounts: str) -> dict:
    return {**MESH_FILE, "accounts": list(accounts)}


def _audit_reads_pii(bps: dict) -> dict:
    orders(bps)["consumers"].append(
        {"domain": "audit", "include_pii": True, "approved_by": "privacy",
         "justification": "subject access requests"}
    )  # fmt: skip
    return bps


def test_a_consumer_account_move_is_new_access_for_each_grant(tmp_path):
    """audit moves to another account with its PII grant: before, only audit's owners and
    platform were asked (exit 0 with their approvals)."""
    mesh_file = MESH_FILE  # no accounts list: any account (the list is tested below)

    def attack(bps, stacks, root):
        bps["audit"].update(account="999988887777", previous_account="123456789012")

    base = _audit_reads_pii(with_owners(base_mesh()))
    movers = ["@acme/audit-team", "@acme/platform"]
    run = check(tmp_path, attack, base_bps=base, mesh_file=mesh_file, approvals=movers)
    doc = json.loads(run.stdout)
    assert run.exit_code == 1, run.output
    [entry] = doc["new_access"]
    assert (entry["principal"], entry["product"], entry["reasons"]) == (
        "audit:consumer", "shop.orders", ["consumer_account_moved"],
    )  # fmt: skip
    assert "audit moves from account (the stack account) to 999988887777" in entry["why"]
    assert {a["approver"] for a in doc["missing_approvals"]} == {"@acme/shop-team", "privacy"}
    run = check(
        tmp_path / "ok", attack, base_bps=base, mesh_file=mesh_file,
        approvals=[*movers, "@acme/shop-team", "@acme/privacy"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output


def test_an_account_outside_the_meshs_list_is_refused(tmp_path):
    def attack(bps, stacks, root):
        bps["audit"].update(account="555566667777", previous_account="123456789012")

    run = check(tmp_path, attack, mesh_file=_mesh_with_accounts("123456789012"))
    doc = json.loads(run.stdout)
    assert run.exit_code == 1
    assert located(doc) == [("E074", "audit.yaml", "account")]
    assert doc["errors"][0]["line"] == 9
    # listed by the platform team first, the move is a change to review, not an error
    listed = _mesh_with_accounts("123456789012", "555566667777")
    run = check(tmp_path / "listed", attack, mesh_file=listed)
    doc = json.loads(run.stdout)
    assert run.exit_code == 3 and doc["errors"] == [], run.output
    assert [r["change"] for r in doc["review_required"]] == ["account_moved"]


# ------------------------------------------------------------------ 8. what an exception covers


def _customers(bps: dict) -> dict:
    """shop shares its confidential customers with audit without an expiry, under an exception
    of GOV-005 (grant-expiry) that security approved."""
    bps["shop"]["products"].append(
        {
            "name": "customers", "description": "One row per customer",
            "classification": "confidential", "format": "parquet", "retention_days": 365,
            "freshness_slo_hours": 24, "schema": [{"name": "customer_id", "type": "string"}],
            "consumers": [{"domain": "audit", "justification": "yearly audit"}],
        }
    )  # fmt: skip
    bps["shop"]["exceptions"] = [
        {"policy": "GOV-005", "product": "customers", "justification": "audit needs history",
         "expires": _later(60), "approved_by": "security"}
    ]  # fmt: skip
    return bps


def test_an_exception_does_not_cover_a_later_grant(tmp_path):
    """bi is added on customers without an expiry, under the exception approved for audit:
    before, shop's owners alone approved it (exit 0)."""

    def attack(bps, stacks, root):
        bps["shop"]["products"][2]["consumers"].append(
            {"domain": "bi", "justification": "dashboards"}
        )

    base = _customers(with_owners(base_mesh()))
    run = check(tmp_path, attack, base_bps=base, approvals=["@acme/shop-team"])
    doc = json.loads(run.stdout)
    assert run.exit_code == 1, run.output
    [missing] = doc["missing_approvals"]
    assert (missing["approver"], missing["principal"]) == ("security", "bi:consumer")
    assert "exception waiving GOV-005" in missing["reason"]
    run = check(
        tmp_path / "ok", attack, base_bps=base, approvals=["@acme/shop-team", "@acme/security"]
    )
    assert run.exit_code == 0, run.output


def test_an_exception_naming_its_consumers_covers_them_alone(tmp_path):
    def add_bi(bps, stacks, root):
        bps["shop"]["products"][2]["consumers"].append(
            {"domain": "bi", "justification": "dashboards"}
        )

    base = _customers(with_owners(base_mesh()))
    base["shop"]["exceptions"][0]["consumers"] = ["audit"]
    run = check(tmp_path, add_bi, base_bps=base)
    doc = json.loads(run.stdout)
    assert run.exit_code == 1
    assert located(doc) == [("GOV-005", "shop.yaml", "products[2].consumers[1].expires")]
    # named when the exception was approved: covered by that approval
    base["shop"]["exceptions"][0]["consumers"] = ["audit", "bi"]
    run = check(tmp_path / "named", add_bi, base_bps=base, approvals=["@acme/shop-team"])
    assert run.exit_code == 0, run.output


# ------------------------------------------------------------------ 9. approved_by is checked


def test_approved_by_on_a_grant_that_needs_none_is_verified(tmp_path):
    """A non-PII grant names `approved_by: security`, which the PR comment shows: before,
    nobody checked that security approved."""

    def attack(bps, stacks, root):
        orders(bps)["consumers"].append(
            {"domain": "audit", "columns": ["order_id"], "approved_by": "security",
             "justification": "reconciliation"}
        )  # fmt: skip

    run = check(tmp_path, attack, approvals=["@acme/shop-team"])
    doc = json.loads(run.stdout)
    assert run.exit_code == 1, run.output
    assert [(a["approver"], a["principal"]) for a in doc["missing_approvals"]] == [
        ("security", "audit:consumer")
    ]
    assert "names approved_by security" in doc["missing_approvals"][0]["reason"]


# ------------------------------------------------------------------ 10. the renewal text


def test_a_grant_back_from_a_lapsed_exception_says_why(tmp_path):
    from test_bypasses import lapsed_base

    def renew(bps, stacks, root):
        bps["shop"]["exceptions"][0]["expires"] = _later(30)

    run = check(tmp_path, renew, base_bps=lapsed_base(), mesh_file=None)
    doc = json.loads(run.stdout)
    assert run.exit_code == 3, run.output
    [entry] = doc["new_access"]
    assert entry["why"] == (
        "expired grant renewed (revoked while the exception allowing it had lapsed)"
    )


def test_the_comment_says_when_approved_by_cannot_be_verified(tmp_path):
    def grant(approver: str):
        def attack(bps, stacks, root):
            orders(bps)["consumers"].append(
                {"domain": "audit", "columns": ["order_id"], "approved_by": approver,
                 "justification": "reconciliation"}
            )  # fmt: skip

        return attack

    run = check(tmp_path, grant("cfo@example.com"), mesh_file=None, fmt="markdown")
    assert run.exit_code == 3
    assert (
        "approved_by: cfo@example.com (not verified: no _mesh.yaml names the approvers)"
        in run.stdout.replace("\u200b", "")
    )
    run = check(tmp_path / "known", grant("security"), fmt="markdown")
    assert run.exit_code == 3
    assert "approved_by: security" in run.stdout and "not verified" not in run.stdout


def test_hostile_stack_configs_are_clean_errors(tmp_path):
    cases = {
        "nul": ('config:\n  mesh:blueprints: "a\\0b"\n', "E070"),
        "tag": ("config:\n  mesh:prefix: !!python/object:os.system x\n", "E004"),
        "big": ("config:\n  mesh:prefix: " + "a" * (3 * 1024 * 1024) + "\n", "E001"),
        "list": ("- a\n- b\n", "E005"),
    }
    for name, (text, code) in cases.items():

        def attack(bps, stacks, root, text=text):
            root.mkdir(parents=True, exist_ok=True)
            (root / "Pulumi.dev.yaml").write_text(text)

        run = check(tmp_path / name, attack)
        doc = json.loads(run.stdout)
        assert run.exit_code == 1, (name, run.output[-500:])
        assert [(e["code"], Path(e["file"]).name) for e in doc["errors"]] == [
            (code, "Pulumi.dev.yaml")
        ], name
