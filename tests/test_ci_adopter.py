"""An adopter's first week, end to end: a new repository holding only blueprints (no copy of
mesh), `mesh init ci` with a pinned checker, the first pull request (the platform file alone),
then the second (the domains), and a pull request into another branch. The job of the written
mesh-pr.yml runs step by step as GitHub would run it from the default branch: each `run:` with
bash (`-eo pipefail`), `${{ }}` expressions and `if:` conditions evaluated, `actions/checkout`
as `git archive` of the ref, against a fake `gh` serving the pull request, its reviews and the
reviewers' teams, and recording the commit statuses. `pip` is a fake that records what it was
asked to install (no network here): `mesh` is this checkout's."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import actionlint
import pytest
from conftest import SAMPLE, TODAY
from ruamel.yaml import YAML

from infra.scaffold.ci import RELAY, WORKFLOW

PIN = "mesh-provisioner @ git+https://github.com/acme/mesh-provisioner@" + "ab" * 20
REPO = "acme/data-mesh"

FAKE_GH = r"""
import json, os, subprocess, sys
args = sys.argv[1:]
with open(os.environ["FAKE_GH_LOG"], "a") as fh:
    fh.write(json.dumps(args) + "\n")
assert args[0] == "api", args
jq = args[args.index("--jq") + 1] if "--jq" in args else None
fields = {}
for i, a in enumerate(args):
    if a in ("-f", "-F"):
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
    if path.endswith("/pulls") and "head" in fields:
        pages = [[p for p in data["pulls"] if f"{p['head']['repo']['owner']['login']}:{p['head']['ref']}" == fields["head"]]]
    elif "/pulls/" in path and not path.endswith("/reviews"):
        pages = [next(p for p in data["pulls"] if path.endswith(f"/pulls/{p['number']}"))]
    else:
        pages = data.get(path, [[]])
for page in pages:
    if jq is None:
        print(json.dumps(page))
    else:
        done = subprocess.run(["jq", "-r", "-c", jq], input=json.dumps(page), text=True,
                              capture_output=True, check=True)
        sys.stdout.write(done.stdout)
