"""Reading a blueprint file as hostile input, and YAML into plain data.

A file that is a symbolic link out of its directory, a FIFO or a device is refused before it is
opened; one over MAX_FILE_BYTES is not read at all; bytes that are not UTF-8, or hold NUL, are an
error with their line. YAML is composed with libyaml (PyYAML's C composer), and `_Builder` turns
the node tree into plain values itself, refusing what a blueprint never needs (custom tags, merge
keys, non-string keys, duplicate keys that a constructor would silently overwrite) and counting
nodes with aliases expanded, so an alias bomb stops at MAX_NODES. Hostile input therefore costs
time and memory in proportion to its bounded size (tests/test_hostile_input.py).

The builder records the line of every key and item as it goes (`infra.model.source`), so the
node tree can be dropped: reporting an error never parses the file again. Scalars' implicit
tags are resolved once per distinct scalar and plain strings skip PyYAML's constructor: the
parse is most of the time a large mesh takes to load (bench/validate_bench.py).
"""

from __future__ import annotations

import functools
import os
import re
import stat
from array import array
from pathlib import Path
from typing import Any

import yaml

from infra.errors import Problem
from infra.model.source import SourceFile

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


class _FileError(Exception):
    def __init__(self, code: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.line = code, message, line


def _check_link(path: Path, within: Path | None = None) -> None:
    """A symbolic link may point at another file of the blueprint directory (`within`, by
    default the file's own), never outside it: what a pull request adds must be reviewable in
    the directory it changes, and the checks must not read (or print pieces of) files elsewhere
    on the machine that runs them."""
    try:
        target = path.resolve(strict=True)
        inside = target.is_relative_to((within or path.parent).resolve(strict=True))
    except (OSError, RuntimeError):  # dangling, a loop, no permission
        raise _FileError("E001", "symbolic link that points to no readable file") from None
    if not inside:
        raise _FileError(
            "E001",
            f"symbolic link to {str(target)!r}, outside the blueprint directory: refused (a "
            "blueprint must be a file of the directory under review)",
        )


def _read_raw(path: Path, within: Path | None = None, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a file of the directory under review, read as hostile input: a link out of
    the directory (`within`: the file, and every directory on its way, must resolve inside it),
    a FIFO, a device or a file over `limit` bytes is refused (`_FileError`) before more than
    `limit` + 1 bytes are read."""
    try:
        if path.is_symlink() or within is not None:
            _check_link(path, within)
        # O_NONBLOCK: a FIFO must not block the open; fstat then refuses anything but a file
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise _FileError(
                    "E001", "not a regular file (a directory, FIFO, socket or device): refused"
                )
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise _FileError("E001", f"cannot read file: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise _FileError(
            "E001", f"file is larger than {limit // 1024} KiB; a blueprint should be small"
        )
    return raw


def read_bytes(path: Path, within: Path | None = None, limit: int = MAX_FILE_BYTES) -> bytes | None:
    """The bytes of a file of the directory under review (a blueprint, the platform file, a
    stack config; `within`: the directory it must stay in, e.g. the repository of its
    CODEOWNERS), or None when it is absent or refused as `_read_raw` refuses it: what compares
    two trees' files byte for byte reads, never more than a blueprint may hold."""
    try:
        return _read_raw(path, within, limit)
    except _FileError:
        return None


def _read_text(path: Path) -> str:
    return _decode(_read_raw(path))


def _decode(raw: bytes) -> str:
    """The text of a file's bytes: UTF-8 without NUL (a `_FileError` at the line otherwise)."""
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


def _parse_text(text: str, display: str) -> tuple[SourceFile, str | None, Any, Problem | None]:
    """Compose and build the text of one file: (source, text, plain data, None) or a problem."""
    src = SourceFile(display)
    try:
        root = _compose(text)
        if root is None:
            raise _FileError(
                "E005", "blueprint is empty: expected a mapping with domain, products, ...", 1
            )
        builder = _Builder()
        data = builder.document(root)
    except _FileError as exc:
        return src, None, None, Problem(src.path, exc.line, "", exc.code, exc.message)
    # lines come from the data and the recorded lines from now on: the tree can go
    src.data, src.lines = data, builder.lines
    return src, text, data, None
