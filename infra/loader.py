"""Load a directory of blueprints into one Mesh model, collecting every problem with its line.

YAML is composed with libyaml (PyYAML's C composer): the node tree keeps line numbers and lets us
refuse duplicate keys, custom tags and alias bombs ourselves, instead of trusting a constructor
that silently overwrites duplicates. Line numbers are looked up in the node tree only when a
problem is reported, so valid input pays nothing for them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from infra.gluetypes import GlueTypeError
from infra.problems import Problem, Severity
from infra.spec import Blueprint, Consumer, Product

try:  # libyaml is in every PyYAML wheel; the pure-Python loader is a slow but correct fallback
    _YamlLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _YamlLoader = yaml.SafeLoader

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
_constructor = yaml.constructor.SafeConstructor()


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
    """One blueprint file: its display path and composed node tree (for line look-ups)."""

    path: str
    root: yaml.Node | None = None

    def line_of(self, loc: Loc) -> int | None:
        node = self.root
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


@dataclass(frozen=True)
class Mesh:
    """Every valid blueprint of the mesh, sorted by domain. The one model everything reads."""

    blueprints: tuple[Blueprint, ...]
    sources: dict[str, SourceFile] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_domain", {b.domain: b for b in self.blueprints})

    @property
    def domains(self) -> list[str]:
        return [b.domain for b in self.blueprints]

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


@dataclass
class LoadResult:
    mesh: Mesh
    errors: list[Problem]
    warnings: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.errors


# --------------------------------------------------------------------------- reading YAML


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as fh:
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


def _compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_YamlLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or str(exc)
        if exc.context:
            what = f"{what} ({exc.context})"
        raise _FileError("E002", f"YAML syntax error: {what}", mark.line + 1 if mark else None)
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
    """Turns a node tree into plain Python values, refusing what a blueprint never needs."""

    def __init__(self) -> None:
        self.nodes = 0

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        self.nodes += 1
        line = node.start_mark.line + 1
        if self.nodes > MAX_NODES:
            raise _FileError(
                "E004",
                f"more than {MAX_NODES} YAML nodes once aliases are expanded (alias bomb?)",
                line,
            )
        if depth > MAX_DEPTH:
            raise _FileError("E004", f"YAML nests deeper than {MAX_DEPTH} levels", line)
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _SCALAR_TAGS:
                raise _FileError(
                    "E004", f"YAML tag {node.tag!r} is not allowed in a blueprint", line
                )
            try:
                return _constructor.yaml_constructors[node.tag](_constructor, node)
            except (ValueError, yaml.YAMLError) as exc:
                raise _FileError("E012", f"invalid scalar {node.value!r}: {exc}", line) from None
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                raise _FileError(
                    "E004", f"YAML tag {node.tag!r} is not allowed in a blueprint", line
                )
            return [self.build(item, depth + 1) for item in node.value]
        if isinstance(node, yaml.MappingNode):
            if node.tag != "tag:yaml.org,2002:map":
                raise _FileError(
                    "E004", f"YAML tag {node.tag!r} is not allowed in a blueprint", line
                )
            out: dict[str, Any] = {}
            first_line: dict[str, int] = {}
            for key, value in node.value:
                kline = key.start_mark.line + 1
                if not isinstance(key, yaml.ScalarNode):
                    raise _FileError("E004", "mapping keys must be plain strings", kline)
                if key.tag == "tag:yaml.org,2002:merge":
                    raise _FileError(
                        "E004", "merge keys (<<) are not supported in blueprints", kline
                    )
                name = key.value  # the key as written: `on:` stays "on", `1:` stays "1"
                if name in out:
                    raise _FileError(
                        "E003",
                        f"duplicate key {name!r} (first defined on line {first_line[name]})",
                        kline,
                    )
                first_line[name] = kline
                out[name] = self.build(value, depth + 1)
            return out
        raise _FileError("E004", f"unsupported YAML node {type(node).__name__}", line)


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


def _short(value: Any) -> str:
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
    if not directory.exists():
        raise UsageError(f"blueprint directory {str(directory)!r} does not exist")
    if not directory.is_dir():
        raise UsageError(f"{str(directory)!r} is not a directory")
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix in (".yaml", ".yml") and not p.name.startswith(".")
    )


def load_file(
    path: Path, display: str | None = None
) -> tuple[Blueprint | None, SourceFile, list[Problem], Any]:
    """Parse and validate one blueprint. Returns (blueprint or None, source, problems, raw data)."""
    src = SourceFile(display or str(path))
    try:
        text = _read_text(path)
        src.root = _compose(text)
        if src.root is None:
            raise _FileError(
                "E005", "blueprint is empty: expected a mapping with domain, products, ...", 1
            )
        data = _Builder().build(src.root)
    except _FileError as exc:
        return None, src, [Problem(src.path, exc.line, "", exc.code, exc.message)], None
    if not isinstance(data, dict):
        problem = Problem(
            src.path,
            src.line_of(()),
            "",
            "E005",
            f"blueprint must be a mapping (key: value), got {type(data).__name__}",
        )
        return None, src, [problem], data
    try:
        return Blueprint.model_validate(data), src, [], data
    except ValidationError as exc:
        return None, src, _problems_from_validation(src, exc), data


def load_mesh(directory: str | os.PathLike, today: dt.date | None = None) -> LoadResult:
    """Load every blueprint under `directory`, validate each and the mesh as a whole."""
    today = today or dt.date.today()
    root = Path(directory)
    files = blueprint_files(root)
    errors: list[Problem] = []
    warnings: list[Problem] = []
    if not files:
        errors.append(
            Problem(str(root), None, "", "E031", f"no *.yaml blueprints in {str(root)!r}")
        )
    valid: dict[str, Blueprint] = {}
    sources: dict[str, SourceFile] = {}
    declared: set[str] = set()  # domains named by any file, valid or not: avoids follow-on noise
    for path in files:
        bp, src, problems, data = load_file(path, str(path))
        errors.extend(problems)
        stem = path.stem
        declared.add(stem)
        named = data.get("domain") if isinstance(data, dict) else None
        if isinstance(named, str):
            declared.add(named)
            if named != stem:
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
    for domain in sorted(valid):
        errors.extend(_check_blueprint(valid[domain], sources[domain], declared, sorted(valid)))
        warnings.extend(_expiry_warnings(valid[domain], sources[domain], today))
    mesh = Mesh(tuple(valid[d] for d in sorted(valid)), sources)
    errors.sort(key=Problem.sort_key)
    warnings.sort(key=Problem.sort_key)
    return LoadResult(mesh, errors, warnings)


def _check_blueprint(
    bp: Blueprint, src: SourceFile, domains: set[str], known: list[str]
) -> Iterator[Problem]:
    """Checks across one blueprint and the mesh. `domains` holds every domain any file names
    (valid or not, to avoid follow-on errors); `known` the valid ones (to suggest)."""
    seen_products: dict[str, int] = {}
    for pi, product in enumerate(bp.products):
        at: Loc = ("products", pi)
        if product.name in seen_products:
            yield src.problem(
                at + ("name",),
                "E022",
                f"product {product.name!r} is already defined at products[{seen_products[product.name]}]",
            )
        seen_products.setdefault(product.name, pi)
        columns: dict[str, int] = {}
        for ci, col in enumerate(product.columns):
            if col.name in columns:
                yield src.problem(
                    at + ("schema", ci, "name"),
                    "E023",
                    f"column {col.name!r} is already defined at schema[{columns[col.name]}]",
                )
            columns.setdefault(col.name, ci)
        partitions: set[str] = set()
        for ki, key in enumerate(product.partition_keys):
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
                bp, product, consumer, src, at + ("consumers", gi), domains, known
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


def _check_consumer(
    bp: Blueprint,
    product: Product,
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
            f"{', '.join(d for d in known if d != bp.domain) or '(no other domains)'}",
        )
    schema = {c.name: c for c in product.columns}
    if consumer.columns is not None:
        for ci, name in enumerate(consumer.columns):
            if name not in schema:
                yield src.problem(
                    at + ("columns", ci),
                    "E026",
                    f"column {name!r} is not in the schema of {product.name!r}; expected one of: "
                    f"{', '.join(schema)}",
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
