"""The work of `mesh contract import` (the typer command in `infra.cli.contract` only parses
options): every schema object of the contract becomes a product of the domain (or the one
`--schema` names), all checked together as `mesh validate` does, then written at once, or
nothing is written. Imported when the command runs.

Exit codes: 0 ok, 1 invalid contract or blueprint (nothing is written), 2 usage error.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from infra import clock
from infra.cli.contract_commands import _settings, _usage
from infra.cli.contract_report import Outcome

_DOMAIN = re.compile(r"[a-z][a-z0-9_]{1,30}")


def import_contract(
    contract: Path,
    domain: str | None,
    into: Path,
    names: list[str],
    schema: str | None,
    prefix: str | None,
    account: str | None,
    json_output: bool,
    governance,
) -> None:
    """Create or update the products of `contract` in its domain's blueprint; exits like the
    command (0, 1 or 2). `governance` (an `importing.Governance`) holds what the options
    state for fields the contract does not."""
    from infra.contracts import (
        dropped,
        edit,
        export,
        importing,
        mapping,
        reading,
        selecting,
        versions,
    )

    settings = _settings(prefix, account)
    if not into.is_dir():
        raise _usage(f"--into {str(into)!r} is not a blueprint directory")
    outcome = Outcome(json_output)
    try:
        parsed = reading.read_contract(contract)
    except reading.ContractError as exc:
        outcome.fail(exc.problems)
    outcome.warnings += parsed.warnings
    domain = domain or parsed.raw.get("domain")
    if not isinstance(domain, str) or not domain:
        raise _usage("the contract names no domain: pass --domain")
    if not _DOMAIN.fullmatch(domain):
        raise _usage(
            f"domain {domain[:60]!r} is not a domain name (2-31 lower-case letters, digits, _): "
            "pass --domain"
        )
    target, bp, text = _target(into, domain, outcome)
    from infra.model.platform import MESH_FILE
    from infra.model.spec import APPROVER_NAMES

    context = APPROVER_NAMES if (into / MESH_FILE).is_file() else None  # as the loader reads
    typed = importing.typed_of(parsed)
    try:
        chosen = selecting.choose(parsed, typed, schema, names)
    except selecting.UsageError as exc:
        raise _usage(str(exc)) from None
    outcome.warnings += chosen.warnings
    if chosen.errors:
        outcome.fail(chosen.errors)
    objects = typed.get("schema") or []
    several = len(chosen.products) > 1
    results = []
    for index, name in chosen.products:
        existing = next((p for p in bp.products if p.name == name), None)
        importer = importing.ContractImport(
            parsed,
            domain,
            settings.names,
            index=index,
            context=context,
            governance=governance,
            several=several,
        )
        result = importer.run(name, existing)
        results.append(result)
        outcome.warnings += result.warnings
        outcome.products.append(
            {
                "product": f"{domain}.{name}",
                "schema": str(objects[index].get("name") or objects[index].get("physicalName")),
                "index": index,
                "action": None,
                "errors": list(result.errors),
            }
        )
    errors = [e for r in results for e in r.errors]
    if errors:
        outcome.fail(errors)
    edited_text, actions, reformatted = text, [], False
    for result in results:
        edited = edit.put_product(edited_text, result.product)
        edited_text, reformatted = edited.text, reformatted or edited.reformatted
        actions.append(edited.action)
    if reformatted:
        outcome.warnings.append(
            _problem(
                str(target),
                "CW05",
                f"{target.name}'s indentation is not one ruamel.yaml "
                "reproduces: the file is re-indented (comments are kept)",
            )
        )
    new_bp, checked, notes = _validate(into, target, edited_text, domain)
    if checked:
        order = [p.name for p in bp.products]
        order += [r.name for r in results if r.name not in order]
        by_name = {r.name: r for r in results}
        for problem in checked:  # each product's entry says what keeps it out
            m = re.match(r"products\[(\d+)\]", problem.path or "")
            name = order[int(m.group(1))] if m and int(m.group(1)) < len(order) else None
            for entry in outcome.products:
                if entry["product"] == f"{domain}.{name}":
                    entry["errors"].append(problem)
        outcome.fail([*checked, _problem(str(target), "C008", _c008(checked, order, by_name))])
    today = clock.today()
    for result, action, entry in zip(results, actions, outcome.products, strict=True):
        entry["action"] = action
        at = next(i for i, p in enumerate(new_bp.products) if p.name == result.name)
        outcome.warnings += [w for w in notes if w.path.startswith(f"products[{at}]")]
        product = new_bp.products[at]
        try:
            exported = export.export_contract(
                new_bp, product, settings.names, settings.account, today, settings.region
            )
        except export.ExportError as exc:
            outcome.fail([_problem(str(target), "C009", str(exc))])
        # compared in the contract's own version: a v3.1.0 export comes back as it went out
        same_version = versions.for_version(exported, mapping.schema_version(parsed.raw))
        found = dropped.dropped(parsed, same_version, result)
        if several:  # the other objects are products of this run, not dropped
            imported = {i for i, _n in chosen.products}
            found = [w for w in found if not _other_object(w.path, result.schema_index, imported)]
        left_out = {w.path for w in chosen.warnings if w.code == "CW01"}  # said why already
        found = [w for w in found if w.path not in left_out]
        outcome.warnings += found
    if edited_text != text:
        try:
            edit.write_atomically(target, edited_text, text)
        except OSError as exc:
            outcome.fail([_problem(str(target), "C007", f"not written: {exc}")])
    outcome.done(str(target))


def _other_object(path: str, mine: int, imported: set[int]) -> bool:
    m = re.match(r"^schema\[(\d+)\]", path or "")
    return m is not None and int(m.group(1)) != mine and int(m.group(1)) in imported


def _target(into: Path, domain: str, outcome: Outcome):
    """The domain's blueprint file, its model and its text; fails when it is missing or
    invalid."""
    from infra.blueprints.load import blueprint_files, load_file
    from infra.blueprints.yaml_safe import _read_text

    target = next((p for p in blueprint_files(into) if p.stem == domain), None)
    if target is None:
        outcome.fail(
            [
                _problem(
                    str(into),
                    "C007",
                    f"no blueprint {domain}.yaml in {str(into)!r}: create "
                    f"it first (domain, description, owner, cost_center), then import",
                )
            ]
        )
    bp, _src, problems, _data = load_file(target)
    if bp is None:
        outcome.fail(
            [
                *problems,
                _problem(
                    str(target),
                    "C007",
                    f"{target.name} is not valid: fix it first (mesh validate), then import",
                ),
            ]
        )
    return target, bp, _read_text(target)  # accepted by load_file: the same checks pass


def _problem(file: str, code: str, message: str):
    from infra.errors import Problem

    return Problem(file, None, "", code, message)


def _validate(into: Path, target: Path, text: str, domain: str):
    """`mesh validate` (loader, governance, physical names) of the blueprint directory with the
    new text in place of `target`, in a temporary copy. Returns (new blueprint or None, the
    errors located in the target file, renamed to it, and its warnings)."""
    from dataclasses import replace

    from infra import api
    from infra.blueprints.load import tree_files

    with tempfile.TemporaryDirectory(prefix="mesh-contract-") as tmp:
        root = Path(tmp)
        for path in tree_files(into):  # the blueprints and the platform file
            if path != target and path.is_file():
                shutil.copyfile(path, root / path.name)
        (root / target.name).write_text(text, encoding="utf-8")
        result = api.validate(root)
        mine = str(root / target.name)
        errors = [replace(p, file=str(target)) for p in result.errors if p.file == mine]
        others = [p for p in result.errors if p.file != mine]
        if others and not errors:  # the rest of the mesh is broken: not this import's doing
            errors = [replace(p, file=str(into / Path(p.file).name)) for p in others]
        notes = [replace(p, file=str(target)) for p in result.warnings if p.file == mine]
        new_bp = None if errors else result.mesh.blueprint(domain)
    return new_bp, errors, notes


_HINTS = {
    "freshness_slo_hours": "slaProperties: {property: latency, value: N, unit: h}",
    "retention_days": "slaProperties: {property: retention, value: N, unit: d}",
    "classification": "the properties' classification",
    "consumers": "roles carrying a mesh grant",
    "schema": "schema[0].properties",
    "partition_keys": "the partitioned properties",
    "quality": "the quality rules",
}


def _c008(problems, order: list[str], results: dict) -> str:
    """What to change in the contract so that the imported blueprint passes mesh validate
    (`order`: the product names of the blueprint as it would be written)."""
    from infra.model.source import format_path

    wanted = []
    for p in problems:
        m = re.match(r"products\[(\d+)\]\.?(.*)$", p.path or "")
        if m is None or int(m.group(1)) >= len(order) or order[int(m.group(1))] not in results:
            continue
        rel = m.group(2)
        origin = None
        result = results[order[int(m.group(1))]]
        for loc, contract_loc in sorted(result.origins.items(), key=lambda kv: -len(kv[0])):
            if rel == format_path(loc) or rel.startswith(format_path(loc) + "."):
                origin = format_path(contract_loc)
                break
        field = rel.split(".")[0].split("[")[0]
        hint = origin or _HINTS.get(field)
        if hint and hint not in wanted:
            wanted.append(hint)
    tail = f": change or add {'; '.join(wanted)} in the contract" if wanted else ""
    return (
        f"the imported blueprint would not pass mesh validate ({len(problems)} error(s) above, "
        f"lines of the file as it would be written){tail}; nothing was written"
    )
