"""Approvals that mean something (validate side): the platform file `_mesh.yaml`, read like a
blueprint, and `approved_by` checked against it (E056-E058, W009, W010). Without the file,
today's rules: `approved_by` is an e-mail address and exceptions need none."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLE, TODAY
from typer.testing import CliRunner

from infra.cli import app

MESH = """\
approvers:
  privacy:  {description: Data protection office, members: ["@acme/privacy-office"]}
  security: {description: Security engineering,   members: ["@acme/security", "@carol"]}
  platform: {description: Data platform team,     members: ["@acme/data-platform"]}
"""
PII_APPROVER = "        approved_by: privacy\n"  # sales.yaml line 30: finance reads PII
EXCEPTION = (
    "exceptions:\n"
    "  - {policy: GOV-004, product: customers, justification: fraud investigation, "
    "expires: 2027-03-31%s}\n"
)


def _run(*args) -> tuple[int, str, str]:
    done = CliRunner().invoke(app, [str(a) for a in args], env={"MESH_TODAY": TODAY.isoformat()})
    return done.exit_code, done.stdout, done.stderr


def _tree(tmp_path: Path, mesh: str | None = MESH, name: str = "blueprints", **edits) -> Path:
    """The sample mesh with `_mesh.yaml` (None: without one) and text replacements per file:
    `sales=[(old, new), ...]`."""
    root = tmp_path / name
    shutil.copytree(SAMPLE, root)
    if mesh is None:
        (root / "_mesh.yaml").unlink()
    else:
        (root / "_mesh.yaml").write_text(mesh)
    for domain, replacements in edits.items():
        path = root / f"{domain}.yaml"
        text = path.read_text()
        for old, new in replacements:
            assert text.count(old) == 1, (domain, old)
            text = text.replace(old, new)
        path.write_text(text)
    return root


def _errors(root: Path) -> tuple[int, list[str]]:
    code, out, _ = _run("validate", root)
    return code, [line.removeprefix(f"{root}/") for line in out.splitlines() if " error " in line]


def _exception(approved_by: str | None) -> tuple[str, str]:
    tail = f", approved_by: {json.dumps(approved_by)}" if approved_by else ""
    return "exceptions: []\n", EXCEPTION % tail


def test_the_sample_mesh_validates_with_its_platform_file():
    code, out, _ = _run("validate", SAMPLE)
    assert code == 0
    assert out.splitlines()[-1] == (
        "valid: 5 domain(s), 10 product(s), 0 error(s), 1 warning(s)"  # W002, the expired grant
    )
    assert (SAMPLE / "_mesh.yaml").is_file() and "approved_by: privacy\n" in (
        SAMPLE / "sales.yaml"
    ).read_text()


# ------------------------------------------------------------------ who may approve


def test_a_pii_grant_approved_by_someone_not_in_privacy_is_an_error_at_its_line(tmp_path):
    root = _tree(tmp_path, sales=[(PII_APPROVER, '        approved_by: "@acme/security"\n')])
    assert _errors(root) == (
        1,
        [
            (
                "sales.yaml:30: error E057 products[0].consumers[1].approved_by: sharing PII "
                "(customer_email) of sales.orders with finance needs the approval of privacy "
                "(@acme/privacy-office); '@acme/security' is security"
            )
        ],
    )
    code, out, _ = _run("validate", root, "--format", "json")
    assert code == 1
    assert json.loads(out)["errors"] == [
        {
            "file": str(root / "sales.yaml"),
            "line": 30,
            "path": "products[0].consumers[1].approved_by",
            "code": "E057",
            "message": "sharing PII (customer_email) of sales.orders with finance needs the "
            "approval of privacy (@acme/privacy-office); '@acme/security' is security",
        }
    ]


@pytest.mark.parametrize(
    "approver", ["privacy", "@acme/privacy-office", "@ACME/Privacy-Office"], ids=str
)
def test_a_privacy_group_or_member_approves_pii(tmp_path, approver):
    root = _tree(tmp_path, sales=[(PII_APPROVER, f"        approved_by: {json.dumps(approver)}\n")])
    assert _errors(root) == (0, [])


def test_an_approver_nobody_registered_is_an_error(tmp_path):
    """Free text the requesting domain writes itself, its own owner's address included."""
    root = _tree(tmp_path, sales=[(PII_APPROVER, "        approved_by: sales-data@example.com\n")])
    assert _errors(root) == (
        1,
        [
            (
                "sales.yaml:30: error E056 products[0].consumers[1].approved_by: approved_by "
                "'sales-data@example.com' is not an approver of _mesh.yaml: name a group or one of "
                "its members: privacy (@acme/privacy-office), security (@acme/security, @carol), "
                "platform (@acme/data-platform)"
            )
        ],
    )


