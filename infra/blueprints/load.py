"""Load a directory of blueprints into one Mesh model, collecting every problem with its line.

YAML is composed with libyaml (PyYAML's C composer): the node tree keeps line numbers and lets us
refuse duplicate keys, custom tags and alias bombs ourselves, instead of trusting a constructor
that silently overwrites duplicates. Before reading, a file that is a symbolic link out of the
directory, a FIFO or a device is refused, and one over MAX_FILE_BYTES is not read at all; an
error message quotes at most 60 characters of a value and lists at most 20 names, so hostile
input costs time and memory in proportion to its (bounded) size, never more (tests/
test_hostile_input.py). Line numbers are looked up in the node tree only when a
problem is reported, so valid input pays nothing for them: the tree is dropped once the file is
built and composed again from the kept text on the first look-up.

Speed (bench/validate_bench.py: 1,000 files, 10,000 products): the cyclic garbage collector is
paused while a directory loads (the node trees and models are millions of young objects and no
cycles; its repeated scans cost more than the parsing itself), implicit scalar tags are resolved
once per distinct scalar, plain strings skip PyYAML's constructor, and a big directory is parsed
by two processes (see `_load_all`).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import os
import pickle
import re
import reprlib
import select
import signal
import stat
import struct
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from infra.errors import Problem, Severity
from infra.model import reserved, tags
from infra.model.gluetypes import GlueTypeError
from infra.model.spec import NAME_PATTERN, Blueprint, Column, Consumer, Product
from infra.util.gcpause import gc_paused

try:  # libyaml is in every PyYAML wheel; the pure-Python loader is a slow but correct fallback
    _BaseLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _BaseLoader = yaml.SafeLoader


_resolver = yaml.resolver.Resolver()


class _YamlLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, minus per-node Python calls that cannot change its result.

    The safe resolver has no path resolvers, so a node's implicit tag depends only on its kind,
    text and implicit flags: it is resolved once per distinct scalar (``lru_cache`` is C code,
    a hit costs no Python frame), and the path-tracking hooks the composer calls around every
    node, which return at once without path resolvers, are C built-ins that do nothing.
    """

    resolve = staticmethod(functools.lru_cache(maxsize=65_536)(_resolver.resolve))
    descend_resolver = staticmethod(slice)  # slice(parent, index): a no-op taking two arguments
    ascend_resolver = staticmethod(tuple)  # tuple(): a no-op taking none


assert not _YamlLoader.yaml_path_resolvers, "the resolver shortcuts assume no path resolvers"

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000  # per file, counted with aliases expanded: a "billion laughs" stops here
MAX_DEPTH = 64
EXPIRY_WARNING_DAYS = 30

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_Scalar = yaml.ScalarNode
_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_constructor = yaml.constructor.SafeConstructor()
# (tag, text) -> value of the non-string scalars seen so far: ints, floats, bools, None, dates and
# datetimes are immutable, and a blueprint repeats them (`pii: true`, expiry dates) a lot
_scalars: dict[tuple[str, str], Any] = {}


class UsageError(Exception):
    """The command was called wrongly (e.g. a directory that does not exist): exit code 2."""


