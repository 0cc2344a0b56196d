"""The sqlglot side of `infra.blueprints.rowfilter`: imported only when a tree has a row
filter (sqlglot alone costs more start-up than the rest of `mesh validate`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from infra.errors import quote

DIALECT = "trino"  # Athena's SQL: string literals in '', identifiers in ""
_LOGICAL = (exp.And, exp.Or)
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_PREDICATES = (*_LOGICAL, exp.Not, *_COMPARISONS, exp.In, exp.Between, exp.Like, exp.Is)
_VALUES = (exp.Literal, exp.Null, exp.Boolean, exp.Neg)
_ALLOWED = (*_PREDICATES, *_VALUES, exp.Paren, exp.Column, exp.Identifier)


@dataclass(frozen=True)
class RowFilterProblem:
    code: str  # E095 | E096 | E097
    message: str


def _parse(text: str) -> exp.Expression | RowFilterProblem:
    try:
        parsed = [e for e in sqlglot.parse(text, read=DIALECT) if e is not None]
    except SqlglotError as err:
        errors = getattr(err, "errors", None) or [{"description": str(err)}]
        what = re.sub(r"<class '[\w.]*?(\w+)'>", r"\1", str(errors[0].get("description")))
        where = f" at column {errors[0]['col']}" if errors[0].get("col") else ""
        return RowFilterProblem(
            "E095", f"the row filter does not parse{where}: {quote(what.splitlines()[0])}"
        )
    if len(parsed) != 1:
        return RowFilterProblem("E095", "the row filter must be one predicate, not several")
    return parsed[0]


def _unsupported(tree: exp.Expression) -> str | None:
    for node in tree.walk():
        if not isinstance(node, _ALLOWED):
            kind = "a function call" if isinstance(node, exp.Func) else node.key.upper()
            return f"{kind} ({quote(node.sql(dialect=DIALECT))})"
        if isinstance(node, exp.Column) and node.table:
            return f"qualified name {node.sql(dialect=DIALECT)}"
        if isinstance(node, exp.Neg) and not isinstance(node.this, exp.Literal):
            return "negation of an expression"
        if isinstance(node, exp.In) and (node.args.get("query") or node.args.get("unnest")):
            return "IN with a subquery"
    return None


def _strip(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _is_predicate(node: exp.Expression, boolean_columns: set[str]) -> bool:
    node = _strip(node)
    if isinstance(node, _LOGICAL):
        return _is_predicate(node.this, boolean_columns) and _is_predicate(
            node.expression, boolean_columns
        )
    if isinstance(node, exp.Not):
        return _is_predicate(node.this, boolean_columns)
    if isinstance(node, _PREDICATES):
        return True
    if isinstance(node, exp.Boolean):
        return True
    return isinstance(node, exp.Column) and node.name in boolean_columns


def check(text: str, columns: Mapping[str, str]) -> tuple[list[RowFilterProblem], set[str]]:
    """Problems of a row filter over `columns` (name -> Glue type: the schema and the
    partition keys), and the columns it names."""
    tree = _parse(text)
    if isinstance(tree, RowFilterProblem):
        return [tree], set()
    what = _unsupported(tree)
    if what is not None:
        return [
            RowFilterProblem(
                "E095",
                f"the row filter uses {what}, which is not supported: use comparisons, AND, "
                "OR, NOT, IN, BETWEEN, LIKE and IS NULL over column names and literals",
            )
        ], set()
    named = {c.name for c in tree.find_all(exp.Column)}
    problems = [
        RowFilterProblem(
            "E096",
            f"the row filter names column {name!r}, which the product does not have; "
            f"expected one of: {', '.join(sorted(columns))}",
        )
        for name in sorted(named - set(columns))
    ]
    boolean = {n for n, t in columns.items() if t == "boolean"}
    if not _is_predicate(tree, boolean):
        problems.append(
            RowFilterProblem(
                "E097",
                f"the row filter {quote(tree.sql(dialect=DIALECT))} is not a boolean predicate: "
                "it must compare columns with values, e.g. region = 'EU' AND year >= 2024",
            )
        )
    return problems, named & set(columns)


def conjuncts(text: str) -> frozenset[str] | None:
    """The top-level AND terms of a valid filter, each in one canonical form."""
    tree = _parse(text)
    if isinstance(tree, RowFilterProblem):
        return None
    terms: list[exp.Expression] = []
    stack = [_strip(tree)]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.And):
            stack += [_strip(node.this), _strip(node.expression)]
        else:
            terms.append(node)
    return frozenset(t.sql(dialect=DIALECT, normalize=True) for t in terms)
