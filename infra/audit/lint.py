"""Lint every policy document with parliament (duo-labs/parliament), including its community
auditors (credentials exposure, permissions management, privilege escalation, ...).

Everything parliament checks is parliament's: this module only feeds it the documents, turns its
findings into data, and applies parliament's own ignore mechanism (`ignore_locations` in its
config, matched by `parliament.cli.is_finding_filtered`) to the findings listed in
:data:`IGNORED`, each with its written justification.

Two adaptations, both because parliament lints identity policies first:

- **Trust policies** have no `Resource` element (the resource is the role itself); parliament
  reports every trust policy as MALFORMED and stops (duo-labs/parliament#229, open). They are
  linted with the implicit resource made explicit — each statement gets `"Resource": <role ARN>`
  — so parliament checks their actions, principals and conditions. The document written to
  `policies/` is the exact deployed one.
- **Resource policies** (bucket, key) are linted as they are: parliament accepts and checks the
  `Principal` element.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from infra.audit.lintnorm import Normalised, normalise
from infra.audit.view import MeshGraph, PolicyDoc

with warnings.catch_warnings():  # parliament imports pkg_resources, which warns on import
    warnings.simplefilter("ignore")
    import parliament
    from jsoncfg.config_classes import ConfigJSONArray
    from parliament import analyze_policy_string, enhance_finding
    from parliament.cli import is_finding_filtered
    from parliament.finding import Finding


def _memoised_allowed_actions() -> None:
    """parliament's auditors each call `Policy.get_allowed_actions()` on the same policy (four
    times per document with the community auditors), and each call expands every action and
    matches it against every resource: ~90 % of a lint. The answer depends only on the policy,
    so it is kept on the policy object after the first call (a copy handed out each time)."""
    from parliament.policy import Policy

    compute = Policy.get_allowed_actions
    if getattr(compute, "memoised", False):
        return

    def get_allowed_actions(self, raise_exceptions=True):
        cache = self.__dict__.setdefault("_mesh_allowed_actions", {})
        if raise_exceptions not in cache:
            cache[raise_exceptions] = compute(self, raise_exceptions)
        return list(cache[raise_exceptions])

    get_allowed_actions.memoised = True
    get_allowed_actions.original = compute  # tests compare the two
    Policy.get_allowed_actions = get_allowed_actions


_memoised_allowed_actions()


def _fresh_default_locations() -> None:
    """parliament's `Policy.add_finding` and `Statement.add_finding` default `location` to one
    shared `{}`; the first finding added without a location gets `filepath` written into it, and
    every later such finding (RESOURCE_POLICY_PRIVILEGE_ESCALATION, DUPLICATE_SID, ...) of any
    document in the process reported that first document's path (and was matched against the
    ignores with it). Each such finding gets its own location here."""
    from parliament.policy import Policy
    from parliament.statement import Statement

    for cls in (Policy, Statement):
        add = cls.add_finding
        if getattr(add, "fresh_location", False):
            continue

        def add_finding(self, finding, detail=None, location=None, _add=add, _cls=cls):
            if detail is None and _cls is Policy:
                detail = ""
            return _add(self, finding, detail, {} if location is None else location)

        add_finding.fresh_location = True
        cls.add_finding = add_finding


_fresh_default_locations()

SEVERITIES = ("MUTE", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")
FAIL_AT = "MEDIUM"  # findings of this severity or higher fail the audit
COMMUNITY_OVERRIDES = (
    Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml"
)


@dataclass(frozen=True)
class Ignore:
    """A parliament `ignore_locations` entry (regexes, full-match, lower-cased, as parliament
    applies them) for one issue, with the reason it is a false positive for us."""

    issue: str
    location: dict[str, str]
    justification: str


IGNORED: tuple[Ignore, ...] = (
    Ignore(
        "CREDENTIALS_EXPOSURE",
        {"filepath": r"trust/.*", "actions": r"\['sts:assumerole'\]"},
        "A trust policy's sts:AssumeRole says who may assume *this* role (here: principals of "
        "this account tagged with the role's domain); the credentials-exposure auditor is "
        "written for identity policies, where sts:AssumeRole lets the holder assume other roles.",
    ),
    Ignore(
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        {"filepath": r"key/.*", "actions": r"\[('kms:(putkeypolicy|revokegrant)'(, )?)+\]"},
        "Key administration must keep kms:PutKeyPolicy: KMS refuses a key policy that locks out "
        "the caller (policy lockout safety check) and the deployment updates this policy "
        "whenever a grant changes. kms:RevokeGrant only removes access. Any other permissions-"
        "management action in a key policy (e.g. kms:CreateGrant) is still reported.",
    ),
)


@dataclass(frozen=True)
class LintFinding:
    document: str  # PolicyDoc.id
    issue: str
    severity: str
    title: str
    detail: str
    location: dict[str, Any]
    ignored: str | None = None  # the justification, when ignored

    @property
    def fails(self) -> bool:
        return self.ignored is None and SEVERITIES.index(self.severity) >= SEVERITIES.index(FAIL_AT)

    def as_json(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "issue": self.issue,
            "severity": self.severity,
            "title": self.title,
            "detail": self.detail,
            "location": self.location,
            "ignored": self.ignored,
        }


@dataclass
class LintResult:
    documents: int
    findings: list[LintFinding]
    distinct: int = 0  # distinct normalised texts, i.e. parliament analyses (cached ones too)

    @property
    def failing(self) -> list[LintFinding]:
        return [f for f in self.findings if f.fails]


@lru_cache(maxsize=1)
def _configure() -> None:
    """Parliament's config is module-global: load the community auditors' settings and our
    ignores into it (once per process: it reads a YAML file)."""
    parliament.override_config(str(COMMUNITY_OVERRIDES))
    for issue in {i.issue for i in IGNORED}:
        parliament.config[issue]["ignore_locations"] = [
            _as_parliament_location(i.location) for i in IGNORED if i.issue == issue
        ]


def lintable_text(doc: PolicyDoc, role_arn: str | None) -> str:
    """The text parliament analyses: the exact document, except that a trust policy's implicit
    resource (the role) is made explicit (see the module docstring)."""
    if doc.kind != "trust" or role_arn is None:
        return doc.text
    adapted = json.loads(doc.text)
    statements = adapted.get("Statement")
    for stmt in statements if isinstance(statements, list) else [statements]:
        if isinstance(stmt, dict) and "Resource" not in stmt and "NotResource" not in stmt:
            stmt["Resource"] = role_arn
    return json.dumps(adapted)


def _plain(value: Any) -> Any:
    """A finding's location as JSON data. parliament collects actions and resources in sets,
    so their order changes between runs: lists of strings are sorted, for the same output on
    every run."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        items = [_plain(v) for v in value]
        return sorted(items) if all(isinstance(v, str) for v in items) else items
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _as_parliament_location(location: dict[str, str]) -> dict[str, Any]:
    """An `ignore_locations` entry in the shape `is_finding_filtered` can match.

    parliament 1.6.4 passes each value through `parliament.misc.make_list`, which only knows
    jsoncfg nodes: a plain string (what its YAML config loader produces) becomes an empty list
    and never matches, so ignores from a config file silently do nothing. Handing the patterns
    over as a jsoncfg array (what make_list returns for its own nodes) lets parliament's matcher
    apply them as documented (lower-cased regex, full match, every key must match)."""
    entry: dict[str, Any] = {}
    for key, pattern in location.items():
        values = ConfigJSONArray(0, 0)
        values._append(pattern)
        entry[key] = values
    return entry


