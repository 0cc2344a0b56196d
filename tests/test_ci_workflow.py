"""The pull-request workflow: `mesh init ci` writes exactly the file the repository ships; it
parses as YAML, every `mesh` command it runs exists with the options it passes; and its two
GitHub scripts do what they say, run by bash against a fake `gh` (real jq): the approvals of
the head commit with the reviewers' teams, and one comment updated, never repeated."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import actionlint
import pytest
import typer
from conftest import ROOT, SAMPLE, TODAY
from ruamel.yaml import YAML
from typer.testing import CliRunner

from infra.cli import app
from infra.errors import UsageError
from infra.scaffold.ci import RELAY, WORKFLOW, CiOptions, workflow_texts

SHIPPED = ROOT / WORKFLOW


def _run(*args) -> tuple[int, str, str]:
    done = CliRunner().invoke(app, [str(a) for a in args], env={"MESH_TODAY": TODAY.isoformat()})
    return done.exit_code, done.stdout, done.stderr


def _workflow(path: Path = SHIPPED) -> dict:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _steps(wf: dict | None = None) -> list[dict]:
    return (wf or _workflow())["jobs"]["mesh"]["steps"]


def _step(name: str, wf: dict | None = None) -> dict:
    return next(s for s in _steps(wf) if s.get("name") == name)


VCS_PIN = (
    "mesh-provisioner @ git+https://github.com/acme/mesh-provisioner@"
    + "0123456789abcdef" * 2
    + "01234567"
)


def test_init_ci_writes_the_shipped_workflows(tmp_path):
    assert {
        p: (ROOT / p).read_text(encoding="utf-8") for p in (WORKFLOW, RELAY)
    } == workflow_texts()
    # this project's repository: the checker as the base branch has it
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mesh-provisioner"\n')
    code, out, _ = _run("init", "ci", tmp_path)
    assert code == 0 and out.startswith(f"wrote {tmp_path / WORKFLOW}\nwrote {tmp_path / RELAY}\n")
    written = tmp_path / WORKFLOW
    assert written.read_bytes() == SHIPPED.read_bytes()
    # never over an existing workflow, unless asked
    written.write_text("# ours\n")
    code, _, err = _run("init", "ci", tmp_path, "--blueprints", "data/mesh")
    assert code == 1 and "exists: not overwritten (--force replaces it)" in err
    assert written.read_text() == "# ours\n"
    code, _, _ = _run("init", "ci", tmp_path, "--blueprints", "data/mesh", "--install",
                      "mesh-provisioner==0.1.0", "--branch", "release/1.x", "--force")  # fmt: skip
    wf = _workflow(written)
    assert code == 0 and wf["jobs"]["mesh"]["env"]["BLUEPRINTS"] == "data/mesh"
    assert wf["jobs"]["mesh"]["env"]["PROTECTED"] == "release/1.x"
    assert _step("Install the checker (never the pull request's)", wf)["env"] == {
        "MESH_INSTALL": "mesh-provisioner==0.1.0"
    }
    assert "@@" not in written.read_text()


def test_a_blueprints_only_repository_names_a_pinned_source(tmp_path):
    """No copy of mesh in the repository: ./base cannot work there; a pin must be given."""
    code, _, err = _run("init", "ci", tmp_path)
    assert code == 2 and "holds no copy of mesh (mesh-provisioner)" in err and "--install" in err
    assert not (tmp_path / ".github").exists()
    code, _, _ = _run("init", "ci", tmp_path, "--install", VCS_PIN)
    assert code == 0
    step = _step("Install the checker (never the pull request's)", _workflow(tmp_path / WORKFLOW))
    assert step["env"] == {"MESH_INSTALL": VCS_PIN}
    assert f'MESH_INSTALL: "{VCS_PIN}"' in (tmp_path / WORKFLOW).read_text()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--blueprints", "../elsewhere", "expected a path inside the repository"),
        ("--blueprints", "a b", "expected a path inside the repository"),
        ("--install", "x; rm -rf /", "not a form a blueprints-only repository can install"),
        ("--install", "mesh-provisioner>=0.1.0", "not pinned: a range"),
        ("--install", "mesh-provisioner", "not pinned: a range or a bare name"),
        ("--install", "mesh-provisioner @ git+https://github.com/acme/mesh@main", "40-hex commit"),
        ("--branch", "a b", "expected a branch name"),
    ],
)
def test_init_ci_refuses_what_is_not_pinned_or_would_break_the_workflow(
    tmp_path, option, value, message
):
    code, _, err = _run("init", "ci", tmp_path, "--install", "./base", option, value)
    assert code == 2 and option in err and message in err, err
    assert not (tmp_path / ".github").exists()


@pytest.mark.parametrize(
    ("install", "pip_calls"),
    [
        ("mesh-provisioner==0.1.0", [["install", "mesh-provisioner==0.1.0"]]),
        (VCS_PIN, [["install", VCS_PIN]]),
        ("./base", [["install", "--require-hashes", "-r", "base/requirements.lock"],
                    ["install", "--no-deps", "./base"]]),
    ],
)  # fmt: skip
def test_the_install_line_passes_the_pin_to_pip_as_one_word(tmp_path, install, pip_calls):
    """The shell never parses the pin: `>`, spaces and `@` reach pip unchanged."""
    texts = workflow_texts(CiOptions(install=install))
    step = _step(
        "Install the checker (never the pull request's)", YAML(typ="safe").load(texts[WORKFLOW])
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, code in (("pip", "import json, sys; print(json.dumps(sys.argv[1:]))"),
                       ("mesh", "print('mesh 0.1.0')")):  # fmt: skip
        (bin_dir / name).write_text(f"#!{sys.executable}\n{code}\n")
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, **step["env"], "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-e", "-c", step["run"]], env=env, cwd=tmp_path,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [json.loads(line) for line in lines[:-1]] == pip_calls and lines[-1] == "mesh 0.1.0"


def test_the_workflow_decides_from_the_base_branch():
    """Issue 25 (5, 6): pull_request_target and workflow_run run the default branch's file;
    `edited` (a retarget) decides again; the head is data only; a PR into another branch fails."""
    wf = _workflow()
    assert wf["on"] == {
        "pull_request_target": {
            "types": ["opened", "synchronize", "reopened", "edited", "ready_for_review"]
        },
        "workflow_run": {"workflows": ["mesh-pr-review"], "types": ["completed"]},
    }
    assert wf["permissions"] == {"contents": "read", "pull-requests": "write", "statuses": "write"}
    relay = _workflow(ROOT / RELAY)
    assert relay["name"] == "mesh-pr-review" and relay["permissions"] == {}
    assert relay["on"] == {"pull_request_review": {"types": ["submitted", "dismissed"]}}
    assert [s.get("uses") for s in relay["jobs"]["relay"]["steps"]] == [None]  # no checkout
    steps = _steps(wf)
    checkouts = [s["with"] for s in steps if s.get("uses") == "actions/checkout@v4"]
    assert checkouts == [
        {"ref": "${{ steps.pr.outputs.base_sha }}", "path": "base", "persist-credentials": False},
        {
            "repository": "${{ steps.pr.outputs.head_repo }}",
            "ref": "${{ steps.pr.outputs.head_sha }}",
            "path": "head",
            "persist-credentials": False,
        },
    ]
    names = [s.get("name") for s in steps]
    install = names.index("Install the checker (never the pull request's)")
    assert names.index("Only pull requests into the protected branch") < install
    assert "head" not in steps[install]["run"] and "base/requirements.lock" in steps[install]["run"]
    # nothing from the head runs: it is read by mesh only (its commands, head/ as an argument
    # or the working directory); no script, no install, no action from it
    for step in steps:
        run = step.get("run", "")
        assert not re.search(r"(^|[\s;&|(])(\./|bash |sh |python3? |source |\. )head/", run), step
        assert "pip install" not in run or step is steps[install]
        if step.get("working-directory") == "head":
            assert run.startswith("mesh "), step
        assert not step.get("uses", "").startswith("./")
    # no expression is expanded inside a script (a branch name or title cannot inject code)
    assert all("${{" not in s.get("run", "") for s in steps)
    # a token only where gh is called: the steps reading the pull request's files have none
    assert "GH_TOKEN" not in wf["jobs"]["mesh"]["env"]
    for step in steps:
        calls_gh = bool(re.search(r"\bgh api\b", step.get("run", "")))
        assert ("GH_TOKEN" in step.get("env", {})) == calls_gh, step.get("name")
        assert not (calls_gh and re.search(r"^\s*mesh ", step["run"], re.MULTILINE)), step.get(
            "name"
        )
    upload = next(s for s in steps if s.get("uses") == "actions/upload-artifact@v4")
    assert upload["with"]["path"].split() == ["mesh-audit/", "mesh-diff.json", "approvals.json"]


def test_the_workflows_pass_actionlint():
    reason = actionlint.skip_reason()
    if reason:
        pytest.skip(reason)
    found = actionlint.lint(ROOT / WORKFLOW, ROOT / RELAY)
    assert found == [], actionlint.format_findings(found)


def _mesh_commands() -> list[list[str]]:
    """Every `mesh ...` command line of the workflow's scripts, as words."""
    out = []
    for step in _steps():
        script = step.get("run", "").replace("\\\n", " ")
        for line in script.splitlines():
            line = line.strip()
            if line.startswith("mesh "):
                words = shlex.split(line.split(" > ")[0].split(" || ")[0])
                out.append([w for w in words if w != "${given[@]}"])
    return out


