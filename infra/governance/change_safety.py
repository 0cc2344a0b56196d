"""Safe change: what a revision of the blueprints may not do to the previous one.

`mesh validate --base BASE_DIR` (the check a pull request runs against its base branch) and
`mesh diff BASE HEAD` compare two trees with `change_problems`. Nothing may be lost on the way:

- **E040** a product disappears without a `decommission:` block. Its bucket, key-encrypted data
  and Glue table are protected (`pulumi up` would refuse to delete them, or, where deletion is
  allowed, lose the data) and its consumers lose access without notice. A product renamed with
  `previous_names` is not removed.
- **E041** a decommissioned product disappears before its date: its grants still hold until then.
- **E042** a decommissioned product with `data: retain` disappears after its date. Retained data
  stays in the blueprint for good, as a tombstone: no grants, the bucket, key and table kept,
  still owned (tags, cost centre), governed and audited, objects still expiring after
  `retention_days`. Its resources are protected, so removing it would make `pulumi up` fail,
  and data nobody declares is data nobody answers for. To be rid of it, switch `data` to
  `delete` (a reviewed change, visible in the diff), then remove it.
- **W005** a product with `data: delete` disappears after its date: allowed, and the one way
  data is ever deleted. The next `pulumi up` deletes the bucket and table when the stack allows
  deletion (`mesh:allowDataDeletion`, the second switch) and a `pulumi up` since the date has
  lifted their protection; otherwise it stops at the protected resources and nothing is lost.
- **E043** a domain's blueprint disappears without a domain-level `decommission:` block: its
  KMS key, Glue database and data are protected and its consumers would lose access unnoticed.
- **E080** a retired domain (domain-level `decommission:`) disappears before its date; **E081**
  after its date with `data: retain` (its storage stays declared, as E042's tombstone); **W030**
  after its date with `data: delete`: allowed (the data is deleted where the stack allows it).
- **E044** a product keeps its name but its physical name (the first of `previous_names`, else
  the name) changes: the bucket and table would be replaced.
- **E051** a declared rename claims a name that already existed: a product's (or column's)
  `previous_names` names a product (column) of BASE, but its new name was one in BASE too. A
  rename is accepted only when the new name is new; otherwise the diff would carry the old one's
  grants over to it (combined with dropping `pii: true`, a way to read PII unnoticed). The
  loader already refuses an old name that is still in use (E050).
- **E072**, **E073** a csv product's columns reordered, removed or inserted before the end, or
  any product's format changed (`infra.governance.positional`).
- **E052** a decommission date this change adds or brings forward lies less than
  `DECOMMISSION_NOTICE_DAYS` (30) days ahead: consumers get notice, and grants never end
  retroactively.

Removal problems are located at the product's (or domain's) line in the BASE file, the place
the removed text was; E044 at the HEAD file, where the change is. Pure model comparison: no
Pulumi, no AWS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from infra.errors import Problem, Severity
from infra.governance.catalogue import DECOMMISSION_NOTICE_DAYS
from infra.governance.positional import positional_problems
from infra.model.mesh import Mesh
from infra.model.report import Report
from infra.model.spec import Blueprint, DataDisposition, Product
from infra.provision.names import physical_product_name

HOW_TO_RETIRE = (
    "to retire it, keep it in the blueprint with `decommission: {date: YYYY-MM-DD, reason: ..., "
    "data: retain|delete}`: its grants end on the date; with data: delete it may be removed "
    "after the date (its data is then deleted where the stack allows it); with data: retain it "
    "stays, without grants, for good"
)


def change_problems(
    base: Mesh, head: Mesh, today: dt.date, unloaded: Iterable[str] = ()
) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) of going from `base` to `head`. `unloaded`: domains whose HEAD file
    exists but did not load (its own errors say why; its products are not "removed")."""
    skip = set(unloaded)
    errors: list[Problem] = []
    warnings: list[Problem] = []
    heads = {bp.domain: bp for bp in head.blueprints}
    for bp in base.blueprints:
        if bp.domain in skip:
            continue
        head_bp = heads.get(bp.domain)
        if head_bp is None:
            problem = _domain_removed(base, bp, today)
            (warnings if problem.severity is Severity.warning else errors).append(problem)
            continue
        text = base.source(bp.domain).text
        if text is not None and head.source(bp.domain).text == text:
            continue  # the same file on both sides: nothing removed, nothing renamed
        matches = _by_name(head_bp)
        errors += _account_move(head, bp, head_bp)
        errors += _rename_claims(base, head, bp, head_bp)
        errors += _decommission_notice(head, bp, head_bp, matches, today)
        errors += _domain_notice(head, bp, head_bp, today)
        for pi, product in enumerate(bp.products):
            match = matches.get(product.name)
            if match is None:
                problem = _product_removed(base, bp, pi, product, today)
                (warnings if problem.severity is Severity.warning else errors).append(problem)
                continue
            hi, now = match
            errors += positional_problems(head, bp.domain, hi, product, now)  # E072, E073
            before, after = physical_product_name(product), physical_product_name(now)
            if before != after:
                loc = ("products", hi, "previous_names" if now.previous_names else "name")
                errors.append(
                    head.source(bp.domain).problem(
                        loc,
                        "E044",
                        f"the bucket and Glue table of {bp.domain}.{now.name} are named after "
                        f"the product's first name {before!r}; this change makes it {after!r} "
                        "(the first of previous_names, else the name), which would replace "
                        f"them and their data: keep {before!r} as the first entry of "
                        "previous_names",
                    )
                )
    errors.sort(key=Problem.sort_key)
    warnings.sort(key=Problem.sort_key)
    return errors, warnings