"""


# ------------------------------------------------------------------ expressions and conditions


def _value(expr: str, ctx: dict) -> object:
    expr = expr.strip()
    if "||" in expr:
        for part in expr.split("||"):
            if value := _value(part, ctx):
                return value
        return ""
    if "&&" in expr:
        value: object = True
        for part in expr.split("&&"):
            value = _value(part, ctx)
            if not value:
                return value
        return value
    for op in ("==", "!="):
        if f" {op} " in expr:
            left, right = (_value(x, ctx) for x in expr.split(f" {op} "))
            return (str(left) == str(right)) == (op == "==")
    if expr in ("always()", "success()"):
        return expr == "always()" or not ctx["failed"]
    if expr.startswith("'") and expr.endswith("'"):
        return expr[1:-1]
    node: object = ctx
    for key in expr.split("."):
        node = node.get(key, "") if isinstance(node, dict) else ""
    return node


def _expand(text: str, ctx: dict) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(_value(m.group(1), ctx)), text)


def _runs(step: dict, ctx: dict) -> bool:
    condition = step.get("if", "success()")
    if "always()" not in condition and ctx["failed"]:
        return False
    return bool(_value(condition.replace("${{", "").replace("}}", ""), ctx))


# ------------------------------------------------------------------ the repository and the runner


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@example.com",
           "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@example.com"}  # fmt: skip
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env=env, check=True)  # fmt: skip
    return done.stdout.strip()


def _commit(repo: Path, message: str) -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


class Runner:
    """GitHub for one repository: pull requests, reviews, teams; runs the default branch's
    mesh-pr.yml for an event and keeps the commit statuses it sets."""

    def __init__(self, tmp: Path, repo: Path) -> None:
        self.tmp, self.repo = tmp, repo
        self.bin = tmp / "bin"
        self.bin.mkdir()
        (self.bin / "gh").write_text(f"#!{sys.executable}\n{FAKE_GH}")
        (self.bin / "pip").write_text(
            f"#!{sys.executable}\nimport json, os, sys\n"
            "open(os.environ['FAKE_PIP_LOG'], 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        )
        (self.bin / "mesh").write_text(f'#!/bin/sh\nexec {sys.executable} -m infra.cli "$@"\n')
        for name in ("gh", "pip", "mesh"):
            (self.bin / name).chmod(0o755)
        self.data: dict = {"pulls": [], "teams": {}}
        self.runs = 0
        # the Actions cache of the repository: key -> saved directory, in the order saved
        self.caches: dict[str, Path] = {}

    def pull(self, number: int, base: str, head_branch: str) -> dict:
        pr = {
            "number": number,
            "base": {"ref": base, "sha": _git(self.repo, "rev-parse", base)},
            "head": {
                "ref": head_branch,
                "sha": _git(self.repo, "rev-parse", head_branch),
                "repo": {"full_name": REPO, "owner": {"login": "acme"}},
            },
        }
        self.data["pulls"] = [p for p in self.data["pulls"] if p["number"] != number] + [pr]
        self.data.setdefault(f"repos/{REPO}/pulls/{number}/reviews", [[]])
        return pr

    def review(self, pr: dict, login: str, teams: list[str], association="MEMBER") -> None:
        self.data["teams"][login] = teams
        self.data[f"repos/{REPO}/pulls/{pr['number']}/reviews"][0].append(
            {
                "user": {"login": login, "type": "User"},
                "state": "APPROVED",
                "commit_id": pr["head"]["sha"],
                "author_association": association,
            }
        )

    def run(self, event_name: str, pr: dict) -> dict:
        """One run of the job; returns {"status": (state, description) or None, "steps": {...},
        "work": the workspace, "calls": gh calls}."""
        self.runs += 1
        work = self.tmp / f"run{self.runs}"
        work.mkdir()
        default = _git(self.repo, "rev-parse", "main")
        wf = YAML(typ="safe").load(_git(self.repo, "show", f"{default}:{WORKFLOW}"))
        if event_name == "pull_request_target":
            event = {"pull_request": {"number": pr["number"], "head": {"sha": pr["head"]["sha"]}}}
        else:  # workflow_run of the review relay; the run of a review has the PR's head
            event = {"workflow_run": {"head_sha": pr["head"]["sha"], "head_branch": pr["head"]["ref"],
                                      "head_repository": {"owner": {"login": "acme"}}}}  # fmt: skip
        event["repository"] = {"default_branch": "main"}
        ctx: dict = {
            "github": {
                "event_name": event_name,
                "event": event,
                "repository": REPO,
                "repository_owner": "acme",
                "token": "fake-token",
                "workspace": str(work),
            },
            "runner": {"os": "Linux"},
            "secrets": {},
            "steps": {},
            "failed": False,
        }
        data, log = self.tmp / f"gh{self.runs}.json", self.tmp / f"gh{self.runs}.log"
        data.write_text(json.dumps(self.data))
        job = wf["jobs"]["mesh"]
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        base_env |= {
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "FAKE_GH_LOG": str(log),
            "FAKE_GH_DATA": str(data),
            "FAKE_PIP_LOG": str(self.tmp / "pip.log"),
            "MESH_TODAY": TODAY.isoformat(),
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
            "RUNNER_TEMP": str(work / "_temp"),
        }
        (work / "_temp").mkdir()
        logs: dict[str, str] = {}
        for i, step in enumerate(job["steps"]):
            sid = step.get("id", f"_{i}")
            if not _runs(step, ctx):
                ctx["steps"][sid] = {"outcome": "skipped", "outputs": {}}
                continue
            outputs: dict[str, str] = {}
            if "uses" in step:
                ok = self._action(step, ctx, work)
            else:
                out_file, summary = work / f".out{i}", work / f".summary{i}"
                out_file.touch()
                env = base_env | {k: _expand(str(v), ctx) for k, v in job["env"].items()}
                env |= {k: _expand(str(v), ctx) for k, v in step.get("env", {}).items()}
                env |= {"GITHUB_OUTPUT": str(out_file), "GITHUB_STEP_SUMMARY": str(summary)}
                cwd = work / step.get("working-directory", ".")
                done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                                       step["run"]], cwd=cwd, env=env, capture_output=True,
                                      text=True, check=False)  # fmt: skip
                ok = done.returncode == 0
                for line in out_file.read_text().splitlines():
                    key, _, value = line.partition("=")
                    outputs[key] = value
                logs[sid] = done.stdout + done.stderr
            ctx["steps"][sid] = {"outcome": "success" if ok else "failure", "outputs": outputs}
            if not ok and not step.get("continue-on-error"):
                ctx["failed"] = True
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        statuses = [
            c for c in calls if c[:3] == ["api", "--method", "POST"] and "/statuses/" in c[3]
        ]
        last = None
        if statuses:
            fields = dict(a.partition("=")[::2] for a in statuses[-1] if "=" in a)
            assert statuses[-1][3] == f"repos/{REPO}/statuses/{pr['head']['sha']}"
            last = (fields["state"], fields["description"])
        return {"status": last, "steps": ctx["steps"], "work": work, "calls": calls,
                "failed": ctx["failed"], "logs": logs}  # fmt: skip

    def _action(self, step: dict, ctx: dict, work: Path) -> bool:
        uses, args = (
            step["uses"],
            {k: _expand(str(v), ctx) for k, v in step.get("with", {}).items()},
        )
        if uses == "actions/checkout@v4":
            dest = work / args["path"]
            dest.mkdir(parents=True)
            archive = subprocess.run(["git", "-C", str(self.repo), "archive", args["ref"]],
                                     capture_output=True, check=True).stdout  # fmt: skip
            subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
            return True
        if uses == "actions/cache/restore@v4":  # the exact key, else the newest with a prefix
            keys = [args["key"], *args.get("restore-keys", "").split()]
            for key in keys:
                found = [
                    k for k in self.caches if k == key or (key != keys[0] and k.startswith(key))
                ]
                if found:
                    shutil.copytree(self.caches[found[-1]], work / args["path"], dirs_exist_ok=True)
                    break
            return True
        if uses == "actions/cache/save@v4":  # a key is saved once, never replaced
            if args["key"] in self.caches or not (work / args["path"]).is_dir():
                return False
            self.caches[args["key"]] = shutil.copytree(
                work / args["path"], self.tmp / f"cache{len(self.caches)}"
            )
            return True
        return uses in ("actions/setup-python@v5", "actions/upload-artifact@v4")


@pytest.fixture
def adopter(tmp_path):
    if shutil.which("jq") is None or shutil.which("git") is None:
        pytest.skip("git and jq run the workflow's scripts (both are on GitHub's runners)")
    repo = tmp_path / "data-mesh"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("# Our data mesh\n")
    done = subprocess.run([sys.executable, "-m", "infra.cli", "init", "ci", str(repo),
                           "--install", PIN], capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    _commit(repo, "the mesh-pr workflow")
    return Runner(tmp_path, repo), repo


def _branch(repo: Path, name: str, start: str = "main") -> None:
    _git(repo, "checkout", "-q", "-b", name, start)


def test_the_written_workflows_pass_actionlint(adopter):
    reason = actionlint.skip_reason()
    if reason:
        pytest.skip(reason)
    _, repo = adopter
    found = actionlint.lint(repo / WORKFLOW, repo / RELAY)
    assert found == [], actionlint.format_findings(found)


def _without_tag_grants() -> str:
    """The sample's platform file without its mesh-wide tag grant (to a domain of the sample)."""
    return (SAMPLE / "_mesh.yaml").read_text().split("\ntag_grants:")[0] + "\n"


