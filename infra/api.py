"""The library facade: one pipeline behind every entry point.

`mesh validate`, `mesh plan`, `mesh audit`, `mesh diff`, `mesh up --local`, the Pulumi entry
(`pulumi up`), the CrossGuard pack and the benchmarks call these functions and nothing below
them, so a blueprint tree is judged by one sequence everywhere:

    load (structural checks; the platform file) -> governance (blueprint policies,
      exceptions, revocations) -> approvers (`_mesh.yaml`) -> the repository's CODEOWNERS
      -> physical names and quotas for the stack prefixes -> lifecycle against BASE

Each function returns data (a `Report`, a graph, a result); printing and exit codes are the
caller's. A tree that must be valid and is not raises `InvalidTree`, carrying its report.
Deploy-side imports (Pulumi, moto, parliament) happen inside the functions that need them:
`validate` and `diff` are the path every pull request runs and stay light.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from infra.blueprints.load import SharedFiles, blueprint_files, load_mesh, tree_files
from infra.errors import MeshError, Problem, Severity, UsageError
from infra.model.report import Report
from infra.util import gcpause, progress

__all__ = ["InvalidTree", "Plan", "Report", "audit", "diff", "load", "plan", "valid", "validate"]
from infra import clock

if TYPE_CHECKING:
    from infra.audit.result import AuditResult
    from infra.diff.access_diff import DiffResult
    from infra.engines.recording import ResourceGraph
    from infra.engines.stackplan import SpooledGraph
    from infra.governance.evaluate import GovernanceReport
    from infra.provision.names import Names
    from infra.provision.program import StackSettings


class InvalidTree(MeshError):
    """A command that needs a valid tree got one with errors (exit code 1); `report` has them."""

    def __init__(self, directory: Path, report: Report, label: str | None = None) -> None:
        super().__init__(f"{len(report.errors)} error(s) in {directory}")
        self.directory = directory
        self.report = report
        self.label = label  # "base" / "head" for `mesh diff`


def load(
    directory: Path,
    *,
    today: dt.date | None = None,
    shared: SharedFiles | None = None,
    only: str | None = None,
    freeze: bool = False,
) -> Report:
    """The blueprints of a tree and their structural problems (no governance). `shared`: files
    already parsed for the other tree of a comparison; `only`: the domain of a per-domain stack.
    `freeze`: move the loaded objects out of the cyclic collector's reach (`gc.freeze`): for a
    process that keeps the mesh until it exits (the CLI), not for a library caller."""
    with gcpause.paused():  # until the mesh is frozen (`gcpause.paused`)
        result = load_mesh(directory, today=today or clock.today(), shared=shared, only=only)
        if freeze:  # the mesh lives until the command ends: out of every later collection
            gc.freeze()
    return result


def validate(
    directory: Path,
    base: Path | None = None,
    *,
    names: Names | None = None,
    only: str | None = None,
    deploying: bool = False,
    today: dt.date | None = None,
    shared: SharedFiles | None = None,
    freeze: bool = False,
    cache_dir: Path | None = None,
) -> Report:
    """Everything `mesh validate` checks: the loader, the blueprint governance policies and
    the physical names and policy sizes for `names` (default: every prefix of the project's
    stack configs). With `base`: also what changing BASE into this tree may not do.
    `deploying`: findings only a lapsed exception brought back are warnings (deploy, plan,
    audit: `infra.governance.evaluate.with_governance`). `cache_dir`: the parse cache
    (`infra.blueprints.parse_cache`; the result is the same without it)."""
    from infra.blueprints.lftags import lftag_problems
    from infra.governance.approvals import approver_problems
    from infra.governance.evaluate import with_governance
    from infra.governance.project_checks import project_problems
    from infra.model.platform import MESH_FILE

    today = today or clock.today()
    if (base is not None or cache_dir is not None) and shared is None:
        shared = _shared(cache_dir)  # a file identical in both trees is parsed once
    loaded = load(directory, today=today, shared=shared, only=only, freeze=freeze)
    result = with_governance(loaded, today, deploying)
    result = _with(result, approver_problems(result.mesh))  # with a platform file only
    if not any(Path(p.file).name == MESH_FILE for p in result.errors):
        # tag-based access (an invalid platform file: its ontology is unknown, no follow-on)
        result = _with(result, lftag_problems(result.mesh, today))
    if only is None:  # a per-domain stack does not know the other domains' owners
        result = _with(result, _codeowners_problems(result.mesh, directory))
    if result.ok:
        for p in project_problems(result.mesh, directory, names, today):
            (result.errors if p.severity is Severity.error else result.warnings).append(p)
    if base is not None:
        result = _against_base(result, directory, base, shared, today, freeze)
    return result


def _shared(cache_dir: Path | None) -> SharedFiles:
    """Per-file results shared by one command's loads, with the parse cache of `cache_dir`."""
    from infra.blueprints.parse_cache import from_option

    return SharedFiles(from_option(cache_dir))


