"""`mesh new domain` and `mesh new product`: a blueprint, or a product in one, that validates.

The text follows the sample mesh's style (flow mappings for the owner and the columns, the
empty sections written out), values quoted only where YAML needs it. Before anything is
written, the directory with the new text is checked by `mesh validate`'s pipeline in a
temporary copy: errors in the new file (or, when it has none, elsewhere in the tree) mean
nothing is written. An existing domain file or product is never overwritten.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import ValidationError

from infra import api
from infra.blueprints.load import load_file, tree_files
from infra.errors import MeshError, Problem, UsageError
from infra.model.platform import MESH_FILE, PLATFORM
from infra.model.spec import NAME_PATTERN, Classification, Column, DataFormat, Product


class Refused(MeshError):
    """The file or product exists, the domain does not, or the result would not validate
    (exit 1); `problems` says why, with file and line where there are some."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass
class Written:
    path: Path
    warnings: list[Problem] = field(default_factory=list)


# a plain scalar YAML reads back as this same string (not a number, date, bool or null, no
# indicator, no ": " or " #")
_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9 ,.;()'/_+@-]*$")
_NOT_PLAIN = re.compile(r"^(?:y|n|yes|no|on|off|true|false|null|~)$", re.IGNORECASE)


def _scalar(value: str) -> str:
    if _PLAIN.match(value) and not _NOT_PLAIN.match(value) and not value.endswith(" "):
        return value
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML double-quoted one


@dataclass(frozen=True)
class DomainAnswers:
    name: str
    description: str
    team: str
    email: str
    cost_center: str
    github: str | None = None
    account: str | None = None


def domain_text(a: DomainAnswers) -> str:
    owner = f"team: {_scalar(a.team)}, email: {_scalar(a.email)}"
    if a.github:
        owner += f", github: {json.dumps(a.github)}"
    lines = [
        f"domain: {_scalar(a.name)}",
        f"description: {_scalar(a.description)}",
        f"owner: {{{owner}}}",
        f"cost_center: {_scalar(a.cost_center)}",
    ]
    if a.account:
        lines.append(f"account: {json.dumps(a.account)}")
    lines += ["products: []", "policies: {}", "exceptions: []"]
    return "\n".join(lines) + "\n"


def github_org(directory: Path) -> str | None:
    """The organisation of the platform group's first team handle (`@acme/...` -> `acme`), for
    a default `owner.github`; None without a platform file."""
    from infra.blueprints.mesh_file import load_platform

    path = directory / MESH_FILE
    if not path.is_file():
        return None
    platform, _problems = load_platform(path)
    if platform is None:
        return None
    for handle in platform.members(PLATFORM):
        if "/" in handle:
            return handle[1:].split("/", 1)[0]
    return None


def has_platform_file(directory: Path) -> bool:
    return (directory / MESH_FILE).is_file()


def check_name(what: str, name: str) -> str:
    """A domain or product name, before it becomes part of a path: `UsageError` otherwise."""
    if not re.match(NAME_PATTERN, name):
        raise UsageError(
            f"{what} {name!r}: expected a lower-case letter, then 1-30 lower-case letters, "
            "digits or _"
        )
    return name


def domain_target(directory: Path, name: str) -> Path:
    """Where a new domain's blueprint goes; `Refused` when the domain has one (asked before
    any question, so that nobody answers them in vain)."""
    if not directory.is_dir():
        raise UsageError(f"{str(directory)!r} is not a directory of blueprints")
    target = directory / f"{check_name('domain', name)}.yaml"
    if target.exists() or (directory / f"{name}.yml").exists():
        raise Refused(f"{target} exists: not overwritten (mesh new product adds to it)")
    return target


def new_domain(directory: Path, answers: DomainAnswers) -> Written:
    """Write `<directory>/<name>.yaml`; `Refused` when it exists or would not validate."""
    target = domain_target(directory, answers.name)
    text = domain_text(answers)
    warnings = _check(directory, target, text)
    with open(target, "x", encoding="utf-8") as fh:  # never over a file made meanwhile
        fh.write(text)
    return Written(target, warnings)