def test_an_exception_without_a_security_approval_is_an_error(tmp_path):
    root = _tree(tmp_path, sales=[_exception(None)])
    assert _errors(root) == (
        1,
        [
            (
                "sales.yaml:69: error E058 exceptions[0].approved_by: an exception needs "
                "approved_by: waiving GOV-004 needs the approval of security (@acme/security, @carol)"
            )
        ],
    )
    root = _tree(tmp_path, MESH, "privacy-approved", sales=[_exception("privacy")])
    assert _errors(root) == (
        1,
        [
            (
                "sales.yaml:69: error E057 exceptions[0].approved_by: an exception waiving GOV-004 "
                "for sales.customers needs the approval of security (@acme/security, @carol); "
                "'privacy' is privacy"
            )
        ],
    )


@pytest.mark.parametrize("approver", ["security", "@acme/security", "@carol"], ids=str)
def test_a_security_approval_lets_the_exception_waive(tmp_path, approver):
    root = _tree(tmp_path, sales=[_exception(approver)])
    code, out, _ = _run("validate", root)
    assert code == 0
    assert "GOV-X01 exceptions[0]: active exception: GOV-004" in out


def test_the_catalogue_names_the_group_that_waives_a_policy(tmp_path):
    """GOV-006 (retention) is privacy's to waive, GOV-007 (freshness SLO) platform's."""
    exc = (
        "exceptions: []\n",
        (
            "exceptions:\n  - {policy: GOV-007, product: orders, justification: batch only, "
            "expires: 2027-03-31, approved_by: security}\n"
        ),
    )
    assert _errors(_tree(tmp_path, sales=[exc])) == (
        1,
        [
            (
                "sales.yaml:69: error E057 exceptions[0].approved_by: an exception waiving GOV-007 "
                "for sales.orders needs the approval of platform (@acme/data-platform); 'security' "
                "is security"
            )
        ],
    )


def test_without_a_platform_file_the_rules_of_before_hold(tmp_path):
    """approved_by is an e-mail address (a group name is E013, as it always was) and an
    exception needs no approver."""
    root = _tree(tmp_path, None, sales=[_exception(None)])
    assert _errors(root) == (
        1,
        [
            (
                "sales.yaml:30: error E013 products[0].consumers[1].approved_by: 'privacy' is not "
                "valid: expected an e-mail address such as team@example.com"
            )
        ],
    )
    root = _tree(
        tmp_path,
        None,
        "emails",
        sales=[(PII_APPROVER, "        approved_by: dpo@example.com\n"), _exception(None)],
    )
    assert _errors(root) == (0, [])


def test_a_tree_without_the_file_does_not_borrow_another_trees_reading(tmp_path):
    """`--base` loads both trees through one cache: the same sales.yaml is valid in the tree
    with a platform file and invalid in the one without, whichever is loaded first."""
    with_file = _tree(tmp_path, name="with")
    without = _tree(tmp_path, None, name="without")
    code, out, _ = _run("validate", without, "--base", with_file)
    assert code == 1 and "E013 products[0].consumers[1].approved_by" in out
    code, out, _ = _run("validate", with_file, "--base", without)
    assert code == 0, out


# ------------------------------------------------------------------ owners


def test_owners_of_the_platform_file_and_domains_without_one(tmp_path):
    mesh = MESH + 'owners:\n  analytics: "@acme/bi"\n  sales: "@acme/shop"\n  gone: "@acme/x"\n'
    root = _tree(
        tmp_path,
        mesh,
        analytics=[(', github: "@acme/central-bi"}', "}")],
        marketing=[(', github: "@acme/growth-analytics"}', "}")],
    )
    code, out, _ = _run("validate", root)
    assert code == 0
    warnings = [
        line.removeprefix(f"{root}/")
        for line in out.splitlines()
        if "W009" in line or "W010" in line
    ]
    assert warnings == [
        (
            "_mesh.yaml:7: warning W009 owners.sales: owners gives sales to @acme/shop, but its "
            "blueprint names owner.github @acme/sales-data, which wins: remove one of the two"
        ),
        (
            "_mesh.yaml:8: warning W009 owners.gone: owners names domain 'gone', which has no "
            "blueprint: the entry is ignored"
        ),
        (
            "marketing.yaml:3: warning W010 owner: domain marketing names no GitHub owner: set "
            "owner.github (@org/team) or an owners entry in _mesh.yaml; until then the platform "
            "group approves its changes and owns its file in CODEOWNERS"
        ),
    ]