def _with(result: Report, problems: list[Problem]) -> Report:
    """`result` plus `problems`, each among the errors or the warnings by its severity."""
    if not problems:
        return result
    errors, warnings = list(result.errors), list(result.warnings)
    for p in problems:
        (errors if p.severity is Severity.error else warnings).append(p)
    return Report(
        result.mesh, sorted(errors, key=Problem.sort_key), sorted(warnings, key=Problem.sort_key)
    )


def repository_root(directory: Path) -> Path | None:
    """The nearest directory at or above `directory` holding `.git` (a directory, or the file
    of a worktree or submodule): the root of the repository its CODEOWNERS speaks of."""
    for candidate in (directory.resolve(), *directory.resolve().parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _codeowners_place(directory: Path, root: Path | None) -> tuple[Path, str, str]:
    """(repository root, the blueprint directory's path in it, the command regenerating the
    file). Outside a repository the current directory is the root (`codeowners` refuses to
    print a file there: `_codeowners_problems` only compares inside one)."""
    root = root or Path.cwd().resolve()
    try:
        prefix = directory.resolve().relative_to(root).as_posix()
    except ValueError:
        raise UsageError(
            f"{str(directory)!r} is not inside the repository {str(root)!r}: CODEOWNERS names "
            "paths from the repository root (run mesh codeowners from there)"
        ) from None
    prefix = "" if prefix == "." else prefix
    if any(c in prefix for c in "\n\r"):
        raise UsageError(f"{prefix!r}: a line break in a path cannot be written into CODEOWNERS")
    return root, prefix, f"mesh codeowners {shlex.quote(prefix or '.')}"


def codeowners(directory: Path) -> str:
    """`mesh codeowners`: the CODEOWNERS file of the tree (`infra.governance.codeowners`).
    Raises `InvalidTree` when the tree does not load: a file it cannot read has no owners."""
    from infra.governance.codeowners import codeowners_text

    report = load(directory)
    if report.errors:
        raise InvalidTree(directory, report)
    root = repository_root(directory)
    if root is None:
        # the paths would start wherever the command ran (`/ @team` from inside the directory)
        raise UsageError(
            f"{str(directory)!r} is in no git repository (no .git at or above it): CODEOWNERS "
            "names paths from the repository's root; run `git init` in the repository's root "
            "first, or run mesh codeowners inside the repository"
        )
    _root, prefix, command = _codeowners_place(directory, root)
    return codeowners_text(report.mesh, prefix, command)


def _codeowners_problems(mesh, directory: Path) -> list[Problem]:
    """W011 when the repository's checked-in CODEOWNERS disagrees with `codeowners`; nothing
    outside a repository or without the file."""
    from infra.blueprints.yaml_safe import read_bytes
    from infra.governance.codeowners import (
        CODEOWNERS_MAX_BYTES,
        CODEOWNERS_PATHS,
        codeowners_problems,
    )

    root = repository_root(directory)
    if root is None:
        return []
    for name in CODEOWNERS_PATHS:
        path = root / name
        if not path.is_file():
            continue  # absent, a directory, a FIFO: GitHub would not use it either
        raw = read_bytes(path, within=root, limit=CODEOWNERS_MAX_BYTES)
        if raw is None:  # over GitHub's limit (GitHub ignores it too), or a link out of the
            return []  # repository: never read, never quoted
        _root, prefix, command = _codeowners_place(directory, root)
        display = os.path.relpath(path)
        display = str(path) if display.startswith("..") else display
        text = raw.decode("utf-8", errors="replace")
        return codeowners_problems(mesh, prefix, display, text, f"{command} > {name}")
    return []


def valid(
    directory: Path, names: Names | None = None, *, deploying: bool = True, only: str | None = None
) -> Report:
    """`validate` for the commands that need a valid tree: raises `InvalidTree` otherwise."""
    report = validate(directory, names=names, deploying=deploying, only=only, freeze=True)
    if report.errors:
        raise InvalidTree(directory, report)
    return report


def _against_base(
    result: Report,
    directory: Path,
    base: Path,
    shared: SharedFiles | None,
    today: dt.date,
    freeze: bool,
) -> Report:
    """`result` (HEAD, checked) plus what changing BASE into it may not do: remove a product
    that is not properly decommissioned, remove a domain, change a product's physical name
    (`infra.governance.change_safety`)."""
    from infra.governance.change_safety import against_base as check

    # the loader only: the base's own findings are not this change's
    base_result = load(base, today=today, shared=shared, freeze=freeze)
    checked = check(result, base_result, blueprint_files(directory), blueprint_files(base), today)
    return _scoped(checked, directory, base, shared, today) if checked.errors else checked


PRE_EXISTING = (
    " [not blocking this change: the base tree has the same error and this change does not "
    "touch the file]"
)


def _scoped(result: Report, directory: Path, base: Path, shared, today: dt.date) -> Report:
    """A pull request is blocked by the errors it brings, and by those of the files it touches:
    a governance finding (GOV-*) the base tree has too, in a file this change leaves
    byte-identical, is a warning here. Governance findings are what time changes on a tree
    that once passed (an exception expires), and one domain's lapsed exception must not block
    every other domain's PRs. Structural errors always block: a file that does not load is
    missing from the mesh, and `pulumi up` would refuse it. The base is checked as HEAD is,
    its identical files parsed once (`shared`)."""
    base_checked = validate(base, shared=shared, today=today)

    def key(p: Problem, tree: Path) -> tuple:
        """What identifies an error in either tree: messages may name files of their tree."""
        return (Path(p.file).name, p.path, p.code, p.message.replace(f"{tree}{os.sep}", ""))

    before = {key(p, base) for p in base_checked.errors}
    errors, moved = [], []
    for p in result.errors:
        name = Path(p.file).name
        governance = p.code.startswith("GOV-")
        if governance and key(p, directory) in before and _same_file(directory / name, base / name):
            moved.append(
                dataclasses.replace(p, message=p.message + PRE_EXISTING, severity=Severity.warning)
            )
        else:
            errors.append(p)
    if not moved:
        return result
    warnings = sorted(result.warnings + moved, key=Problem.sort_key)
    return Report(result.mesh, errors, warnings)


def _same_file(a: Path, b: Path) -> bool:
    """Both read (as hostile input: `yaml_safe.read_bytes`) and hold the same bytes."""
    from infra.blueprints.yaml_safe import read_bytes

    same = read_bytes(a)
    return same is not None and same == read_bytes(b)


# ------------------------------------------------------------------------------ deploy side


@dataclass
class Plan:
    """A valid tree run through the Pulumi program under recording mocks, and the governance
    findings on the resources it declares."""

    report: Report
    graph: ResourceGraph | SpooledGraph  # the latter's files: removed on leaving `with`
    governance: GovernanceReport

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        _close(self.graph)


def plan(directory: Path, settings: StackSettings | None = None) -> Plan:
    """`mesh plan` (a large whole mesh per stack: `stackplan`): raises `InvalidTree`."""
    from infra.engines.stackplan import govern, program_graph
    from infra.provision.program import StackSettings

    settings = settings or StackSettings()
    with progress.step("validate the blueprints"):
        report = valid(directory, settings.names, only=_stack_domain(settings))
    today = clock.today()
    with progress.step("run the Pulumi program (recording mocks)"):
        graph = program_graph(report.mesh, settings, today)
    try:
        with progress.step("check the resources against governance"):
            governance = govern(graph, report.mesh, today)
    except BaseException:
        _close(graph)
        raise
    return Plan(report, graph, governance)


def _close(graph) -> None:
    close = getattr(graph, "close", None)
    if close is not None:
        close()


def _stack_domain(settings: StackSettings) -> str | None:
    """The domain of a per-domain stack, whose own blueprint alone is loaded in full (as
    `pulumi up` loads it: `infra.entry.check`); None for `all` and `platform`."""
    return None if settings.includes_platform() else settings.scope


def audit(
    directory: Path,
    settings: StackSettings | None = None,
    timings: dict[str, float] | None = None,
    per_stack: bool = True,
    generated_at: str | None = None,
) -> tuple[AuditResult, int]:
    """`mesh audit`: policies linted, effective access compared with the declared grants; and
    the resource count (`per_stack`: `infra.engines.stackrun`). Raises `InvalidTree`."""
    import time

    from infra.audit.audit import audit as run_audit
    from infra.engines.stackrun import audited_resources
    from infra.provision.program import StackSettings

    settings = settings or StackSettings()
    with progress.step("validate the blueprints"):
        report = valid(directory, settings.names)
    today = clock.today()
    t0 = time.perf_counter()
    with progress.step("run the Pulumi program (recording mocks)"):
        count, resources = audited_resources(report.mesh, settings, today, per_stack)
    timings = dict(timings or {}) | {"program": time.perf_counter() - t0}
    return run_audit(report.mesh, resources, today, generated_at, timings=timings), count


def expiring(directory: Path, since: int) -> tuple[dt.date, list]:
    """`mesh expiring`: the grants whose access ended in the `since` days up to today, with the
    project's stacks that must deploy to revoke them (`infra.provision.expiry`). Only the
    loader's checks: a governance finding (which time alone may bring) never hides a grant to
    revoke. Raises `InvalidTree` when the blueprints do not load."""
    from infra.governance.project_checks import project_stacks_of
    from infra.provision.expiry import ended_grants

    today = clock.today()
    report = load(directory, today=today)
    if report.errors:
        raise InvalidTree(directory, report)
    return today, ended_grants(report.mesh, today, since, project_stacks_of(directory))


def read_approvals(path: Path) -> frozenset[str]:
    """The handles of a `--approvals` file; `UsageError` when it is not one."""
    from infra.governance.approvals import read_approvals as read

    return read(path)


def diff(
    base: Path,
    head: Path,
    *,
    validate_head: bool = False,
    approved_by: frozenset[str] | None = None,
    cache_dir: Path | None = None,
) -> tuple[DiffResult, bool]:
    """`mesh diff`: access added, removed and changed from BASE to HEAD, schema changes that
    break consumers, and the approvals the change needs (`required_approvals`). `validate_head`:
    first every check of `validate(head, base)`; its problems are the result's, and access is
    computed only when HEAD is valid. `approved_by`: the handles whose approval the change has;
    the required approvals they do not cover are `missing_approvals`. `cache_dir`: the parse
    cache (`infra.blueprints.parse_cache`; the result is the same without it).
    Returns (result, computed). Raises `InvalidTree` (label base/head) when a side does not load."""
    from infra.diff.access_diff import DiffResult, diff_meshes
    from infra.diff.approvals import (
        bootstrap_problems,
        platform_file_change,
        required_approvals,
        waived_grants,
    )
    from infra.governance.approvals import missing_approvals
    from infra.governance.stack_configs import stack_config_review

    today = clock.today()
    shared = _shared(cache_dir)  # a file identical in both trees is parsed and validated once
    # beyond the blueprints: the stack configs of both projects, and the first platform file
    stack_items, stack_errors = stack_config_review(base, head)
    stack_errors += bootstrap_problems(base, head, stack_items)
    checked = None
    if validate_head:  # exactly `mesh validate HEAD --base BASE`
        with progress.step("validate HEAD against BASE"):
            checked = validate(head, base, today=today, shared=shared, freeze=True)
        if checked.errors:
            errors = sorted([*checked.errors, *stack_errors], key=Problem.sort_key)
            result = DiffResult(errors=errors, warnings=checked.warnings)
            result.untouched = untouched_files(base, head)
            return result, False
    with progress.step("load BASE"):
        base_mesh = _loaded("base", base, today, shared)
    with progress.step("load HEAD"):
        head_mesh = checked.mesh if checked is not None else _loaded("head", head, today, shared)
    with progress.step("compare access"):
        result = diff_meshes(base_mesh, head_mesh, today)
    if checked is not None:  # its lifecycle findings are among validate's
        result.errors, result.warnings = checked.errors, checked.warnings
    result.errors = sorted([*result.errors, *stack_errors], key=Problem.sort_key)
    result.review_required = [*result.review_required, *stack_items]
    result.untouched = untouched_files(base, head)
    change = platform_file_change(base, head)
    if change is not None:
        result.platform_change = change
    result.approvers_known = (base_mesh.platform or head_mesh.platform) is not None
    result.required_approvals = required_approvals(
        base_mesh, head_mesh, result, change[1] if change else None, waived_grants(head_mesh, today)
    )
    if approved_by is not None:
        result.missing_approvals = missing_approvals(result.required_approvals, approved_by)
    return result, True


def untouched_files(base: Path, head: Path) -> frozenset[str]:
    """The files of HEAD (blueprints and platform file, as problems name them) whose bytes
    are the same in BASE: what a pull request did not touch."""
    return frozenset(str(p) for p in tree_files(head) if _same_file(p, base / p.name))


def _loaded(label: str, directory: Path, today: dt.date, shared: SharedFiles) -> Any:
    report = load(directory, today=today, shared=shared, freeze=True)
    if label == "base":
        # a BASE without any blueprint (a new mesh: its first pull request) is the empty mesh;
        # a BASE directory that does not exist stays a usage error (the PR workflow creates it
        # empty when the base branch has none)
        report.errors = [p for p in report.errors if p.code != "E031"]
    if report.errors:
        raise InvalidTree(directory, report, label)
    return report.mesh
