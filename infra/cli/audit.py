"""`mesh audit`: every generated policy, the effective access matrix and the report
(`infra.api.audit`). Heavy imports (Pulumi, parliament) happen when the command runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from infra import api
from infra.cli.common import DirArg, print_invalid, progress_on_terminal
from infra.util import progress
from infra.util.textsafe import one_line

OutOption = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        metavar="OUT",
        help="Output directory: policies/<domain>.<kind>.json and policies/index.json, "
        "access-matrix.json, report.md, report.html.",
    ),
]


def audit(out: OutOption, directory: DirArg = Path("blueprints")) -> None:
    """Write every policy per principal, the effective access matrix and the audit report.

    Every policy is linted with parliament. Exit 1 when effective access differs from declared
    access or on a lint finding of MEDIUM or higher.

    Example: mesh audit blueprints --out out/audit
    """
    from infra.audit.audit import write

    started = time.perf_counter()
    with progress_on_terminal(directory):
        try:
            outcome, resources = api.audit(directory)
        except api.InvalidTree as exc:
            print_invalid(exc)
            raise typer.Exit(1) from None
        t0 = time.perf_counter()
        with progress.step(f"write the policies and the report to {out}"):
            files = write(outcome, out, outcome.timings)
        outcome.timings["report"] = time.perf_counter() - t0

    lint = outcome.lint
    typer.echo(
        f"audited {len(outcome.mesh.blueprints)} domain(s), {resources} resources, "
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
        f"lint {t['lint']:.2f}s (parliament on {lint.distinct} distinct of {lint.documents} "
        f"documents), report {t['report']:.2f}s (policy files {t['files']:.2f}s, "
        f"report.md {t['report_md']:.2f}s, report.html {t['report_html']:.2f}s)"
    )
    typer.echo("audit: " + ("PASS" if outcome.ok else "FAIL"))
    raise typer.Exit(0 if outcome.ok else 1)
