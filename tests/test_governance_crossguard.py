"""The CrossGuard pack, offline: each policy's validate function is called directly with the args
Pulumi would pass (never through a PolicyPack, which starts a server). The pack must find exactly
what `mesh plan` finds, because both run the same rules."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from conftest import SAMPLE, TODAY
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy
from test_governance_resources import CASES, mutate, sample_graph

from infra.crossguard import (
    Context,
    load_context,
    plain,
    policies,
    res_from_args,
    urn_type_and_name,
)
from infra.engines.recording import Recorded
from infra.governance import catalogue as cat
from infra.governance.evaluate import check_resources
from infra.governance.resource_rules import (
    BUCKET_POLICY,
    KEY,
    PUBLIC_ACCESS_BLOCK,
    SSE,
    UNKNOWN,
)

STACK_URN = "urn:pulumi:local::mesh::pulumi:pulumi:Stack::mesh-local"


@pytest.fixture
def sample():
    return sample_graph()


@pytest.fixture(scope="module")
def pack():
    return policies(Context(sample_graph()[0], TODAY))


def _opts(parent: str | None) -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def _parent_urns(resources: list[Recorded]) -> dict[str, str]:
    """Logical name -> URN, components first (what a child's `parent` names)."""
    urns: dict[str, str] = {}
    for r in sorted(resources, key=lambda r: r.custom):
        urns.setdefault(r.name, r.urn)
    return urns


def resource_args(r: Recorded, urns: dict[str, str]) -> ResourceValidationArgs:
    parent = urns.get(r.parent) if r.parent else STACK_URN
    props = unknown_checking_proxy(copy.deepcopy(r.inputs))  # what the analyzer hands over
    return ResourceValidationArgs(r.type, props, r.urn, r.name, _opts(parent), None)


def stack_args(resources: list[Recorded]) -> StackValidationArgs:
    stack = PolicyResource(
        "pulumi:pulumi:Stack", {}, STACK_URN, "mesh-local", _opts(None), None, None, [], {}
    )
    by_name: dict[str, PolicyResource] = {}
    out = [stack]
    for r in sorted(resources, key=lambda r: r.custom):  # components before their children
        props = unknown_checking_proxy(copy.deepcopy({**r.outputs, **r.inputs}))
        parent = by_name.get(r.parent) if r.parent else stack
        res = PolicyResource(r.type, props, r.urn, r.name, _opts(None), None, parent, [], {})
        by_name.setdefault(r.name, res)
        out.append(res)
    return StackValidationArgs(out)


def run_pack(pack, resources: list[Recorded]) -> list[tuple[str, str, str]]:
    """(policy id, type, name) of every violation the pack reports."""
    urns = _parent_urns(resources)
    by_urn = {r.urn: (r.type, r.name) for r in resources}
    each = [(r, resource_args(r, urns)) for r in resources]
    whole = stack_args(resources)
    seen: list[tuple[str, str, str]] = []
    for policy in pack:
        if isinstance(policy, ResourceValidationPolicy):
            for r, args in each:

                def report(message, urn=None, r=r):
                    seen.append((message.split(":", 1)[0], r.type, r.name))

                policy.validate(args, report)
        else:

            def report(message, urn=None):
                seen.append((message.split(":", 1)[0], *by_urn[urn]))

            policy.validate(whole, report)
    return sorted(seen)


def test_pack_has_one_policy_per_rule_kind_with_enforcement_from_severity(pack):
    names = [p.name for p in pack]
    assert len(names) == len(set(names))
    assert names[:3] == [
        "gov-001-owner-required",
        "gov-002-description-required",
        "gov-003-pii-approval-graph",
    ]
    assert all(p.enforcement_level is EnforcementLevel.MANDATORY for p in pack)
    assert all(p.description.startswith("GOV-") for p in pack)
    covered = {p.name.split("-")[0] + "-" + p.name.split("-")[1] for p in pack}
    resource_level = {p.id.lower() for p in cat.CATALOGUE if cat.Level.resource in p.levels}
    assert covered == resource_level
    kinds = {type(p) for p in pack}
    assert kinds == {ResourceValidationPolicy, StackValidationPolicy}


def test_pack_passes_the_sample(pack, sample):
    assert run_pack(pack, sample[1]) == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_pack_finds_what_mesh_plan_finds(pack, sample, case):
    mesh, resources = sample
    mutation, expected = CASES[case]
    bad = mutate(resources, mutation)
    plan = sorted(
        (f.policy, f.resource_type, f.resource_name) for f in check_resources(bad, mesh, TODAY)
    )
    assert plan == sorted(expected)
    assert run_pack(pack, bad) == plan


def test_pack_waives_with_the_blueprints_exceptions(sample):
    """An expired grant's Grant is a finding from the day after; the pack sees the same."""
    mesh, resources = sample
    later = policies(Context(mesh, dt.date(2027, 4, 1)))
    assert run_pack(later, resources) == [("GOV-005", "mesh:index:Grant", "sales.orders@logistics")]


def test_without_blueprints_the_mesh_rules_are_skipped(sample):
    _, resources = sample
    bad = mutate(resources, CASES["pii-through-lake-formation"][0])
    assert run_pack(policies(Context(None, TODAY)), bad) == []
    bad = mutate(resources, CASES["sse-s3-not-kms"][0])
    assert run_pack(policies(Context(None, TODAY)), bad) == [
        ("GOV-008", SSE[0], "sales.orders-encryption")
    ]


def test_values_unknown_during_preview_are_skipped(pack, sample):
    """In a first preview, bucket names of configurations, policies built from key ARNs and the
    keys' ARNs are unknown: nothing is reported for them, and nothing crashes."""
    _, resources = sample
    preview = copy.deepcopy(resources)
    for r in preview:
        if "bucket" in r.inputs and r.type != "aws:s3/bucket:Bucket":
            r.inputs["bucket"] = UNKNOWN_STRING_VALUE
        if r.type == BUCKET_POLICY:
            r.inputs["policy"] = UNKNOWN_STRING_VALUE
        if r.type == SSE[0]:
            rule = r.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
            rule["kmsMasterKeyId"] = UNKNOWN_STRING_VALUE
        if r.type == PUBLIC_ACCESS_BLOCK:
            r.inputs["blockPublicPolicy"] = UNKNOWN_BOOLEAN_VALUE
        if r.type == KEY:
            r.outputs["arn"] = UNKNOWN_STRING_VALUE
    assert run_pack(pack, preview) == []
    # ... while a known violation next to unknown values is still found
    bad = mutate(preview, CASES["key-rotation-off"][0])
    assert run_pack(pack, bad) == [("GOV-008", KEY, "sales-key")]


def test_conversion_of_crossguard_args():
    props = unknown_checking_proxy(
        {"tags": {"a": "b"}, "policy": UNKNOWN_STRING_VALUE, "list": [1, UNKNOWN_STRING_VALUE]}
    )
    assert plain(props) == {"tags": {"a": "b"}, "policy": UNKNOWN, "list": [1, UNKNOWN]}
    urn = "urn:pulumi:dev::mesh::mesh:index:Domain$mesh:index:DataProduct::sales.orders"
    assert urn_type_and_name(urn) == ("mesh:index:DataProduct", "sales.orders")
    assert urn_type_and_name(STACK_URN) == (None, None)
    args = ResourceValidationArgs(
        "aws:glue/catalogTable:CatalogTable", props, "urn:x", "sales.orders-table", _opts(urn), None
    )
    res = res_from_args(args)
    assert (res.parent, res.parent_type) == ("sales.orders", "mesh:index:DataProduct")


def test_load_context_reads_the_blueprints(monkeypatch, tmp_path):
    monkeypatch.delenv("MESH_BLUEPRINTS", raising=False)
    assert load_context(SAMPLE).mesh.domains[0] == "analytics"
    assert load_context(tmp_path / "missing").mesh is None
    monkeypatch.setenv("MESH_BLUEPRINTS", str(SAMPLE))
    context = load_context(None)
    assert context.mesh is not None and context.today == TODAY
