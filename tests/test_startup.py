"""Start-up of `mesh`: a command imports its own module when it runs, and the PR check (`mesh
diff --validate`, `mesh validate --base`) imports nothing it does not use; the help of every
command is what registering them all up front gives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml
from conftest import FIXTURES, SAMPLE, TODAY, command_paths
from typer.testing import CliRunner

import infra.cli
from infra.cli.common import MeshCommand, MeshGroup

# What the PR check must never load: the deploy engine, AWS SDKs and the emulator, the linter,
# the report's templates, Rich (no terminal in CI), and sqlglot when no grant has a row filter
NOT_ON_THE_PR_PATH = {
    "pulumi",
    "pulumi_aws",
    "pulumi_policy",
    "moto",
    "boto3",
    "botocore",
    "parliament",
    "jinja2",
    "rich",
    "sqlglot",
}
# our deploy, audit and scaffolding code (the markdown helpers of infra.audit are the PR comment's)
NOT_OURS_ON_THE_PR_PATH = (
    "infra.engines",
    "infra.scaffold",
    "infra.contracts",
    "infra.provision.program",
    "infra.provision.components",
    "infra.provision.component_args",
    "infra.audit.audit",
    "infra.audit.effective",
    "infra.audit.lint",
    "infra.audit.report",
    "infra.audit.report_md",
)
# the modules of the commands (infra.cli.<module>) and what only they use
COMMAND_MODULES = {module for module, _ in infra.cli.COMMANDS.values()}

_RUN = """
import json, runpy, sys
sys.argv = ["mesh", *sys.argv[1:]]
try:
    runpy.run_module("infra.cli", run_name="__main__")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def run_script(script: str, *args: str) -> dict:
    """What `script` (which runs `mesh ARGS`) prints as JSON on its last stderr line, run in a
    fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "MESH_TODAY": TODAY.isoformat()},
    )
    return json.loads(done.stderr.strip().splitlines()[-1])


def imports_of(*args: str) -> tuple[int, set[str]]:
    """(exit code, every module loaded) of `mesh ARGS`, run in a fresh interpreter."""
    doc = run_script(_RUN, *args)
    return doc["code"], set(doc["modules"])


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


BASE = FIXTURES / "diff" / "base"


@pytest.fixture(scope="module")
def head(tmp_path_factory) -> Path:
    """BASE and one grant more: crm's lapsed grant of shop.returns renewed (new access, the PR
    check's usual case)."""
    out = tmp_path_factory.mktemp("pr") / "head"
    shutil.copytree(BASE, out)
    shop = yaml.safe_load((out / "shop.yaml").read_text())
    returns = next(p for p in shop["products"] if p["name"] == "returns")
    [grant] = [g for g in returns["consumers"] if g["domain"] == "crm"]
    grant["expires"] = "2027-06-30"
    (out / "shop.yaml").write_text(yaml.safe_dump(shop, sort_keys=False))
    return out


@pytest.mark.parametrize(
    "args, code",
    [
        (["diff", "BASE", "HEAD", "--validate", "--format", "markdown"], 3),
        (["diff", "BASE", "HEAD", "--format", "json"], 3),
        (["validate", "HEAD", "--base", "BASE", "--format", "github"], 0),
        (["validate", "HEAD"], 0),
    ],
    ids=["diff --validate", "diff", "validate --base", "validate"],
)
def test_the_pr_check_imports_nothing_it_does_not_use(head, args, code):
    trees = {"BASE": str(BASE), "HEAD": str(head)}
    exit_code, modules = imports_of(*(trees.get(a, a) for a in args))
    assert exit_code == code
    assert top_level(modules) & NOT_ON_THE_PR_PATH == set()
    command = f"infra.cli.{args[0]}"
    assert modules & COMMAND_MODULES == {command}  # its own module, no other command's
    assert not {m for m in modules if m.startswith(NOT_OURS_ON_THE_PR_PATH)}


def test_a_row_filter_loads_sqlglot_when_there_is_one():
    """The sample has a row-filtered grant: its check needs the SQL parser, and gets it."""
    exit_code, modules = imports_of("validate", str(SAMPLE))
    assert exit_code == 0
    assert "sqlglot" in top_level(modules)
    assert top_level(modules) & (NOT_ON_THE_PR_PATH - {"sqlglot"}) == set()