def test_an_adopters_first_and_second_pull_request(adopter):
    gh, repo = adopter
    blueprints = repo / "blueprints"
    # the first pull request of a new mesh: the platform file alone (main has no blueprints/)
    _branch(repo, "platform-file")
    blueprints.mkdir()
    # without the sample's mesh-wide tag grant: it names a domain that comes with the second
    (blueprints / "_mesh.yaml").write_text(_without_tag_grants())
    _commit(repo, "the approvers")
    first = gh.pull(1, "main", "platform-file")
    run = gh.run("pull_request_target", first)
    assert run["status"] == ("failure", "unsafe change or missing approvals: see the PR comment")
    comment = (run["work"] / "comment.md").read_text()
    assert "platform" in comment and "_mesh.yaml is added" in comment
    assert json.loads((repo.parent / "pip.log").read_text().splitlines()[0]) == ["install", PIN]
    # a platform member approves: the review relay makes mesh-pr decide again
    gh.review(first, "dana", ["data-platform"])
    run = gh.run("workflow_run", first)
    assert run["status"] == ("success", "safe, and every required approval is there"), run["steps"]
    assert json.loads((run["work"] / "approvals.json").read_text()) == {
        "approved_by": ["@acme/data-platform", "@dana"]
    }
    _git(repo, "checkout", "-q", "main")
    _git(repo, "merge", "-q", "--ff-only", "platform-file")

    # the second: the domains, decided by the groups main now has
    _branch(repo, "domains")
    for path in SAMPLE.glob("*.yaml"):
        shutil.copy(path, blueprints / path.name)  # _mesh.yaml: with its tag grant now
    _commit(repo, "five domains")
    second = gh.pull(2, "main", "domains")
    run = gh.run("pull_request_target", second)
    assert run["status"][0] == "failure"
    required = {
        r["approver"]
        for r in json.loads((run["work"] / "mesh-diff.json").read_text())["required_approvals"]
    }
    assert "platform" in required and "privacy" in required
    # a reviewer per team the approvers name; a non-member's approval counts for nothing
    teams = {"platform": "data-platform", "privacy": "privacy-office", "security": "security"}
    gh.review(second, "mallory", sorted(teams.values()), association="NONE")
    assert gh.run("workflow_run", second)["status"][0] == "failure"
    for i, approver in enumerate(sorted(required)):
        team = teams.get(approver) or approver.removeprefix("@acme/")
        gh.review(second, f"reviewer{i}", [team])
    run = gh.run("workflow_run", second)
    assert run["status"] == ("success", "safe, and every required approval is there"), (
        run["work"] / "comment.md"
    ).read_text()


