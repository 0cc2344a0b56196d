"""What a newcomer copies from the README works on the sample mesh: a per-domain deploy loop
deploys a stack per domain and none called `_mesh`; the editor schema the README maps to
`blueprints/*.yaml` accepts both kinds of file that glob matches, and still refuses a mistake
in each."""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT, SAMPLE
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML
from typer.testing import CliRunner

from infra.cli import app

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOMAINS = sorted(p.stem for p in SAMPLE.glob("*.yaml") if not p.name.startswith("_"))


def _bash_blocks() -> list[str]:
    """Every ```bash block, indented ones (in a list item) too."""
    return [
        textwrap.dedent(b)
        for b in re.findall(r"^ *```bash\n(.*?)^ *```", README, re.DOTALL | re.MULTILINE)
    ]


LOOPS = [b for b in _bash_blocks() if "pulumi up --yes --stack" in b and "blueprints/" in b]


def test_the_readme_has_a_per_domain_loop():
    """The migration's loop (the rollout runs `mesh stacks` waves instead of a loop)."""
    assert LOOPS


@pytest.mark.parametrize("block", LOOPS)
def test_a_per_domain_loop_deploys_each_domain_and_no_mesh_stack(tmp_path, block):
    """Run as written, with a `pulumi` that records the stacks it is asked to deploy."""
    shutil.copytree(SAMPLE, tmp_path / "blueprints")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "stacks.log"
    (bin_dir / "pulumi").write_text(
        f"#!{sys.executable}\nimport sys\nargs = sys.argv[1:]\n"
        f"open({str(log)!r}, 'a').write(args[args.index('--stack') + 1] + '\\n')\n"
    )
    (bin_dir / "pulumi").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-e", "-c", block], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    stacks = sorted(log.read_text().split())
    assert "_mesh" not in stacks
    assert sorted(s for s in stacks if s != "platform") == DOMAINS


# ------------------------------------------------------------------ the editor schema


def _editor_schema() -> dict:
    command = re.search(r"```bash\n(mesh schema[^\n]*) > \.blueprint\.schema\.json\n```", README)
    assert command is not None
    done = CliRunner().invoke(app, command.group(1).split()[1:])
    assert done.exit_code == 0
    return json.loads(done.stdout)


def _as_an_editor_reads(path) -> object:
    """YAML as the editor validates it: dates are the text they are written as."""

    def plain(node):
        if isinstance(node, dict):
            return {str(k): plain(v) for k, v in node.items()}
        if isinstance(node, list):
            return [plain(v) for v in node]
        return node.isoformat() if isinstance(node, dt.date) else node

    return plain(YAML(typ="safe").load(path.read_text(encoding="utf-8")))


def test_the_readme_glob_matches_the_platform_file_and_its_schema_accepts_it():
    settings = re.search(
        r'\{"yaml\.schemas": \{"\./\.blueprint\.schema\.json": "([^"]+)"\}\}', README
    )
    assert settings is not None
    glob = settings.group(1)
    assert fnmatch.fnmatch("blueprints/_mesh.yaml", glob)  # so the schema must fit both
    validator = Draft202012Validator(_editor_schema())
    for path in sorted(SAMPLE.glob("*.yaml")):
        assert fnmatch.fnmatch(f"blueprints/{path.name}", glob)
        errors = [e.message for e in validator.iter_errors(_as_an_editor_reads(path))]
        assert errors == [], (path.name, errors)


@pytest.mark.parametrize(
    ("name", "mistake"),
    [
        ("_mesh.yaml", {"approvers": {"privacy": {"description": "x", "members": []}}}),
        ("_mesh.yaml", {"approvers": {}, "ownrs": {}}),
        ("sales.yaml", {"domain": "sales", "owner": {"team": "x", "email": "x@example.com"}}),
    ],
    ids=["no-members", "unknown-key", "blueprint-missing-fields"],
)
def test_the_editor_schema_still_refuses_mistakes(name, mistake):
    validator = Draft202012Validator(_editor_schema())
    assert list(validator.iter_errors(mistake)) != [], name
