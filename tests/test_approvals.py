"""Approvals that mean something. Validate: the platform file `_mesh.yaml`, read like a
blueprint, and `approved_by` checked against it (E056-E058, W009, W010); without the file,
today's rules: `approved_by` is an e-mail address and exceptions need none. Diff: who must
approve a change (`required_approvals`), and `--approvals FILE` gating on it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import SAMPLE, SAMPLE_TAGS, TODAY, untagged
from typer.testing import CliRunner

from infra.cli import app

MESH = """\
approvers:
  privacy:  {description: Data protection office, members: ["@acme/privacy-office"]}
  security: {description: Security engineering,   members: ["@acme/security", "@carol"]}
  platform: {description: Data platform team,     members: ["@acme/data-platform"]}
"""
PII_APPROVER = "        approved_by: privacy\n"  # sales.yaml line 31: finance reads PII
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
        untagged(root)  # without the platform file, tag-based access is off
    else:
        (root / "_mesh.yaml").write_text(_with_tags(mesh))
    for domain, replacements in edits.items():
        path = root / f"{domain}.yaml"
        text = path.read_text()
        for old, new in replacements:
            assert text.count(old) == 1, (domain, old)
            text = text.replace(old, new)
        path.write_text(text)
    return root


def _with_tags(mesh: str) -> str:
    """A valid platform file of a test keeps the sample's ontology and mesh-wide tag grant
    (the sample's products carry LF-tags); a broken one is written as it is."""
    try:
        data = yaml.safe_load(mesh)
    except yaml.YAMLError:
        return mesh
    if not isinstance(data, dict) or "approvers" not in data or "lf_tags" in data:
        return mesh
    return mesh + ("" if mesh.endswith("\n") else "\n") + SAMPLE_TAGS


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
                "sales.yaml:31: error E057 products[0].consumers[1].approved_by: sharing PII "
                "(customer_email) of sales.orders with finance needs the approval of privacy "
                "(@acme/privacy-office); '@acme/security' is a member of security, not of privacy"
            )
        ],
    )
    code, out, _ = _run("validate", root, "--format", "json")
    assert code == 1
    assert json.loads(out)["errors"] == [
        {
            "file": str(root / "sales.yaml"),
            "line": 31,
            "path": "products[0].consumers[1].approved_by",
            "code": "E057",
            "message": "sharing PII (customer_email) of sales.orders with finance needs the "
            "approval of privacy (@acme/privacy-office); '@acme/security' is a member of security, not of privacy",
        }
    ]


