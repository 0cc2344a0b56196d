"""Hostile stack configs (`Pulumi.<stack>.yaml`) end to end: a pull request changes them as it
changes a blueprint, and every command reads them with the one hostile-input reader
(`infra.blueprints.stack_files`). A FIFO must not hang a check, a link to `/dev/zero` must not
read until memory runs out, a link to a file elsewhere on the machine must not print a byte of
it, an alias bomb must stay bounded; the PR check reports each (E001/E002), the checks that only
collect prefixes skip it, `mesh stacks` stops on it with a usage error (exit 2), and so do
`mesh plan --config FILE` and `mesh doctor` (`MESH_STACK_CONFIG`), which read one stack config
as `pulumi up` does (`infra.engines.stack_config`)."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import ROOT
from test_hostile_input import _laughs, mesh_subprocess

SECRET = "AKIAHOSTILESECRET1234"


@pytest.fixture
def project(tmp_path):
    """BASE and HEAD checkouts of the sample project side by side (the PR workflow's layout)."""
    for side in ("base", "head"):
        shutil.copytree(ROOT / "blueprints", tmp_path / side / "blueprints")
        for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
            shutil.copy(ROOT / name, tmp_path / side / name)
    return tmp_path


def _outputs(project, expect_diff: int = 1) -> dict[str, str]:
    """What `mesh validate`, the PR check and `mesh stacks` print for HEAD, each bounded."""
    head, base = project / "head" / "blueprints", project / "base" / "blueprints"
    out = {}
    done, seconds, peak = mesh_subprocess("validate", str(head), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr  # it only reads prefixes: skipped
    assert seconds < 60 and peak < 1024, (seconds, peak)
    out["validate"] = done.stdout + done.stderr
    for fmt in ("json", "markdown"):
        args = ("diff", str(base), str(head), "--validate", "--format", fmt)
        done, seconds, peak = mesh_subprocess(*args, timeout=120)
        assert done.returncode == expect_diff, done.stdout + done.stderr
        assert seconds < 60 and peak < 1024, (seconds, peak)
        out[f"diff {fmt}"] = done.stdout + done.stderr
    done, seconds, peak = mesh_subprocess("stacks", str(head), timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr  # a usage error naming the file
    assert seconds < 60 and peak < 1024, (seconds, peak)
    out["stacks"] = done.stdout + done.stderr
    return out


def _errors(diff_json: str) -> list[tuple[str, str]]:
    doc = json.loads(diff_json[: diff_json.rindex("}") + 1])
    return sorted((os.path.basename(e["file"]), e["code"]) for e in doc["errors"])


def test_a_fifo_stack_config_hangs_nothing(project):
    os.mkfifo(project / "head" / "Pulumi.fifo.yaml")  # opening it for reading would block
    out = _outputs(project)
    assert _errors(out["diff json"]) == [("Pulumi.fifo.yaml", "E001")]
    assert "Pulumi.fifo.yaml" in out["stacks"] and "E001" in out["stacks"]


def test_a_stack_config_linked_to_dev_zero_is_refused_unread(project):
    os.symlink("/dev/zero", project / "head" / "Pulumi.zero.yaml")
    out = _outputs(project)
    assert _errors(out["diff json"]) == [("Pulumi.zero.yaml", "E001")]
    assert "Pulumi.zero.yaml" in out["stacks"] and "E001" in out["stacks"]


def test_a_stack_config_linked_out_of_the_project_prints_none_of_it(project):
    # credentials elsewhere on the runner, not YAML a parser would accept quietly
    elsewhere = project / "credentials"
    elsewhere.write_text(f"[default]\naws_access_key_id = {SECRET}\nsecret: : {SECRET}\n")
    os.symlink(elsewhere, project / "head" / "Pulumi.leak.yaml")
    out = _outputs(project)
    assert _errors(out["diff json"]) == [("Pulumi.leak.yaml", "E001")]
    for command, text in out.items():
        assert SECRET not in text, command


def test_a_stack_config_alias_bomb_is_bounded(project):
    (project / "head" / "Pulumi.bomb.yaml").write_text(_laughs() + "config:\n  mesh:prefix: *a9\n")
    out = _outputs(project)
    assert _errors(out["diff json"]) == [("Pulumi.bomb.yaml", "E004")]
    assert "Pulumi.bomb.yaml" in out["stacks"]


# ------------------------------------------ the one stack config of `mesh plan --config FILE`


@pytest.mark.parametrize(
    "name, make, why",
    [
        (
            "Pulumi.fifo.yaml",
            os.mkfifo,  # opening it for reading would block
            "E001 not a regular file (a directory, FIFO, socket or device): refused",
        ),
        (
            "Pulumi.zero.yaml",
            lambda path: os.symlink("/dev/zero", path),  # read, it never ends
            "E001 symbolic link to '/dev/zero', outside the blueprint directory: refused",
        ),
    ],
)
def test_mesh_plan_config_refuses_a_fifo_or_a_link_to_dev_zero_unread(project, name, make, why):
    config = project / "head" / name
    make(config)
    done, seconds, peak = mesh_subprocess(
        "plan", str(project / "head" / "blueprints"), "--config", str(config), timeout=120
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert seconds < 60 and peak < 1024, (seconds, peak)
    assert done.stdout == ""
    assert done.stderr.startswith(f"error: cannot read the stack config {str(config)!r}: {why}")


def test_mesh_plan_config_names_a_yaml_error_and_its_line_without_printing_the_file(project):
    config = project / "head" / "Pulumi.bad.yaml"
    config.write_text(f"config:\n  mesh:prefix: [{SECRET}\n  mesh:account: x\n")
    done, _, _ = mesh_subprocess(
        "plan", str(project / "head" / "blueprints"), "--config", str(config)
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(
        f"error: cannot read the stack config {str(config)!r} (line 3): E002 YAML syntax error: "
    )
    assert SECRET not in done.stdout + done.stderr


def test_mesh_doctor_refuses_a_stack_config_linked_to_dev_zero_unread(project, monkeypatch):
    config = project / "head" / "Pulumi.zero.yaml"
    os.symlink("/dev/zero", config)
    monkeypatch.setenv("MESH_STACK_CONFIG", str(config))
    done, seconds, peak = mesh_subprocess("doctor", str(project / "head" / "blueprints"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert seconds < 60 and peak < 1024, (seconds, peak)
    assert f"cannot read the stack config {str(config)!r}: E001 symbolic link" in done.stderr


def test_mesh_stacks_names_a_stack_config_that_does_not_read_escaped(project):
    # a file name is the pull request's text too: a carriage return or a bidi override in it
    # must not reach the log raw (a forged line, text shown reversed); the message is the one
    # `mesh plan --config` gives (README: `cannot read the stack config 'FILE': ...`)
    from infra.diff.stack_configs import project_configs
    from infra.errors import UsageError

    name = "Pulumi.a\r::error::forged\u202e.yaml"
    (project / "head" / name).write_text("config:\n  mesh:prefix: [x\n")
    with pytest.raises(UsageError) as raised:
        project_configs(project / "head")
    message = str(raised.value)
    assert "\r" not in message and "\u202e" not in message
    shown = repr(os.path.normpath(project / "head" / name))
    assert message.startswith(f"cannot read the stack config {shown} (line 2): E002 YAML syntax")