def test_every_command_the_workflow_runs_exists_with_its_options():
    commands = _mesh_commands()
    assert [c[:2] for c in commands] == [
        ["mesh", "--version"],
        ["mesh", "diff"],
        ["mesh", "diff"],
        ["mesh", "validate"],
        ["mesh", "audit"],
    ]
    group = typer.main.get_command(app)
    for words in commands[1:]:
        command = group.commands[words[1]]
        options = {o for p in command.params for o in p.opts}
        assert {w for w in words if w.startswith("--")} <= options, words
    # and the options given through "${given[@]}"
    assert "--approvals" in {o for p in group.commands["diff"].params for o in p.opts}


# ------------------------------------------------------------------ the scripts, with a fake gh

FAKE_GH = r"""
import json, os, subprocess, sys
args = sys.argv[1:]
log = os.environ["FAKE_GH_LOG"]
with open(log, "a") as fh:
    fh.write(json.dumps(args) + "\n")
assert args[0] == "api", args
jq = args[args.index("--jq") + 1] if "--jq" in args else None
fields = {}
for flag in ("-f", "-F"):
    for i, a in enumerate(args):
        if a == flag:
            k, _, v = args[i + 1].partition("=")
            fields[k] = v
data = json.load(open(os.environ["FAKE_GH_DATA"]))
if "graphql" in args:
    pages = [{"data": {"organization": {"teams": {"nodes": [{"slug": s} for s in
             data["teams"].get(fields["login"], [])]}}}}]
elif "--method" in args:
    pages = [{"id": 1}]
else:
    path = next(a for a in args[1:] if a.startswith("repos/"))
    pages = data[path]  # one list per page: --paginate runs the filter on each
for page in pages:
    if jq is None:
        print(json.dumps(page))
    else:
        done = subprocess.run(["jq", "-r", "-c", jq], input=json.dumps(page), text=True,
                              capture_output=True, check=True)
        sys.stdout.write(done.stdout)
"""