def _justification(finding: Any) -> str | None:
    """The justification of the IGNORED entry parliament's own filter matches, if any."""
    for ignore in IGNORED:
        if ignore.issue != finding.issue:
            continue
        finding.ignore_locations = [_as_parliament_location(ignore.location)]
        if is_finding_filtered(finding, "MUTE"):
            return ignore.justification
    return None


def lint_document(doc: PolicyDoc, role_arn: str | None = None) -> list[LintFinding]:
    return lint_documents([(doc, role_arn)]).findings


# the file path parliament is given for a normalised text: each finding's `filepath` is set back
# to the document's id (parliament uses the path for nothing else)
_NORMALISED_PATH = "\x00normalised"


@dataclass(frozen=True)
class _Raw:
    """One parliament finding on a normalised text, before it is mapped back to a document."""

    issue: str
    severity: str
    title: str
    detail: str
    location: dict[str, Any]


def _copied(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return type(value)(_copied(v) for v in value)
    return value


@lru_cache(maxsize=4096)
def _parliament(text: str) -> tuple[_Raw, ...]:
    """Parliament's findings for one (normalised) text: deterministic for a text and the
    configuration, so cached: an audit of a slightly changed graph re-lints only what changed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        policy = analyze_policy_string(
            text, filepath=_NORMALISED_PATH, include_community_auditors=True
        )
        raws = []
        for raw in policy.findings:
            finding = enhance_finding(raw)
            raws.append(
                _Raw(
                    finding.issue,
                    finding.severity,
                    finding.title,
                    str(finding.detail or ""),
                    _copied(finding.location),
                )
            )
    return tuple(raws)


def _restored(value: Any, norm: Normalised, doc_id: str, key: str | None = None) -> Any:
    """A finding's location (on the normalised text) as it is on the document: the names back
    in every string, the document's id as the file path, the column shifted."""
    if isinstance(value, dict):
        line = value.get("line", value.get("lineno"))
        return {
            k: norm.column(line, v) if k == "column" else _restored(v, norm, doc_id, k)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set)):
        return type(value)(_restored(v, norm, doc_id) for v in value)
    if key == "filepath" and value == _NORMALISED_PATH:
        return doc_id
    if isinstance(value, str):
        return norm.restore(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return norm.restore(str(value))


def _mapped(doc_id: str, norm: Normalised, raws: tuple[_Raw, ...]) -> list[LintFinding]:
    out = []
    for raw in raws:
        location = _restored(raw.location, norm, doc_id)
        finding = Finding(raw.issue, raw.detail, location)
        finding.severity = raw.severity
        out.append(
            LintFinding(
                document=doc_id,
                issue=raw.issue,
                severity=raw.severity,
                title=raw.title,
                detail=norm.restore(raw.detail),
                location=_plain(location),
                ignored=_justification(finding),
            )
        )
    return out


def lint_documents(documents: Iterable[tuple[PolicyDoc, str | None]]) -> LintResult:
    """Lint `(document, role ARN for a trust policy)` pairs (an iterable: a streaming caller
    feeds them as they come). Parliament analyses each distinct normalised text once
    (`infra.audit.lintnorm`); its findings are mapped back to every document."""
    _configure()
    findings: list[LintFinding] = []
    count = 0
    distinct: set[str] = set()
    for doc, role_arn in documents:
        count += 1
        norm = normalise(lintable_text(doc, role_arn))
        distinct.add(norm.text)
        findings.extend(_mapped(doc.id, norm, _parliament(norm.text)))
    findings.sort(key=lambda f: (-SEVERITIES.index(f.severity), f.document, f.issue))
    return LintResult(count, findings, len(distinct))


def lint(graph: MeshGraph) -> LintResult:
    def pairs() -> Iterator[tuple[PolicyDoc, str | None]]:
        for doc in graph.documents:
            role = graph.roles.get(doc.attached_to) if doc.kind == "trust" else None
            yield doc, role.arn if role else None

    return lint_documents(pairs())