@dataclass(frozen=True)
class ProductAnswers:
    name: str
    description: str
    classification: Classification
    format: DataFormat
    retention_days: int
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...] = ()
    freshness_slo_hours: int | None = None


def parse_column(spec: str) -> Column:
    """`name:type` or `name:type:pii` (a Glue type may hold colons: `struct<a:int>`)."""
    name, sep, rest = spec.partition(":")
    pii = rest.endswith(":pii")
    type_ = rest.removesuffix(":pii") if pii else rest
    if not sep or not type_:
        raise ValueError(f"{spec!r}: expected name:type or name:type:pii, e.g. order_id:string")
    return Column.model_validate({"name": name.strip(), "type": type_.strip(), "pii": pii})


def domain_file(directory: Path, domain: str) -> Path:
    for suffix in (".yaml", ".yml"):
        if (directory / f"{domain}{suffix}").is_file():
            return directory / f"{domain}{suffix}"
    raise Refused(
        f"no blueprint {domain}.yaml in {str(directory)!r}: create the domain first "
        f"(mesh new domain {domain})"
    )


def product_target(directory: Path, domain: str, name: str) -> Path:
    """The blueprint a new product goes into; `Refused` when the domain has none, it is not
    valid, or the product exists (asked before any question)."""
    check_name("product", name)
    target = domain_file(directory, check_name("domain", domain))
    bp, _src, problems, _data = load_file(target)
    if bp is None:
        raise Refused(f"{target} is not valid: fix it first (mesh validate)", problems)
    if any(p.name == name for p in bp.products):
        raise Refused(f"{domain}.{name} exists in {target}: not overwritten")
    return target


def new_product(directory: Path, domain: str, answers: ProductAnswers) -> Written:
    """Add the product to the domain's blueprint, keeping its comments and layout; `Refused`
    when the domain is missing or invalid, the product exists, or the result would not
    validate."""
    from infra.contracts import edit

    target = product_target(directory, domain, answers.name)
    try:
        product = Product.model_validate(
            {
                "name": answers.name,
                "description": answers.description,
                "classification": answers.classification,
                "format": answers.format,
                "retention_days": answers.retention_days,
                "freshness_slo_hours": answers.freshness_slo_hours,
                "schema": list(answers.columns),
                "partition_keys": list(answers.partition_keys),
            }
        )
    except ValidationError as exc:
        why = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise UsageError(f"{domain}.{answers.name}: {why}") from None
    with open(target, encoding="utf-8", newline="") as fh:  # keep CRLF line ends
        text = fh.read().removeprefix("\ufeff")
    edited = edit.put_product(text, product)
    warnings = _check(directory, target, edited.text)
    edit.write_atomically(target, edited.text, text)
    return Written(target, warnings)


def _check(directory: Path, target: Path, text: str) -> list[Problem]:
    """`mesh validate` of `directory` with `text` as `target`, in a temporary copy. Raises
    `Refused` with the errors of the target file (or, when it has none, of the rest of the
    tree), named as in `directory`; returns the target's warnings."""
    with tempfile.TemporaryDirectory(prefix="mesh-new-") as tmp:
        root = Path(tmp)
        for path in tree_files(directory):  # the blueprints and the platform file
            if path.name != target.name and path.is_file():
                shutil.copyfile(path, root / path.name)
        (root / target.name).write_text(text, encoding="utf-8")
        result = api.validate(root)
        mine = str(root / target.name)

        def here(p: Problem) -> Problem:
            return replace(p, file=str(directory / Path(p.file).name))

        errors = [here(p) for p in result.errors if p.file == mine]
        if not errors:
            errors = [here(p) for p in result.errors]
        if errors:
            raise Refused(
                f"{target.name} would not validate ({len(errors)} error(s)): nothing is written",
                errors,
            )
        return [here(p) for p in result.warnings if p.file == mine]
