"""`mesh audit` and `mesh diff`: thin commands over `infra.audit.audit` and `infra.diff.access_diff`.

Registered on the main app by `register(app)` (see `infra.cli`). Heavy imports (Pulumi,
parliament) happen inside the audit command only, so `mesh diff` stays fast.
"""

from __future__ import annotations

import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from infra.blueprints.load import SharedFiles
from infra.cli.common import (
    DirArg,
    against_base,
    emit_json,
    load,
    load_checked,
    load_valid,
    problem_line,
)
from infra.util import clock
from infra.util.textsafe import one_line

OutOption = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        help="Output directory: policies/<domain>.<kind>.json and policies/index.json, "
        "access-matrix.json, report.md, report.html.",
    ),
]


def audit_command(out: OutOption, directory: DirArg = Path("blueprints")) -> None:
    """Write every policy per principal, the effective access matrix and the report; lint every
    policy with parliament. Exit 1 on an access difference or a lint finding of MEDIUM or higher.

    Example: mesh audit blueprints --out out/audit
    """
    from infra.audit.audit import audit, write
    from infra.engines.recording import run_program
    from infra.provision.program import StackSettings

    started = time.perf_counter()
    settings = StackSettings()
    result = load_valid(directory, settings)
    today = clock.today()
    t0 = time.perf_counter()
    graph = run_program(result.mesh, settings, today)
    timings = {"program": time.perf_counter() - t0}
    outcome = audit(result.mesh, graph.resources, today, timings=timings)
    t0 = time.perf_counter()
    files = write(outcome, out, outcome.timings)
    outcome.timings["report"] = time.perf_counter() - t0

    lint = outcome.lint
    typer.echo(
        f"audited {len(outcome.mesh.blueprints)} domain(s), {len(graph.resources)} resources, "
        f"{lint.documents} policy documents, {len(outcome.effective)} effective grant(s)"
    )
    if outcome.differences or outcome.detail.problems:
        typer.echo("")
        typer.echo("!" * 78)
        typer.echo("!!  EFFECTIVE ACCESS DIFFERS FROM DECLARED ACCESS")
        typer.echo("!" * 78)
    for line in outcome.failures():
        typer.echo(f"  {one_line(line)}")
    if outcome.differences or outcome.detail.problems:
        typer.echo("!" * 78)
        typer.echo("")
    elif not outcome.differences:
        typer.echo("effective access == declared access")
    typer.echo(
        f"parliament: {sum(1 for f in lint.findings if f.ignored is None)} finding(s), "
        f"{len(lint.failing)} of MEDIUM or higher, "
        f"{sum(1 for f in lint.findings if f.ignored)} ignored with a justification"
    )
    report = out / "report.html"
    typer.echo(
        f"wrote {len(files)} files to {out} (report.html {report.stat().st_size} bytes) "
        f"in {time.perf_counter() - started:.2f}s"
    )
    t = outcome.timings
    typer.echo(
        f"time: program {t['program']:.2f}s, effective access {t['effective_access']:.2f}s, "
        f"lint {t['lint']:.2f}s, report {t['report']:.2f}s (policy files {t['files']:.2f}s, "
        f"report.md {t['report_md']:.2f}s, report.html {t['report_html']:.2f}s)"
    )
    typer.echo("audit: " + ("PASS" if outcome.ok else "FAIL"))
    raise typer.Exit(0 if outcome.ok else 1)


class DiffFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


def _load_side(label: str, directory: Path, shared: SharedFiles):
    result = load(directory, shared)
    if result.errors:
        for p in result.errors:
            typer.echo(f"{label}: {problem_line(p)}", err=True)
        typer.echo(
            f"{label}: {len(result.errors)} error(s) in {directory}: fix the blueprints first",
            err=True,
        )
        raise typer.Exit(1)
    return result.mesh


def diff_command(
    base: Annotated[
        Path, typer.Argument(help="Blueprint directory before the change (e.g. main).")
    ],
    head: Annotated[Path, typer.Argument(help="Blueprint directory after the change (the PR).")],
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
) -> None:
    """Access added, removed and changed between two blueprint trees, and schema changes that
    break existing consumers. Exit 3 when there is new access (CI requires a reviewer), 1 when
    the change is unsafe (or, with --validate, HEAD is invalid).

    Example: mesh diff main/blueprints blueprints --validate --format markdown > comment.md
    """
    from infra.diff.access_diff import DiffResult, diff_meshes, render_markdown, render_text

    shared = SharedFiles()  # a file identical in both trees is parsed and validated once
    checked = None
    if validate:  # exactly `mesh validate HEAD --base BASE`
        checked = against_base(load_checked(head, shared=shared), head, base, shared)
    computed = checked is None or not checked.errors
    if not computed:
        result = DiffResult(errors=checked.errors, warnings=checked.warnings)
    else:
        base_mesh = _load_side("base", base, shared)
        head_mesh = checked.mesh if checked is not None else _load_side("head", head, shared)
        result = diff_meshes(base_mesh, head_mesh, clock.today())
        if checked is not None:  # its lifecycle findings are among validate's
            result.errors, result.warnings = checked.errors, checked.warnings
    if format is DiffFormat.json:
        emit_json(result.as_json())
    elif format is DiffFormat.markdown:
        sys.stdout.write(render_markdown(result, computed))
    else:
        sys.stdout.write(render_text(result, computed))
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_command)
    app.command("diff")(diff_command)
