"""`mesh up --local`: plan, deploy into the embedded emulator, verify, show the access matrix."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from infra.engines.moto import LocalAws
from infra.engines.moto_deploy import deploy, domain_of
from infra.engines.recording import PROVIDER_TYPE, ResourceGraph
from infra.engines.verify import OPERATIONS, Verification, verify
from infra.model import access
from infra.model.mesh import Mesh
from infra.provision.program import StackSettings

MATRIX_MAX_PRODUCTS = 16  # wider meshes get a per-principal summary instead of the full grid
_LETTER = {"read": "R", "list": "L", "write": "W"}


@dataclass
class UpResult:
    verification: Verification
    resources: int
    seconds: dict[str, float]
    endpoint: str


def ops_label(ops: frozenset[str]) -> str:
    return "".join(_LETTER[o] for o in OPERATIONS if o in ops) or "-"


def run(
    mesh: Mesh,
    settings: StackSettings,
    today: dt.date,
    console: Console,
    err: Console,
    keep_in: Path | None = None,
) -> UpResult:
    """Deploy, verify, show. `keep_in`: keep a verified mesh running as a sandbox, its state
    in that file (`mesh up --local --keep`); a mesh that failed its verification is not kept:
    said loudly on both streams, the state file says why, and the emulator stops."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    aws = LocalAws(settings.region, settings.deploy_role_name)
    seconds["start emulator"] = time.perf_counter() - t0
    try:
        columns = (
            TextColumn("{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err, transient=False) as progress:
            # one bar per domain (and the platform), added as its first resource arrives: the
            # totals are not known before the program runs, and a dry run to learn them cost
            # as much as the deployment's own Pulumi work
            tasks: dict[str, TaskID] = {}
            done: Counter[str] = Counter()

            def advance(typ: str, name: str) -> None:
                group = domain_of(name)
                if group not in tasks:
                    tasks[group] = progress.add_task(f"deploy {group}", total=None)
                done[group] += 1
                progress.advance(tasks[group])

            t0 = time.perf_counter()
            deployment = deploy(mesh, settings, today, aws, on_resource=advance)
            seconds["deploy"] = time.perf_counter() - t0
            for group, task in tasks.items():
                progress.update(task, total=done[group])
            n_calls = 2 * len(mesh.domains) * sum(1 for _ in mesh.products()) * len(OPERATIONS)
            check = progress.add_task("verify access", total=n_calls)
            t0 = time.perf_counter()
            verification = verify(
                mesh,
                settings,
                today,
                aws,
                deployment.graph,
                on_call=lambda: progress.advance(check),
            )
            seconds["verify"] = time.perf_counter() - t0
        render(verification, console)
        accounts = settings.accounts(mesh)
        if accounts.multi:
            render_accounts(verification, deployment.graph, accounts, console)
        result = UpResult(verification, len(deployment.graph.resources), seconds, aws.endpoint)
        timing = ", ".join(f"{k} {v:.1f}s" for k, v in seconds.items())
        console.print(f"[dim]{result.resources} resources; {timing}[/dim]")
        if keep_in is not None and verification.ok:
            _serve(aws, mesh, settings, today, deployment.graph, console, keep_in)
        elif keep_in is not None:
            _not_kept(verification, keep_in, err)
        return result
    finally:
        aws.stop()


def _cell_text(cell, direct: bool = False) -> str:
    # an operation the emulator cannot prove shows what is expected, marked "?": RL?W
    shown = (cell.actual - cell.unproven) | (cell.expected & cell.unproven)
    label = (
        "".join(_LETTER[o] + ("?" if o in cell.unproven else "") for o in OPERATIONS if o in shown)
        or "-"
    )
    mark = "[cyan]*[/cyan]" if direct else ""
    if not cell.ok:
        return f"[bold red]{label}≠{ops_label(cell.expected)}[/bold red]{mark}"
    return (f"[green]{label}[/green]" if cell.actual else "[dim]-[/dim]") + mark


def render(v: Verification, console: Console) -> None:
    domains = v.principals_domains()
    by_key = {(c.principal, c.product): c for c in v.cells}
    if len(v.products) <= MATRIX_MAX_PRODUCTS and len(domains) <= 8:
        table = Table(
            title="S3 access enforced by the emulator",
            caption="cell = producer / consumer role of the column's domain; "
            "R GetObject, L ListBucket, W PutObject; red: allowed≠expected; ? not provable in "
            "this emulator (EMULATOR DEVIATION below); "
            "* direct read granted by the bucket policy: moto grants nothing through "
            "bucket-policy Allow statements, the evaluator proves it (checks 'evaluator')",
        )
        table.add_column("product", style="bold", no_wrap=True)
        for d in domains:
            table.add_column(d, justify="center", no_wrap=True)
        for product in v.products:
            row = [
                f"{_cell_text(by_key[(f'{d}:producer', product)])} / "
                f"{_cell_text(by_key[(f'{d}:consumer', product)], (f'{d}:consumer', product) in v.direct)}"
                for d in domains
            ]
            table.add_row(product, *row)
        console.print(table)
    else:
        table = Table(title="S3 access enforced by the emulator, per principal")
        for col in ("principal", "products writable", "readable", "mismatches"):
            table.add_column(col)
        for principal in v.principals:
            cells = [c for c in v.cells if c.principal == principal]
            table.add_row(
                principal,
                str(sum("write" in c.actual for c in cells)),
                str(sum("read" in c.actual for c in cells)),
                str(sum(not c.ok for c in cells)),
            )
        console.print(table)
    for cell in v.mismatches:
        console.print(
            f"[bold red]MISMATCH[/bold red] {cell.principal} on {cell.product}: emulator allowed "
            f"{ops_label(cell.actual)}, access model says {ops_label(cell.expected)}"
        )
    for deviation in v.deviations:
        console.print(f"[bold yellow]EMULATOR DEVIATION[/bold yellow] {deviation.describe()}")
    summary = _passed_per_kind(v.checks)
    console.print(f"read back from the emulator: {summary}")
    for c in v.failed_checks:
        console.print(
            f"[bold red]FAILED[/bold red] {c.kind} {c.subject}: {c.what} {c.detail}".rstrip()
        )
    if v.ok:
        console.print(
            f"[bold green]VERIFIED[/bold green]: {v.calls} S3 calls under IAM enforcement matched "
            f"the access model for {len(v.principals)} principals x {len(v.products)} products; "
            f"{len(v.checks)} read-back checks passed"
            + (
                f" (not counted: {', '.join(d.operation for d in v.deviations)}, where the "
                "emulator deviates from AWS: '?' in the matrix)"
                if v.deviations
                else ""
            )
        )
    else:
        console.print(
            f"[bold red]MISMATCH[/bold red]: {len(v.mismatches)} access cell(s) and "
            f"{len(v.failed_checks)} read-back check(s) differ from the declared mesh"
        )


def render_accounts(v: Verification, graph, accounts, console: Console) -> None:
    """What was verified in each account of a multi-account mesh."""
    landed = Counter(r.account for r in graph.resources if r.type != PROVIDER_TYPE)
    table = Table(title="verified per account")
    for col in ("account", "domains", "resources", "read-back checks"):
        table.add_column(col)
    all_domains = v.principals_domains()
    for account in sorted(landed):
        domains = [d for d in all_domains if accounts.of(d) == account]
        summary = _passed_per_kind([c for c in v.checks if c.account == account])
        table.add_row(account, ", ".join(domains) or "-", str(landed[account]), summary or "-")
    console.print(table)


def _passed_per_kind(checks) -> str:
    """`bucket 21/21, glue 7/7`: the checks passed of each kind, kinds sorted."""
    kinds = Counter(c.kind for c in checks)
    failed = Counter(c.kind for c in checks if not c.ok)
    return ", ".join(f"{k} {kinds[k] - failed[k]}/{kinds[k]}" for k in sorted(kinds))


def _serve(
    aws: LocalAws,
    mesh: Mesh,
    settings: StackSettings,
    today: dt.date,
    graph: ResourceGraph,
    console: Console,
    state: Path,
) -> None:
    """Keep the emulator, with IAM enforced, for other processes (`infra.engines.sandbox`)."""
    from infra.engines import sandbox

    kept = sandbox.open_sandbox(aws, mesh, settings, graph, state)
    grants = access.declared_access(mesh, today).grants
    example = next((g.principal for g in grants if g.access == "write"), mesh.domains[0])
    vended = next((g for g in grants if g.access == "read" and g.whole_table), None)
    switch = sandbox.enforcement_commands(aws.endpoint)
    console.print(
        f"\nemulated AWS is running at [bold]{aws.endpoint}[/bold] with IAM enforcement on "
        "(Ctrl-C to stop)."
    )
    console.print(f"Credentials of an assumed domain role ({example}), for boto3, pyarrow, aws:")
    for key, value in kept.environment(example).items():
        console.print(f"  export {key}={value}", soft_wrap=True)
    console.print(
        f"Any role, in another shell (the state is in {kept.path}):\n"
        f'  eval "$(mesh local creds {example})"     # --format json: credential_process',
        soft_wrap=True,
    )
    if vended is not None:
        console.print(
            "What Lake Formation would vend a consumer for one product's files:\n"
            f"  mesh local creds {vended.principal} --product {vended.product}",
            soft_wrap=True,
        )
    console.print(
        "An administrator, allowed everything: mesh local creds admin (the platform account's;"
        " admin:ACCOUNT for another)\nIAM enforcement off / on again:",
        soft_wrap=True,
    )
    console.print(f"  {switch['off']}\n  {switch['on']}", soft_wrap=True)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops it as Ctrl-C does
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping the emulator")
    finally:
        kept.close()


def _not_kept(v: Verification, state: Path, err: Console) -> None:
    """`--keep` of a mesh that failed its own verification: no sandbox that lies."""
    from infra.engines import sandbox_state

    reason = (
        f"it failed its verification ({len(v.mismatches)} access cell(s) and "
        f"{len(v.failed_checks)} read-back check(s) differ from the declared mesh)"
    )
    sandbox_state.mark_failed(state, reason)
    message = (  # on stderr, after the MISMATCH lines on stdout
        f"[bold red]NOT KEPT[/bold red]: {reason}; the emulator stops. A sandbox whose access "
        "differs from the blueprints would teach the wrong thing: fix the MISMATCH lines above, "
        "then run `mesh up --local --keep` again."
    )
    err.print(message, soft_wrap=True)


def _interrupt(*_signal) -> None:
    raise KeyboardInterrupt