def test_an_approver_of_another_group_is_named_as_such(tmp_path):
    """A group called `legal`: the message says which group approved_by names and which one
    was needed (it read "'legal' is legal")."""
    legal = MESH + '  legal:    {description: Legal department,       members: ["@acme/legal"]}\n'
    for value, said in (
        ("legal", "'legal' names the group legal, not privacy"),
        ("@acme/legal", "'@acme/legal' is a member of legal, not of privacy"),
    ):
        root = _tree(
            tmp_path,
            legal,
            value.strip("@/"),
            sales=[(PII_APPROVER, f"        approved_by: {json.dumps(value)}\n")],
        )
        assert _errors(root) == (
            1,
            [
                (
                    "sales.yaml:31: error E057 products[0].consumers[1].approved_by: sharing PII "
                    "(customer_email) of sales.orders with finance needs the approval of privacy "
                    f"(@acme/privacy-office); {said}"
                )
            ],
        )


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
                "sales.yaml:31: error E056 products[0].consumers[1].approved_by: approved_by "
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
                "sales.yaml:74: error E058 exceptions[0].approved_by: an exception needs "
                "approved_by: waiving GOV-004 needs the approval of security (@acme/security, @carol)"
            )
        ],
    )
    root = _tree(tmp_path, MESH, "privacy-approved", sales=[_exception("privacy")])
    assert _errors(root) == (
        1,
        [
            (
                "sales.yaml:74: error E057 exceptions[0].approved_by: an exception waiving GOV-004 "
                "for sales.customers needs the approval of security (@acme/security, @carol); "
                "'privacy' names the group privacy, not security"
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
                "sales.yaml:74: error E057 exceptions[0].approved_by: an exception waiving GOV-007 "
                "for sales.orders needs the approval of platform (@acme/data-platform); 'security' "
                "names the group security, not platform"
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
                "sales.yaml:31: error E013 products[0].consumers[1].approved_by: 'privacy' is not "
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
            "accounts, approvers, lf_tags, owners, tag_grants"),
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


# ------------------------------------------------------------------ mesh diff: who must approve

PII_GRANT = (
    "    consumers:\n      - domain: sales\n        columns: [shipment_id",
    (
        "    consumers:\n"
        "      - domain: finance\n"
        "        include_pii: true\n"
        '        approved_by: "@acme/privacy-office"\n'
        "        expires: 2027-06-30\n"
        '        justification: "customs | duties <!-- hidden --> @everyone"\n'
        "      - domain: sales\n        columns: [shipment_id"
    ),
)  # logistics.shipments (confidential, delivery_address is PII) to finance


def _pr(tmp_path: Path, base_mesh: str = MESH, head_mesh: str = MESH, **edits) -> tuple:
    return _tree(tmp_path, base_mesh, "base"), _tree(tmp_path, head_mesh, "head", **edits)


def _approvals(tmp_path: Path, *handles: str) -> Path:
    path = tmp_path / f"approvals-{len(list(tmp_path.glob('approvals-*')))}.json"
    path.write_text(json.dumps({"approved_by": list(handles)}))
    return path


def test_a_new_pii_grant_needs_the_owners_and_privacy(tmp_path):
    base, head = _pr(tmp_path, logistics=[PII_GRANT])
    code, out, _ = _run("diff", base, head, "--validate", "--format", "json")
    assert code == 3  # without --approvals: new access, a reviewer is required, as before
    doc = json.loads(out)
    assert doc["required_approvals"] == [
        {
            "approver": "@acme/logistics-data",
            "reason": "new access for finance:consumer -> logistics.shipments: new consumer; "
            "PII now included (delivery_address)",
            "domain": "logistics",
            "product": "logistics.shipments",
            "principal": "finance:consumer",
        },
        {
            "approver": "privacy",
            "reason": "PII (delivery_address) for finance:consumer on logistics.shipments",
            "domain": "logistics",
            "product": "logistics.shipments",
            "principal": "finance:consumer",
        },
    ]
    assert doc["missing_approvals"] is None


def test_approvals_lacking_privacy_block_the_merge_naming_the_privacy_handle(tmp_path):
    base, head = _pr(tmp_path, logistics=[PII_GRANT])
    given = _approvals(tmp_path, "@alice", "@acme/logistics-data")
    code, out, _ = _run("diff", base, head, "--validate", "--approvals", given)
    assert code == 1
    assert out.splitlines()[-4:] == [
        "APPROVALS REQUIRED: 2, 1 missing",
        (
            "  ok @acme/logistics-data: new access for finance:consumer -> logistics.shipments: new "
            "consumer; PII now included (delivery_address)"
        ),
        (
            "  MISSING privacy (@acme/privacy-office): PII (delivery_address) for finance:consumer on "
            "logistics.shipments"
        ),
        "MISSING APPROVALS (blocks the merge): privacy (@acme/privacy-office)",
    ]
    code, out, _ = _run("diff", base, head, "--validate", "--approvals", given, "-f", "json")
    assert code == 1
    assert [a["approver"] for a in json.loads(out)["missing_approvals"]] == ["privacy"]
    code, out, _ = _run("diff", base, head, "--validate", "--approvals", given, "-f", "markdown")
    assert code == 1
    assert (
        "> [!CAUTION]\n> **1 approval(s) missing**, the merge is blocked: <code>privacy</code>\n"
        "> (<code>&#64;acme/privacy-office</code>)\n" in out
    )


def test_with_every_required_approval_the_change_is_approved(tmp_path):
    base, head = _pr(tmp_path, logistics=[PII_GRANT])
    # a reviewer's team (any case) counts as the team; a user handle as the user
    given = _approvals(tmp_path, "@bob", "@ACME/Privacy-Office", "@acme/logistics-data")
    for fmt in ("text", "json", "markdown"):
        code, out, _ = _run("diff", base, head, "--validate", "--approvals", given, "-f", fmt)
        assert code == 0, out
    assert (
        json.loads(_run("diff", base, head, "--approvals", given, "-f", "json")[1])[
            "missing_approvals"
        ]
        == []
    )
    # the checklist says who approves what, with each grant's justification and approver,
    # escaped: no cell break, no HTML comment, no @mention
    md = _run("diff", base, head, "--approvals", given, "-f", "markdown")[1]
    checklist = md.split("#### Approvals\n", 1)[1]
    assert checklist.splitlines()[:8] == [
        "",
        "Every required approval is there.",
        "",
        "- [x] **<code>&#64;acme/logistics-data</code>**",
        "  - new access for finance:consumer -> logistics.shipments: new consumer; PII now included",
        "    (delivery_address) · justification: customs \\| duties &lt;!-- hidden --> @\u200beveryone ·",
        "    approved_by: @\u200bacme/privacy-office",
        "- [x] **<code>privacy</code> (<code>&#64;acme/privacy-office</code>)**",
    ]


def test_an_approvals_file_of_nobody_approves_nothing(tmp_path):
    base, head = _pr(tmp_path, logistics=[PII_GRANT])
    code, out, _ = _run("diff", base, head, "--approvals", _approvals(tmp_path))
    assert code == 1
    assert out.splitlines()[-1] == (
        "MISSING APPROVALS (blocks the merge): @acme/logistics-data; privacy (@acme/privacy-office)"
    )
    # a change that needs no approval is approved by nobody: exit 0 (3 without --approvals)
    code, _, _ = _run("diff", base, base, "--approvals", _approvals(tmp_path))
    assert code == 0


def test_a_change_to_the_platform_file_requires_platform(tmp_path):
    head_mesh = MESH.replace('"@carol"', '"@carol", "@dave"')
    base, head = _pr(tmp_path, head_mesh=head_mesh)
    code, out, _ = _run("diff", base, head, "--validate", "-f", "json")
    assert code == 3  # no access, but who approves what changes: a change to review
    doc = json.loads(out)
    assert doc["review_required"] == [] and doc["platform_file_change"] == {
        "file": str(head / "_mesh.yaml"),
        "reason": "_mesh.yaml changes: approver groups or domain owners",
    }
    assert doc["required_approvals"] == [
        {
            "approver": "platform",
            "reason": "_mesh.yaml changes: approver groups or domain owners",
            "domain": None,
            "product": None,
            "principal": None,
        }
    ]
    text = _run("diff", base, head)[1].splitlines()
    at = text.index("REVIEW REQUIRED (no new access): 1")
    assert text[at + 1] == (
        f"  ? {head / '_mesh.yaml'}: platform file -- _mesh.yaml changes: approver groups or "
        "domain owners"
    )
    md = _run("diff", base, head, "-f", "markdown")[1].replace("\n>   ", " ")  # unwrapped
    assert (
        "> **1 change(s) need review** although they add no access:\n"
        f"> - <code>{head / '_mesh.yaml'}</code> platform file: _mesh.yaml changes: approver"
    ) in md
    code, out, _ = _run("diff", base, head, "--approvals", _approvals(tmp_path, "@dave"))
    assert code == 1
    assert out.splitlines()[-1] == (
        "MISSING APPROVALS (blocks the merge): platform (@acme/data-platform)"
    )
    given = _approvals(tmp_path, "@acme/data-platform")
    assert _run("diff", base, head, "--approvals", given)[0] == 0
    # adding the file, or removing it, is a change of the platform file too
    dpo = [(PII_APPROVER, "        approved_by: dpo@example.com\n")]
    none = _tree(tmp_path, None, "none", sales=dpo)
    some = _tree(tmp_path, MESH, "some", sales=dpo)
    untagged(some)  # the platform file alone, without the sample's tag-based access
    (some / "_mesh.yaml").write_text(MESH)
    assert [
        a["reason"]
        for a in json.loads(_run("diff", none, some, "-f", "json")[1])["required_approvals"]
    ] == ["_mesh.yaml is added: it decides who approves what"]
    assert [
        a["reason"]
        for a in json.loads(_run("diff", some, none, "-f", "json")[1])["required_approvals"]
    ] == ["_mesh.yaml is removed: approvals would no longer be checked"]


def test_the_base_decides_who_approves(tmp_path):
    """A PR that adds its author to the privacy group and a PII grant approved by that author
    is not approved by that author: BASE's platform file says who privacy is."""
    head_mesh = MESH.replace('members: ["@acme/privacy-office"]', 'members: ["@mallory"]')
    base, head = _pr(
        tmp_path,
        head_mesh=head_mesh,
        logistics=[(PII_GRANT[0], PII_GRANT[1].replace('"@acme/privacy-office"', '"@mallory"'))],
    )
    assert _errors(head) == (0, [])  # valid on its own: HEAD's file makes @mallory privacy
    given = _approvals(tmp_path, "@mallory", "@acme/logistics-data")
    code, out, _ = _run("diff", base, head, "--validate", "--approvals", given)
    assert code == 1
    assert out.splitlines()[-1] == (
        "MISSING APPROVALS (blocks the merge): privacy (@acme/privacy-office); platform "
        "(@acme/data-platform)"
    )


def test_restricted_data_and_exceptions_need_security(tmp_path):
    grant = (
        "    consumers: []\n  - name: returns",
        (
            "    consumers:\n"
            "      - {domain: analytics, columns: [customer_id, country], expires: 2027-03-31,"
            " justification: churn model}\n"
            "  - name: returns"
        ),
    )
    exc = _exception("@acme/security")
    base, head = _pr(tmp_path, sales=[grant, exc])
    code, out, _ = _run("diff", base, head, "--validate", "-f", "json")
    assert code == 3, out
    assert [(a["approver"], a["reason"]) for a in json.loads(out)["required_approvals"]] == [
        (
            "@acme/sales-data",
            "new access for analytics:consumer -> sales.customers: new consumer",
        ),
        ("security", "restricted data for analytics:consumer on sales.customers"),
        (
            "@acme/sales-data",
            (
                "exception_added: new exception: GOV-004 waived for customers until 2027-03-31 "
                "(fraud investigation)"
            ),
        ),
        (
            "security",
            (
                "exception_added: new exception: GOV-004 waived for customers until 2027-03-31 "
                "(fraud investigation)"
            ),
        ),
    ]
    given = _approvals(tmp_path, "@acme/sales-data", "@carol")  # @carol is in security
    assert _run("diff", base, head, "--validate", "--approvals", given)[0] == 0


def test_a_change_to_review_needs_the_owners_and_platform(tmp_path):
    decommission = (
        "    retention_days: 365\n    schema:\n      - {name: return_id",
        (
            "    retention_days: 365\n"
            "    decommission: {date: 2027-02-01, reason: merged into orders}\n"
            "    schema:\n      - {name: return_id"
        ),
    )
    base, head = _pr(tmp_path, sales=[decommission])
    code, out, _ = _run("diff", base, head, "--validate", "-f", "json")
    assert code == 3, out
    assert [(a["approver"], a["product"]) for a in json.loads(out)["required_approvals"]] == [
        ("@acme/sales-data", "sales.returns"),
        ("platform", "sales.returns"),
    ]


def test_an_owner_change_is_approved_by_the_owner_of_before(tmp_path):
    base, head = _pr(tmp_path, sales=[('github: "@acme/sales-data"', 'github: "@mallory/sales"')])
    code, out, _ = _run("diff", base, head, "-f", "json")
    assert code == 3
    assert [a["approver"] for a in json.loads(out)["required_approvals"]] == [
        "@acme/sales-data",
        "platform",
    ]
    assert json.loads(out)["required_approvals"][0]["reason"] == (
        "owner_changed: owner of domain sales changes from sales-data <sales-data@example.com> "
        "to sales-data <sales-data@example.com>; GitHub owner @acme/sales-data -> @mallory/sales"
    )


def test_a_new_domain_needs_platform(tmp_path):
    base, head = _pr(tmp_path)
    (head / "billing.yaml").write_text(
        "domain: billing\ndescription: Billing runs and dunning letters\n"
        'owner: {team: billing-data, email: billing@example.com, github: "@acme/billing"}\n'
        "cost_center: CC-5000\nproducts: []\npolicies: {}\nexceptions: []\n"
    )
    code, out, _ = _run("diff", base, head, "--validate", "-f", "json")
    assert code == 0  # no access, nothing to review: as before; the approval is listed
    assert json.loads(out)["required_approvals"] == [
        {
            "approver": "platform",
            "reason": "new domain billing",
            "domain": "billing",
            "product": None,
            "principal": None,
        }
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read: No such file or directory"),
        ("{", ('not JSON (Expecting property name enclosed in double quotes, column 2); expected '
              'JSON {"approved_by": ["@alice", "@acme/privacy-office"]}')),
        ("[]", ("(top level): Input should be a valid dictionary or instance of ApprovalsFile "
               "(got [])")),
        ("{}", "approved_by: is missing"),
        ('{"approved_by": "@alice"}', "approved_by: Input should be a valid list (got '@alice')"),
        ('{"approved_by": ["@alice", "bob"]}',
         "approved_by[1]: 'bob' is not a GitHub handle (@user or @org/team)"),
        ('{"approved_by": [], "approvers": []}', "approvers: is not a known key"),
        (b"\xff\xfe", "not UTF-8 text"),
    ],
    ids=["missing", "not-json", "a-list", "no-key", "a-string", "bad-handle", "typo", "binary"],
)  # fmt: skip
def test_a_bad_approvals_file_is_a_usage_error(tmp_path, content, message):
    path = tmp_path / "approvals.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    code, out, err = _run("diff", SAMPLE, SAMPLE, "--approvals", path, "-f", "json")
    assert (code, out) == (2, "")
    assert err.startswith(f"error: --approvals {str(path)!r}")
    assert message in err and "Traceback" not in err
    code, _, err = _run("diff", SAMPLE, SAMPLE, "--approvals", tmp_path)  # a directory
    assert code == 2 and "cannot read" in err


def test_without_a_platform_file_nobody_can_approve_for_a_group(tmp_path):
    dpo = (PII_APPROVER, "        approved_by: dpo@example.com\n")
    grant = (PII_GRANT[0], PII_GRANT[1].replace('"@acme/privacy-office"', "dpo@example.com"))
    base = _tree(tmp_path, None, "base", sales=[dpo])
    head = _tree(tmp_path, None, "head", sales=[dpo], logistics=[grant])
    code, out, _ = _run("diff", base, head, "--approvals", _approvals(tmp_path, "@acme/x"))
    assert code == 1
    assert out.splitlines()[-2:] == [
        (
            "  (no member of privacy is known: the platform file (_mesh.yaml) names the members of "
            "the approver groups)"
        ),
        "MISSING APPROVALS (blocks the merge): @acme/logistics-data; privacy",
    ]
