"""Load a directory of blueprints into one Mesh, collecting every problem with its line.

A file is read and parsed defensively (`yaml_safe`), validated against the pydantic models
(`pydantic_errors`), then checked against its tree (`checks`); a big directory is parsed on two
processes (`parallel`). Two trees one command loads (BASE and HEAD of a pull request) share the
files they have in common: each is parsed and validated once (`SharedFiles`). The cyclic garbage
collector is paused while a directory loads: the node trees and models are millions of young
objects without cycles, and its repeated scans would cost more than the parsing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

from infra.blueprints.checks import NAME as _NAME
from infra.blueprints.checks import expiry_warnings, tree_problems
from infra.blueprints.mesh_file import load_platform
from infra.blueprints.parallel import Key as _Key
from infra.blueprints.parallel import Loaded as _Loaded
from infra.blueprints.parallel import load_texts
from infra.blueprints.pydantic_errors import validate_data
from infra.blueprints.shared import SharedFiles
from infra.blueprints.yaml_safe import (
    _decode,
    _FileError,
    _parse_text,
    _read_text,
    read_bytes,
)
from infra.errors import Problem, Severity, UsageError
from infra.model.mesh import Mesh
from infra.model.platform import MESH_FILE
from infra.model.report import Report
from infra.model.source import SourceFile
from infra.model.spec import APPROVER_NAMES, Blueprint
from infra.util.gcpause import gc_paused


def blueprint_files(directory: Path) -> list[Path]:
    """The domain blueprints of `directory` (not its platform file, `_mesh.yaml`)."""
    return _scan(directory)[0]


def tree_files(directory: Path) -> list[Path]:
    """Every file a check of `directory` reads: its blueprints and its platform file."""
    files, _hidden, platform = _scan(directory)
    return sorted(files + [p for p in platform if p.name == MESH_FILE])


def _scan(directory: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """(blueprint files, hidden YAML files, platform files) of `directory`, each sorted. A
    hidden file (name starting with '.', such as `..yaml`) is never a blueprint: it is reported
    (W003), not read. A name starting with '_' is a platform file, never a domain: `_mesh.yaml`
    is read as such (`mesh_file`), any other is reported (W003)."""
    if not directory.exists():
        raise UsageError(f"blueprint directory {str(directory)!r} does not exist")
    if not directory.is_dir():
        raise UsageError(f"{str(directory)!r} is not a directory")
    files, hidden, platform = [], [], []
    for p in directory.iterdir():
        if p.suffix in (".yaml", ".yml"):
            if p.name.startswith("."):
                hidden.append(p)
            elif p.name.startswith("_"):
                platform.append(p)
            else:
                files.append(p)
    # entries of one directory: on POSIX, paths order as their names do (compared as strings,
    # ~10x faster than Path's comparison of parts); elsewhere Path's own order
    order = _name if isinstance(directory, PurePosixPath) else None
    return sorted(files, key=order), sorted(hidden, key=order), sorted(platform, key=order)


def _name(path: Path) -> str:
    return path.name


def load_file(
    path: Path, display: str | None = None
) -> tuple[Blueprint | None, SourceFile, list[Problem], Any]:
    """Parse and validate one blueprint, as its directory's load does (approved_by may name
    approver groups when the directory has a platform file). Returns (blueprint or None,
    source, problems, raw data)."""
    src, text, data, problem = _parse(path, display or str(path))
    if problem is not None:
        return None, src, [problem], None
    context = APPROVER_NAMES if (path.parent / MESH_FILE).is_file() else None
    bp, problems = validate_data(src, text, data, context)
    return bp, src, problems, data


def _parse(path: Path, display: str) -> tuple[SourceFile, str | None, Any, Problem | None]:
    """Read, compose and build one file: (source, text, plain data, None) or a file problem."""
    try:
        text = _read_text(path)
    except _FileError as exc:
        problem = Problem(display, exc.line, "", exc.code, exc.message)
        return SourceFile(display), None, None, problem
    return _parse_text(text, display)


# Parsing (compose + build) is most of the time of a big mesh. On Linux, with no other thread in
# the process (so fork is safe) and a CPU to spare, a forked helper parses the last files while
# this process loads (parses and validates) the first ones. The helper sends the plain data
# (pickled: builtins and dates only) in chunks as it goes, so this process validates them while
# the helper parses on, instead of after it. The texts are read here before the fork, so the
# helper has them without reading or sending them. Validation and every check stay in this
# process, so the result is the serial path's. When the helper fails or hangs, what it did not
# send is loaded here. MESH_PARALLEL_LOAD=0 turns it off.


def _load_all(
    paths: list[Path], shared: SharedFiles | None = None, names: bool = False
) -> list[tuple[_Loaded, _Key | None]]:
    """`load_file` of every path, in order, with its key in `shared` (None when the file could
    not be read): each distinct (name, text) is parsed once (see `SharedFiles`), on two
    processes when `_can_fork` says so. `names`: the tree has a platform file."""
    shared = SharedFiles() if shared is None else shared
    context = APPROVER_NAMES if names else None
    out: list[_Loaded | None] = [None] * len(paths)
    keys: list[_Key | None] = [None] * len(paths)
    todo: dict[_Key, list[int]] = {}  # not parsed yet: key -> indices into paths
    for i, path in enumerate(paths):
        display = str(path)
        try:
            text = _read_text(path)
        except _FileError as exc:  # refused before parsing: nothing to share
            problem = Problem(display, exc.line, "", exc.code, exc.message)
            out[i] = (None, SourceFile(display), [problem], None)
            continue
        key = keys[i] = (path.name, text)
        if key in todo:
            todo[key].append(i)
        else:
            out[i] = shared._get(key, display, names)
            if out[i] is None:
                out[i] = shared._from_disk(key, display, context)
                if out[i] is not None:  # from disk: the other tree shares it as if parsed
                    shared._put(key, display, out[i], names, parsed=False)  # type: ignore[arg-type]
                else:
                    todo[key] = [i]
    new = list(todo)
    first = [str(paths[todo[k][0]]) for k in new]
    for key, display, loaded in zip(new, first, load_texts(new, first, context), strict=True):
        shared._put(key, display, loaded, names)
        shared._to_disk(key, display, loaded, context)
        indices = todo[key]
        out[indices[0]] = loaded
        for i in indices[1:]:
            out[i] = shared._get(key, str(paths[i]), names)
    return list(zip(out, keys, strict=True))  # type: ignore[arg-type]


@gc_paused  # see the module docstring: millions of young objects, no garbage cycles
def load_mesh(
    directory: str | os.PathLike,
    today: dt.date | None = None,
    only: str | None = None,
    shared: SharedFiles | None = None,
) -> Report:
    """Load every blueprint under `directory`, validate each and the mesh as a whole.

    `only` loads a single domain's blueprint (a per-domain stack): the other domains are known
    by their file names only, so the cost does not grow with the mesh. Checks that need the
    other blueprints are left to the full load every PR runs (`mesh validate`).

    `shared`: per-file results of another tree loaded by the same command (`SharedFiles`): its
    files that are byte-identical here are not parsed again, and a tree it loaded already (same
    date and domain) is not loaded again (`SharedFiles.tree`: `mesh diff --validate` reads BASE
    for the lifecycle checks and for the access diff). The result is the same either way."""
    if shared is None:
        return _load_mesh(directory, today, only)
    today = today or dt.date.today()
    return shared.tree(directory, today, only, lambda: _load_mesh(directory, today, only, shared))


def _load_mesh(
    directory: str | os.PathLike,
    today: dt.date | None,
    only: str | None = None,
    shared: SharedFiles | None = None,
) -> Report:
    today = today or dt.date.today()
    root = Path(directory)
    files, hidden, platform_files = _scan(root)
    stems = frozenset(p.stem for p in files)
    other_accounts: dict[str, str] = {}
    other_retired: dict[str, dt.date] = {}
    if only is not None:
        other_accounts = _accounts_named([p for p in files if p.stem != only])
        other_retired = _retired_named([p for p in files if p.stem != only])
        files, hidden = [p for p in files if p.stem == only], []
    errors: list[Problem] = []
    warnings: list[Problem] = [
        Problem(
            str(p),
            None,
            "",
            "W003",
            "file ignored: a name starting with '.' is hidden, not a blueprint (a blueprint is "
            "<domain>.yaml)",
        )
        for p in hidden
    ]
    platform, has_platform_file = None, False
    for p in platform_files:
        if p.name != MESH_FILE:
            warnings.append(
                Problem(
                    str(p),
                    None,
                    "",
                    "W003",
                    f"file ignored: a name starting with '_' is a platform file, not a domain, "
                    f"and the only platform file is {MESH_FILE}",
                )
            )
            continue
        has_platform_file = True
        platform, problems = load_platform(p)
        errors.extend(problems)
    if not files and not (has_platform_file and only is None):
        # a tree with its platform file and no domain yet is a new mesh's first step, valid
        wanted = f"{only}.yaml" if only is not None else "*.yaml blueprints"
        errors.append(Problem(str(root), None, "", "E031", f"no {wanted} in {str(root)!r}"))
    shared = SharedFiles() if shared is None else shared
    valid: dict[str, Blueprint] = {}
    sources: dict[str, SourceFile] = {}
    keys: dict[str, _Key] = {}
    # domains named by any file, valid or not: avoids follow-on noise
    declared: set[str] = set(stems)
    loaded = _load_all(files, shared, names=has_platform_file)
    for path, ((bp, src, problems, data), key) in zip(files, loaded, strict=True):
        errors.extend(problems)
        stem = path.stem
        declared.add(stem)
        if bp is not None:  # the domain it names (validated: data["domain"], unchanged)
            named = bp.domain
        else:
            named = data.get("domain") if isinstance(data, dict) else None
        if isinstance(named, str):
            declared.add(named)
            if named != stem and _NAME.match(named):  # an invalid name is E013 already
                errors.append(
                    src.problem(
                        ("domain",),
                        "E020",
                        f"domain {named!r} must equal the file name {stem!r} (rename the file to "
                        f"{named}.yaml or fix the domain)",
                    )
                )
                continue
        if bp is None:
            continue
        if bp.domain in valid:
            errors.append(
                src.problem(
                    ("domain",),
                    "E021",
                    f"domain {bp.domain!r} is already defined in {sources[bp.domain].path}",
                )
            )
            continue
        valid[bp.domain] = bp
        sources[bp.domain] = src
        keys[bp.domain] = key  # type: ignore[assignment]  # read, so it has a key
    known = sorted(valid)
    context = shared._context(declared, known, today)
    for domain in known:
        bp, src = valid[domain], sources[domain]

        def check(
            bp: Blueprint = bp, src: SourceFile = src, key: _Key = keys[domain]
        ) -> list[Problem]:
            return [  # `checks.check_blueprint`: the file's own checks, then the tree's
                *shared._own_checks(key, has_platform_file, src.path, bp, src),
                *tree_problems(bp, src, declared, known),
                *expiry_warnings(bp, src, today),
            ]

        for problem in shared._checked(keys[domain], context, src.path, check):
            (warnings if problem.severity is Severity.warning else errors).append(problem)
    mesh = Mesh(
        tuple(valid[d] for d in sorted(valid)),
        sources,
        frozenset(declared) - set(valid),
        other_accounts=other_accounts,
        other_retired=other_retired,
        platform=platform,
    )
    errors.sort(key=Problem.sort_key)
    warnings.sort(key=Problem.sort_key)
    return Report(mesh, errors, warnings)


# a top-level `account: "111122223333"` line (quoted or not, optionally commented)
_ACCOUNT_LINE = re.compile(rb"""^account:[ \t]*(["']?)([0-9]{12})\1[ \t]*(?:#.*)?$""", re.MULTILINE)


def _accounts_named(paths: list[Path]) -> dict[str, str]:
    """The `account:` of each blueprint a per-domain stack does not load (`load_mesh(only=)`):
    the stack names other domains' roles by ARN, so it needs their accounts, but not their
    products. A line scan, not a parse: those files are validated by their own stacks and by
    every PR's `mesh validate`; a file whose account is not such a line counts as naming none."""
    out = {}
    for path in paths:
        match = _ACCOUNT_LINE.search(read_bytes(path) or b"")
        if match:
            out[path.stem] = match.group(2).decode()
    return out


# a top-level `decommission:` key: the only files a per-domain stack parses beside its own
_DECOMMISSION_LINE = re.compile(rb"^decommission:", re.MULTILINE)


def _retired_named(paths: list[Path]) -> dict[str, dt.date]:
    """The domain-level decommission date of each blueprint a per-domain stack does not load
    (`load_mesh(only=)`): the stack ends its grants to a retired domain. Only a file with a
    top-level `decommission:` line is parsed (a retiring domain is rare); one that does not
    parse, or says no date, counts as not retired (its own stack and every PR report it)."""
    out = {}
    for path in paths:
        raw = read_bytes(path) or b""
        if not _DECOMMISSION_LINE.search(raw):
            continue
        try:
            _src, _text, data, problem = _parse_text(_decode(raw), str(path))
        except _FileError:
            continue
        block = data.get("decommission") if problem is None and isinstance(data, dict) else None
        date = block.get("date") if isinstance(block, dict) else None
        if isinstance(date, str):
            try:
                date = dt.date.fromisoformat(date)
            except ValueError:
                continue
        if isinstance(date, dt.date):
            out[path.stem] = date
    return out
