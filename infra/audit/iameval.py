"""A small, explicit evaluator of AWS policy documents for one request at a time.

It answers "does this document allow / deny this action on this resource for this principal, in
this request context?" for the statement elements the mesh's documents use (Effect, Principal,
NotPrincipal, Action, NotAction, Resource, NotResource, Condition) and the condition operators
listed in :data:`_OPERATORS`. It does not lint (parliament does that); it exists so the audit can
compute *effective* access from the generated documents instead of trusting the blueprint.

Anything it cannot decide (an unknown condition operator, a policy variable) is resolved towards
*more* access — an audit must over-report, never hide — and recorded as an uncertainty so the
report can say so.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

Effect = Literal["Allow", "Deny"]
# How a resource-policy statement's principal relates to the caller:
#   "direct"  - the statement names the caller (or "*"): the resource policy alone can allow;
#   "account" - it names the caller's account (root or id): it only delegates to IAM, the
#               caller's identity policy must allow too (same-account semantics of S3 and KMS).
PrincipalMatch = Literal["direct", "account"] | None


@lru_cache(maxsize=1 << 16)  # a large mesh has tens of thousands of patterns: no thrashing
def _glob(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    """IAM wildcards: `*` any run of characters (including `/` and `:`), `?` one character."""
    parts = []
    for ch in pattern:
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), 0 if case_sensitive else re.IGNORECASE)


def glob_match(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    return _glob(pattern, case_sensitive).fullmatch(value) is not None


def as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


@dataclass(frozen=True)
class Caller:
    """Who makes the request: an IAM role ARN (or "*" for an anonymous caller)."""

    arn: str

    @property
    def account(self) -> str | None:
        parts = self.arn.split(":")
        return parts[4] if len(parts) > 5 else None

    def matches(self, principal: Any) -> PrincipalMatch:
        """How the statement's Principal element relates to this caller."""
        if principal == "*":
            return "direct"
        if not isinstance(principal, Mapping):
            return None
        best: PrincipalMatch = None
        account = self.account
        for raw in as_list(principal.get("AWS")):
            value = str(raw)
            if value in ("*", self.arn):
                return "direct"
            if account and (
                value == account or re.fullmatch(rf"arn:[a-z-]+:iam::{account}:root", value)
            ):
                best = "account"
        return best


@dataclass
class Request:
    action: str
    resource: str
    context: dict[str, str | list[str]] = field(default_factory=dict)


@dataclass
class StatementHit:
    """A statement that applies to the request."""

    document: str  # id of the document it comes from
    sid: str | None
    effect: Effect
    principal: PrincipalMatch = None  # resource policies only
    uncertain: str | None = None  # why its condition could not be decided


@dataclass
class Evaluation:
    allows: list[StatementHit] = field(default_factory=list)
    denies: list[StatementHit] = field(default_factory=list)

    @property
    def uncertain(self) -> list[str]:
        return [h.uncertain for h in self.allows + self.denies if h.uncertain]


def _action_matches(patterns: Iterable[str], action: str) -> bool:
    return any(glob_match(p, action, case_sensitive=False) for p in patterns)


def _resource_matches(patterns: Iterable[str], resource: str) -> bool:
    return any(glob_match(p, resource) for p in patterns)


# ------------------------------------------------------------------ conditions


def _string_eq(pattern: str, value: str) -> bool:
    return pattern == value


def _string_like(pattern: str, value: str) -> bool:
    return glob_match(pattern, value)


def _string_eq_ic(pattern: str, value: str) -> bool:
    return pattern.lower() == value.lower()


def _bool_eq(pattern: str, value: str) -> bool:
    return str(pattern).lower() == str(value).lower()


def _instant(text: str) -> dt.datetime | None:
    """An IAM date value: ISO 8601 (`2027-07-01T00:00:00Z`, a date alone) or epoch seconds."""
    try:
        if text.isdigit():
            return dt.datetime.fromtimestamp(int(text), dt.UTC)
        value = dt.datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _date_compare(op: str):
    def matcher(pattern: str, value: str) -> bool:
        limit, now = _instant(pattern), _instant(value)
        if limit is None or now is None:
            raise _Undecidable
        return {"lt": now < limit, "le": now <= limit, "gt": now > limit, "ge": now >= limit,
                "eq": now == limit}[op]  # fmt: skip

    return matcher


class _Undecidable(Exception):
    """A condition value the evaluator cannot read (e.g. a date it cannot parse)."""


# operator -> (matcher, negated)
_OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (_string_eq, False),
    "StringNotEquals": (_string_eq, True),
    "StringEqualsIgnoreCase": (_string_eq_ic, False),
    "StringNotEqualsIgnoreCase": (_string_eq_ic, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (_string_like, False),
    "ArnLike": (_string_like, False),
    "ArnNotEquals": (_string_like, True),
    "ArnNotLike": (_string_like, True),
    "Bool": (_bool_eq, False),
    "DateEquals": (_date_compare("eq"), False),
    "DateNotEquals": (_date_compare("eq"), True),
    "DateLessThan": (_date_compare("lt"), False),
    "DateLessThanEquals": (_date_compare("le"), False),
    "DateGreaterThan": (_date_compare("gt"), False),
    "DateGreaterThanEquals": (_date_compare("ge"), False),
}