class _FileError(Exception):
    def __init__(self, code: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.line = code, message, line


Loc = tuple[str | int, ...]


def format_path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(slots=True)
class SourceFile:
    """One blueprint file: its display path and where each of its values is (for line look-ups).

    A parsed file keeps its plain ``data`` and the ``lines`` its parse recorded (`_Builder`:
    the line of every mapping key and sequence item, in document order), not its node tree (~30
    objects per line of YAML): a line is found by walking the data, so reporting an error never
    parses the file again. Without them (a file refused before it was built), the node tree is
    composed from ``text`` on the first look-up.
    """

    path: str
    root: yaml.Node | None = None
    text: str | None = field(default=None, repr=False)
    data: Any = field(default=None, repr=False)
    lines: array | None = field(default=None, repr=False)  # see `_Builder.lines`
    _positions: dict[int, Any] | None = field(default=None, repr=False)

    def tree(self) -> yaml.Node | None:
        if self.root is None and self.text is not None:
            text, self.text = self.text, None
            try:
                self.root = _compose(text)
            except _FileError:  # pragma: no cover - the text composed once already
                self.root = None
        return self.root

    def line_of(self, loc: Loc) -> int | None:
        if self.lines is not None:
            if self._positions is None:
                self._positions = _positions(self.data)
            return _recorded_line(self.data, self.lines, self._positions, loc)
        node = self.tree()
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == part:
                        line = key.start_mark.line + 1
                        node = value
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    return line
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line

    def problem(
        self, loc: Loc, code: str, message: str, severity: Severity = Severity.error
    ) -> Problem:
        return Problem(self.path, self.line_of(loc), format_path(loc), code, message, severity)


def _positions(data: Any) -> dict[int, Any]:
    """id(container) -> where each of its keys (a dict) or items (a list) is in the recorded
    lines: built once per file, on its first located problem (the error path only). The
    builder gives every occurrence its own container, aliases included, so ids are unique."""
    out: dict[int, Any] = {}
    at = 0

    def walk(node: Any) -> None:
        nonlocal at
        if type(node) is dict:
            keys: dict[str, int] = {}
            out[id(node)] = keys
            for key, value in node.items():
                at += 1
                keys[key] = at
                walk(value)
        elif type(node) is list:
            items: list[int] = []
            out[id(node)] = items
            for value in node:
                at += 1
                items.append(at)
                walk(value)

    walk(data)
    return out


def _recorded_line(data: Any, lines: array, positions: dict[int, Any], loc: Loc) -> int:
    """`SourceFile.line_of` from the recorded lines: the line of the deepest key or item of
    `loc` that exists (the mapping's own line for a missing key), as the node tree gives it."""
    line = lines[0] + 1  # the document's first node
    node = data
    for part in loc:
        in_dict = type(node) is dict and isinstance(part, str) and part in node
        in_list = type(node) is list and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            return line
        line = lines[positions[id(node)][part]] + 1
        node = node[part]
    return line


@dataclass(frozen=True)
class Mesh:
    """Every valid blueprint of the mesh, sorted by domain. The one model everything reads."""

    blueprints: tuple[Blueprint, ...]
    sources: dict[str, SourceFile] = field(default_factory=dict, compare=False, repr=False)
    # every domain of the mesh, also those whose blueprint was not loaded (`load_mesh(only=)`)
    other_domains: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    # (domain, product, consumer domain) of grants governance revoked: an exception that
    # allowed them has expired (`infra.governance.evaluate.with_governance`)
    revoked: frozenset[tuple[str, str, str]] = field(default=frozenset(), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_domain", {b.domain: b for b in self.blueprints})

    @property
    def domains(self) -> list[str]:
        """The domains whose blueprints are loaded."""
        return [b.domain for b in self.blueprints]

    @property
    def all_domains(self) -> frozenset[str]:
        """Every domain of the mesh (what a grant may name), loaded or not."""
        return frozenset(self.domains) | self.other_domains

    def blueprint(self, domain: str) -> Blueprint:
        return self._by_domain[domain]  # type: ignore[attr-defined]

    def products(self) -> Iterator[tuple[Blueprint, Product]]:
        for bp in self.blueprints:
            for product in bp.products:
                yield bp, product

    def product(self, product_id: str) -> tuple[Blueprint, Product]:
        domain, _, name = product_id.partition(".")
        bp = self.blueprint(domain)
        for p in bp.products:
            if p.name == name:
                return bp, p
        raise KeyError(product_id)

    def source(self, domain: str) -> SourceFile:
        return self.sources.get(domain) or SourceFile(f"{domain}.yaml")

    def revoked_of(self, domain: str, product: str) -> frozenset[str]:
        """The consumer domains whose grant of `domain.product` governance revoked."""
        if not self.revoked:
            return frozenset()
        return frozenset(c for d, p, c in self.revoked if (d, p) == (domain, product))


@dataclass
class LoadResult:
    mesh: Mesh
    errors: list[Problem]
    warnings: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.errors


# --------------------------------------------------------------------------- reading YAML


def _check_link(path: Path) -> None:
    """A symbolic link may point at another file of the blueprint directory, never outside it:
    what a pull request adds must be reviewable in the directory it changes, and the checks must
    not read (or print pieces of) files elsewhere on the machine that runs them."""
    try:
        target = path.resolve(strict=True)
        inside = target.is_relative_to(path.parent.resolve(strict=True))
    except (OSError, RuntimeError):  # dangling, a loop, no permission
        raise _FileError("E001", "symbolic link that points to no readable file") from None
    if not inside:
        raise _FileError(
            "E001",
            f"symbolic link to {str(target)!r}, outside the blueprint directory: refused (a "
            "blueprint must be a file of the directory under review)",
        )


def _read_text(path: Path) -> str:
    try:
        if path.is_symlink():
            _check_link(path)
        # O_NONBLOCK: a FIFO must not block the open; fstat then refuses anything but a file
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise _FileError(
                    "E001", "not a regular file (a directory, FIFO, socket or device): refused"
                )
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _FileError("E001", f"cannot read file: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise _FileError(
            "E001", f"file is larger than {MAX_FILE_BYTES // 1024} KiB; a blueprint should be small"
        )
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise _FileError("E001", "file contains NUL bytes: expected UTF-8 YAML text", line)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _FileError(
            "E001", f"file is not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})", line
        ) from None
    return text.removeprefix("\ufeff")


_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # what libyaml counts as a line break


def _last_line(text: str) -> int:
    """The number of the last line holding text, counted as libyaml counts lines."""
    breaks = len(_LINE_BREAK.findall(text))
    return max(1, breaks if text.endswith(("\n", "\r", "\x85", "\u2028", "\u2029")) else breaks + 1)


def _compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_YamlLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or str(exc)
        if exc.context:
            what = f"{what} ({exc.context})"
        line = min(mark.line + 1, _last_line(text)) if mark else None  # EOF: not past the end
        raise _FileError("E002", f"YAML syntax error: {what}", line)
    except yaml.reader.ReaderError as exc:  # a character YAML forbids (e.g. control codes)
        line = text.count("\n", 0, exc.position) + 1
        raise _FileError(
            "E002", f"YAML syntax error: character #x{exc.character:04x} ({exc.reason})", line
        ) from None
    except yaml.YAMLError as exc:
        raise _FileError("E002", f"YAML syntax error: {exc}") from None
    except RecursionError:
        raise _FileError("E004", f"YAML nests deeper than {MAX_DEPTH} levels") from None


class _Builder:
    """Turns a node tree into plain Python values, refusing what a blueprint never needs.

    `lines` records, in the order values are built, the (0-based) line of the document's node,
    then of every mapping key and sequence item: `_recorded_line` finds a field's line from them
    and the plain data, so the tree can be dropped."""

    def __init__(self) -> None:
        self.nodes = 0
        self.lines = array("I")

    def document(self, root: yaml.Node) -> Any:
        self.lines.append(root.start_mark.line)
        return self.build(root)

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _FileError(
                "E004",
                f"more than {MAX_NODES} YAML nodes once aliases are expanded (alias bomb?)",
                node.start_mark.line + 1,
            )
        if depth > MAX_DEPTH:
            raise _FileError(
                "E004", f"YAML nests deeper than {MAX_DEPTH} levels", node.start_mark.line + 1
            )
        tag = node.tag
        kind = type(node)
        if kind is yaml.ScalarNode:
            if tag == _STR_TAG:  # SafeConstructor.construct_yaml_str's result, without calls
                return node.value
            if tag not in _SCALAR_TAGS:
                raise _FileError(
                    "E004",
                    f"YAML tag {tag!r} is not allowed in a blueprint",
                    node.start_mark.line + 1,
                )
            key = (tag, node.value)
            value = _scalars.get(key, _scalars)
            if value is not _scalars:
                return value
            try:
                value = _constructor.yaml_constructors[tag](_constructor, node)
            except (ValueError, yaml.YAMLError) as exc:
                raise _FileError(
                    "E012", f"invalid scalar {node.value!r}: {exc}", node.start_mark.line + 1
                ) from None
            if len(_scalars) > 65_536:
                _scalars.clear()
            _scalars[key] = value
            return value
        if kind is yaml.SequenceNode:
            if tag != _SEQ_TAG:
                raise _FileError(
                    "E004",
                    f"YAML tag {tag!r} is not allowed in a blueprint",
                    node.start_mark.line + 1,
                )
            depth += 1
            items = []
            record = self.lines.append
            for item in node.value:
                record(item.start_mark.line)
                if (
                    type(item) is _Scalar
                    and item.tag == _STR_TAG
                    and self.nodes < MAX_NODES
                    and depth <= MAX_DEPTH
                ):  # a plain string: what build() would do, without the call
                    self.nodes += 1
                    items.append(item.value)
                else:
                    items.append(self.build(item, depth))
            return items
        if kind is yaml.MappingNode:
            if tag != _MAP_TAG:
                raise _FileError(
                    "E004",
                    f"YAML tag {tag!r} is not allowed in a blueprint",
                    node.start_mark.line + 1,
                )
            out: dict[str, Any] = {}
            depth += 1
            record = self.lines.append
            for key, value in node.value:
                record(key.start_mark.line)
                if type(key) is not yaml.ScalarNode:
                    raise _FileError(
                        "E004", "mapping keys must be plain strings", key.start_mark.line + 1
                    )
                if key.tag == _MERGE_TAG:
                    raise _FileError(
                        "E004",
                        "merge keys (<<) are not supported in blueprints",
                        key.start_mark.line + 1,
                    )
                name = key.value  # the key as written: `on:` stays "on", `1:` stays "1"
                if name in out:
                    first = next(k for k, _ in node.value if k.value == name)
                    raise _FileError(
                        "E003",
                        f"duplicate key {name!r} (first defined on line "
                        f"{first.start_mark.line + 1})",
                        key.start_mark.line + 1,
                    )
                if (
                    type(value) is _Scalar
                    and value.tag == _STR_TAG
                    and self.nodes < MAX_NODES
                    and depth <= MAX_DEPTH
                ):  # a plain string: what build() would do, without the call
                    self.nodes += 1
                    out[name] = value.value
                else:
                    out[name] = self.build(value, depth)
            return out
        raise _FileError("E004", f"unsupported YAML node {kind.__name__}", node.start_mark.line + 1)


# --------------------------------------------------------------------------- pydantic errors

_PATTERN_HINTS = {
    r"^[a-z][a-z0-9_]{1,30}$": "a name of 2-31 lower-case letters, digits or _ starting with a letter",
    r"^[a-z_][a-z0-9_]{0,127}$": "a column name of lower-case letters, digits or _",
    r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$": "an e-mail address such as team@example.com",
}


def _field_type(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation
    return None


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The pydantic model that owns the mapping at `loc` (to list its allowed keys)."""
    current: Any = Blueprint
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        current = _field_type(current, part)
        while get_origin(current) is not None or get_args(current):
            args = [a for a in get_args(current) if a is not type(None)]
            if not args:
                break
            current = args[-1] if get_origin(current) is dict else args[0]
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return sorted(info.alias or name for name, info in model.model_fields.items())


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 64
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 3, 6, 6


def _short(value: Any) -> str:
    """At most 60 characters of `value`'s repr, in time bounded by that length, not the value's
    (an aliased megabyte string can sit under thousands of errors)."""
    if isinstance(value, str):
        text = repr(value[:64])
    elif isinstance(value, (list, dict, tuple, set, frozenset)):
        text = _REPR.repr(value)
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problems_from_validation(src: SourceFile, exc: ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            owner = _model_at(loc[:-1])
            allowed = f"; expected one of: {', '.join(_allowed_keys(owner))}" if owner else ""
            out.append(src.problem(loc, "E010", f"unknown key {loc[-1]!r}{allowed}"))
        elif kind == "missing":
            out.append(src.problem(loc, "E011", f"required field {loc[-1]!r} is missing"))
        elif kind == "string_pattern_mismatch":
            pattern = err.get("ctx", {}).get("pattern", "")
            hint = _PATTERN_HINTS.get(pattern, f"text matching {pattern}")
            out.append(
                src.problem(loc, "E013", f"{_short(err['input'])} is not valid: expected {hint}")
            )
        elif isinstance(err.get("ctx", {}).get("error"), GlueTypeError):
            out.append(src.problem(loc, "E014", str(err["ctx"]["error"])))
        else:
            out.append(src.problem(loc, "E012", f"{err['msg']} (got {_short(err['input'])})"))
    return out


# --------------------------------------------------------------------------- loading


def blueprint_files(directory: Path) -> list[Path]:
    return _scan(directory)[0]


def _scan(directory: Path) -> tuple[list[Path], list[Path]]:
    """(blueprint files, hidden YAML files) of `directory`, each sorted. A hidden file (name
    starting with '.', such as `..yaml`) is never a blueprint: it is reported (W003), not read."""
    if not directory.exists():
        raise UsageError(f"blueprint directory {str(directory)!r} does not exist")
    if not directory.is_dir():
        raise UsageError(f"{str(directory)!r} is not a directory")
    files, hidden = [], []
    for p in directory.iterdir():
        if p.suffix in (".yaml", ".yml"):
            (hidden if p.name.startswith(".") else files).append(p)
    return sorted(files), sorted(hidden)


def load_file(
    path: Path, display: str | None = None
) -> tuple[Blueprint | None, SourceFile, list[Problem], Any]:
    """Parse and validate one blueprint. Returns (blueprint or None, source, problems, raw data)."""
    src, text, data, problem = _parse(path, display or str(path))
    if problem is not None:
        return None, src, [problem], None
    bp, problems = _validate(src, text, data)
    return bp, src, problems, data


def _parse(path: Path, display: str) -> tuple[SourceFile, str | None, Any, Problem | None]:
    """Read, compose and build one file: (source, text, plain data, None) or a file problem."""
    try:
        text = _read_text(path)
    except _FileError as exc:
        problem = Problem(display, exc.line, "", exc.code, exc.message)
        return SourceFile(display), None, None, problem
    return _parse_text(text, display)


def _parse_text(text: str, display: str) -> tuple[SourceFile, str | None, Any, Problem | None]:
    """Compose and build the text of one file: (source, text, plain data, None) or a problem."""
    src = SourceFile(display)
    try:
        src.root = _compose(text)
        if src.root is None:
            raise _FileError(
                "E005", "blueprint is empty: expected a mapping with domain, products, ...", 1
            )
        builder = _Builder()
        data = builder.document(src.root)
    except _FileError as exc:
        return src, None, None, Problem(src.path, exc.line, "", exc.code, exc.message)
    # lines come from the data and the recorded lines from now on: the tree can go
    src.root, src.data, src.lines = None, data, builder.lines
    return src, text, data, None


def _validate(
    src: SourceFile, text: str | None, data: Any
) -> tuple[Blueprint | None, list[Problem]]:
    if not isinstance(data, dict):
        problem = Problem(
            src.path,
            src.line_of(()),
            "",
            "E005",
            f"blueprint must be a mapping (key: value), got {type(data).__name__}",
        )
        return None, [problem]
    try:
        bp = Blueprint.model_validate(data)
    except ValidationError as exc:
        return None, _problems_from_validation(src, exc)
    src.root, src.text = None, text  # valid: keep the text, compose again on a line look-up
    return bp, []


_Loaded = tuple[Blueprint | None, SourceFile, list[Problem], Any]  # what load_file returns
_Key = tuple[str, str]  # (file name, text)


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
    """

    def __init__(self) -> None:
        self._results: dict[_Key, tuple[str, Blueprint | None, list[Problem], Any, str]] = {}
        # (key, context) -> (display, problems) of `_load_mesh`'s checks of a valid blueprint;
        # a context numbers what else they depend on: the tree's domains and the date
        self._checks: dict[tuple[_Key, int], tuple[str, list[Problem]]] = {}
        self._contexts: dict[tuple[frozenset[str], tuple[str, ...], dt.date], int] = {}
        self.parsed = 0  # files parsed and validated (the others were reused)
        self.reused = 0
        self.checked = 0  # valid blueprints checked against their tree (the others reused)

    def __len__(self) -> int:
        return len(self._results)

    def _put(self, key: _Key, display: str, loaded: _Loaded) -> None:
        bp, src, problems, data = loaded
        self.parsed += 1
        self._results[key] = (display, bp, problems, data, key[1], src.lines)

    def _get(self, key: _Key, display: str) -> _Loaded | None:
        found = self._results.get(key)
        if found is None:
            return None
        first, bp, problems, data, text, lines = found
        self.reused += 1
        # a fresh source per tree, locating lines from the same data and recorded lines
        src = (
            SourceFile(display, text=text, data=data, lines=lines)
            if data is not None
            else SourceFile(display)
        )
        return bp, src, _moved(problems, first, display), data

    def _context(self, declared: set[str], known: list[str], today: dt.date) -> int:
        """A number for what `_check_blueprint` and `_expiry_warnings` read besides the file."""
        key = (frozenset(declared), tuple(known), today)
        return self._contexts.setdefault(key, len(self._contexts))

    def _checked(
        self, key: _Key, context: int, display: str, run: Callable[[], list[Problem]]
    ) -> list[Problem]:
        found = self._checks.get((key, context))
        if found is None:
            self.checked += 1
            problems = run()
            self._checks[(key, context)] = (display, problems)
            return problems
        first, problems = found
        return _moved(problems, first, display)


def _moved(problems: list[Problem], first: str, display: str) -> list[Problem]:
    """`problems` of the file `first`, found again in the byte-identical file `display`."""
    if display == first:
        return list(problems)
    return [replace(p, file=display) for p in problems]


# Parsing (compose + build) is most of the time of a big mesh. On Linux, with no other thread in
# the process (so fork is safe) and a CPU to spare, a forked helper parses the last files while
# this process loads (parses and validates) the first ones. The helper sends the plain data
# (pickled: builtins and dates only) in chunks as it goes, so this process validates them while
# the helper parses on, instead of after it. The texts are read here before the fork, so the
# helper has them without reading or sending them. Validation and every check stay in this
# process, so the result is the serial path's. When the helper fails or hangs, what it did not
# send is loaded here. MESH_PARALLEL_LOAD=0 turns it off.
PARALLEL_MIN_FILES = 64
# This process parses and validates its share, then validates (and unpickles) the helper's,
# which parses and pickles: with this share both are busy until about the same time
# (1,000 files: 1.2-1.3 s with half each and the data sent at the end, 1.1 s now).
_PARENT_SHARE = 0.4


def _load_all(
    paths: list[Path], shared: SharedFiles | None = None
) -> list[tuple[_Loaded, _Key | None]]:
    """`load_file` of every path, in order, with its key in `shared` (None when the file could
    not be read): each distinct (name, text) is parsed once (see `SharedFiles`), on two
    processes when `_can_fork` says so."""
    shared = SharedFiles() if shared is None else shared
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
            out[i] = shared._get(key, display)
            if out[i] is None:
                todo[key] = [i]
    new = list(todo)
    first = [str(paths[todo[k][0]]) for k in new]
    for key, display, loaded in zip(new, first, _load_texts(new, first), strict=True):
        shared._put(key, display, loaded)
        indices = todo[key]
        out[indices[0]] = loaded
        for i in indices[1:]:
            out[i] = shared._get(key, str(paths[i]))
    return list(zip(out, keys, strict=True))  # type: ignore[arg-type]


def _load_one(text: str, display: str) -> _Loaded:
    src, text_kept, data, problem = _parse_text(text, display)
    if problem is not None:
        return None, src, [problem], None
    bp, problems = _validate(src, text_kept, data)
    return bp, src, problems, data


def _load_texts(keys: list[_Key], displays: list[str]) -> list[_Loaded]:
    """`_load_one` of every (name, text) key, in order; on two processes when `_can_fork`."""
    texts = [text for _, text in keys]
    if not _can_fork(len(keys)):
        return [_load_one(t, d) for t, d in zip(texts, displays, strict=True)]
    cut = int(len(keys) * _PARENT_SHARE)
    try:
        read_fd, write_fd = os.pipe()
        _widen(write_fd)
        pid = os.fork()
    except OSError:
        return [_load_one(t, d) for t, d in zip(texts, displays, strict=True)]
    if pid == 0:  # the helper: never returns, never runs the parent's exit handlers
        status = 1
        try:
            os.close(read_fd)
            _helper(texts[cut:], displays[cut:], write_fd)
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    rest = list(zip(texts[cut:], displays[cut:], strict=True))
    try:
        out = _receive(read_fd, pid, texts[:cut], displays[:cut], rest, len(keys))
    except BaseException:  # e.g. Ctrl-C: do not leave the helper behind
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(read_fd)
    return out + [_load_one(t, d) for t, d in rest[len(out) - cut :]]  # what it did not send


_CHUNK_FILES = 32  # the helper sends its results in chunks of this many files
_FRAME = struct.Struct("<Q")  # a chunk on the pipe: its length, then the pickle


def _widen(fd: int) -> None:
    """Give the pipe room for several chunks (Linux allows 1 MiB unprivileged), so the helper
    writes without waiting for this process, which reads it only between two files."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, OSError, AttributeError):  # pragma: no cover - slower, not wrong
        pass


_PIPE_BYTES = 1 << 20


def _helper(texts: list[str], displays: list[str], fd: int) -> None:
    """The forked helper: (data, lines, problem) of each text, in pickled chunks on `fd` as
    they are parsed, so the parent validates them while the helper parses the rest."""
    with os.fdopen(fd, "wb") as pipe:
        for start in range(0, len(texts), _CHUNK_FILES):
            # node trees die here: the plain data and its recorded lines go to the parent
            parsed = [
                (src.data, src.lines, problem)
                for t, d in zip(texts[start : start + _CHUNK_FILES], displays[start:])
                for src, _text, _data, problem in (_parse_text(t, d),)
            ]
            payload = pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL)
            pipe.write(_FRAME.pack(len(payload)) + payload)
            pipe.flush()


def _receive(
    fd: int,
    pid: int,
    texts: list[str],
    displays: list[str],
    rest: list[tuple[str, str]],
    n_files: int,
) -> list[_Loaded]:
    """Load this process's share (`texts`), then validate the helper's chunks of `rest` as they
    come. Returns every result in order, as far as the helper delivered them: it stops early
    when the helper fails, or is stopped when it sends nothing for `_helper_timeout`."""
    os.set_blocking(fd, False)
    buffer = bytearray()
    eof = False

    def drain() -> None:  # whatever the helper wrote so far, without waiting
        nonlocal eof
        while not eof:
            try:
                chunk = os.read(fd, 1 << 20)
            except BlockingIOError:
                return
            eof = not chunk
            buffer.extend(chunk)

    out = []
    for text, display in zip(texts, displays, strict=True):
        out.append(_load_one(text, display))
        drain()  # keeps the pipe from filling up: the helper never waits for this process
    done, pos, timeout = 0, 0, _helper_timeout(n_files)
    while done < len(rest):
        if len(buffer) - pos >= _FRAME.size:
            (size,) = _FRAME.unpack_from(buffer, pos)
            if len(buffer) - pos - _FRAME.size >= size:
                start = pos + _FRAME.size
                try:
                    chunk = pickle.loads(buffer[start : start + size])
                except (pickle.UnpicklingError, EOFError):  # pragma: no cover - never seen
                    os.kill(pid, signal.SIGKILL)
                    break
                pos = start + size
                for (text, display), (data, lines, problem) in zip(rest[done:], chunk):
                    if problem is not None:
                        out.append((None, SourceFile(display), [problem], None))
                    else:
                        src = SourceFile(display, text=text, data=data, lines=lines)
                        bp, problems = _validate(src, text, data)
                        out.append((bp, src, problems, data))
                done += len(chunk)
                continue
        if eof:  # the helper stopped before the end (it failed): the rest is done here
            break
        if not select.select([fd], [], [], timeout)[0]:  # hung (it never should): stop it
            os.kill(pid, signal.SIGKILL)
            break
        drain()
    os.waitpid(pid, 0)  # a helper that failed sent fewer chunks: the caller loads the rest
    return out


def _helper_timeout(n_files: int) -> float:
    """Seconds of silence after which the helper counts as hung: far beyond any real parse."""
    return 30.0 + 0.05 * n_files


def _can_fork(n_files: int) -> bool:
    return (
        n_files >= PARALLEL_MIN_FILES
        and os.environ.get("MESH_PARALLEL_LOAD", "1") != "0"
        and sys.platform == "linux"
        and _single_threaded()
        and _spare_cpu()
    )


def _spare_cpu() -> bool:
    """True when fewer tasks are running than this process may use CPUs (itself included), so
    the helper gets a CPU of its own: on a busy machine two processes are slower than one."""
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            running = int(fh.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):  # pragma: no cover - no /proc
        return False
    return running < len(os.sched_getaffinity(0))


def _single_threaded() -> bool:
    """True when the process has one OS thread (threads of C extensions such as gRPC count)."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # pragma: no cover - no /proc
        return False


@gc_paused  # see the module docstring: millions of young objects, no garbage cycles
def load_mesh(
    directory: str | os.PathLike,
    today: dt.date | None = None,
    only: str | None = None,
    shared: SharedFiles | None = None,
) -> LoadResult:
    """Load every blueprint under `directory`, validate each and the mesh as a whole.

    `only` loads a single domain's blueprint (a per-domain stack): the other domains are known
    by their file names only, so the cost does not grow with the mesh. Checks that need the
    other blueprints are left to the full load every PR runs (`mesh validate`).

    `shared`: per-file results of another tree loaded by the same command (`SharedFiles`): its
    files that are byte-identical here are not parsed again. The result is the same either way."""
    return _load_mesh(directory, today, only, shared)


def _load_mesh(
    directory: str | os.PathLike,
    today: dt.date | None,
    only: str | None = None,
    shared: SharedFiles | None = None,
) -> LoadResult:
    today = today or dt.date.today()
    root = Path(directory)
    files, hidden = _scan(root)
    stems = frozenset(p.stem for p in files)
    if only is not None:
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
            Severity.warning,
        )
        for p in hidden
    ]
    if not files:
        wanted = f"{only}.yaml" if only is not None else "*.yaml blueprints"
        errors.append(Problem(str(root), None, "", "E031", f"no {wanted} in {str(root)!r}"))
    shared = SharedFiles() if shared is None else shared
    valid: dict[str, Blueprint] = {}
    sources: dict[str, SourceFile] = {}
    keys: dict[str, _Key] = {}
    # domains named by any file, valid or not: avoids follow-on noise
    declared: set[str] = set(stems)
    loaded = _load_all(files, shared)
    for path, ((bp, src, problems, data), key) in zip(files, loaded, strict=True):
        errors.extend(problems)
        stem = path.stem
        declared.add(stem)
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

        def check(bp: Blueprint = bp, src: SourceFile = src) -> list[Problem]:
            return [
                *_check_blueprint(bp, src, declared, known),
                *_expiry_warnings(bp, src, today),
            ]

        for problem in shared._checked(keys[domain], context, src.path, check):
            (warnings if problem.severity is Severity.warning else errors).append(problem)
    mesh = Mesh(tuple(valid[d] for d in sorted(valid)), sources, frozenset(declared) - set(valid))
    errors.sort(key=Problem.sort_key)
    warnings.sort(key=Problem.sort_key)
    return LoadResult(mesh, errors, warnings)


def _check_blueprint(
    bp: Blueprint, src: SourceFile, domains: set[str], known: list[str]
) -> Iterator[Problem]:
    """Checks across one blueprint and the mesh. `domains` holds every domain any file names
    (valid or not, to avoid follow-on errors); `known` the valid ones (to suggest)."""
    if bp.domain in STACK_SCOPES:
        yield src.problem(
            ("domain",),
            "E047",
            f"domain name {bp.domain!r} is a stack scope (mesh:stack: all, platform or a domain "
            "name): a stack of this name would be ambiguous; choose another name",
        )
    seen_products: dict[str, int] = {}
    current_products = {p.name for p in bp.products}
    old_product_names: dict[str, int] = {}
    for pi, product in enumerate(bp.products):
        for k, old in enumerate(product.previous_names):
            loc = ("products", pi, "previous_names", k)
            if old in current_products:
                yield src.problem(
                    loc,
                    "E050",
                    f"previous_names of {product.name!r} names {old!r}, which is still a product "
                    "of this domain: a rename's old name must be gone (otherwise its grants "
                    "could be carried over to the wrong product)",
                )
            elif old in old_product_names and old_product_names[old] != pi:
                yield src.problem(
                    loc,
                    "E050",
                    f"{old!r} is already a previous name of products[{old_product_names[old]}]: "
                    "two products cannot both have been it",
                )
            old_product_names.setdefault(old, pi)
    for pi, product in enumerate(bp.products):
        at: Loc = ("products", pi)
        if product.name in seen_products:
            yield src.problem(
                at + ("name",),
                "E022",
                f"product {product.name!r} is already defined at products[{seen_products[product.name]}]",
            )
        seen_products.setdefault(product.name, pi)
        if product.name in _RESERVED:
            yield _reserved_problem(src, at + ("name",), "product", product.name)
        columns: dict[str, int] = {}
        schema = {c.name: c for c in product.columns}
        for ci, col in enumerate(product.columns):
            if col.name in _RESERVED:
                yield _reserved_problem(src, at + ("schema", ci, "name"), "column", col.name)
            if col.name in columns:
                yield src.problem(
                    at + ("schema", ci, "name"),
                    "E023",
                    f"column {col.name!r} is already defined at schema[{columns[col.name]}]",
                )
            columns.setdefault(col.name, ci)
        yield from _check_tags(product, src, at)
        yield from _check_renamed_columns(product, src, at)
        for ci, col in enumerate(product.columns):
            yield from _check_comment(col, src, at + ("schema", ci))
        partitions: set[str] = set()
        for ki, key in enumerate(product.partition_keys):
            yield from _check_comment(key, src, at + ("partition_keys", ki))
            if key.pii:
                yield src.problem(
                    at + ("partition_keys", ki, "pii"),
                    "E046",
                    f"partition key {key.name!r} of {product.name!r} is marked PII: partition "
                    "values are S3 object key segments, readable by every consumer of the "
                    "product whatever columns it is granted; partition by a non-personal "
                    "value (a date, a region) and keep the PII in a schema column",
                )
            elif _looks_personal(key.name):
                yield src.problem(
                    at + ("partition_keys", ki, "name"),
                    "W008",
                    f"partition key {key.name!r} of {product.name!r} looks like personal data: "
                    "partition values are readable by every consumer, whatever columns it is "
                    "granted; if it is personal, partition by something else",
                    Severity.warning,
                )
            if key.name in _RESERVED:
                yield _reserved_problem(
                    src, at + ("partition_keys", ki, "name"), "partition key", key.name
                )
            if key.name in columns:
                yield src.problem(
                    at + ("partition_keys", ki, "name"),
                    "E024",
                    f"partition key {key.name!r} repeats schema column {key.name!r}: a partition "
                    "key is its own column, remove it from one of the two lists",
                )
            elif key.name in partitions:
                yield src.problem(
                    at + ("partition_keys", ki, "name"),
                    "E023",
                    f"partition key {key.name!r} is defined twice",
                )
            partitions.add(key.name)
        consumers: dict[str, int] = {}
        for gi, consumer in enumerate(product.consumers):
            yield from _check_consumer(
                bp, product, schema, consumer, src, at + ("consumers", gi), domains, known
            )
            if consumer.domain in consumers:
                yield src.problem(
                    at + ("consumers", gi, "domain"),
                    "E030",
                    f"domain {consumer.domain!r} is already a consumer at "
                    f"consumers[{consumers[consumer.domain]}]; merge the two grants",
                )
            consumers.setdefault(consumer.domain, gi)
    for ei, exc in enumerate(bp.exceptions):
        if exc.product not in seen_products:
            yield src.problem(
                ("exceptions", ei, "product"),
                "E034",
                f"exception names product {exc.product!r}, which is not in this blueprint",
            )


_RESERVED = reserved.SELECT_RESERVED | reserved.DDL_RESERVED
_NAME = re.compile(NAME_PATTERN)
STACK_SCOPES = frozenset({"all", "platform"})  # mesh:stack values that are not a domain
GLUE_COMMENT_MAX = 255  # characters of a Glue column comment
# name parts of a partition key that suggest it identifies a person (W008)
_PERSONAL_PARTS = frozenset(
    {
        "email", "mail", "phone", "mobile", "ssn", "passport", "birth", "birthday", "dob",
        "address", "ip", "iban", "card", "name", "firstname", "lastname", "surname", "customer",
        "user", "person", "employee", "patient", "member", "citizen", "national", "tax",
    }
)  # fmt: skip


def _looks_personal(name: str) -> bool:
    return not _PERSONAL_PARTS.isdisjoint(name.split("_"))


def _check_tags(product: Product, src: SourceFile, at: Loc) -> Iterator[Problem]:
    """A product's own tags as AWS takes them, on top of the mesh's governance tags."""
    for key, value in product.tags.items():
        if key.lower().startswith(tags.RESERVED_PREFIX):
            yield src.problem(
                at + ("tags", key),
                "E048",
                f"tag key {_short(key)} starts with {tags.RESERVED_PREFIX!r}, which AWS reserves "
                "for its own tags: rename the tag",
            )
        if len(value) > tags.MAX_VALUE:
            yield src.problem(
                at + ("tags", key),
                "E048",
                f"tag {_short(key)} has a value of {len(value)} characters; AWS allows "
                f"{tags.MAX_VALUE}",
            )
    total = len(set(product.tags) | set(tags.GOVERNANCE))
    if total > tags.MAX_TAGS:
        yield src.problem(
            at + ("tags",),
            "E048",
            f"{product.name!r} would carry {total} tags ({len(product.tags)} of its own and the "
            f"mesh's {len(tags.GOVERNANCE)}: {', '.join(tags.GOVERNANCE)}); AWS allows "
            f"{tags.MAX_TAGS} per resource",
        )


def _check_comment(col: Column, src: SourceFile, at: Loc) -> Iterator[Problem]:
    if col.description is not None and len(col.description) > GLUE_COMMENT_MAX:
        yield src.problem(
            at + ("description",),
            "E048",
            f"the description of {col.name!r} is {len(col.description)} characters; Glue "
            f"takes column comments of at most {GLUE_COMMENT_MAX}",
        )


def _check_renamed_columns(product: Product, src: SourceFile, at: Loc) -> Iterator[Problem]:
    """A column's previous name may not be a current column (or partition key) of the product,
    nor another column's previous name: a rename claimed for a name still in use would map
    existing grants onto another column."""
    columns = [("schema", i, c) for i, c in enumerate(product.columns)]
    columns += [("partition_keys", i, c) for i, c in enumerate(product.partition_keys)]
    current = {c.name for _, _, c in columns}
    claimed: dict[str, str] = {}
    for part, i, col in columns:
        for k, old in enumerate(col.previous_names):
            loc = at + (part, i, "previous_names", k)
            if old in current:
                yield src.problem(
                    loc,
                    "E050",
                    f"previous_names of column {col.name!r} names {old!r}, which is still a "
                    f"column of {product.name!r}: a rename's old name must be gone (otherwise "
                    "grants of one column would be carried over to another)",
                )
            elif old in claimed and claimed[old] != col.name:
                yield src.problem(
                    loc,
                    "E050",
                    f"{old!r} is already a previous name of column {claimed[old]!r}: two columns "
                    "cannot both have been it",
                )
            claimed.setdefault(old, col.name)


def _reserved_problem(src: SourceFile, loc: Loc, what: str, name: str) -> Problem:
    table = " (the Glue table's name)" if what == "product" else ""
    if reserved.reserved_in(name) == "select":
        query = f"SELECT * FROM db.{name}" if what == "product" else f"SELECT {name} FROM t"
        return src.problem(
            loc,
            "E035",
            f"{what} name {name!r}{table} is a reserved word of Athena SQL: an unquoted query "
            f'such as {query} fails, so every consumer would have to quote it ("{name}"); '
            f"choose another name (e.g. {name}_value)",
        )
    return src.problem(
        loc,
        "W004",
        f"{what} name {name!r}{table} is reserved in Athena DDL (Hive): queries work, but DDL "
        f"written by hand (CREATE TABLE, ALTER TABLE ... ADD PARTITION) must quote it as `{name}`",
        Severity.warning,
    )


def _one_of(names: Iterable[str], total: int) -> str:
    """The first names of a list for a message, bounded however long the list (a hostile
    blueprint can name thousands of unknown domains or columns, each one an error)."""
    shown = list(itertools.islice(names, _MAX_LISTED))
    more = total - len(shown)
    return ", ".join(shown) + (f", ... ({more} more)" if more > 0 else "")


_MAX_LISTED = 20


def _check_consumer(
    bp: Blueprint,
    product: Product,
    schema: dict[str, Column],
    consumer: Consumer,
    src: SourceFile,
    at: Loc,
    domains: set[str],
    known: list[str],
) -> Iterator[Problem]:
    if consumer.domain == bp.domain:
        yield src.problem(
            at + ("domain",),
            "E029",
            f"domain {bp.domain!r} lists itself as consumer of {product.name!r}; its producer "
            "role already reads and writes its own products",
        )
    elif consumer.domain not in domains:
        yield src.problem(
            at + ("domain",),
            "E025",
            f"consumer domain {consumer.domain!r} does not exist; expected one of: "
            f"{_one_of((d for d in known if d != bp.domain), len(known) - 1) or '(no other domains)'}",
        )
    if consumer.columns is not None:
        keys = {k.name for k in product.partition_keys}
        for ci, name in enumerate(consumer.columns):
            if name in keys:
                yield src.problem(
                    at + ("columns", ci),
                    "E026",
                    f"{name!r} is a partition key of {product.name!r}: every grant reads the "
                    "partition keys (their values are in the object keys); list schema "
                    f"columns only: {_one_of(schema, len(schema))}",
                )
            elif name not in schema:
                yield src.problem(
                    at + ("columns", ci),
                    "E026",
                    f"column {name!r} is not in the schema of {product.name!r}; expected one of: "
                    f"{_one_of(schema, len(schema))}",
                )
            elif schema[name].pii and not consumer.include_pii:
                yield src.problem(
                    at + ("columns", ci),
                    "E027",
                    f"column {name!r} is PII: sharing it needs include_pii: true and approved_by",
                )
    if consumer.include_pii and not consumer.approved_by:
        yield src.problem(
            at + ("approved_by",),
            "E028",
            "include_pii: true needs approved_by (the e-mail of whoever approved sharing PII)",
        )
    if consumer.s3_direct and not _every_column(product, schema, consumer):
        missing = sorted(set(schema) - set(access_readable(product, consumer)))
        yield src.problem(
            at + ("s3_direct",),
            "E037",
            f"s3_direct needs a grant of every column of {product.name!r}: direct S3 read "
            "exposes whole files, which is the path around a column restriction; this grant "
            f"does not cover {_one_of(missing, len(missing))}"
            + (
                " (PII columns need include_pii: true and approved_by)"
                if product.pii_columns & set(missing)
                else ""
            )
            + ". Drop s3_direct (read through Lake Formation) or grant every column",
        )


def _every_column(product: Product, schema: dict[str, Column], consumer: Consumer) -> bool:
    if consumer.columns is None:
        return consumer.include_pii or not product.pii_columns
    return set(consumer.columns) >= set(schema)


def access_readable(product: Product, consumer: Consumer) -> list[str]:
    """The columns a grant reads, as the access model counts them (without importing it)."""
    if consumer.columns is not None:
        return list(consumer.columns)
    return [c.name for c in product.columns if consumer.include_pii or not c.pii]


def _expiry_warnings(bp: Blueprint, src: SourceFile, today: dt.date) -> Iterator[Problem]:
    for pi, product in enumerate(bp.products):
        for gi, consumer in enumerate(product.consumers):
            if consumer.expires is None:
                continue
            at = ("products", pi, "consumers", gi, "expires")
            days = (consumer.expires - today).days
            if days < 0:
                yield src.problem(
                    at,
                    "W002",
                    f"grant of {bp.domain}.{product.name} to {consumer.domain} expired on "
                    f"{consumer.expires.isoformat()} and grants nothing; remove it or renew it",
                    Severity.warning,
                )
            elif days <= EXPIRY_WARNING_DAYS:
                yield src.problem(
                    at,
                    "W001",
                    f"grant of {bp.domain}.{product.name} to {consumer.domain} expires in {days} "
                    f"day(s), on {consumer.expires.isoformat()}",
                    Severity.warning,
                )
