"""Per-file results shared by the loads of one command (`SharedFiles`), and the loads of a file
from the parse cache on disk (`infra.blueprints.parse_cache`).

Apart from `load` (which walks a directory and checks a tree) because this is the one place
that decides when a file's load is reused: from the other tree of a comparison, from the cache
on disk, or a whole tree loaded again by the same command.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from infra.blueprints.checks import file_problems
from infra.blueprints.parallel import Key as _Key
from infra.blueprints.parallel import Loaded as _Loaded
from infra.blueprints.parse_cache import Entry, ParseCache
from infra.blueprints.pydantic_errors import validate_data
from infra.errors import Problem
from infra.model.report import Report
from infra.model.source import SourceFile
from infra.model.spec import Blueprint


class SharedFiles:
    """Per-file results shared by the loads of one command, keyed by content.

    What loading one file yields — the blueprint model, the plain data and the file's own
    problems (YAML, types, unknown keys, ...: everything `load_file` reports) — is a pure function
    of its name and text; only the path the problems name depends on the directory. So when
    `mesh diff` or `mesh validate --base` loads BASE and HEAD with the same `SharedFiles`, a file
    whose name and text are the same in both trees (all but the few a pull request touches) is
    parsed and validated once; the second tree gets the same model and data (nothing mutates
    them) and the problems with its own path. Each tree gets its own `SourceFile`s.

    The checks of a valid blueprint against its tree (`_check_blueprint`: E022-E030, E034,
    E035/W004; `_expiry_warnings`: W001/W002) also read the tree's domains (every domain a file
    names, and the valid ones, listed in E025's message) and the date: they are reused only when
    those are the same too, which they are unless the change adds or removes a domain. What
    compares files (E020, E021) runs on each tree.

    Content is compared, never modification times: the key holds the decoded text, so a
    lookup costs a hash of the text and, on a hit, one comparison of equal strings.

    `cache`: a parse cache on disk (`parse_cache`, `--cache-dir`): a file found there is not
    parsed (its data, lines and problems come from the entry; a valid one is validated into its
    model from the data), and each file parsed here is stored there.
    """

    def __init__(self, cache: ParseCache | None = None) -> None:
        self.cache = cache
        # (key, names) -> (display, model, problems, data, text, lines) of a file's load
        self._results: dict[tuple[_Key, bool], tuple] = {}
        # (key, context) -> (display, problems) of `_load_mesh`'s checks of a valid blueprint;
        # a context numbers what else they depend on: the tree's domains and the date
        self._checks: dict[tuple[_Key, int], tuple[str, list[Problem]]] = {}
        # (key, names) -> (display, problems) of a valid blueprint's own checks (`file_problems`)
        self._own: dict[tuple[_Key, bool], tuple[str, list[Problem]]] = {}
        self._contexts: dict[tuple[frozenset[str], tuple[str, ...], dt.date], int] = {}
        self.parsed = 0  # files parsed and validated (the others were reused)
        self.reused = 0
        self.checked = 0  # valid blueprints checked against their tree (the others reused)
        self.cached = 0  # files found in the parse cache on disk (not parsed)
        self._trees: dict[tuple[str, dt.date, str | None], Report] = {}

    def tree(
        self,
        directory: str | os.PathLike,
        today: dt.date,
        only: str | None,
        load: Callable[[], Report],
    ) -> Report:
        """The load of `directory` (`load()`), done once per command: a later load of the same
        tree, date and domain gets the same mesh (frozen models, nothing mutates it) and copies
        of its lists of problems."""
        key = (str(Path(directory).resolve()), today, only)
        found = self._trees.get(key)
        if found is None:
            found = self._trees[key] = load()
        return Report(found.mesh, list(found.errors), list(found.warnings))

    def __len__(self) -> int:
        return len(self._results)

    # `names`: the file was validated in a tree with a platform file (approved_by may name
    # approver groups, `spec.APPROVER_NAMES`): the same text can be valid there and not elsewhere
    def _put(
        self, key: _Key, display: str, loaded: _Loaded, names: bool = False, parsed: bool = True
    ) -> None:
        bp, src, problems, data = loaded
        self.parsed += parsed
        self._results[(key, names)] = (display, bp, problems, data, key[1], src.lines)

    def _get(self, key: _Key, display: str, names: bool = False) -> _Loaded | None:
        found = self._results.get((key, names))
        if found is None:
            return None
        first, bp, problems, data, text, lines = found
        self.reused += 1
        # a fresh source per tree, locating lines from the same data and recorded lines
        if isinstance(data, Entry):
            src: SourceFile = _CachedSource(display, data, text)
        elif data is not None:
            src = SourceFile(display, text=text, data=data, lines=lines)
        else:
            src = SourceFile(display)
        return bp, src, _moved(problems, first, display), data

    def _from_disk(self, key: _Key, display: str, context: dict | None) -> _Loaded | None:
        """The file's load from the parse cache on disk, or None (no cache, or a miss). A valid
        blueprint's model is validated from the entry's data JSON when the write checked that
        this gives the parse's model (`Entry.model`; its plain data is then decoded only if a
        line is looked up), else from its decoded data, as a parse would."""
        if self.cache is None:
            return None
        entry = self.cache.get(key[0], key[1], context)
        if entry is None:
            return None
        self.cached += 1
        if entry.lines is None:  # did not build: its problem is all there is
            return None, SourceFile(display), _moved(entry.problems, entry.display, display), None
        if entry.checks is not None:
            self._own[(key, context is not None)] = (entry.display, entry.checks)
        if entry.model and not entry.problems:
            bp = _json_model(entry.data_json, context)
            if bp is not None:
                return bp, _CachedSource(display, entry, key[1]), [], entry
            if not entry.decoded():
                return None  # (forged) data that neither validates nor decodes: parse it
        src = SourceFile(display, data=entry.data, lines=entry.lines)
        if entry.problems:  # invalid: the problems found when it was parsed
            return None, src, _moved(entry.problems, entry.display, display), entry.data
        bp, problems = validate_data(src, key[1], entry.data, context)
        return bp, src, problems, entry.data

    def _to_disk(self, key: _Key, display: str, loaded: _Loaded, context: dict | None) -> None:
        if self.cache is not None:
            bp, src, problems, data = loaded
            own, same = None, None
            if bp is not None:
                own = self._own_checks(key, context is not None, display, bp, src)
                same = lambda data_json: _same_model(bp, data_json, context)
            self.cache.put(key[0], key[1], context, display, data, src.lines, problems, own, same)

    def _own_checks(
        self, key: _Key, names: bool, display: str, bp: Blueprint, src: SourceFile
    ) -> list[Problem]:
        """`file_problems` of a valid blueprint: from the cache entry or computed once."""
        return _memo(self._own, (key, names), display, lambda: list(file_problems(bp, src)))

    def _context(self, declared: set[str], known: list[str], today: dt.date) -> int:
        """A number for what `_check_blueprint` and `_expiry_warnings` read besides the file."""
        key = (frozenset(declared), tuple(known), today)
        return self._contexts.setdefault(key, len(self._contexts))

    def _checked(
        self, key: _Key, context: int, display: str, run: Callable[[], list[Problem]]
    ) -> list[Problem]:
        self.checked += (key, context) not in self._checks
        return _memo(self._checks, (key, context), display, run)


_DATA = SourceFile.data  # the slot of `SourceFile.data`


class _CachedSource(SourceFile):
    """The source of a file loaded from its cache entry: its plain data (which only locating a
    problem's line reads) is decoded from the entry on first use."""

    __slots__ = ("_entry",)

    def __init__(self, path: str, entry: Entry, text: str | None = None) -> None:
        super().__init__(path, text=text, lines=entry.lines)
        self._entry: Entry | None = entry

    @property  # type: ignore[override]
    def data(self) -> Any:
        if self._entry is not None:
            _DATA.__set__(self, self._entry.data)
            self._entry = None
        return _DATA.__get__(self, SourceFile)

    @data.setter
    def data(self, value: Any) -> None:
        self._entry = None
        _DATA.__set__(self, value)


def _json_model(data_json: bytes, context: dict | None) -> Blueprint | None:
    """The blueprint validated from an entry's data JSON, or None when it does not validate."""
    try:
        return Blueprint.model_validate_json(data_json, context=context)
    except Exception:  # noqa: BLE001 - only a forged entry fails here: validated the usual way
        return None


def _same_model(bp: Blueprint, data_json: bytes, context: dict | None) -> bool:
    """Validating `data_json` (the stored data) gives `bp` (the parse's model), field for
    field and type for type: JSON validation reads dates from text, and a field of any type
    keeps a date as text there (`==` tells them apart), and `==` takes 1 for 1.0 and True
    (their JSON does not)."""
    other = _json_model(data_json, context)
    try:
        return other == bp and other.model_dump_json() == bp.model_dump_json()  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - a value pydantic cannot write: validate the data instead
        return False


def _memo(
    table: dict[Any, tuple[str, list[Problem]]],
    key: Any,
    display: str,
    run: Callable[[], list[Problem]],
) -> list[Problem]:
    """The problems `run` finds in the file `display`, computed once per `key`: a later file
    of the same key (byte-identical) gets them with its own path."""
    found = table.get(key)
    if found is None:
        problems = run()
        table[key] = (display, problems)
        return problems
    first, problems = found
    return _moved(problems, first, display)


def _moved(problems: list[Problem], first: str, display: str) -> list[Problem]:
    """`problems` of the file `first`, found again in the byte-identical file `display`."""
    if display == first:
        return list(problems)
    return [replace(p, file=display) for p in problems]