HEAD_SHA = "c0ffee"


def _review(
    login: str, state: str, commit: str = HEAD_SHA, kind: str = "User", association="MEMBER"
) -> dict:
    return {
        "user": {"login": login, "type": kind},
        "state": state,
        "commit_id": commit,
        "author_association": association,
    }


def _script(name: str, tmp_path: Path, data: dict) -> subprocess.CompletedProcess:
    if shutil.which("jq") is None or shutil.which("bash") is None:
        pytest.skip("bash and jq run the workflow's scripts (both are on GitHub's runners)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    gh = bin_dir / "gh"
    gh.write_text(f"#!{sys.executable}\n{FAKE_GH}")
    gh.chmod(0o755)
    (tmp_path / "data.json").write_text(json.dumps(data))
    step = _step(name)
    env = {
        **os.environ,
        **_workflow()["jobs"]["mesh"]["env"],
        **step.get("env", {}),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_GH_LOG": str(tmp_path / "gh.log"),
        "FAKE_GH_DATA": str(tmp_path / "data.json"),
        "REPO": "acme/mesh",
        "PR": "7",
        "HEAD_SHA": HEAD_SHA,
        "ORG": "acme",
        "GH_TOKEN": "fake",
    }
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _gh_calls(tmp_path: Path) -> list[list[str]]:
    return [json.loads(line) for line in (tmp_path / "gh.log").read_text().splitlines()]


REVIEWS = [
    [
        _review("alice", "APPROVED"),
        _review("bob", "APPROVED"),
        _review("carol", "APPROVED", commit="0ldc0mmit"),  # an older commit: not this one
        _review("dave", "COMMENTED"),
        _review("erin", "CHANGES_REQUESTED"),
    ],
    [  # the second page
        _review("bob", "CHANGES_REQUESTED"),  # the last word counts
        _review("erin", "APPROVED"),
        _review("frank", "APPROVED"),
        _review("frank", "COMMENTED"),  # a comment does not take an approval back
        _review("renovate", "APPROVED", kind="Bot"),
        _review("mallory", "APPROVED", association="NONE"),  # anyone may review a public repo
        _review("zed", "APPROVED", association="CONTRIBUTOR"),  # a past contributor, no access
    ],
]


def test_the_approvals_of_the_head_commit_with_the_reviewers_teams(tmp_path):
    data = {
        "repos/acme/mesh/pulls/7/reviews": REVIEWS,
        "teams": {"alice": ["privacy-office"], "erin": ["data-platform", "sales-data"]},
    }
    done = _script("Collect the approvals of the head commit", tmp_path, data)
    assert done.returncode == 0, done.stderr
    approvals = json.loads((tmp_path / "approvals.json").read_text())
    assert approvals == {
        "approved_by": [
            "@acme/data-platform",
            "@acme/privacy-office",
            "@acme/sales-data",
            "@alice",
            "@erin",
            "@frank",
        ]
    }
    # one team look-up per approving reviewer, in the repository's organisation
    lookups = [c for c in _gh_calls(tmp_path) if "graphql" in c]
    assert sorted(c[c.index("-f") + 1] + " " + c[c.index("-f") + 3] for c in lookups) == [
        "org=acme login=alice",
        "org=acme login=erin",
        "org=acme login=frank",
    ]
    # and mesh diff gates on it: a PII grant of sales (owners + privacy) is approved
    base, head = tmp_path / "base", tmp_path / "head"
    shutil.copytree(SAMPLE, base)
    shutil.copytree(SAMPLE, head)
    sales = head / "sales.yaml"
    sales.write_text(
        sales.read_text().replace(
            "      - domain: marketing\n",
            "      - domain: analytics\n        include_pii: true\n        approved_by: privacy\n"
            "        expires: 2027-03-31\n        justification: churn\n"
            "      - domain: marketing\n",
            1,
        )
    )
    given = tmp_path / "approvals.json"
    assert _run("diff", base, head, "--validate", "--approvals", given)[0] == 0
    given.write_text(json.dumps({"approved_by": ["@acme/sales-data", "@alice"]}))
    code, out, _ = _run("diff", base, head, "--validate", "--approvals", given)
    assert code == 1 and "MISSING APPROVALS (blocks the merge): privacy" in out


def test_no_approving_review_approves_nothing(tmp_path):
    data = {"repos/acme/mesh/pulls/7/reviews": [[_review("dave", "COMMENTED")]], "teams": {}}
    done = _script("Collect the approvals of the head commit", tmp_path, data)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "approvals.json").read_text()) == {"approved_by": []}


