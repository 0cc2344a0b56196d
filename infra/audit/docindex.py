"""What a policy document may apply to, told without evaluating it: the (action, literal
resource prefix) keys of its statements, an index of documents or callers by those keys, the
principals a resource policy's Allow statements name, and the principal elements a resource
policy's answer depends on. The effective-access evaluator (`infra.audit.effective`,
`infra.audit.evaluator`) uses them to skip documents and callers that cannot change a decision;
each answer errs on the side of "may apply" (None / evaluate everything), so the decisions are
those of evaluating every document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.audit.iameval import _OPERATORS, Request, as_list
from infra.audit.view import PolicyDoc


def literal_prefix(pattern: str) -> str:
    """The text before the first IAM wildcard: every value the pattern matches starts with it."""
    cut = len(pattern)
    for wildcard in ("*", "?"):
        at = pattern.find(wildcard)
        if at != -1:
            cut = min(cut, at)
    return pattern[:cut]


def statement_keys(stmt: Any) -> list[tuple[str | None, str]] | None:
    """(literal action in lower case or None for any action, resource literal prefix) for every
    request the statement may apply to; [] when it applies to none; None when it cannot be told
    (the document is then evaluated for every request, exactly as before)."""
    if not isinstance(stmt, Mapping):
        return None
    if stmt.get("Effect") not in ("Allow", "Deny"):
        return []
    if "Action" in stmt:
        patterns = as_list(stmt["Action"])
        if not all(isinstance(p, str) for p in patterns):
            return None
        # IAM actions compare case-insensitively (ASCII); a wildcard matches many
        actions = {
            p.lower() if p.isascii() and "*" not in p and "?" not in p else None for p in patterns
        }
    elif "NotAction" in stmt:
        actions = {None}
    else:
        return []
    if "Resource" in stmt:
        patterns = as_list(stmt["Resource"])
        if not all(isinstance(p, str) for p in patterns):
            return None
        prefixes = {literal_prefix(p) for p in patterns}
    elif "NotResource" in stmt:
        prefixes = {""}
    else:
        return []
    return [(a, r) for a in actions for r in prefixes]


def document_keys(document: Any) -> list[tuple[str | None, str]] | None:
    if not isinstance(document, Mapping):
        return None
    keys: list[tuple[str | None, str]] = []
    for stmt in as_list(document.get("Statement")):
        found = statement_keys(stmt)
        if found is None:
            return None
        keys.extend(found)
    return keys


class PrefixIndex:
    """Items (document or caller positions) keyed by the (action, literal resource prefix) pairs
    of their statements (`statement_keys`; action None: a wildcard or NotAction). The items that
    may apply to a request are found with one look-up per distinct prefix length, not per item."""

    def __init__(self) -> None:
        self.keyed: dict[str | None, dict[str, set[int]]] = {}
        self._lengths: dict[str | None, list[int]] | None = None

    def add(self, item: int, keys: list[tuple[str | None, str]]) -> None:
        for action, prefix in keys:
            self.keyed.setdefault(action, {}).setdefault(prefix, set()).add(item)
        self._lengths = None

    def lookup(self, action: str, resource: str) -> set[int]:
        if self._lengths is None:
            self._lengths = {a: sorted({len(p) for p in by}) for a, by in self.keyed.items()}
        hits: set[int] = set()
        for key in (action.lower(), None):
            by_prefix = self.keyed.get(key)
            if not by_prefix:
                continue
            for n in self._lengths[key]:
                if n > len(resource):
                    break
                found = by_prefix.get(resource[:n])
                if found:
                    hits |= found
        return hits


class Candidates:
    """The identity documents of one role that may apply to a request, in their order.

    `evaluate` keeps a statement only when its Action and Resource match the request, and a
    document none of whose statements match yields an empty `Evaluation`, which `decide` ignores:
    so evaluating only the documents with a statement whose literal action equals the request's
    (or whose actions have a wildcard) and one of whose resource patterns' literal prefix starts
    the request's resource gives the same decision. A consumer role carries one document per
    grant; without this every probe of every bucket evaluated all of them."""

    def __init__(self, docs: list[PolicyDoc]) -> None:
        self.docs = docs
        self.always: set[int] = set()
        self.index = PrefixIndex()
        for i, doc in enumerate(docs):
            keys = document_keys(doc.document)
            if keys is None:
                self.always.add(i)
            else:
                self.index.add(i, keys)

    def matching(self, request: Request) -> list[PolicyDoc]:
        action, resource = request.action, request.resource
        if not (isinstance(action, str) and action.isascii() and isinstance(resource, str)):
            return self.docs
        hits = self.always | self.index.lookup(action, resource)
        if len(hits) == len(self.docs):
            return self.docs
        return [self.docs[i] for i in sorted(hits)]


# condition operators `iameval` always decides (dates may not parse: not among them)
_DECIDED = frozenset(op for op in (*_OPERATORS, "Null") if not op.startswith("Date"))


def named_principals(document: Any) -> set[str] | None:
    """The ARNs the Allow statements of a resource policy name as principals; None when a
    statement may apply to callers it does not name and it matters (see `_Reachers`)."""
    if not isinstance(document, Mapping):
        return None
    named: set[str] = set()
    for stmt in as_list(document.get("Statement")):
        if not isinstance(stmt, Mapping):
            return None
        principal = stmt.get("Principal")
        explicit = None
        if "NotPrincipal" not in stmt and isinstance(principal, Mapping):
            values = as_list(principal.get("AWS"))
            if all(
                isinstance(v, str) and v.startswith("arn:") and ":root" not in v for v in values
            ):
                explicit = set(values)
        if stmt.get("Effect") == "Allow":
            if explicit is None:
                return None
            named |= explicit
        if explicit is None and not surely_decided(stmt.get("Condition")):
            return None
    return named


def surely_decided(condition: Any) -> bool:
    if condition is None:
        return True
    if not isinstance(condition, Mapping):
        return False
    for operator in condition:
        if not isinstance(operator, str):
            return False
        base = operator.removesuffix("IfExists").rpartition(":")[2]
        if base not in _DECIDED:
            return False
    return True


# request context keys whose value depends on the caller (see Evaluator.s3 and .kms)
CALLER_KEYS = frozenset({"aws:PrincipalArn", "aws:PrincipalAccount", "kms:CallerAccount"})


def principal_shape(document: Any) -> tuple[Any, ...] | bool:
    """The Principal/NotPrincipal elements of a resource policy, in statement order, when they
    are all the policy lets depend on the caller; False when a condition reads a caller key or
    the document has a shape `evaluate` may treat otherwise."""
    if not isinstance(document, Mapping):
        return False
    elements = []
    for stmt in as_list(document.get("Statement")):
        if not isinstance(stmt, Mapping):
            return False
        for name in ("Principal", "NotPrincipal"):
            if name in stmt:
                elements.append(stmt[name])
        condition = stmt.get("Condition")
        if condition is None:
            continue
        if not isinstance(condition, Mapping):
            return False
        for tests in condition.values():
            if not isinstance(tests, Mapping):
                return False
            if any(not isinstance(k, str) or k in CALLER_KEYS for k in tests):
                return False
    return tuple(elements)
