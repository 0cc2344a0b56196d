"""Grant expiry on time: `mesh expiring` names, from the night after a grant's last day, the
stacks whose deploy revokes it (the scheduled workflow deploys them), and that deploy converges:
the grant's permission, and nothing else, leaves the plan."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml
from conftest import ROOT, SAMPLE
from typer.testing import CliRunner

from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.engines.recording import run_program
from infra.engines.stack_config import read_stack_config
from infra.provision import types as T

LAST_DAY = dt.date(2027, 6, 30)  # sales.orders -> marketing: expires 2027-06-30
GRANT = "sales.orders@marketing"


def expiring(today: dt.date, *args: str) -> dict:
    run = CliRunner().invoke(
        app,
        ["expiring", str(SAMPLE), "--format", "json", *args],
        env={"MESH_TODAY": today.isoformat()},
    )
    assert run.exit_code == 0, run.output
    return json.loads(run.stdout)


def ended_pairs(doc: dict) -> list[tuple[str, str]]:
    return [(e["product"], e["consumer"]) for e in doc["ended"]]


def plan(today: dt.date):
    settings = read_stack_config(ROOT / "Pulumi.dev.yaml")
    mesh = load_mesh(settings.blueprints, today=today).mesh
    return run_program(mesh, settings, today)


def test_the_last_day_still_grants_and_the_next_day_names_the_stacks():
    assert ("sales.orders", "marketing") not in ended_pairs(expiring(LAST_DAY))
    doc = expiring(LAST_DAY + dt.timedelta(days=1))
    [entry] = [
        e for e in doc["ended"] if (e["product"], e["consumer"]) == ("sales.orders", "marketing")
    ]
    assert entry == {
        "product": "sales.orders",
        "consumer": "marketing",
        "ended": "2027-07-01",
        "expires": "2027-06-30",
        # every stack config that declares sales' grants: the two whole-mesh stacks and sales'
        # own (not the platform stack, not the bootstrap)
        "stacks": ["dev", "sales", "single"],
    }
    assert set(doc["stacks"]) >= {"dev", "sales", "single"}


@pytest.mark.parametrize(("days_after", "listed"), [(7, True), (8, False)])
def test_a_missed_night_is_caught_up_within_the_window(days_after, listed):
    """`--since 7`: a grant that ended up to 7 days ago is still listed (its stacks deploy
    again; a converged stack changes nothing)."""
    doc = expiring(LAST_DAY + dt.timedelta(days=days_after), "--since", "7")
    assert (("sales.orders", "marketing") in ended_pairs(doc)) is listed


def test_the_deploy_after_the_last_day_removes_exactly_the_grants_permission():
    """Convergence: the plan of the day after differs from the last day's by exactly the grants
    `mesh expiring` names for that day (their component and Lake Formation permission) and the
    DESCRIBE on a resource link a consumer no longer needs; nothing else (no protected
    resource, no other grant)."""
    next_day = LAST_DAY + dt.timedelta(days=1)
    ended = [f"{p}@{c}" for p, c in ended_pairs(expiring(next_day))]
    assert ended == ["logistics.shipments@sales", GRANT]  # both had 2027-06-30 as last day
    before = {(r.type, r.name): r for r in plan(LAST_DAY).resources}
    after = {(r.type, r.name): r for r in plan(next_day).resources}
    gone = sorted(set(before) - set(after))
    assert gone == sorted(
        [(T.GRANT, g) for g in ended]
        + [(T.LF_PERMISSIONS, f"{g}-lakeformation") for g in ended]
        # both are column-limited: their data cells filters go with them
        + [(T.LF_DATA_FILTER, f"{g}-data-filter") for g in ended]
        # marketing read nothing else of sales: its DESCRIBE on sales' link goes too
        + [(T.LF_PERMISSIONS, "sales@marketing-link-describe")]
    )
    assert set(after) <= set(before)
    for key, r in after.items():
        assert r.inputs == before[key].inputs, key
    # the permission is replaced by nothing: Pulumi deletes it, which revokes it (a permission
    # somebody revoked by hand meanwhile is no error: README "Grant expiry on time")
    assert not before[(T.LF_PERMISSIONS, f"{GRANT}-lakeformation")].protect


def test_the_workflow_deploys_what_mesh_expiring_names():
    workflow = yaml.safe_load((ROOT / ".github/workflows/mesh-expiry.yml").read_text())
    assert workflow[True]["schedule"] == [{"cron": "17 0-5 * * *"}]  # `on:` reads as True
    ended, revoke = workflow["jobs"]["ended"], workflow["jobs"]["revoke"]
    runs = "\n".join(s.get("run", "") for s in ended["steps"])
    assert "mesh expiring blueprints --since 7 --format json > expiring.json" in runs
    assert ended["outputs"]["stacks"] == "${{ steps.ended.outputs.stacks }}"
    # one job per listed stack, in the rollout workflow's concurrency group for that stack
    assert revoke["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.ended.outputs.stacks) }}"
    assert revoke["concurrency"]["group"] == "mesh-up-${{ matrix.stack }}"
    deploy = "mesh-${{ needs.plan.outputs.mode }}-${{ matrix.stack }}"  # mesh init deploy's
    assert deploy in (ROOT / "infra/scaffold/templates/mesh-deploy.yml.j2").read_text()
    assert 'pulumi up --yes --skip-preview --stack "$STACK"' in revoke["steps"][-1]["run"]
    assert ended["env"]["TZ"] == revoke["env"]["TZ"] == "UTC"


def test_nothing_ended_is_exit_0_with_no_stack():
    doc = expiring(dt.date(2026, 12, 1))
    assert (doc["ended"], doc["stacks"]) == ([], [])


def test_the_workflow_passes_actionlint():
    import actionlint

    reason = actionlint.skip_reason()
    if reason:
        pytest.skip(reason)
    assert actionlint.lint(ROOT / ".github/workflows/mesh-expiry.yml") == []
