"""The SDK shortcuts of the recording engine (`infra.engines.mocked_sdk`) change nothing that is
recorded: every tree's graph and plan JSON are byte-identical with and without them, and the SDK
is itself again after every run (`pulumi up` never sees them)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path

import pulumi
import pytest
from pulumi import _types as pulumi_types
from pulumi import resource as pulumi_resource_api
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc
from pulumi.runtime.sync_await import _sync_await

from infra.blueprints.load import load_mesh
from infra.engines import mocked_sdk
from infra.engines.recording import run_program
from infra.provision.program import StackSettings

ROOT = Path(__file__).resolve().parent.parent

# what the shortcuts replace, as the SDK has them
SDK = {
    (pulumi_resource, "_get_stack_trace"): pulumi_resource._get_stack_trace,
    (rpc, "transfer_properties"): rpc.transfer_properties,
    (pulumi_types, "unwrap_type"): pulumi_types.unwrap_type,
    (pulumi_types, "unwrap_optional_type"): pulumi_types.unwrap_optional_type,
    (pulumi_resource_api, "collapse_alias_to_urn"): pulumi_resource_api.collapse_alias_to_urn,
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    from bench.meshgen import generate

    directory = tmp_path_factory.mktemp("generated") / "blueprints"
    generate(directory, 4, 3, 2)
    return directory


@pytest.mark.parametrize(
    ("tree", "scope"),
    [
        ("blueprints", "all"),  # several accounts: providers, resource links
        ("blueprints", "sales"),  # a domain stack: its StackReference (a read)
        ("tests/fixtures/single", "all"),
        ("tests/fixtures/program/renamed", "all"),  # renamed products: aliases
        ("tests/fixtures/program/decommission", "all"),  # deletable and retired
        ("generated", "all"),
    ],
)
def test_the_graph_and_plan_json_are_those_of_the_sdk_as_it_is(
    tree, scope, generated, today, monkeypatch
):
    mesh = load_mesh(generated if tree == "generated" else ROOT / tree, today=today).mesh
    settings = StackSettings(scope=scope)
    fast = run_program(mesh, settings, today)
    monkeypatch.setattr(mocked_sdk, "shortcuts", contextlib.nullcontext)  # the SDK as it is
    slow = run_program(mesh, settings, today)
    assert len(fast.resources) > 10
    assert [dataclasses.asdict(r) for r in fast.resources] == [
        dataclasses.asdict(r) for r in slow.resources
    ]
    assert json.dumps(fast.plan_json(), indent=2) == json.dumps(slow.plan_json(), indent=2)
    assert fast.outputs == slow.outputs
    assert any(r.aliases for r in fast.resources) == (tree.endswith("renamed"))


def test_the_sdk_is_restored_after_a_run_and_after_a_failing_one(sample_dir, today):
    mesh = load_mesh(sample_dir, today=today).mesh
    run_program(mesh, StackSettings(), today)
    assert {key: getattr(*key) for key in SDK} == SDK

    def failing():
        pulumi.CustomResource("test:index:Thing", "thing", {"value": 1})
        raise ValueError("the program failed")

    with pytest.raises(ValueError, match="the program failed"):
        run_program(mesh, StackSettings(), today, program=failing)
    assert {key: getattr(*key) for key in SDK} == SDK


def test_a_failed_registration_fails_what_reads_its_outputs(sample_dir, today):
    """An Output of a resource whose registration failed carries the failure to whatever
    applies it, as with the SDK's own Outputs."""

    class Refusing(pulumi.runtime.Mocks):
        def new_resource(self, args):
            if args.name == "first":
                raise RuntimeError("refused by the provider")
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args):
            return {}

    seen: list[object] = []
    outputs: list[pulumi.Output] = []

    def program():
        first = pulumi.CustomResource("test:index:Thing", "first", {"value": "a", "other": None})
        outputs.append(first.value)
        pulumi.CustomResource(
            "test:index:Thing", "second", {"value": first.value.apply(seen.append)}
        )

    mesh = load_mesh(sample_dir, today=today).mesh
    with pytest.raises(Exception, match="refused by the provider"):
        run_program(mesh, StackSettings(), today, mocks=Refusing(), program=program)
    assert seen == []
    with pytest.raises(Exception, match="refused by the provider"):
        _sync_await(outputs[0].future())
    assert {key: getattr(*key) for key in SDK} == SDK


def test_outputs_resolve_with_their_value_and_dependencies(sample_dir, today):
    """A property read from a resource has the value the mocks returned, and depending on it
    records the resource as a dependency (`depends_on` in the plan)."""
    values: list[object] = []

    def program():
        first = pulumi.CustomResource("test:index:Thing", "first", {"value": "a", "other": None})
        first.value.apply(values.append)
        first.other.apply(values.append)
        pulumi.CustomResource("test:index:Thing", "second", {"copy": first.value})

    mesh = load_mesh(sample_dir, today=today).mesh
    graph = run_program(mesh, StackSettings(), today, program=program)
    assert sorted(values, key=str) == [None, "a"]
    second = graph.get("test:index:Thing", "second")
    assert second.inputs == {"copy": "a"}
    assert second.depends_on == ["first"]
