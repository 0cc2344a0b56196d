"""The work of `mesh contract export` and `mesh contract import` (the typer commands in
`infra.cli.contract` only parse options and call these). Imported when a contract command runs.

Exit codes: 0 ok, 1 invalid contract or blueprint (nothing is written), 2 usage error.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

import typer

from infra import clock
from infra.cli.common import emit_json, load_valid

_PRODUCT_ID = re.compile(r"^([a-z][a-z0-9_]{1,30})\.([a-z][a-z0-9_]{1,30})$")
_ACCOUNT = re.compile(r"^\d{12}$")


def _usage(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _settings(prefix: str | None, account: str | None):
    from infra.provision.names import PhysicalNameError
    from infra.provision.program import StackSettings

    settings = StackSettings(
        prefix=prefix if prefix is not None else StackSettings.prefix,
        account=account if account is not None else StackSettings.account,
    )
    try:
        settings.names  # noqa: B018 - checks the prefix
    except PhysicalNameError as exc:
        raise _usage(str(exc)) from None
    if not _ACCOUNT.match(settings.account):
        raise _usage(f"--account {settings.account!r} is not an AWS account id (12 digits)")
    return settings


def export_contracts(
    out: Path, directory: Path, product: str | None, prefix: str | None, account: str | None
) -> None:
    """Write one contract per product (or the one --product names); exits like the command."""
    from infra.contracts import export, mapping

    settings = _settings(prefix, account)
    if product is not None and not _PRODUCT_ID.match(product):
        raise _usage(f"--product {product!r} is not DOMAIN.PRODUCT (e.g. sales.orders)")
    if out.exists() and not out.is_dir():
        raise _usage(f"--out {str(out)!r} is not a directory")
    result = load_valid(directory, settings)
    mesh = result.mesh
    chosen = list(mesh.products())
    if product is not None:
        chosen = [(bp, p) for bp, p in chosen if f"{bp.domain}.{p.name}" == product]
        if not chosen:
            raise _usage(f"no product {product!r} in {str(directory)!r}")
    today = clock.today()
    files: list[tuple[Path, str]] = []
    failed = False
    for bp, p in chosen:
        src = mesh.source(bp.domain)
        index = bp.products.index(p)
        try:
            contract = export.export_contract(bp, p, settings.names, settings.account, today)
            findings = mapping.schema_errors(contract)
        except export.ExportError as exc:
            findings = [((), str(exc))]
        for loc, message in findings:
            failed = True
            where = src.problem(("products", index), "C009", "")
            typer.echo(
                f"{where.where}: error C009 products[{index}]: the contract of "
                f"{bp.domain}.{p.name} is not valid ODCS at {_path(loc) or '(top)'}: {message}",
                err=True,
            )
        if not findings:
            name = Path(src.path).name
            files.append(
                (out / f"{bp.domain}.{p.name}.odcs.yaml", export.contract_yaml(contract, name))
            )
    if failed:
        typer.echo("no contract written: fix the blueprints first", err=True)
        raise typer.Exit(1)
    out.mkdir(parents=True, exist_ok=True)
    for path, text in files:
        path.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {path}")
    typer.echo(f"{len(files)} contract(s) in {out}, each valid ODCS {mapping.API_VERSION}")


def _path(loc) -> str:
    from infra.model.source import format_path

    return format_path(loc)


def import_contract(
    contract: Path,
    domain: str | None,
    into: Path,
    name: str | None,
    schema: str | None,
    prefix: str | None,
    account: str | None,
    json_output: bool,
) -> None:
    """Create or update the product of `contract` in its domain's blueprint; exits like the
    command (0, 1 or 2)."""
    from infra.contracts import dropped, export, importing, reading

    settings = _settings(prefix, account)
    if not into.is_dir():
        raise _usage(f"--into {str(into)!r} is not a blueprint directory")
    outcome = _Outcome(json_output)
    try:
        parsed = reading.read_contract(contract)
    except reading.ContractError as exc:
        outcome.fail(exc.problems)
    outcome.warnings += parsed.warnings
    domain = domain or parsed.raw.get("domain")
    if not isinstance(domain, str) or not domain:
        raise _usage("the contract names no domain: pass --domain")
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,30}", domain):
        raise _usage(
            f"domain {domain[:60]!r} is not a domain name (2-31 lower-case letters, digits, _): "
            "pass --domain"
        )
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
    text = _read_text(target)  # accepted by load_file: the same checks pass
    from infra.model.platform import MESH_FILE
    from infra.model.spec import APPROVER_NAMES

    context = APPROVER_NAMES if (into / MESH_FILE).is_file() else None  # as the loader reads
    importer = importing.ContractImport(
        parsed, domain, settings.names, name=name, schema=schema, context=context
    )
    product_name = importer.select()
    existing = next((p for p in bp.products if p.name == product_name), None)
    result = importer.run(product_name, existing) if product_name else importer.failed()
    outcome.warnings += result.warnings
    if result.product is None:
        outcome.fail(result.errors)
    from infra.contracts import edit

    edited = edit.put_product(text, result.product)
    if edited.reformatted:
        outcome.warnings.append(
            _problem(
                str(target),
                "CW05",
                f"{target.name}'s indentation is not one ruamel.yaml "
                "reproduces: the file is re-indented (comments are kept)",
            )
        )
    new_bp, checked, notes = _validate(into, target, edited.text, domain)
    if checked:
        outcome.fail([*checked, _problem(str(target), "C008", _c008(checked, result))])
    index = next(i for i, p in enumerate(new_bp.products) if p.name == product_name)
    outcome.warnings += [w for w in notes if w.path.startswith(f"products[{index}]")]
    product = new_bp.products[index]
    exported = export.export_contract(
        new_bp, product, settings.names, settings.account, clock.today()
    )
    outcome.warnings += dropped.dropped(parsed, exported, result)
    if edited.action != "unchanged":
        try:
            edit.write_atomically(target, edited.text, text)
        except OSError as exc:
            outcome.fail([_problem(str(target), "C007", f"not written: {exc}")])
    outcome.done(edited.action, f"{domain}.{product_name}", str(target))


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


def _c008(problems, result) -> str:
    """What to change in the contract so that the imported blueprint passes mesh validate."""
    from infra.model.source import format_path

    wanted = []
    for p in problems:
        m = re.match(r"products\[(\d+)\]\.?(.*)$", p.path or "")
        if m is None:
            continue
        rel = m.group(2)
        origin = None
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


def _tidy(warnings: list) -> list:
    """Warnings in file order; a schema finding (CW03) about a field that a warning already
    reports as dropped or changed is left out, and so is the "becomes" (CW02) of a type whose
    change a CW06 explains."""
    handled = [w.path for w in warnings if w.code in ("CW01", "CW02") and w.path]
    typed = {w.path for w in warnings if w.code == "CW06"}  # says more than "becomes"

    def covered(path: str) -> bool:
        return any(path == h or path.startswith((h + ".", h + "[")) for h in handled)

    kept = [
        w
        for w in warnings
        if not (w.code == "CW03" and w.path and covered(w.path))
        and not (w.code == "CW02" and w.path in typed)
    ]
    return sorted(kept, key=lambda w: (w.file, w.line or 0, w.path, w.code))


_INDEX = re.compile(r"\[\d+\]")


def _pattern(path: str) -> str:
    return _INDEX.sub("[*]", path)


def _grouped(warnings: list) -> list:
    """Warnings for a terminal: one line for a field dropped the same way from many siblings
    (`required: true` of 300 columns), with how many more; JSON output lists every one."""

    def key(w) -> tuple:
        return (w.code, _pattern(w.path), w.message) if w.code in ("CW01", "CW02") else (id(w),)

    groups: dict[tuple, list] = {}
    for w in warnings:
        groups.setdefault(key(w), []).append(w)
    out = []
    for w in warnings:
        alike = groups[key(w)]
        if len(alike) <= 3:
            out.append((w, 0))
        elif w is alike[0]:
            out.append((w, len(alike) - 1))
    return out


class _Outcome:
    """Collects the import's problems; prints them and exits (1 on errors, else 0)."""

    def __init__(self, json_output: bool) -> None:
        self.json_output = json_output
        self.warnings: list = []

    def fail(self, errors: list) -> None:
        self._emit(False, None, None, None, errors)
        raise typer.Exit(1)

    def done(self, action: str, product: str, file: str) -> None:
        self._emit(True, action, product, file, [])
        raise typer.Exit(0)

    def _emit(self, ok: bool, action, product, file, errors: list) -> None:
        from infra.contracts.mapping import MAX_WARNINGS

        self.warnings = _tidy(self.warnings)
        if self.json_output:
            emit_json(
                {
                    "ok": ok,
                    "action": action,
                    "product": product,
                    "file": file,
                    "errors": [p.as_json() for p in errors],
                    "warnings": [p.as_json() for p in self.warnings],
                }
            )
            return
        for p in errors:
            typer.echo(p.text(), err=True)
        lines = _grouped(self.warnings)
        for p, alike in lines[:MAX_WARNINGS]:
            tail = f" (and {alike} more like it: {_pattern(p.path)})" if alike else ""
            typer.echo(p.text() + tail, err=True)
        if len(lines) > MAX_WARNINGS:
            typer.echo(f"... and {len(lines) - MAX_WARNINGS} more warning line(s)", err=True)
        if ok:
            typer.echo(f"{action} {product} in {file} ({len(self.warnings)} warning(s))")
        else:
            typer.echo(f"import failed: {len(errors)} error(s); nothing was written", err=True)
            sys.stderr.flush()