def test_owner_github_is_a_team_handle(tmp_path):
    root = _tree(tmp_path, sales=[('github: "@acme/sales-data"', 'github: "sales-data"')])
    assert _errors(root) == (
        1,
        [
            (
                "sales.yaml:3: error E013 owner.github: 'sales-data' is not valid: expected a "
                "GitHub team handle such as @acme/sales-data"
            )
        ],
    )


# ------------------------------------------------------------------ the platform file itself


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MESH.replace('  security: {description: Security engineering,   members: '
                         '["@acme/security", "@carol"]}\n', ""),
            ("_mesh.yaml:1: error E011 approvers: approver group 'security' is missing: privacy "
            "approves sharing PII, security exceptions and restricted data, platform this file "
            "and reviewed changes (expected {description: ..., members: ['@org/team']})"),
        ),
        (
            MESH + "approver: {}\n",
            ("_mesh.yaml:5: error E010 approver: unknown key 'approver'; expected one of: "
            "approvers, owners"),
        ),
        (
            MESH.replace('"@carol"', '"carol"'),
            ("_mesh.yaml:3: error E013 approvers.security.members[1]: 'carol' is not valid: "
            "expected a GitHub handle such as @acme/privacy-office or @alice"),
        ),
        (
            MESH.replace("{description: Data platform team,     members: "
                         '["@acme/data-platform"]}', '{members: ["@acme/data-platform"]}'),
            ("_mesh.yaml:4: error E011 approvers.platform.description: required field "
            "'description' is missing"),
        ),
        (
            MESH + "  Privacy: {description: x, members: ['@a']}\n",
            ("_mesh.yaml:5: error E013 approvers.Privacy.[key]: 'Privacy' is not valid: expected a "
            "group name of 2-31 lower-case letters, digits, - or _ starting with a letter"),
        ),
    ],
    ids=["missing-group", "unknown-key", "bad-handle", "no-description", "bad-group"],
)  # fmt: skip
def test_the_platform_file_is_validated_like_a_blueprint(tmp_path, text, expected):
    root = _tree(tmp_path, text)
    code, errors = _errors(root)
    assert code == 1
    assert errors == [expected]
    code, out, _ = _run("validate", root, "--format", "json")
    doc = json.loads(out)  # every problem with file, line, path and code; no traceback
    assert code == 1 and all(e["file"] == str(root / "_mesh.yaml") for e in doc["errors"])


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (MESH + "owners: [sales]\n", "E012"),
        ("approvers: {privacy: [\n", "E002"),
        ("# nothing yet\n", "E005"),
        ("- approvers\n", "E005"),
        ("!!python/object:os.system {}\n", "E004"),
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"a{i}: &a{i} [{', '.join(['*a' + (str(i - 1) if i > 1 else '')] * 10)}]\n"
                      for i in range(1, 7)),
            "E004",
        ),
        ("approvers: \x00\n", "E001"),
    ],
    ids=["owners-list", "syntax", "empty", "a-list", "tag", "alias-bomb", "nul"],
)  # fmt: skip
def test_a_broken_platform_file_names_its_fault(tmp_path, text, code):
    root = _tree(tmp_path, text)
    _, out, _ = _run("validate", root, "--format", "json")
    assert [e["code"] for e in json.loads(out)["errors"]] == [code]


def test_other_files_starting_with_an_underscore_are_not_domains(tmp_path):
    root = _tree(tmp_path)
    (root / "_defaults.yaml").write_text("domain: defaults\n")
    code, out, _ = _run("validate", root, "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert [
        (Path(w["file"]).name, w["code"], w["message"])
        for w in doc["warnings"]
        if w["code"] == "W003"
    ] == [
        (
            "_defaults.yaml",
            "W003",
            (
                "file ignored: a name starting with '_' is a platform file, not a domain, and the "
                "only platform file is _mesh.yaml"
            ),
        )
    ]


def test_a_platform_file_linking_out_of_the_directory_is_refused(tmp_path):
    root = _tree(tmp_path)
    (root / "_mesh.yaml").unlink()
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(MESH)
    (root / "_mesh.yaml").symlink_to(outside)
    _, out, _ = _run("validate", root, "--format", "json")
    [error] = json.loads(out)["errors"]
    assert (error["code"], error["message"]) == (
        "E001",
        (
            f"symbolic link to {str(outside.resolve())!r}, outside the blueprint directory: "
            "refused (a blueprint must be a file of the directory under review)"
        ),
    )