def _rename_claims(base: Mesh, head: Mesh, bp: Blueprint, head_bp: Blueprint) -> list[Problem]:
    """E051: renames (`previous_names`) of HEAD whose new name already existed in BASE."""
    out = []
    src = head.source(bp.domain)
    before = {p.name: p for p in bp.products}
    for hi, product in enumerate(head_bp.products):
        for k, old in enumerate(product.previous_names):
            if old in before and product.name in before and old != product.name:
                out.append(
                    src.problem(
                        ("products", hi, "previous_names", k),
                        "E051",
                        f"{bp.domain}.{product.name} claims to be {bp.domain}.{old} renamed, but "
                        f"{product.name!r} was already a product before this change: a rename "
                        "must give a new name (move the data of one product into the other "
                        "with a decommission instead)",
                    )
                )
        old_product = next(
            (before[n] for n in (product.name, *product.previous_names) if n in before), None
        )
        if old_product is None:
            continue
        old_columns = {c.name for c in [*old_product.columns, *old_product.partition_keys]}
        parts = [("schema", product.columns), ("partition_keys", product.partition_keys)]
        for part, columns in parts:
            for ci, col in enumerate(columns):
                for k, old in enumerate(col.previous_names):
                    if old in old_columns and col.name in old_columns and old != col.name:
                        out.append(
                            src.problem(
                                ("products", hi, part, ci, "previous_names", k),
                                "E051",
                                f"column {col.name!r} of {bp.domain}.{product.name} claims to "
                                f"be {old!r} renamed, but {col.name!r} was already a column "
                                "before this change: a rename must give a new name, or grants "
                                f"of {old!r} would be carried over to it",
                            )
                        )
    return out


def _decommission_notice(
    head: Mesh,
    bp: Blueprint,
    head_bp: Blueprint,
    matches: dict[str, tuple[int, Product]],
    today: dt.date,
) -> list[Problem]:
    """E052: decommission dates this change adds or brings forward, with too little notice."""
    out = []
    earliest = today + dt.timedelta(days=DECOMMISSION_NOTICE_DAYS)
    before = {p.name: p for p in bp.products}
    for hi, product in enumerate(head_bp.products):
        d = product.decommission
        if d is None:
            continue
        old = next(
            (before[n] for n in (product.name, *product.previous_names) if n in before), None
        )
        if old is None:  # a new product: nobody consumes it yet
            continue
        was = old.decommission.date if old.decommission is not None else None
        if (was is None or d.date < was) and d.date < earliest:
            out.append(
                head.source(bp.domain).problem(
                    ("products", hi, "decommission", "date"),
                    "E052",
                    f"{bp.domain}.{product.name} would be decommissioned on "
                    f"{d.date.isoformat()}, {(d.date - today).days} day(s) after this change: "
                    f"consumers get at least {DECOMMISSION_NOTICE_DAYS} days of notice, so the "
                    f"earliest date is {earliest.isoformat()}",
                )
            )
    return out


def _domain_notice(head: Mesh, bp: Blueprint, head_bp: Blueprint, today: dt.date) -> list[Problem]:
    """E052 for a domain-level decommission this change adds or brings forward."""
    d, was = head_bp.decommission, bp.decommission
    earliest = today + dt.timedelta(days=DECOMMISSION_NOTICE_DAYS)
    if d is None or (was is not None and d.date >= was.date) or d.date >= earliest:
        return []
    return [
        head.source(bp.domain).problem(
            ("decommission", "date"),
            "E052",
            f"domain {bp.domain} would be retired on {d.date.isoformat()}, "
            f"{(d.date - today).days} day(s) after this change: its consumers get at least "
            f"{DECOMMISSION_NOTICE_DAYS} days of notice, so the earliest date is "
            f"{earliest.isoformat()}",
        )
    ]


def _by_name(bp: Blueprint) -> dict[str, tuple[int, Product]]:
    """Every name a product of HEAD answers to: its name, then its previous names (a current
    name wins over another product's previous name)."""
    out: dict[str, tuple[int, Product]] = {}
    for i, p in enumerate(bp.products):
        out.setdefault(p.name, (i, p))
    for i, p in enumerate(bp.products):
        for old in p.previous_names:
            out.setdefault(old, (i, p))
    return out


