"""`mesh codeowners`: the CODEOWNERS file the blueprints and `_mesh.yaml` imply."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from infra import api
from infra.cli.common import DirArg, print_invalid


def codeowners(directory: DirArg = Path("blueprints")) -> None:
    """Print the CODEOWNERS file that the blueprints and _mesh.yaml imply.

    Each blueprint -> its domain's owner.github; _mesh.yaml and new blueprints -> the platform
    group. Run it from the repository root.

    Example: mesh codeowners blueprints > .github/CODEOWNERS
    """
    try:
        text = api.codeowners(directory)
    except api.InvalidTree as exc:
        print_invalid(exc)
        raise typer.Exit(1) from None
    sys.stdout.write(text)