def _comments(*bodies: tuple[str, str]) -> list[list[dict]]:
    return [[{"id": 100 + i, "user": {"login": who}, "body": body} for i, (who, body) in
             enumerate(bodies)]]  # fmt: skip


def test_one_comment_is_posted_then_updated(tmp_path):
    (tmp_path / "comment.md").write_text("### Data mesh access changes\n\nNo new access.\n")
    path = "repos/acme/mesh/issues/7/comments"
    # a first run: a user's comment that quotes the marker is not ours: a new comment
    data = {path: _comments(("mallory", "<!-- mesh-pr --> fake"))}
    done = _script("Post or update the PR comment", tmp_path, data)
    assert done.returncode == 0, done.stderr
    assert _gh_calls(tmp_path)[-1] == [
        "api", "--method", "POST", "repos/acme/mesh/issues/7/comments", "-F", "body=@body.md"
    ]  # fmt: skip
    assert (tmp_path / "body.md").read_text() == (
        "<!-- mesh-pr -->\n### Data mesh access changes\n\nNo new access.\n"
    )
    # a later run: the bot's comment is edited in place
    data = {
        path: _comments(
            ("mallory", "<!-- mesh-pr --> fake"),
            ("github-actions[bot]", "<!-- mesh-pr -->\n### old"),
            ("github-actions[bot]", "an unrelated bot comment"),
        )
    }
    done = _script("Post or update the PR comment", tmp_path, data)
    assert done.returncode == 0, done.stderr
    assert _gh_calls(tmp_path)[-1] == [
        "api", "--method", "PATCH", "repos/acme/mesh/issues/comments/101", "-F", "body=@body.md"
    ]  # fmt: skip