def _product_removed(
    base: Mesh, bp: Blueprint, index: int, product: Product, today: dt.date
) -> Problem:
    pid = f"{bp.domain}.{product.name}"
    src = base.source(bp.domain)
    at = ("products", index, "name")
    d = product.decommission
    if d is None:
        return src.problem(
            at,
            "E040",
            f"product {pid} is removed without a decommission block: its bucket, data and "
            f"table are protected and its consumers would lose access without notice; "
            f"{HOW_TO_RETIRE}. A rename is not a removal: list the old name in previous_names "
            "of the renamed product",
        )
    if d.date > today:
        return src.problem(
            at,
            "E041",
            f"product {pid} is removed before its decommission date {d.date.isoformat()}: "
            f"until then its grants hold and its data is kept; keep it in the blueprint until "
            f"{d.date.isoformat()}"
            + (" and remove it after that date" if d.data is DataDisposition.delete else ""),
        )
    if d.data is DataDisposition.retain:
        return src.problem(
            at,
            "E042",
            f"product {pid} was decommissioned on {d.date.isoformat()} with data: retain, so it "
            "stays in the blueprint: its bucket, key and table are kept (protected; removing "
            "it would make `pulumi up` fail) and the blueprint keeps them owned, governed and "
            "audited. To delete the data instead, change data to delete in a reviewed change "
            "first, then remove the product",
        )
    return src.problem(
        at,
        "W005",
        f"product {pid} (decommissioned on {d.date.isoformat()}, data: delete) is removed: the "
        "next `pulumi up` deletes its bucket with every object and its table if the stack "
        "allows data deletion (mesh:allowDataDeletion) and a `pulumi up` since the date lifted "
        "their protection; otherwise it stops at the protected resources and nothing is lost",
    )


def _domain_removed(base: Mesh, bp: Blueprint, today: dt.date) -> Problem:
    names = ", ".join(p.name for p in bp.products)
    products = f" and its product(s) {names}" if names else ""
    src, d = base.source(bp.domain), bp.decommission
    if d is None:
        return src.problem(
            ("domain",),
            "E043",
            f"the blueprint of domain {bp.domain!r} is removed: its KMS key, Glue database and "
            f"IAM roles{products} are protected and its consumers would lose access without "
            "notice; to retire the domain, keep the file with a domain-level `decommission: "
            "{date: YYYY-MM-DD, reason: ..., data: retain|delete}`: every grant it gives and "
            "receives ends on the date and its roles go; with data: delete the file may be "
            "removed after the date",
        )
    if d.date > today:
        return src.problem(
            ("decommission", "date"),
            "E080",
            f"domain {bp.domain} is removed before its decommission date {d.date.isoformat()}: "
            "until then its grants hold; keep the blueprint until that date",
        )
    if d.data is DataDisposition.retain:
        return src.problem(
            ("decommission", "data"),
            "E081",
            f"domain {bp.domain} was retired on {d.date.isoformat()} with data: retain, so its "
            f"blueprint stays: its key, database{products} are kept (protected) and stay owned, "
            "governed and audited. To delete the data instead, change data to delete in a "
            "reviewed change first, then remove the blueprint",
        )
    return src.problem(
        ("decommission", "data"),
        "W030",
        f"domain {bp.domain} (retired on {d.date.isoformat()}, data: delete) is removed: the "
        f"next `pulumi up` deletes its bucket(s) with every object{products} if the stack "
        "allows data deletion (mesh:allowDataDeletion) and a `pulumi up` since the date lifted "
        "their protection; otherwise it stops at the protected resources and nothing is lost",
    )


def _account_move(head: Mesh, before: Blueprint, after: Blueprint) -> list[Problem]:
    """E053: a domain whose account changes is deployed anew in the new account (new bucket,
    key, database, roles) while the old account keeps its protected resources: the move must
    be stated (`previous_account`: the account it leaves), so nobody does it by a typo."""
    if before.account == after.account:
        return []
    stated = after.previous_account is not None and before.account in (None, after.previous_account)
    if stated:
        return []
    old = before.account or "the stack's account (mesh:account)"
    return [
        head.source(after.domain).problem(
            ("account",),
            "E053",
            f"domain {after.domain} moves from {old} to {after.account or 'the stack account'}: "
            "every resource of the domain is created anew there and its data is not moved; copy "
            f'the data first and say so with previous_account: "{before.account or "<the stack account>"}"',
        )
    ]


def against_base(
    result: Report,
    base: Report,
    head_files: Iterable[Path],
    base_files: Iterable[Path],
    today: dt.date,
) -> Report:
    """`result` (HEAD, loaded and checked) plus the problems of changing BASE into it.
    `head_files`/`base_files`: the blueprint files of each tree, to tell a file that does not
    load (its own errors say why) from a file that is gone."""
    loaded_head = set(result.mesh.domains)
    unloaded = [p.stem for p in head_files if p.stem not in loaded_head]
    errors, warnings = change_problems(base.mesh, result.mesh, today, unloaded)
    loaded_base = set(base.mesh.domains)
    for path in base_files:
        if path.stem not in loaded_base:
            warnings.append(
                Problem(
                    str(path),
                    None,
                    "",
                    "W006",
                    "this blueprint of the base tree does not load, so products removed from it "
                    "are not checked (fix the base branch)",
                )
            )
    return Report(
        result.mesh,
        sorted(result.errors + errors, key=Problem.sort_key),
        sorted(result.warnings + warnings, key=Problem.sort_key),
    )
