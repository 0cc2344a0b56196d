"""A parse cache on disk for the PR check: what loading one file yields, kept between runs.

`mesh diff --validate` and `mesh validate` with `--cache-dir DIR` (or `MESH_CACHE_DIR`) keep, per
blueprint file, the plain data its YAML builds to, the line table the builder recorded and the
file's own problems (YAML, types, unknown keys: what `load_file` reports). A later run finds a
file whose name and text are unchanged there and does not compose or build it again; a file
without problems is still validated into its model from the cached data (the model is what every
later check reads), and every check across files, governance, names and quotas runs as always.
The result is the one a run without the cache gives (tests/test_parse_cache.py).

An entry is keyed by (file name, SHA-256 of the text, the mesh fingerprint, `FORMAT`, the
validation context): the fingerprint is the package version plus a digest of the loader's and the
models' source and the versions of Python, PyYAML and pydantic, so any change of what a parse
yields misses every old entry. An entry is JSON (data, never code: nothing is unpickled), one
header line with its key and the SHA-256 of the body, then the body. An entry whose header does
not match the key, whose body does not match its checksum, or that does not decode into what a
parse gives (wrong types, lines that do not fit the data) is ignored: a miss, never an error. The
checksum catches a damaged entry, not a forged one: the directory is as trusted as whoever may
write it (in the written workflow, the default branch's runs: `infra/scaffold/ci.py`).

Writes go to a temporary file in the same directory, then `os.replace`: a concurrent reader sees
the whole entry or none, and two runs writing the same entry write the same bytes. A hit touches
the entry's modification time, so a job can drop the entries it did not use before saving the
directory (the written workflow does).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import sys
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.errors import Problem, Severity

FORMAT = 2  # bump when an entry's layout or meaning changes
ENV = "MESH_CACHE_DIR"
SUBDIR = f"parse-v{FORMAT}"
# the sources whose change can change what a file's load yields (a dev checkout keeps its version)
_FINGERPRINTED = ("blueprints", "model")
_LINE_ITEM = array("I").itemsize


def _fingerprint() -> str:
    """The mesh version, a digest of the loader's and models' source, and the versions of
    Python and of the libraries that parse and validate."""
    import pydantic
    import pydantic_core
    import yaml

    try:
        from importlib.metadata import version

        mesh = version("mesh-provisioner")
    except Exception:  # noqa: BLE001 - not installed: the source digest still keys it
        mesh = "unknown"
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    sources = [root / "errors.py"]
    for sub in _FINGERPRINTED:
        sources += sorted((root / sub).glob("*.py"))
    for path in sources:
        try:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        except OSError:
            digest.update(path.name.encode() + b"\0missing\0")
    parts = [
        mesh,
        digest.hexdigest(),
        sys.version.split()[0],
        yaml.__version__,
        pydantic.VERSION,
        pydantic_core.__version__,
    ]
    return "/".join(parts)


def _context_key(context: dict | None) -> str:
    return json.dumps(context, sort_keys=True, default=repr)


class ParseCache:
    """The entries under `directory` (created on the first write). `hits`, `misses`, `ignored`
    (entries present but not trusted) and `written` count what this process did."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self._fingerprint: str | None = None
        self.hits = self.misses = self.ignored = self.written = 0

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = _fingerprint()
        return self._fingerprint

    def _header(self, name: str, text: str, context: dict | None) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "mesh": self.fingerprint,
            "name": name,
            "sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
            "context": _context_key(context),
        }

    def _keyed(self, name: str, text: str, context: dict | None) -> tuple[dict[str, Any], Path]:
        """(the entry's header without its body checksum, where the entry is)."""
        header = self._header(name, text, context)
        key = json.dumps(header, sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()
        return header, self.directory / SUBDIR / f"{digest}.json"

    def path(self, name: str, text: str, context: dict | None) -> Path:
        """Where the entry of this file would be."""
        return self._keyed(name, text, context)[1]

    def get(self, name: str, text: str, context: dict | None) -> Entry | None:
        """The entry of this file, or None: absent, unreadable, foreign or damaged."""
        header, path = self._keyed(name, text, context)
        try:
            raw = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        entry = _decode(raw, header)
        if entry is None:
            self.ignored += 1
            return None
        self.hits += 1
        try:
            os.utime(path)  # used now: see the module docstring (pruning)
        except OSError:
            pass
        return entry

    def put(
        self,
        name: str,
        text: str,
        context: dict | None,
        display: str,
        data: Any,
        lines: array | None,
        problems: list[Problem],
        checks: list[Problem] | None = None,
        same_model: Callable[[bytes], bool] | None = None,
    ) -> None:
        """Store what loading this file gave; nothing when it cannot be stored exactly (a value
        JSON does not give back as it was) or the directory cannot be written. `checks`: the
        valid blueprint's own checks (`checks.file_problems`); `same_model(data JSON)`: whether
        validating the stored data JSON gives the model the parse gave (then a warm run
        validates the entry's bytes directly: `Entry.model`)."""
        header, path = self._keyed(name, text, context)
        encoded = _encode_body(display, data, lines, problems, checks)
        if encoded is None:
            return
        meta, data_json = encoded
        if same_model is not None and not problems and same_model(data_json):
            meta = meta[:-1] + b',"model":true}'
        body = meta + b"\n" + data_json
        header["body"] = hashlib.sha256(body).hexdigest()
        raw = json.dumps(header, sort_keys=True).encode() + b"\n" + body
        back = _decode(raw, {k: v for k, v in header.items() if k != "body"})
        same = back is not None and back.decoded() and _same(back.data, data)
        if (
            not same
            or back.lines != lines  # type: ignore[union-attr]
            or back.problems != problems  # type: ignore[union-attr]
            or back.checks != checks  # type: ignore[union-attr]
        ):
            return  # would not read back as stored: parse it every time instead
        import tempfile  # only a run that stores pays for the import

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(raw)
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError:
            return  # a read-only or full disk: the check runs without storing
        self.written += 1


class Entry:
    """One file's cached load: its recorded lines (None when it did not build), its problems as
    first found (under `display`), a valid blueprint's own checks (`checks`, else None), and
    its plain data, decoded on first use (`data`). `model`: the write checked that validating
    `data_json` gives the parse's model (`ParseCache.put`)."""

    __slots__ = ("_data", "checks", "data_json", "dates", "display", "lines", "model", "problems")

    def __init__(
        self,
        display: str,
        data_json: bytes,
        dates: list,
        lines: array | None,
        problems: list[Problem],
        checks: list[Problem] | None = None,
        model: bool = False,
    ) -> None:
        self.display, self.data_json, self.dates = display, data_json, dates
        self.lines, self.problems, self.checks, self.model = lines, problems, checks, model
        self._data: Any = _UNDECODED

    def decoded(self) -> bool:
        """Decode the data now: False when it does not decode into what a parse gives."""
        if self._data is _UNDECODED:
            try:
                self._data = _decode_data(self.data_json, self.dates)
            except Exception:  # noqa: BLE001 - a damaged entry is a miss, never an error
                self._data = _FAILED
        return self._data is not _FAILED

    @property
    def data(self) -> Any:
        """The plain data (None when it does not decode: only a forged entry whose model
        validated, see `Entry.model`, gets that far, and then a line is not found)."""
        return self._data if self.decoded() else None


_UNDECODED, _FAILED = object(), object()


# ------------------------------------------------------------------ encoding

_DATE, _DATETIME = "date", "datetime"


def _encode_body(
    display: str,
    data: Any,
    lines: array | None,
    problems: list[Problem],
    checks: list[Problem] | None = None,
) -> tuple[bytes, bytes] | None:
    """(the meta line, the data line) of an entry's body; None when JSON cannot hold it."""
    dates: list[list[Any]] = []
    if not _collect_dates(data, [], dates):
        return None
    line_bytes = None
    if lines is not None:
        copy = array("I", lines)
        if sys.byteorder != "little":  # pragma: no cover - stored little-endian everywhere
            copy.byteswap()
        line_bytes = base64.b64encode(copy.tobytes()).decode("ascii")
    meta = {
        "display": display,
        "dates": dates,
        "lines": line_bytes,
        "problems": [_problem_row(p) for p in problems],
        "checks": None if checks is None else [_problem_row(p) for p in checks],
    }
    try:
        data_json = json.dumps(data, default=_date_text, allow_nan=False, separators=(",", ":"))
        return json.dumps(meta, separators=(",", ":")).encode(), data_json.encode()
    except (TypeError, ValueError):
        return None


def _problem_row(p: Problem) -> list:
    return [p.file, p.line, p.path, p.code, p.message, p.severity.value]


def _date_text(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _collect_dates(value: Any, at: list, out: list) -> bool:
    """Record the path and kind of every date and datetime in `value`; False when `value` holds
    anything but what the YAML builder makes (dicts with string keys, lists, scalars)."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not _collect_dates(item, [*at, key], out):
                return False
        return True
    if kind is list:
        return all(_collect_dates(item, [*at, i], out) for i, item in enumerate(value))
    if kind is dt.datetime:
        out.append([at, _DATETIME])
        return True
    if kind is dt.date:
        out.append([at, _DATE])
        return True
    return kind in (str, int, float, bool, type(None))


def _decode(raw: bytes, expected: dict[str, Any]) -> Entry | None:
    """The entry in `raw` when its header is `expected` plus the body's checksum and the body
    checks out; else None. Never raises on bad input. The data of an entry whose model the
    write checked (`Entry.model`) is decoded when first used; any other's is decoded here."""
    try:
        head, _, body = raw.partition(b"\n")
        header = json.loads(head)
        if (
            not isinstance(header, dict)
            or header.pop("body", None) != hashlib.sha256(body).hexdigest()
        ):
            return None
        if header != expected:
            return None
        meta_line, newline, data_json = body.partition(b"\n")
        if not newline:
            return None
        doc = json.loads(meta_line)
        display, dates, model = doc["display"], doc["dates"], doc.get("model", False)
        if type(display) is not str or type(dates) is not list or model not in (True, False):
            return None
        lines = None
        if doc["lines"] is not None:
            lines = array("I")
            lines.frombytes(base64.b64decode(doc["lines"], validate=True))
            if sys.byteorder != "little":  # pragma: no cover
                lines.byteswap()
        problems = [_problem(row) for row in doc["problems"]]
        checks = None if doc["checks"] is None else [_problem(row) for row in doc["checks"]]
        entry = Entry(display, data_json, dates, lines, problems, checks, model)
        if model and lines is not None and not problems:
            return entry  # a valid blueprint: its model is validated from `data_json`
        if not entry.decoded():
            return None
        data = entry.data
        if lines is None and data is not None:
            return None
        if (lines is None or type(data) is not dict) and not problems:  # not a blueprint
            return None
        return entry
    except Exception:  # noqa: BLE001 - anything wrong with an entry makes it a miss
        return None


def _decode_data(data_json: bytes, dates: list) -> Any:
    """The plain data of an entry, its dates restored; raises when it is not what a parse
    gives."""
    data = json.loads(data_json)
    for at, kind in dates:
        parent, last = _parent(data, at)
        text = parent[last]
        if type(text) is not str:
            raise ValueError("a date that is not text")
        parent[last] = (dt.datetime if kind == _DATETIME else dt.date).fromisoformat(text)
        if kind == _DATE and type(parent[last]) is not dt.date:
            raise ValueError("a date-time where a date was")
    return data


def _problem(row: Any) -> Problem:
    f, line, path, code, msg, severity = row
    return Problem(_text(f), _line(line), _text(path), _text(code), _text(msg), Severity(severity))


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types throughout (`==` alone takes 1 for 1.0 and True)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dt.datetime:
        return a == b and a.tzinfo == b.tzinfo
    return a == b


def _parent(data: Any, at: list) -> tuple[Any, Any]:
    if not at:
        raise ValueError("a date cannot be the whole document")
    node = data
    for part in at[:-1]:
        node = node[part]
    if type(node) is dict and type(at[-1]) is str and at[-1] in node:
        return node, at[-1]
    if type(node) is list and type(at[-1]) is int and 0 <= at[-1] < len(node):
        return node, at[-1]
    raise ValueError("no such place")


def _text(value: Any) -> str:
    if type(value) is not str:
        raise ValueError("expected text")
    return value


def _line(value: Any) -> int | None:
    if value is not None and type(value) is not int:
        raise ValueError("expected a line number")
    return value


def from_option(directory: str | os.PathLike | None) -> ParseCache | None:
    """The cache of `--cache-dir` (the CLI resolves `MESH_CACHE_DIR` into it), or None."""
    if directory is None or str(directory) == "":
        return None
    return ParseCache(directory)