def test_importing_the_cli_loads_no_command():
    """`import infra.cli` (what `mesh --version` pays): typer and the CLI's helpers, no command,
    no model, no YAML."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys, infra.cli; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = set(done.stdout.split())
    assert modules & COMMAND_MODULES == set()
    assert top_level(modules) & {"pydantic", "yaml", *NOT_ON_THE_PR_PATH} == set()


# ------------------------------------------------------------------------------- help texts


def eager_app() -> typer.Typer:
    """`mesh` as it was assembled before its commands were loaded lazily: every command module
    imported, every command registered on the app."""
    app = typer.Typer(
        cls=MeshGroup,
        add_completion=False,
        no_args_is_help=True,
        help=infra.cli.app.info.help,
        pretty_exceptions_enable=False,
    )
    app.callback()(infra.cli._root)
    for name in infra.cli.COMMANDS:
        target = getattr(
            __import__(infra.cli.COMMANDS[name][0], fromlist=["_"]), infra.cli.COMMANDS[name][1]
        )
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name, cls=MeshCommand)(target)
    return app


def test_every_help_is_what_registering_every_command_gives():
    """`mesh --help`, each group's and each command's: the same commands, options and texts,
    in the same order, as when every command was imported and registered at start-up."""
    eager = eager_app()
    paths = command_paths(eager)
    assert paths == command_paths(infra.cli.app)
    assert len(paths) > len(infra.cli.COMMANDS)  # the groups' commands too
    wide = {"COLUMNS": "200", "TERMINAL_WIDTH": "200"}
    for path in paths:
        want = CliRunner().invoke(eager, [*path, "--help"], env=wide)
        got = CliRunner().invoke(infra.cli.app, [*path, "--help"], env=wide)
        assert (got.exit_code, got.output) == (want.exit_code, want.output), path
        assert want.exit_code == 0 and "Usage:" in want.output


def test_an_unknown_command_is_a_usage_error_naming_the_closest():
    result = CliRunner().invoke(infra.cli.app, ["vallidate"])
    assert result.exit_code == 2
    assert "No such command 'vallidate'" in result.output
    assert "validate" in result.output.split("No such command")[1]


_PLUGINS = """
import json, runpy, sys
sys.argv = ["mesh", *sys.argv[1:]]
try:
    runpy.run_module("infra.cli", run_name="__main__")
except SystemExit:
    pass
from pydantic.plugin import _loader
print(json.dumps(_loader._plugins), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "environment, scanned",
    [({}, None), ({"PYDANTIC_DISABLE_PLUGINS": ""}, {})],
    ids=["default: no plugin scan", "the user's setting kept"],
)
def test_the_pr_check_reads_no_plugin_entry_points(head, environment, scanned):
    """`mesh` turns pydantic's plugins off (their discovery reads the entry points of every
    installed distribution when the first model validates), unless PYDANTIC_DISABLE_PLUGINS is
    set: an empty value enables them again, and the plugins are looked up."""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    done = subprocess.run(
        [sys.executable, "-c", _PLUGINS, "diff", str(BASE), str(head), "--validate"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**env, **environment, "MESH_TODAY": TODAY.isoformat()},
    )
    assert done.returncode == 0, done.stderr
    assert "crm:consumer" in done.stdout  # the check ran: the renewed grant is new access
    assert json.loads(done.stderr.strip().splitlines()[-1]) == scanned


_COLLECTOR = """
import gc, json, runpy, sys
seen = {}
import infra.cli.diff as command
real = command.api.diff
def probe(*args, **kwargs):  # the command's work: the collector is on again
    seen["work"] = gc.isenabled()
    return real(*args, **kwargs)
command.api.diff = probe
import infra.cli.common as common
start_up = common.start_up
def at_start():
    start_up()
    seen["start"] = gc.isenabled()
common.start_up = at_start
import infra.cli
infra.cli.start_up = at_start
sys.argv = ["mesh", *sys.argv[1:]]
try:
    infra.cli.main()
except SystemExit as exc:
    seen["code"] = exc.code
seen["frozen"] = gc.get_freeze_count()
print(json.dumps(seen), file=sys.stderr)
"""


def test_the_collector_is_off_while_mesh_starts_and_on_for_the_work(head):
    seen = run_script(_COLLECTOR, "diff", str(BASE), str(head), "--validate")
    assert seen["code"] == 3
    assert (seen["start"], seen["work"]) == (False, True)
    assert seen["frozen"] > 10_000  # the start-up's objects, out of the collector's reach


def test_a_library_caller_keeps_its_collector(head, monkeypatch):
    """`CliRunner` (any caller of `infra.cli.app` but the console entry point): the command
    starts with the collector as it was, and leaves it so."""
    import gc

    import infra.cli.diff as command

    seen, real = [], command.api.diff
    monkeypatch.setattr(
        command.api, "diff", lambda *a, **k: seen.append(gc.isenabled()) or real(*a, **k)
    )
    result = CliRunner().invoke(infra.cli.app, ["diff", str(BASE), str(head)])
    assert result.exit_code == 3, result.output
    assert seen == [True] and gc.isenabled()
