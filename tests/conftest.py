"""Shared fixtures. Every test is offline: fake AWS credentials are set before anything runs."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

# Hypothesis imports these on first use; a module imported after a test has caught a
# RecursionError (the hostile-input tests provoke some) can fail to compile on CPython 3.11
# ("AST constructor recursion depth mismatch", pytest rewrites Hypothesis's modules), so they
# are imported before any test runs.
import hypothesis.internal.charmap
import pytest

EAGER_IMPORTS = [hypothesis.internal.charmap]


@pytest.fixture(scope="session", autouse=True)
def _hypothesis_regex_imported():
    """`st.from_regex` imports this module on first use; importing it reads Hypothesis's
    storage, which it must not do while pytest initialises: so here, before the first test."""
    from hypothesis.strategies._internal import regex

    EAGER_IMPORTS.append(regex)


ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "blueprints"  # five domains in three accounts
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# the sample in one account: the tests of exact resources and documents read it, so that an ARN
# in them is a literal; those of multi-account behaviour read the sample (tests/test_accounts*)
SINGLE = FIXTURES / "single"
TODAY = dt.date(2026, 11, 25)  # the fixed clock of every test
# (BASE, HEAD) fixture trees the PR-check commands are compared on: additions, removals,
# invalid trees, renames, decommissioning, and a tree against itself
DIFF_PAIRS = [
    ("diff/base", "diff/head_pr"),
    ("diff/base", "diff/head_benign"),
    ("diff/head_pr", "diff/base"),
    ("validate/many_errors", "validate/many_errors"),
    (
        "validate/e025_consumer_domain_unknown/valid",
        "validate/e025_consumer_domain_unknown/invalid",
    ),
    ("program/rename_before", "program/renamed"),
    ("program/access", "program/decommission"),
    ("lifecycle/base", "lifecycle/base"),
]

for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "MESH_TODAY": TODAY.isoformat(),
}.items():
    os.environ[_key] = _value
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def today() -> dt.date:
    return TODAY


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def single_dir() -> Path:
    return SINGLE


def run_pulumi_main(config: dict[str, str], settings):
    """Run infra/__main__.py as `pulumi up` would (stack config, no arguments), under the
    recording mocks of `settings`; the recorded graph."""
    import runpy
    from dataclasses import replace

    import pulumi

    from infra.blueprints.load import load_mesh
    from infra.engines.recording import DeterministicMocks, platform_accounts, run_program
    from infra.model.mesh import Mesh

    # a domain stack reads the platform stack: deployed, it covers the accounts of the mesh
    blueprints = Path(config.get("mesh:blueprints", ROOT / "blueprints"))
    stack = replace(settings, account=config.get("mesh:account", settings.account))
    deployed = platform_accounts(load_mesh(blueprints, today=TODAY).mesh, stack)

    def program():
        pulumi.runtime.set_all_config(config)
        try:
            runpy.run_path(str(ROOT / "infra" / "__main__.py"), run_name="__main__")
        finally:
            pulumi.runtime.set_all_config({})

    mocks = DeterministicMocks(settings, deployed)
    return run_program(Mesh(()), settings, TODAY, mocks=mocks, program=program)


# The sample's tag-based access (issue 29): its ontology and mesh-wide tag grants, for a test
# that writes a _mesh.yaml of its own over the sample's, and `untagged` for one that removes it
SAMPLE_TAGS = "lf_tags:" + (SAMPLE / "_mesh.yaml").read_text().split("\nlf_tags:", 1)[1]


def untagged(root: Path) -> None:
    """Remove tag-based access from a copy of the sample at `root` (a tree without
    _mesh.yaml, where it is off): the products' and columns' lf_tags and the tag grants."""
    import re

    for path in root.glob("*.yaml"):
        text = path.read_text()
        text = re.sub(r", lf_tags: \{[^}]*\}", "", text)
        text = re.sub(r"(?m)^    lf_tags(_approved_by)?: .*\n", "", text)
        text = re.sub(r"(?ms)^tag_grants:.*?(?=^\S|\Z)", "", text)
        path.write_text(text)


@pytest.fixture
def parse_count(monkeypatch):
    """The files composed and built, in order (serial load: in this process, so counted)."""
    from infra.blueprints import parallel

    calls: list[str] = []
    real = parallel._parse_text

    def counting(text, display):
        calls.append(display)
        return real(text, display)

    monkeypatch.setattr(parallel, "_can_fork", lambda n_files: False)
    monkeypatch.setattr(parallel, "_parse_text", counting)
    return calls


def command_paths(app) -> list[tuple[str, ...]]:
    """Every command and group of the typer `app`, as the words that name it."""
    import typer

    paths = []

    def walk(command, path):
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return paths
