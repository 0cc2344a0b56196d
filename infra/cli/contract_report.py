"""How `mesh contract import` reports: the warnings in file order (one terminal line for a field
dropped the same way from many properties), the result of each product, the JSON document."""

from __future__ import annotations

import re
import sys

import typer

from infra.cli.common import emit_json


def _tidy(warnings: list) -> list:
    """Warnings in file order, each once; a schema finding (CW03) about a field that a warning
    already reports as dropped or changed is left out, and so is the "becomes" (CW02) of a
    type or name whose change a CW06 or CW07 explains."""
    handled = [w.path for w in warnings if w.code in ("CW01", "CW02") and w.path]
    # a type's or a name's change (CW06, CW07) says more than its "becomes" (CW02)
    typed = {w.path for w in warnings if w.code in ("CW06", "CW07")}

    def covered(path: str) -> bool:
        return any(path == h or path.startswith((h + ".", h + "[")) for h in handled)

    kept, seen = [], set()
    for w in warnings:
        key = (w.file, w.path, w.code, w.message)
        if key in seen:
            continue  # a contract-level finding, met by each product of the contract
        seen.add(key)
        if w.code == "CW03" and w.path and covered(w.path):
            continue
        if w.code == "CW02" and w.path in typed:
            continue
        kept.append(w)
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


def _of_product(warnings: list, index: int | None) -> list:
    """The warnings located in schema object `index` (None: those in no schema object)."""
    prefix = re.compile(r"^schema\[(\d+)\]")

    def where(w) -> int | None:
        m = prefix.match(w.path or "")
        return int(m.group(1)) if m else None

    return [w for w in warnings if where(w) == index]


class Outcome:
    """Collects the import's problems and per-product results; prints them and exits (1 on
    errors, else 0). `products` holds one entry per product of the run:
    {product, schema, action, ok, errors, warnings}."""

    def __init__(self, json_output: bool) -> None:
        self.json_output = json_output
        self.warnings: list = []
        self.products: list[dict] = []  # {product, schema, index, action, errors}

    def fail(self, errors: list) -> None:
        self._emit(False, None, errors)
        raise typer.Exit(1)

    def done(self, file: str) -> None:
        self._emit(True, file, [])
        raise typer.Exit(0)

    def _entries(self) -> list[dict]:
        out = []
        for p in self.products:
            errors = p["errors"]
            out.append(
                {
                    "product": p["product"],
                    "schema": p["schema"],
                    "action": p["action"],
                    "ok": not errors,
                    "errors": [e.as_json() for e in errors],
                    "warnings": [w.as_json() for w in _of_product(self.warnings, p["index"])],
                }
            )
        return out

    def _emit(self, ok: bool, file: str | None, errors: list) -> None:
        from infra.contracts.mapping import MAX_WARNINGS

        self.warnings = _tidy(self.warnings)
        single = self.products[0] if len(self.products) == 1 else None
        action = single["action"] if single and ok else None
        product = single["product"] if single and ok else None
        if self.json_output:
            emit_json(
                {
                    "ok": ok,
                    "action": action,
                    "product": product,
                    "file": file,
                    "errors": [p.as_json() for p in errors],
                    "warnings": [p.as_json() for p in self.warnings],
                    "products": self._entries(),
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
        if ok and single is not None:
            typer.echo(f"{action} {product} in {file} ({len(self.warnings)} warning(s))")
            return
        if ok or len(self.products) > 1:
            for entry in self._entries():
                state = entry["action"] if ok else ("ready" if entry["ok"] else "failed")
                typer.echo(
                    f"{state:9} {entry['product']:40} schema {entry['schema']} "
                    f"({len(entry['errors'])} error(s), {len(entry['warnings'])} warning(s))",
                    err=not ok,
                )
        if ok:
            typer.echo(
                f"{len(self.products)} product(s) in {file} ({len(self.warnings)} warning(s))"
            )
        else:
            typer.echo(f"import failed: {len(errors)} error(s); nothing was written", err=True)
            sys.stderr.flush()