def test_a_long_comment_is_cut_below_githubs_limit(tmp_path):
    (tmp_path / "comment.md").write_text("x" * 100_000)
    path = "repos/acme/mesh/issues/7/comments"
    assert _script("Post or update the PR comment", tmp_path, {path: [[]]}).returncode == 0
    assert len((tmp_path / "body.md").read_text()) < 65_536


def test_the_audit_report_has_no_colon_in_a_file_name(tmp_path):
    """actions/upload-artifact refuses file names with ':' (principal ids have one)."""
    code, _, _ = _run("audit", SAMPLE, "--out", tmp_path / "mesh-audit")
    assert code in (0, 1)
    names = [p.name for p in (tmp_path / "mesh-audit").rglob("*")]
    assert "access-matrix.json" in names and "sales.consumer.json" in names
    assert [n for n in names if re.search(r'[:"<>|*?\r\n]', n)] == []


# ------------------------------------------------------------------ actionlint (tests/actionlint.py)


def test_actionlint_passes_the_repositorys_workflows_and_catches_a_bad_one(tmp_path):
    reason = actionlint.skip_reason()
    if reason:
        pytest.skip(reason)
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows and (found := actionlint.lint(*workflows)) == [], actionlint.format_findings(
        found
    )
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.no_such_property }}\n"
    )
    assert [(f["line"], f["kind"]) for f in actionlint.lint(bad)] == [(6, "expression")]


def test_outside_this_project_the_default_is_the_commit_mesh_was_installed_from(
    tmp_path, monkeypatch
):
    """pip records a VCS install (PEP 610 direct_url.json): `mesh init ci` pins that commit."""
    from importlib import metadata

    from infra.scaffold import ci

    commit = "0123456789abcdef" * 2 + "01234567"
    recorded = {
        "url": "https://github.com/acme/mesh-provisioner",
        "vcs_info": {"vcs": "git", "commit_id": commit, "requested_revision": "main"},
    }

    class Installed:
        def read_text(self, name):
            return json.dumps(recorded) if name == "direct_url.json" else None

    monkeypatch.setattr(metadata, "distribution", lambda name: Installed())
    assert ci.default_install(tmp_path) == (
        f"mesh-provisioner @ git+https://github.com/acme/mesh-provisioner@{commit}"
    )
    recorded["vcs_info"]["commit_id"] = "main"  # not a commit: nothing to pin
    with pytest.raises(UsageError, match="holds no copy of mesh"):
        ci.default_install(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mesh-provisioner"\n')
    assert ci.default_install(tmp_path) == "./base"


@pytest.mark.parametrize("command", ["deploy", "drift"])
def test_no_workflow_writes_a_shell_redirect_from_install(tmp_path, command):
    """`mesh init deploy` and `mesh init drift` write --install into a shell line (pip
    arguments): `>` there is a redirect, so a range is refused as for `mesh init ci`."""
    code, _, err = _run("init", command, tmp_path, "--install", "mesh-provisioner>=0.1.0")
    assert code == 2 and "--install 'mesh-provisioner>=0.1.0'" in err
    assert not (tmp_path / ".github").exists()
    code, _, _ = _run("init", command, tmp_path, "--install", "mesh-provisioner==0.1.0")
    assert code == 0
