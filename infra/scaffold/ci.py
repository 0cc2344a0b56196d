"""`mesh init ci`: the GitHub Actions workflow of the pull-request check.

The workflow is a file of this package (`templates/mesh-pr.yml`), the same the repository ships
as `.github/workflows/mesh-pr.yml`; two values are filled in: the blueprint directory and what
`pip install` installs (by default `./base`: mesh as the base branch has it, so that a pull
request cannot change the checker that judges it).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from infra.errors import MeshError, UsageError

WORKFLOW = Path(".github/workflows/mesh-pr.yml")
DEFAULT_BLUEPRINTS = "blueprints"
DEFAULT_INSTALL = "./base"

# what may stand in the workflow's shell lines unquoted: a relative path, a pip requirement
_PATH = re.compile(r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9._/-]{1,200}$")
_INSTALL = re.compile(r"^[A-Za-z0-9._/:@=<>!~+,\[\]-]{1,300}$")


class Exists(MeshError):
    """The workflow file is there already (exit 1): nothing is overwritten without --force."""


def workflow_text(blueprints: str = DEFAULT_BLUEPRINTS, install: str = DEFAULT_INSTALL) -> str:
    """The workflow for a repository whose blueprints are in `blueprints` (relative to its
    root), installing mesh with `pip install <install>`."""
    blueprints = blueprints.strip("/") or "."
    if not _PATH.match(blueprints):
        raise UsageError(
            f"--blueprints {blueprints!r}: expected a path inside the repository (letters, "
            "digits, . _ - /; no .. and no leading /)"
        )
    if not _INSTALL.match(install):
        raise UsageError(
            f"--install {install!r}: expected one pip requirement or path (no spaces or quotes), "
            "e.g. ./base or mesh-provisioner==0.1.0"
        )
    text = (resources.files("infra.scaffold") / "templates" / "mesh-pr.yml").read_text("utf-8")
    return text.replace("@@BLUEPRINTS@@", blueprints).replace("@@INSTALL@@", install)


def write_workflow(root: Path, text: str, force: bool = False) -> Path:
    """Write the workflow under the repository `root`; `Exists` when it is there and not
    `force`."""
    path = root / WORKFLOW
    if path.exists() and not force:
        raise Exists(f"{path} exists: not overwritten (--force replaces it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
