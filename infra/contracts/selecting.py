"""Which schema objects of a contract become which products: every object by default (one
product each, named from the object), one with `--schema NAME`; `--name NEW` names the product
of a single object, `--name OBJECT=NEW` renames any one of several.

Name rules: a product name is 2-31 lower-case letters, digits or _ starting with a letter, not
a reserved word of Athena SQL. A name taken from the contract is made to fit (lower case;
spaces, dashes and other characters become _; a leading digit gets `t_`; a reserved word gets
`_data`; a name over 31 characters keeps its first 26 and a 4-character hash of the whole, so
the same object always gets the same name), with a warning CW07 that says how to choose another
(`--name OBJECT=NEW`). A name given with `--name` is taken as it is, or refused. Column names
are made to fit the same way (`fit_column`; set physicalName to choose another).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from infra.contracts.mapping import _NAME, Loc, short
from infra.contracts.reading import ContractFile
from infra.errors import Problem
from infra.model.reserved import reserved_in

MAX_NAME = 31
MAX_COLUMN = 128


class UsageError(ValueError):
    """An option that does not fit the contract (exit 2)."""


@dataclass
class Chosen:
    """The products one import run builds: (schema index, product name) in contract order."""

    products: list[tuple[int, str]] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def renames(options: list[str]) -> tuple[str | None, dict[str, str]]:
    """`--name` values: at most one plain NEW, and OBJECT=NEW pairs."""
    plain = [o for o in options if "=" not in o]
    pairs = dict(o.split("=", 1) for o in options if "=" in o)
    if len(plain) > 1:
        raise UsageError("--name NEW names the product of one schema object: give it once")
    return (plain[0] if plain else None), {k.strip(): v.strip() for k, v in pairs.items()}


def fit(raw: str) -> str:
    """`raw` made to fit the product name rules (deterministically); a reserved word of Athena
    SQL gets `_data` (the Glue table is named after the product)."""
    name = re.sub(r"[\s\-]+", "_", raw.strip().lower())
    name = re.sub(r"[^a-z0-9_]", "_", name)
    if not name[:1].isalpha():
        name = "t_" + name
    if reserved_in(name) == "select":
        name += "_data"
    if len(name) > MAX_NAME:
        digest = hashlib.sha1(raw.encode("utf-8")).hexdigest()[:4]
        name = name[: MAX_NAME - 5].rstrip("_") + "_" + digest
    return name


def fit_column(name: str) -> str:
    """A Glue column name made to fit (deterministically): lower-case letters, digits and _,
    not starting with a digit, at most 128 characters, not a reserved word of Athena SQL
    (which gets `_value`, as E035 suggests)."""
    fitted = re.sub(r"[^a-z0-9_]", "_", re.sub(r"[\s\-]+", "_", name.strip().lower()))
    if not re.match(r"[a-z_]", fitted[:1]):
        fitted = "c_" + fitted
    if reserved_in(fitted) == "select":
        fitted += "_value"
    if len(fitted) > MAX_COLUMN:
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:4]
        fitted = fitted[: MAX_COLUMN - 5] + "_" + digest
    return fitted


def _object_name(obj: dict) -> str | None:
    for key in ("name", "physicalName"):
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def choose(contract: ContractFile, typed: dict, schema: str | None, names: list[str]) -> Chosen:
    """The schema objects to import and their product names, or the errors that say why not.
    Raises UsageError for options that do not fit the contract."""
    out = Chosen()
    src = contract.src
    objects = typed.get("schema") or []
    if not objects:
        out.errors.append(
            src.problem(
                ("schema",),
                "C003",
                "the contract has no schema: a data product is a table, give it as a "
                "schema object with its properties",
            )
        )
        return out
    plain, pairs = renames(names)
    if schema is not None:
        indexes = [
            i for i, o in enumerate(objects) if schema in (o.get("name"), o.get("physicalName"))
        ]
        if not indexes:
            out.errors.append(
                src.problem(
                    ("schema",),
                    "C003",
                    f"no schema object named {short(schema)}; the contract has: "
                    f"{_listing(objects)}",
                )
            )
            return out
        indexes = indexes[:1]
    else:
        indexes = list(range(len(objects)))
        if len(objects) > 1:  # an object without columns is no table: the others still are
            empty = [i for i in indexes if not objects[i].get("properties")]
            for i in empty:
                out.warnings.append(
                    src.problem(
                        ("schema", i),
                        "CW01",
                        f"dropped: schema object {short(_object_name(objects[i]) or '?')} has "
                        "no properties, so it is no table (a product needs a column)",
                    )
                )
            indexes = [i for i in indexes if i not in empty] or indexes
    if plain is not None and len(indexes) > 1:
        raise UsageError(
            f"--name {plain!r} names one product, and the contract has {len(indexes)} schema "
            "objects: rename one with --name OBJECT=NEW, or choose one with --schema NAME"
        )
    chosen_names = {_object_name(objects[i]) for i in indexes}
    unknown = sorted(k for k in pairs if k not in chosen_names)
    if unknown:
        raise UsageError(
            f"--name {unknown[0]}=...: no schema object {unknown[0]!r} is imported (the "
            f"contract has: {_listing(objects)})"
        )
    taken: dict[str, int] = {}
    for i in indexes:
        obj = objects[i]
        at: Loc = ("schema", i)
        given = pairs.get(_object_name(obj) or "") or plain
        single = len(objects) == 1 or schema is not None
        name = _name(out, src, typed, obj, at, given, single)
        if name is None:
            continue
        if name in taken:
            first = _object_name(objects[taken[name]])
            out.errors.append(
                src.problem(
                    at + ("name",),
                    "C006",
                    f"schema objects {short(first)} and {short(_object_name(obj))} would both "
                    f"be product {name!r}: rename one with --name {_object_name(obj)}=NEW",
                )
            )
            continue
        taken[name] = i
        out.products.append((i, name))
    return out


def _name(
    out: Chosen, src, typed: dict, obj: dict, at: Loc, given: str | None, single: bool
) -> str | None:
    if given is not None:
        if not _NAME.match(given):
            raise UsageError(
                f"--name {given!r} cannot be a product name: expected 2-31 lower-case "
                "letters, digits or _ starting with a letter"
            )
        return given
    candidates: list[tuple[object, Loc]] = [(obj.get("name"), at + ("name",))]
    candidates.append((obj.get("physicalName"), at + ("physicalName",)))
    if single:  # the contract's own name, for the product of its one table
        candidates += [(typed.get("dataProduct"), ("dataProduct",)), (typed.get("name"), ("name",))]
    raw, loc = next(((n, l) for n, l in candidates if isinstance(n, str) and n.strip()), (None, at))
    if raw is None:
        message = "the schema object has no name: name it, or name the product with --name"
        out.errors.append(src.problem(at + ("name",), "C006", message))
        return None
    name = fit(raw)
    plain = re.sub(r"[\s-]+", "_", raw.strip().lower())
    if name != plain:
        out.warnings.append(
            src.problem(
                loc,
                "CW07",
                f"{short(raw)} becomes product name {name!r} (2-31 lower-case letters, digits or "
                f"_ starting with a letter): choose another with --name {raw.strip()}=NEW",
            )
        )
    return name


def _listing(objects: list[dict]) -> str:
    names = [str(_object_name(o) or "?") for o in objects[:20]]
    return ", ".join(names) + (", ..." if len(objects) > 20 else "")