def test_a_pull_request_into_another_branch_is_refused(adopter):
    gh, repo = adopter
    _branch(repo, "staging")
    _branch(repo, "sneaky", "staging")
    (repo / "blueprints").mkdir()
    (repo / "blueprints" / "_mesh.yaml").write_text(_without_tag_grants())
    _commit(repo, "approvers, into staging")
    pr = gh.pull(3, "staging", "sneaky")
    gh.review(pr, "dana", ["data-platform"])
    run = gh.run("pull_request_target", pr)
    assert run["status"] == (
        "failure",
        "mesh-pr decides pull requests into main only: retarget it",
    )
    assert run["steps"]["diff"]["outcome"] == "skipped" and run["failed"]
    assert "mesh-pr decides pull requests into 'main' only" in run["logs"]["branch"]
    # retargeted to main (an `edited` event): decided again, against main
    pr = gh.pull(3, "main", "sneaky")
    run = gh.run("pull_request_target", pr)
    assert run["status"] == ("success", "safe, and every required approval is there")


def _entries(cache: Path) -> set[str]:
    return {p.name for p in cache.rglob("*.json")}


def test_the_parse_cache_is_restored_for_the_base_commit_and_saved(adopter):
    """The job keeps MESH_CACHE_DIR in the Actions cache keyed on the base commit: a second
    pull request on the same base restores what the first saved (the base's files are not
    parsed again), a later base starts from the newest earlier cache, and what a run did not
    use is dropped before saving."""
    gh, repo = adopter
    blueprints = repo / "blueprints"
    blueprints.mkdir()
    for path in SAMPLE.glob("*.yaml"):
        shutil.copy(path, blueprints / path.name)
    base = _commit(repo, "the sample mesh")
    _branch(repo, "reword")
    sales = blueprints / "sales.yaml"
    sales.write_text(sales.read_text().replace("Orders", "Orders (reworded)", 1))
    _commit(repo, "reword sales")
    first = gh.run("pull_request_target", gh.pull(1, "main", "reword"))
    assert first["steps"]["diff"]["outcome"] == "success" and not first["failed"], first["logs"]
    saved = gh.caches[f"mesh-parse-Linux-{base}"]
    assert len(_entries(saved)) == 6  # five blueprints of BASE, the edited one of HEAD
    # the same pull request decided again (a review): the cache of its base is restored (a
    # marker dated after the run survives the pruning: it came from the saved cache)
    marker = next(saved.rglob("*.json")).with_name("marker.json")
    marker.write_text("{}")
    os.utime(marker, (time.time() + 3600, time.time() + 3600))
    second = gh.run("workflow_run", gh.pull(1, "main", "reword"))
    assert not second["failed"], second["logs"]
    assert _entries(second["work"] / ".mesh-cache") == _entries(saved)
    marker.unlink()
    assert (first["work"] / "mesh-diff.json").read_text() == (
        second["work"] / "mesh-diff.json"
    ).read_text()
    # main moves on: the next base restores the newest earlier cache, drops the entry of the
    # old sales.yaml (no tree of this run has it) and saves under its own commit
    _git(repo, "checkout", "-q", "main")
    _git(repo, "merge", "-q", "--ff-only", "reword")
    _branch(repo, "finance")
    finance = blueprints / "finance.yaml"
    finance.write_text(finance.read_text() + "# reviewed\n")
    _commit(repo, "finance")
    third = gh.run("pull_request_target", gh.pull(2, "main", "finance"))
    assert not third["failed"], third["logs"]
    new_base = _git(repo, "rev-parse", "main")
    kept = _entries(gh.caches[f"mesh-parse-Linux-{new_base}"])
    assert len(kept) == 6 and kept != _entries(saved) and len(kept & _entries(saved)) == 5


