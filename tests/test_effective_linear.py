"""Effective access probes each bucket only with the callers that may reach it
(`infra.audit.effective._Reachers`): the same findings as probing every principal against every
bucket — on a generated mesh with a hub consumer (one domain reading a product of every other)
and on graphs whose bucket policies admit callers they do not name."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import SINGLE, TODAY

from infra.audit import effective
from infra.audit.effective import _Reachers, compute
from infra.audit.view import index
from infra.blueprints.load import load_mesh
from infra.engines.recording import run_program
from infra.provision.program import StackSettings


def _every_caller(self, bucket, actions):
    return self.every


def _both(resources, monkeypatch):
    graph = index(resources)
    fast = compute(graph, TODAY)
    with monkeypatch.context() as m:
        m.setattr(_Reachers, "of", _every_caller)
        slow = compute(index(resources), TODAY)
    return fast, slow


def _same(fast, slow):
    assert fast.grants == slow.grants
    assert fast.problems == slow.problems
    assert fast.uncertain == slow.uncertain


@pytest.fixture(scope="module")
def hub_resources(tmp_path_factory):
    from bench.meshgen import generate

    directory = tmp_path_factory.mktemp("hub") / "blueprints"
    generate(directory, 8, 3, 3, today=TODAY, fan_in="hub")
    mesh = load_mesh(directory, today=TODAY).mesh
    return run_program(mesh, StackSettings(), TODAY).resources


@pytest.fixture(scope="module")
def single_resources():
    mesh = load_mesh(SINGLE, today=TODAY).mesh
    return run_program(mesh, StackSettings(), TODAY).resources


def test_hub_mesh_same_findings_as_probing_every_principal(hub_resources, monkeypatch):
    fast, slow = _both(hub_resources, monkeypatch)
    _same(fast, slow)
    hub = [g for g in fast.grants if g.principal == "hub:consumer"]
    assert len(hub) >= 7  # a product of every other domain
    assert any(g.s3_direct and g.principal.endswith(":consumer") for g in fast.grants)


def test_probes_grow_with_grants_not_principals_times_products(hub_resources, monkeypatch):
    graph = index(hub_resources)
    probed = []
    original = effective._object_path

    def counting(ev, role, caller, bucket, write):
        probed.append((caller.arn, bucket.name))
        return original(ev, role, caller, bucket, write)

    monkeypatch.setattr(effective, "_object_path", counting)
    result = compute(graph, TODAY)
    principals = sum(1 for r in graph.roles.values() if r.service is None) + 1
    s3_paths = sum(1 for g in result.grants for p in g.paths if p.channel.startswith("s3"))
    assert len(probed) < principals * len(graph.buckets) * 2 / 3
    # every bucket: the anonymous caller, its producer and its direct readers, read and write
    assert len(probed) <= 2 * (2 * len(graph.buckets) + s3_paths)


def _policy_change(resources, change):
    out = copy.deepcopy(resources)
    for r in out:
        if r.type == "aws:s3/bucketPolicy:BucketPolicy" and r.name == "sales.returns-policy":
            doc = json.loads(r.inputs["policy"])
            change(doc)
            r.inputs["policy"] = json.dumps(doc)
    return out


STATEMENTS = {
    "public read": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"},
    "account delegation": {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "s3:GetObject",
    },
    "not principal": {
        "Effect": "Allow",
        "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:role/nobody"},
        "Action": "s3:PutObject",
    },
    "undecided delegation": {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "s3:GetObject",
        "Condition": {"SomeUnknownOperator": {"aws:SourceIp": "10.0.0.0/8"}},
    },
    "undecided date": {
        "Effect": "Allow",
        "Principal": {"AWS": "123456789012"},
        "Action": "s3:*",
        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "not a date"}},
    },
    "a named consumer": {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:role/mesh-marketing-consumer"},
        "Action": "s3:GetObject",
    },
}


@pytest.mark.parametrize("label", sorted(STATEMENTS))
def test_bucket_policies_admitting_unnamed_callers_same_findings(
    label, single_resources, monkeypatch
):
    statement = {
        **STATEMENTS[label],
        "Sid": "Added",
        "Resource": "arn:aws:s3:::mesh-sales-returns/*",
    }
    changed = _policy_change(single_resources, lambda doc: doc["Statement"].append(statement))
    fast, slow = _both(changed, monkeypatch)
    _same(fast, slow)
    baseline, _ = _both(single_resources, monkeypatch)
    if label in ("public read", "not principal", "a named consumer"):
        assert fast.grants != baseline.grants or fast.problems != baseline.problems
    if label.startswith("undecided"):
        assert fast.uncertain
