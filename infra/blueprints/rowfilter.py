"""Row filters (`rows:` of a consumer grant), parsed with sqlglot at validate time (in
`rowfilter_sql`, imported only when a tree has a row filter).

Lake Formation takes a row filter as a PartiQL predicate over the table's columns (LF
Developer Guide, "PartiQL support in row filter expressions"). What this module accepts is
the part of it that every engine evaluates the same way: comparisons (`=`, `<>`, `!=`, `<`,
`<=`, `>`, `>=`), `AND`, `OR`, `NOT`, parentheses, `IN (...)`, `BETWEEN`, `LIKE`, `IS [NOT]
NULL`, over the product's column names (schema and partition keys) and literals (strings,
numbers, `TRUE`, `FALSE`, `NULL`). Anything else (functions, casts, arithmetic, subqueries,
qualified names, several statements) is refused, not guessed at.

- E095: the text does not parse, or uses something outside that subset;
- E096: it names a column the product does not have;
- E097: it is not a boolean predicate (`region`, `1`, `amount + 1`);
- E098 (checked by the caller, who knows the grant): it names a PII column without
  `include_pii` and `approved_by` (a filter on a PII column discloses it row by row).

`compare` classifies a change for `mesh diff`: a filter that adds conditions to the old one
(`old AND more`) is narrower; one that drops conditions, or none at all, is wider; anything
else cannot be ordered and counts as wider (new access: a reviewer looks).
"""

from __future__ import annotations

from collections.abc import Mapping


def check(text: str, columns: Mapping[str, str]) -> tuple[list, set[str]]:
    """Problems of a row filter over `columns` (name -> Glue type: the schema and the
    partition keys), each a `rowfilter_sql.RowFilterProblem` (code E095-E097, message), and
    the columns it names."""
    from infra.blueprints import rowfilter_sql

    return rowfilter_sql.check(text, columns)


def compare(old: str | None, new: str | None) -> str:
    """ "same", "narrower" or "wider": how the rows of a grant change from filter `old` to
    `new` (None: every row). What cannot be ordered counts as "wider"."""
    if old == new:
        return "same"
    if new is None:
        return "wider"
    if old is None:
        return "narrower"
    from infra.blueprints.rowfilter_sql import conjuncts

    before, after = conjuncts(old), conjuncts(new)
    if before is None or after is None:
        return "wider"
    if before == after:
        return "same"
    if before < after:
        return "narrower"
    return "wider"
