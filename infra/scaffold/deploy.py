"""`mesh init deploy`: the GitHub Actions workflow that rolls the mesh out, stack by stack.

`templates/mesh-deploy.yml.j2` (Jinja2 with `[[ ]]`/`[% %]` delimiters, so GitHub's `${{ }}`
stays literal) is filled with the protected branch, the blueprint directory, what `pip install`
installs, and the size of its grid: GitHub Actions has no dynamic number of jobs, so the
workflow has `waves` x `chunks` deploy jobs (each a matrix of up to 256 stacks, from `mesh
stacks --format github-matrix`); its plan job fails with the command to widen it when a change
needs more. The repository ships the default as `.github/workflows/mesh-deploy.yml`.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from infra.errors import UsageError
from infra.scaffold.ci import _INSTALL, _PATH, Exists

WORKFLOW = Path(".github/workflows/mesh-deploy.yml")
DEFAULT_INSTALL = "-r requirements.lock -e ."
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,100}$")


def deploy_workflow_text(
    branch: str = "main",
    blueprints: str = "blueprints",
    install: str = DEFAULT_INSTALL,
    waves: int = 4,
    chunks: int = 4,
    attempts: int = 4,
    retry_delay: int = 20,
    region: str = "eu-west-1",
) -> str:
    """The deploy workflow for these settings (validated: they are written into shell lines)."""
    blueprints = blueprints.strip("/") or "."
    _check(branch, blueprints, install, region)
    for name, value, low, high in (
        ("--waves", waves, 1, 20),
        ("--chunks", chunks, 1, 20),
        ("--attempts", attempts, 1, 10),
    ):
        if not low <= value <= high:
            raise UsageError(f"{name} {value}: expected {low} to {high}")
    return _render(
        "mesh-deploy.yml.j2",
        branch=branch,
        blueprints=blueprints,
        pip=pip_steps(install),
        waves=waves,
        chunks=chunks,
        attempts=attempts,
        retry_delay=retry_delay,
        region=region,
    )


def pip_steps(install: str) -> str:
    """The shell line that installs `install` into .venv. pip refuses an editable requirement
    beside a requirements file with hashes (hash-checking mode: "no single file to hash"), so
    `-r requirements.lock -e .` is two steps, as the README's set-up does: the locked files,
    then the project itself without dependencies (and, after a lock, with the lock's
    setuptools: no unlocked build backend)."""
    words = install.split(" ")
    editables = [w for i, w in enumerate(words) if i and words[i - 1] == "-e"]
    others = [w for i, w in enumerate(words) if w != "-e" and not (i and words[i - 1] == "-e")]
    if not editables or not others:
        return f".venv/bin/pip install -q {install}"
    isolation = " --no-build-isolation" if "-r" in others else ""
    return (
        f".venv/bin/pip install -q {' '.join(others)} && .venv/bin/pip install -q --no-deps"
        f"{isolation} {' '.join('-e ' + e for e in editables)}"
    )


def _check(branch: str, blueprints: str, install: str, region: str) -> None:
    """The values written into the workflows' YAML and shell lines."""
    if not _PATH.match(blueprints.strip("/") or "."):
        raise UsageError(f"--blueprints {blueprints!r}: expected a relative path (no ..)")
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise UsageError(f"--region {region!r}: expected an AWS region such as eu-west-1")
    if not _BRANCH.match(branch):
        raise UsageError(f"--branch {branch!r}: expected a branch name")
    if not all(_INSTALL.match(part) for part in install.split(" ")):
        raise UsageError(f"--install {install!r}: expected pip arguments (no quotes)")


def _render(template: str, **values) -> str:
    from jinja2 import Environment, StrictUndefined

    source = (resources.files("infra.scaffold") / "templates" / template).read_text("utf-8")
    env = Environment(
        variable_start_string="[[",
        variable_end_string="]]",
        block_start_string="[%",
        block_end_string="%]",
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        autoescape=False,
    )
    return env.from_string(source).render(**values)


DRIFT_WORKFLOW = Path(".github/workflows/mesh-drift.yml")
_CRON = re.compile(r"^[0-9*/,-]+( [0-9*/,-]+){4}$")


def drift_workflow_text(
    branch: str = "main",
    blueprints: str = "blueprints",
    install: str = DEFAULT_INSTALL,
    cron: str = "17 5 * * *",
    region: str = "eu-west-1",
) -> str:
    """The scheduled drift workflow (`templates/mesh-drift.yml.j2`)."""
    if not _CRON.match(cron):
        raise UsageError(f"--cron {cron!r}: expected five cron fields, e.g. '17 5 * * *'")
    _check(branch, blueprints, install, region)
    return _render("mesh-drift.yml.j2", branch=branch, blueprints=blueprints.strip("/") or ".",
                   pip=pip_steps(install), cron=cron, region=region)  # fmt: skip


def write_file(root: Path, relative: Path, text: str, force: bool = False) -> Path:
    """Write a workflow under the repository `root`; `Exists` unless new or `force`."""
    path = root / relative
    if path.exists() and not force:
        raise Exists(f"{path} exists: not overwritten (--force replaces it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
