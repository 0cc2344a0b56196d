"""Lint runs once per distinct document (names normalised, infra/audit/lintnorm.py): every
finding — issue, severity, detail, location with its column, ignore — is the one parliament
reports on the document alone, on the sample, every fixture tree and a generated mesh."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from functools import cache
from pathlib import Path

import pytest
from conftest import FIXTURES, SAMPLE, TODAY

from infra.audit import lint as lint_mod
from infra.audit.lintnorm import normalise
from infra.audit.view import MeshGraph, PolicyDoc, index
from infra.blueprints.load import load_mesh
from infra.engines.recording import run_program
from infra.provision.program import StackSettings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from parliament import analyze_policy_string, enhance_finding


@cache
def _alone(text: str, doc_id: str) -> tuple[lint_mod.LintFinding, ...]:
    """Parliament on one document as it is, with its own id: how lint worked before documents
    were normalised (the exact former code)."""
    lint_mod._configure()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        policy = analyze_policy_string(text, filepath=doc_id, include_community_auditors=True)
        out = []
        for raw in policy.findings:
            finding = enhance_finding(raw)
            out.append(
                lint_mod.LintFinding(
                    document=doc_id,
                    issue=finding.issue,
                    severity=finding.severity,
                    title=finding.title,
                    detail=str(finding.detail or ""),
                    location=lint_mod._plain(finding.location),
                    ignored=lint_mod._justification(finding),
                )
            )
    return tuple(out)


def _pairs(graph: MeshGraph) -> list[tuple[PolicyDoc, str | None]]:
    out = []
    for doc in graph.documents:
        role = graph.roles.get(doc.attached_to) if doc.kind == "trust" else None
        out.append((doc, role.arn if role else None))
    return out


def _each_alone(pairs) -> list[dict]:
    findings = []
    for doc, arn in pairs:
        findings.extend(_alone(lint_mod.lintable_text(doc, arn), doc.id))
    findings.sort(key=lambda f: (-lint_mod.SEVERITIES.index(f.severity), f.document, f.issue))
    return [f.as_json() for f in findings]


def _trees() -> list[Path]:
    """Every directory under tests/fixtures that holds blueprint files, and the sample."""
    dirs = {p.parent for ext in ("yaml", "yml") for p in FIXTURES.rglob(f"*.{ext}")}
    return [SAMPLE, *sorted(dirs)]


def _graph(tree: Path, today: dt.date, settings: StackSettings) -> MeshGraph | None:
    loaded = load_mesh(tree, today=today)
    if loaded.errors or loaded.mesh is None or not loaded.mesh.domains:
        return None
    return index(run_program(loaded.mesh, settings, today).resources)


def _assert_same(graph: MeshGraph) -> tuple[int, int]:
    pairs = _pairs(graph)
    deduplicated = lint_mod.lint_documents(pairs)
    assert [f.as_json() for f in deduplicated.findings] == _each_alone(pairs)
    assert [f.as_json() for f in lint_mod.lint(graph).findings] == _each_alone(pairs)
    return deduplicated.documents, deduplicated.distinct


def test_lint_dedup_every_fixture_tree_and_the_sample():
    linted = documents = distinct = 0
    for tree in _trees():
        for settings in (StackSettings(), StackSettings(single_account=True)):
            graph = _graph(tree, TODAY, settings)
            if graph is None:
                continue
            n, d = _assert_same(graph)
            linted, documents, distinct = linted + 1, documents + n, distinct + d
    assert linted >= 150  # every tree that loads (others are invalid on purpose), two ways
    assert distinct < documents * 0.6  # small trees: few documents alike


def test_lint_dedup_generated_mesh(tmp_path):
    from bench.meshgen import generate

    made = TODAY - dt.timedelta(days=10)
    generate(tmp_path, 12, 4, 5, today=made)
    graph = _graph(tmp_path, TODAY, StackSettings())
    assert graph is not None
    documents, distinct = _assert_same(graph)
    assert documents > 150 and distinct < documents / 4


# ---------------------------------------------------------------- names that look like structure


def _doc(kind: str, statements: list[dict], name: str = "x") -> PolicyDoc:
    body = {"Version": "2012-10-17", "Statement": statements}
    text = json.dumps(body)
    resource_type = "aws:iam/rolePolicy:RolePolicy"
    return PolicyDoc(f"{kind}/{name}", kind, resource_type, name, "r", None, text, body)


def _s3(bucket: str, account: str, tag: str, unsafe: bool = True) -> list[dict]:
    # organizations' ARN formats glue `o-` to a name: its ARNs are left as they are
    arn = f"arn:aws:organizations::{account}:ou/o-{tag}/*" if unsafe else f"arn:aws:s3:::{tag}"
    return [
        {
            "Sid": "Objects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutBucketPolicy", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/data/*"],
            "Condition": {"StringEquals": {"aws:PrincipalTag/mesh-domain": tag}},
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{account}:role/{bucket}", account, tag]},
            "Action": "kms:Decrypt",
            "Resource": f"arn:aws:kms:eu-west-1:{account}:key/{tag}",
            "Condition": {
                "Bool": {"aws:SecureTransport": tag},
                "DateGreaterThan": {"aws:CurrentTime": tag},
                "NumericLessThan": {"aws:MultiFactorAuthAge": tag},
                "IpAddress": {"aws:SourceIp": tag},
                "StringLike": {"aws:SourceArn": arn},
            },
        },
    ]


NAMES = [
    ("mesh-sales-orders", "123456789012", "sales"),
    ("mesh-finance-ledger", "210987654321", "finance"),
    ("key", "123456789012", "true"),  # format words and patterns: never replaced
    ("default", "999999999999", "false"),
    ("role", "000000000001", "2026-01-01T00:00:00Z"),
    ("z-000001", "000000000002", "10.0.0.1"),  # looks like a placeholder
    ("shop", "123456789012", "abcd"),  # base64-shaped names keep that shape
    ("mesh-x", "12345", "o-abc"),  # not an account: kept
    ("a_b.c", "123456789012", "*"),
]


@pytest.mark.parametrize(("bucket", "account", "tag"), NAMES)
def test_lint_dedup_names_that_look_like_structure(bucket, account, tag):
    doc = _doc("inline", _s3(bucket, account, tag))
    assert [f.as_json() for f in lint_mod.lint_documents([(doc, None)]).findings] == _each_alone(
        [(doc, None)]
    )


def test_documents_differing_only_in_names_are_linted_once():
    docs = [_doc("inline", _s3(b, a, t, unsafe=False), name=b) for b, a, t in NAMES[:2]]
    texts = {normalise(d.text).text for d in docs}
    assert len(texts) == 1
    norm = normalise(docs[0].text)
    assert "mesh-sales-orders" not in norm.text and "123456789012" not in norm.text
    assert set(norm.names.values()) >= {"mesh-sales-orders", "123456789012", "sales"}
    result = lint_mod.lint_documents([(d, None) for d in docs])
    assert result.documents == 2 and result.distinct == 1


def test_format_words_and_unsafe_services_are_kept():
    doc = _doc("inline", _s3("key", "123456789012", "true"))
    norm = normalise(doc.text)
    assert ":key/" in norm.text and "arn:aws:s3:::key" in norm.text  # a format word
    assert '"true"' in norm.text  # a Bool value
    assert "ou/o-true/*" in norm.text  # organizations' formats glue `o-` to a name
    assert "kms:eu-west-1:123456789012:" not in norm.text  # a safe service: its account is


SHAPES = [
    # one statement as an object, on the second line, a condition after the names
    (
        '{"Version": "2012-10-17",\n "Statement": {"Effect": "Allow", "Action": "s3:PutObject", '
        '"Resource": "arn:aws:s3:::mesh-sales-orders/*", "Condition": {"StringEquals": '
        '{"s3:x-amz-server-side-encryption-aws-kms-key-id": '
        '"arn:aws:kms:eu-west-1:123456789012:key/1f1810d0-cedb"}}}}'
    ),
    # pretty-printed, names on several lines, findings on later lines
    json.dumps(
        {"Version": "2012-10-17", "Statement": _s3("mesh-sales-orders", "123456789012", "sales")},
        indent=2,
    ),
    # names before findings on the same line, two statements per line
    (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": '
        '"arn:aws:iam::123456789012:role/mesh-a"}, "Action": "s3:ListBucket", "Resource": '
        '"arn:aws:s3:::mesh-a"}, {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:'
        'role/mesh-a"}, "Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringEquals": '
        '{"aws:PrincipalArn": "arn:aws:iam::123456789012:role/mesh-a", "aws:PrincipalTag/d": "a"}}}]}'
    ),
    # Sids: a duplicate one (DUPLICATE_SID names it), a date in one, one parliament refuses
    json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": sid, "Effect": "Allow", "Action": "s3:GetObject", "Resource": res}
                for sid, res in (
                    ("ReadUntil20270101", "arn:aws:s3:::mesh-a/*"),
                    ("ReadUntil20270101", "arn:aws:s3:::mesh-b/*"),
                    ("ListUntil20270714", "*"),
                )
            ],
        }
    ),
    (
        '{"Version": "2012-10-17", "Statement": [{"Sid": "Read-mesh-a", "Effect": "Allow", '
        '"Action": "s3:GetObject", "Resource": "arn:aws:s3:::mesh-a/*"}]}'
    ),
    # not JSON: left as it is, parliament reports where
    '{"Version": "2012-10-17", "Statement": [{"Resource": "arn:aws:s3:::mesh-a",}',
]


@pytest.mark.parametrize("text", SHAPES)
def test_lint_dedup_maps_lines_and_columns_back(text):
    doc = PolicyDoc("inline/x", "inline", "aws:iam/rolePolicy:RolePolicy", "x", "r", None, text, {})
    found = [f.as_json() for f in lint_mod.lint_documents([(doc, None)]).findings]
    assert found == _each_alone([(doc, None)])
    assert any("line" in f["location"] or "lineno" in f["location"] for f in found)