def test_a_blueprint_directory_linked_out_of_the_checkout_is_refused(adopter, tmp_path):
    """The job runs with the base branch's rights on the pull request's files as data: a pull
    request whose blueprint directory is a symbolic link to a directory elsewhere on the runner
    is refused before any check reads it, so nothing of that directory reaches a comment."""
    gh, repo = adopter
    blueprints = repo / "blueprints"
    blueprints.mkdir()
    for path in SAMPLE.glob("*.yaml"):
        shutil.copy(path, blueprints / path.name)
    _commit(repo, "the sample mesh")
    elsewhere = tmp_path / "runner-secrets"
    elsewhere.mkdir()
    (elsewhere / "token.yaml").write_text("domain: HOSTILE-SECRET-VALUE\n")
    _branch(repo, "sneaky")
    shutil.rmtree(blueprints)
    blueprints.symlink_to(elsewhere)
    _commit(repo, "blueprints elsewhere")
    run = gh.run("pull_request_target", gh.pull(1, "main", "sneaky"))
    assert run["status"] == ("failure", "the comparison did not finish (exit none)")
    assert run["steps"]["diff"]["outcome"] == "failure"
    assert (
        "blueprints of the pull request is a symbolic link out of its checkout: refused"
        in (run["logs"]["diff"])
    )
    assert (
        not (run["work"] / "comment.md").exists()
        or "HOSTILE" not in (run["work"] / "comment.md").read_text()
    )
    assert "HOSTILE" not in json.dumps(run["logs"])
