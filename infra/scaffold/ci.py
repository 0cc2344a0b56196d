"""`mesh init ci`: the GitHub Actions workflows of the pull-request check.

Two files of this package (`templates/`), the same the repository ships under
`.github/workflows/`: `mesh-pr.yml`, which decides (run from the default branch by
`pull_request_target` and `workflow_run`, the pull request's files checked out as data only),
and `mesh-pr-review.yml`, a relay without permissions that a review triggers. Filled in: the
blueprint directory, the protected branch and where the checker is installed from.

Where the checker comes from must be pinned and reachable from the repository that runs it:
- `./base`: mesh as the base branch has it, with its lock (a repository that holds this
  project, such as this one);
- `mesh-provisioner==1.2.3`: a release, from the package index pip uses;
- `mesh-provisioner @ git+https://host/org/repo@<40-hex commit>`: a commit of a repository.
A range (`>=0.1.0`) is not reproducible and is refused. Every value is written as one quoted
YAML string and reaches the shell as an environment variable, never as shell text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from infra.errors import MeshError, UsageError

WORKFLOW = Path(".github/workflows/mesh-pr.yml")
RELAY = Path(".github/workflows/mesh-pr-review.yml")
DEFAULT_BLUEPRINTS = "blueprints"
BASE_INSTALL = "./base"
DISTRIBUTION = "mesh-provisioner"

_PATH = re.compile(r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9._/-]{1,200}$")
# one word of `pip install` arguments that a shell reads as itself, for the workflows that write
# them into a shell line (`mesh init deploy`, `mesh init drift`): no `<` or `>` (a redirect: a
# range such as `>=0.1.0` is not pinned anyway), no quotes, spaces, `;`, `$` or `*`
_INSTALL = re.compile(r"^[A-Za-z0-9._/:@=!~+,\[\]-]{1,300}$")
_BRANCH = re.compile(r"^(?!/)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,200}(?<![/.])$")
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_PINNED_VERSION = re.compile(rf"^{_NAME}==[0-9][A-Za-z0-9.+!-]*$")
_VCS = re.compile(
    rf"^(?P<name>{_NAME}) @ git\+(?P<url>https://[A-Za-z0-9.-]+(?::[0-9]+)?/[A-Za-z0-9._~/-]+)"
    r"@(?P<commit>[0-9a-f]{40})(?:#subdirectory=[A-Za-z0-9._/-]+)?$"
)
INSTALL_FORMS = (
    f"{BASE_INSTALL} (this project's repository), '{DISTRIBUTION}==VERSION', or "
    f"'{DISTRIBUTION} @ git+https://github.com/ORG/REPO@COMMIT' (a 40-hex commit)"
)


class Exists(MeshError):
    """A workflow file is there already (exit 1): nothing is overwritten without --force."""


@dataclass(frozen=True)
class CiOptions:
    blueprints: str = DEFAULT_BLUEPRINTS
    install: str = BASE_INSTALL
    branch: str | None = None  # None: the repository's default branch


def checked_install(install: str) -> str:
    """`install` when it is one of the pinned forms (`INSTALL_FORMS`), else a usage error."""
    install = install.strip()
    if install == BASE_INSTALL or _PINNED_VERSION.match(install) or _VCS.match(install):
        return install
    if re.match(rf"^{_NAME}\s*(>=|<=|~=|>|<|!=|===)", install) or re.match(rf"^{_NAME}$", install):
        why = "not pinned: a range or a bare name installs whatever is newest on the day"
    elif "git+" in install:
        why = "a VCS URL must name its distribution and a full 40-hex commit"
    else:
        why = "not a form a blueprints-only repository can install reproducibly"
    raise UsageError(f"--install {install!r}: {why}; expected {INSTALL_FORMS}")


def installed_pin() -> str | None:
    """The pinned source of the running mesh, when pip recorded one (PEP 610: installed from a
    VCS URL at a commit): what `mesh init ci` writes when no --install is given outside this
    project."""
    from importlib import metadata

    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    try:
        data = json.loads(text or "null")
        url, vcs = data["url"], data["vcs_info"]
    except (ValueError, TypeError, KeyError):
        return None
    if vcs.get("vcs") != "git" or not re.fullmatch(r"[0-9a-f]{40}", vcs.get("commit_id", "")):
        return None
    spec = f"{DISTRIBUTION} @ git+{url}@{vcs['commit_id']}"
    return spec if _VCS.match(spec) else None


def holds_this_project(root: Path) -> bool:
    """Whether the repository at `root` is (a copy of) this project: `./base` installs it."""
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return False
    return re.search(rf'^name\s*=\s*"{DISTRIBUTION}"', text, re.MULTILINE) is not None


def default_install(root: Path) -> str:
    """`./base` in this project's repository; else the running mesh's pinned source; else a
    usage error asking for --install."""
    if holds_this_project(root):
        return BASE_INSTALL
    pinned = installed_pin()
    if pinned is not None:
        return pinned
    raise UsageError(
        f"{root} holds no copy of mesh ({DISTRIBUTION}): say where the workflow installs the "
        f"checker from with --install: {INSTALL_FORMS}"
    )


def _yaml_string(value: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is YAML's): no shell ever parses it."""
    return json.dumps(value)


def workflow_texts(options: CiOptions = CiOptions()) -> dict[Path, str]:
    """{path under the repository root: text} of the two workflows."""
    blueprints = options.blueprints.strip("/") or "."
    if not _PATH.match(blueprints):
        raise UsageError(
            f"--blueprints {blueprints!r}: expected a path inside the repository (letters, "
            "digits, . _ - /; no .. and no leading /)"
        )
    install = checked_install(options.install)
    if options.branch is not None and not _BRANCH.match(options.branch):
        raise UsageError(
            f"--branch {options.branch!r}: expected a branch name (letters, digits, . _ - /)"
        )
    branch_yaml = (
        _yaml_string(options.branch)
        if options.branch is not None
        else "${{ github.event.repository.default_branch }}"
    )
    branch_text = f"`{options.branch}`" if options.branch is not None else "the default branch"
    templates = resources.files("infra.scaffold") / "templates"
    text = (templates / "mesh-pr.yml").read_text("utf-8")
    for key, value in {
        "@@BLUEPRINTS_YAML@@": _yaml_string(blueprints),
        "@@INSTALL_YAML@@": _yaml_string(install),
        "@@INSTALL_TEXT@@": install,
        "@@BRANCH_YAML@@": branch_yaml,
        "@@BRANCH_TEXT@@": branch_text,
    }.items():
        text = text.replace(key, value)
    return {WORKFLOW: text, RELAY: (templates / "mesh-pr-review.yml").read_text("utf-8")}


def write_workflows(root: Path, texts: dict[Path, str], force: bool = False) -> list[Path]:
    """Write the workflows under the repository `root`; `Exists` (nothing written) when one is
    there and not `force`."""
    paths = [root / rel for rel in texts]
    there = [p for p in paths if p.exists()]
    if there and not force:
        raise Exists(f"{there[0]} exists: not overwritten (--force replaces it)")
    for path, text in zip(paths, texts.values(), strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return paths
