"""`mesh diff`: access added, removed and changed between two trees (`infra.api.diff`), as
text, JSON or the Markdown of a PR comment. Exit 3 on new access, 1 on an unsafe change."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from infra import api
from infra.cli.common import CacheDirOption, emit_json, print_invalid, progress_on_terminal


class DiffFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


def diff(
    base: Annotated[
        Path,
        typer.Argument(
            metavar="BASE_DIR", help="Blueprint directory before the change (e.g. main)."
        ),
    ],
    head: Annotated[
        Path,
        typer.Argument(metavar="HEAD_DIR", help="Blueprint directory after the change (the PR)."),
    ],
    format: Annotated[DiffFormat, typer.Option("--format", "-f")] = DiffFormat.text,
    validate: Annotated[
        bool,
        typer.Option(
            "--validate",
            help="Also run every check of `mesh validate HEAD --base BASE` (governance, "
            "physical names, IAM quotas) and report its errors and warnings here: the whole PR "
            "check in one process. Access changes are computed once HEAD is valid.",
        ),
    ] = False,
    approvals: Annotated[
        Path | None,
        typer.Option(
            "--approvals",
            metavar="FILE",
            help='JSON {"approved_by": ["@alice", "@acme/privacy-office"]}: the handles whose '
            "approval the change has (its approving reviewers and their teams). Exit 1 when a "
            "required approval is missing (listed), 0 when every one is there.",
        ),
    ] = None,
    cache_dir: CacheDirOption = None,
) -> None:
    """Show the access added, removed and changed between two blueprint trees.

    Schema changes that break existing consumers, and who must approve the change, are listed
    too. Exit 3 when there is new access or a change to review (CI requires a reviewer), 1 when
    the change is unsafe (or, with --validate, HEAD is invalid); with --approvals, 1 when a
    required approval is missing and 0 when the change has them all.

    Example: mesh diff main/blueprints blueprints --validate --format markdown > comment.md
    """
    from infra.diff.access_diff import DiffResult
    from infra.diff.render import render_markdown, render_text

    approved = api.read_approvals(approvals) if approvals is not None else None
    side = "HEAD"
    try:
        with progress_on_terminal(base, head):
            result, computed = api.diff(
                base, head, validate_head=validate, approved_by=approved, cache_dir=cache_dir
            )
    except api.InvalidTree as exc:
        print_invalid(exc)
        if format is DiffFormat.text:
            raise typer.Exit(1) from None
        # the comment and the JSON still say what is wrong, and that access waits for it
        result, computed = DiffResult(errors=exc.report.errors), False
        result.warnings = exc.report.warnings
        result.untouched = api.untouched_files(base, head)
        side = "BASE" if exc.label == "base" else "HEAD"
    if format is DiffFormat.json:
        emit_json(result.as_json())
    elif format is DiffFormat.markdown:
        sys.stdout.write(render_markdown(result, computed, side))
    else:
        sys.stdout.write(render_text(result, computed, side))
    raise typer.Exit(result.exit_code)