def _condition_holds(block: Mapping[str, Any], context: Mapping[str, Any]) -> bool | None:
    """True/False, or None when an operator is unknown (the caller decides how to lean)."""
    for raw_operator, tests in block.items():
        operator = raw_operator
        if_exists = operator.endswith("IfExists")
        if if_exists:
            operator = operator[: -len("IfExists")]
        qualifier = None
        if ":" in operator:  # ForAnyValue:StringLike, ForAllValues:...
            qualifier, operator = operator.split(":", 1)
        for key, expected in tests.items():
            present = key in context
            if operator == "Null":
                want_absent = str(as_list(expected)[0]).lower() == "true"
                if want_absent == present:
                    return False
                continue
            if operator not in _OPERATORS:
                return None
            matcher, negated = _OPERATORS[operator]
            if not present:
                if if_exists or (negated and qualifier is None):
                    continue  # a missing key satisfies ...IfExists and negated operators
                return False
            values = [str(v) for v in as_list(context[key])]
            patterns = [str(p) for p in as_list(expected)]
            try:
                if qualifier == "ForAllValues":
                    ok = all(any(matcher(p, v) for p in patterns) != negated for v in values)
                else:  # single-valued keys and ForAnyValue
                    hit = any(matcher(p, v) for p in patterns for v in values)
                    ok = (not hit) if negated else hit
            except _Undecidable:
                return None
            if not ok:
                return False
    return True


# ------------------------------------------------------------------ documents


def evaluate(
    document: Mapping[str, Any],
    doc_id: str,
    request: Request,
    caller: Caller | None = None,
) -> Evaluation:
    """The statements of `document` that apply to `request`.

    `caller` is given for resource policies (statements have a Principal) and omitted for
    identity policies (attached to the caller, no Principal element)."""
    out = Evaluation()
    for stmt in as_list(document.get("Statement")):
        effect = stmt.get("Effect")
        if effect not in ("Allow", "Deny"):
            continue
        principal_match: PrincipalMatch = None
        if caller is not None:
            if "Principal" in stmt:
                principal_match = caller.matches(stmt["Principal"])
                if principal_match is None:
                    continue
            elif "NotPrincipal" in stmt:
                if caller.matches(stmt["NotPrincipal"]) is not None:
                    continue
                principal_match = "direct"
            else:
                continue
        if "Action" in stmt:
            if not _action_matches(as_list(stmt["Action"]), request.action):
                continue
        elif "NotAction" in stmt:
            if _action_matches(as_list(stmt["NotAction"]), request.action):
                continue
        else:
            continue
        if "Resource" in stmt:
            if not _resource_matches(as_list(stmt["Resource"]), request.resource):
                continue
        elif "NotResource" in stmt:
            if _resource_matches(as_list(stmt["NotResource"]), request.resource):
                continue
        else:
            continue
        uncertain = None
        if "Condition" in stmt:
            holds = _condition_holds(stmt["Condition"], request.context)
            if holds is False:
                continue
            if holds is None:
                uncertain = (
                    f"{doc_id} {stmt.get('Sid') or '(no Sid)'}: condition operator not "
                    f"evaluated ({', '.join(stmt['Condition'])}); assumed to "
                    f"{'allow' if effect == 'Allow' else 'not deny'}"
                )
                if effect == "Deny":
                    continue  # lean towards more access
        hit = StatementHit(doc_id, stmt.get("Sid"), effect, principal_match, uncertain)
        (out.allows if effect == "Allow" else out.denies).append(hit)
    return out


@dataclass
class Decision:
    allowed: bool
    evidence: list[str]
    uncertain: list[str]


def decide(
    identity: list[Evaluation],
    resource: list[Evaluation],
    resource_policy_required: bool,
) -> Decision:
    """Same-account decision.

    S3 (`resource_policy_required=False`): allowed when no applicable Deny and either an identity
    statement or a resource statement naming the caller directly allows (a resource statement
    naming only the account delegates to IAM). KMS (`resource_policy_required=True`): the key
    policy must allow — directly, or by naming the account *and* an identity statement allowing.
    """
    denies = [h for e in identity + resource for h in e.denies]
    uncertain = [u for e in identity + resource for u in e.uncertain]
    if denies:
        return Decision(False, [f"denied by {_cite(h)}" for h in denies], uncertain)
    id_allows = [h for e in identity for h in e.allows]
    direct = [h for e in resource for h in e.allows if h.principal == "direct"]
    delegated = [h for e in resource for h in e.allows if h.principal == "account"]
    if resource_policy_required:
        if direct:
            return Decision(True, [_cite(h) for h in direct], uncertain)
        if delegated and id_allows:
            return Decision(True, [_cite(h) for h in delegated + id_allows], uncertain)
        return Decision(False, [], uncertain)
    if direct or id_allows:
        return Decision(True, [_cite(h) for h in direct + id_allows], uncertain)
    return Decision(False, [], uncertain)


def _cite(hit: StatementHit) -> str:
    return f"{hit.document}#{hit.sid}" if hit.sid else hit.document
