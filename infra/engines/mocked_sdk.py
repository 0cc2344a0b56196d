"""Shortcuts through the Pulumi SDK while a program runs under the recording mocks.

`pulumi up` runs the SDK as it is. Under mocks (`infra.engines.recording.run_program`) some of
its per-registration work has no reader, or does what it does at a cost that grows with every
property of every resource. `shortcuts()` replaces five SDK functions for the duration of one
run and restores them after (the runtime is process-global; `run_program` holds its lock):

- `_get_stack_trace`: the SDK walks and converts the whole Python stack of every registration
  into a source position for the engine (18 % of a plan); the mocks ignore it.
- `collapse_alias_to_urn`: every alias of a resource (pulumi_aws declares type aliases, e.g. a
  bucket was `aws:s3/bucketV2:BucketV2`) is computed again as a URN through four chained
  Outputs, kept in `Resource._aliases`, which the SDK reads only for an engine that does not
  take alias specs. The mock monitor takes them (`_check_alias_specs`), so the request is
  unchanged: the specs are built from the options, as before.
- `transfer_properties`: every property of a pulumi_aws resource (~20 for a bucket, most of
  them never read) becomes an Output made of four futures and a task that gathers them once
  the registration returns. Here each Output is one future resolved with the same data
  (`_OutputData`: value, known, secret, the resource plus its dependencies), or the same
  exception, at the same moment.
- `unwrap_type`, `unwrap_optional_type`: the typed translation of inputs and outputs unwraps
  the same `Optional[Input[...]]` annotations for every property of every resource; the
  result depends on the annotation only, so it is cached.

Each replacement gives the program the same values, dependencies and requests: the recorded
graph and the plan JSON are byte-identical with and without them (tests/test_mocked_sdk.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import pulumi
from pulumi import _types as pulumi_types
from pulumi import resource as pulumi_resource_api
from pulumi.output import Output, _OutputData
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2, source_pb2
from pulumi.runtime.settings import monitor_supports_feature


def _empty_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


def _alias_unused(alias: Any, *_: Any) -> Any:
    """What `Resource._aliases` keeps when the monitor takes alias specs: nothing reads it."""
    return alias


def _transfer_properties(res: pulumi.Resource, props: Any, custom: bool) -> dict[str, Any]:
    """`rpc.transfer_properties` with one future per property instead of four and a task."""
    loop = asyncio.get_event_loop()
    resolvers: dict[str, Any] = {}
    for name in props:
        if name == "urn" or (name == "id" and custom):
            continue  # handled by the SDK itself, as in `transfer_properties`
        data: asyncio.Future = loop.create_future()
        resolvers[name] = functools.partial(_resolve, res, data)
        res.__dict__[name] = Output._from_data(data)
    return resolvers


def _resolve(
    res: pulumi.Resource,
    data: asyncio.Future,
    value: Any,
    is_known: bool,
    is_secret: bool,
    deps: set[pulumi.Resource] | None,
    failed: Exception | None,
) -> None:
    if failed is not None:
        data.set_exception(failed)
        return
    resources = set(deps) if deps else set()
    resources.add(res)
    data.set_result(
        _OutputData(resources=resources, value=value, is_known=is_known, is_secret=is_secret)
    )


def _cached(unwrap: Any) -> Any:
    """`unwrap` (a function of a type annotation only) with its results cached."""
    cached = functools.cache(unwrap)

    def lookup(typ: Any) -> Any:
        try:
            return cached(typ)
        except TypeError:  # an unhashable annotation: as the SDK does it
            return unwrap(typ)

    return lookup


# (module, attribute, replacement); collapse_alias_to_urn only while specs are taken
_ALWAYS = (
    (pulumi_resource, "_get_stack_trace", _empty_stack_trace),
    (rpc, "transfer_properties", _transfer_properties),
    (pulumi_types, "unwrap_type", _cached(pulumi_types.unwrap_type)),
    (pulumi_types, "unwrap_optional_type", _cached(pulumi_types.unwrap_optional_type)),
)
_WITH_ALIAS_SPECS = ((pulumi_resource_api, "collapse_alias_to_urn", _alias_unused),)


def _check_alias_specs() -> bool:
    return monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS)


@contextlib.contextmanager
def shortcuts() -> Iterator[None]:
    """Replace the SDK functions above while the block runs (the mocks must be set: whether
    the monitor takes alias specs is asked once, here)."""
    patches = list(_ALWAYS) + (list(_WITH_ALIAS_SPECS) if _check_alias_specs() else [])
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    try:
        for module, name, replacement in patches:
            setattr(module, name, replacement)
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)
