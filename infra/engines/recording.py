"""Run the Pulumi program under `pulumi.runtime.set_mocks` and record the resource graph.

The graph is plain data (type, logical name, parent, inputs, protect, ...) — what `mesh plan`
prints and what governance and the audit read. The mocks give deterministic ids and ARNs, and
`call()` refuses every invoke: the program must not depend on a data source nobody mocked.

`protect`, `retainOnDelete` and aliases are not in `MockResourceArgs`, so the monitor itself is
wrapped to read them from the registration request.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.engines import mocked_sdk
from infra.errors import MeshError
from infra.model.mesh import Mesh
from infra.provision import types as T
from infra.provision.arns import AwsEnv
from infra.provision.graph import STACK_TYPE, ResourceIndex, urn_type_and_name
from infra.provision.guard import PLATFORM_OUTPUT
from infra.provision.program import MeshResources, StackSettings, build_mesh
from infra.util import progress
from infra.util.gcpause import gc_paused

PROJECT = "mesh"
PROVIDER_TYPE = T.PROVIDER
PROVIDER_PREFIX = "account-"  # the logical name of the provider of one account
STACK = "local"
_lock = threading.Lock()  # the Pulumi runtime is process-global: one program run at a time


class UnmockedCall(MeshError, RuntimeError):
    """The program called something the recording mocks do not answer."""


@dataclass
class Recorded:
    type: str
    name: str
    urn: str
    parent: str | None  # parent's logical name; None for children of the stack
    inputs: dict[str, Any]
    protect: bool
    retain_on_delete: bool
    aliases: list[str]
    custom: bool
    id: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    # logical names of what it waits for: explicit depends_on and the resources whose outputs
    # its inputs use (the engine's `dependencies`), sorted
    depends_on: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    account: str = ""  # the AWS account it is created in (its provider's)

    def as_plan_json(self) -> dict:
        return {
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "account": self.account,
            "inputs": self.inputs,
            "protect": self.protect,
            "depends_on": self.depends_on,  # what it is created after (not its parent)
        }


@dataclass
class ResourceGraph:
    resources: list[Recorded]
    outputs: dict[str, Any] = field(default_factory=dict)  # the stack's exports

    @functools.cached_property
    def index(self) -> ResourceIndex[Recorded]:
        """Built on first use; the recorded list is not changed after the run."""
        return ResourceIndex(self.resources)

    def by_type(self, type_: str) -> list[Recorded]:
        return self.index.of_type(type_)

    def get(self, type_: str, name: str) -> Recorded:
        return self.index.get(type_, name)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(r.type for r in self.resources).items()))

    def plan_json(self) -> dict:
        return {
            "resources": [r.as_plan_json() for r in self.resources],
            "counts": self.counts(),
        }


class DeterministicMocks(pulumi.runtime.Mocks):
    """Plausible, stable ids and ARNs for every resource type the program uses.

    A domain stack's one `StackReference` (to `mesh:platformStack`) reads the platform stack
    as it is once deployed: its output lists `platform_accounts` (the accounts whose Lake
    Formation settings it applies), or, for a test, what `platform_accounts` says. A reference
    to any other stack is refused, as every invoke is."""

    def __init__(self, settings: StackSettings, platform_accounts: list[str] | None = None) -> None:
        self.env = settings.env
        self.platform_stack = settings.platform_stack
        self.platform_accounts = platform_accounts

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        env = env_of_provider(self.env, args.provider)
        typ, name = args.typ, args.name
        if typ == T.BUCKET:
            bucket = inputs["bucket"]
            return bucket, {**inputs, "arn": env.bucket_arn(bucket), "id": bucket}
        if typ == T.KEY:
            key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"kms/{name}"))
            arn = f"arn:{env.partition}:kms:{env.region}:{env.account}:key/{key_id}"
            return key_id, {**inputs, "arn": arn, "keyId": key_id}
        if typ == T.ROLE:
            return inputs["name"], {**inputs, "arn": env.role_arn(inputs["name"])}
        if typ == T.DATABASE:
            arn = env.glue_database_arn(inputs["name"])
            return f"{env.account}:{inputs['name']}", {**inputs, "arn": arn}
        if typ == T.TABLE:
            arn = env.glue_table_arn(inputs["databaseName"], inputs["name"])
            return f"{env.account}:{inputs['databaseName']}:{inputs['name']}", {
                **inputs,
                "arn": arn,
            }
        if typ == T.STACK_REFERENCE:
            return self._platform(inputs.get("name"))
        if args.custom:
            return f"{name}-id", inputs
        return None, inputs

    def _platform(self, stack: object) -> tuple[str, dict]:
        if stack != self.platform_stack or self.platform_accounts is None:
            raise UnmockedCall(
                f"the program referenced the stack {stack!r}; only the platform stack "
                f"{self.platform_stack!r} of a domain stack is mocked"
            )
        outputs = {PLATFORM_OUTPUT: list(self.platform_accounts)}
        return stack, {"name": stack, "outputs": outputs, "secretOutputNames": []}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        raise UnmockedCall(
            f"the program called {args.token}, which no mock provides: the mesh program must not "
            "depend on invokes (build documents with infra.provision.documents instead)"
        )


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks, default_account: str = "") -> None:
        super().__init__(mocks)
        self.recorded: list[Recorded] = []
        self.default_account = default_account

    def _account(self, request) -> str:
        """A provider's own account; else the account of the provider a resource is created
        with (a component: its providers' `aws`), else the default provider's (`mesh:account`)."""
        if request.type == PROVIDER_TYPE:
            return _account_named(request.name, self.default_account)
        ref = request.provider or dict(request.providers).get("aws", "")
        return account_of_provider(ref, self.default_account)

    def ReadResource(self, request):
        """A read (a domain stack's `StackReference`): recorded like a registration, with
        what it reads (`inputs`: the stack's name) and nothing it depends on."""
        response = super().ReadResource(request)
        registration = self.resources.get(response.urn)
        self.recorded.append(
            Recorded(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=urn_type_and_name(request.parent)[1],
                inputs=_plain(pulumi.runtime.rpc.deserialize_properties(request.properties)),
                protect=False,
                retain_on_delete=False,
                aliases=[],
                custom=True,
                id=registration.id if registration else None,
                outputs=_plain(registration.state) if registration else {},
                account=self.default_account,  # read with the stack's credentials
            )
        )
        return response

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == STACK_TYPE:
            return response
        registration = self.resources.get(response.urn)
        parent = urn_type_and_name(request.parent)[1]
        inputs = _plain(pulumi.runtime.rpc.deserialize_properties(request.object))
        account = self._account(request)
        rec = Recorded(
            type=request.type,
            name=request.name,
            urn=response.urn,
            parent=parent,
            inputs=inputs,
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            aliases=sorted(_alias_names(request)),
            custom=bool(request.custom),
            id=registration.id if registration else None,
            outputs=_plain(registration.state) if registration else {},
            depends_on=sorted({_urn_name(u) for u in request.dependencies}),
            delete_before_replace=bool(request.deleteBeforeReplace),
            account=account,
        )
        self.recorded.append(rec)
        progress.tick()
        return response


def platform_accounts(mesh: Mesh, settings: StackSettings) -> list[str]:
    """The accounts a deployed platform stack of this project has applied Lake Formation settings
    to, as a domain stack of `mesh` sees them: the platform's and every domain's it knows."""
    accounts = settings.accounts(mesh)
    return sorted({accounts.platform, *accounts.foreign(mesh.all_domains)})


def env_of_provider(env: AwsEnv, provider: str | None) -> AwsEnv:
    """The environment of the account a resource is created in: its provider's (the program
    names providers `account-<id>`), else `env`, the default provider's."""
    account = account_of_provider(provider or "", env.account)
    return env if account == env.account else replace(env, account=account)


def account_of_provider(ref: str, default: str) -> str:
    """The account of a provider reference `<urn>::<id>` of a provider the program declared
    (`account-<id>`: `infra.provision.program._Providers`); `default` for the default one."""
    return _account_named(urn_type_and_name(ref.rsplit("::", 1)[0])[1] or "", default)


def _account_named(provider: str, default: str) -> str:
    return (
        provider.removeprefix(PROVIDER_PREFIX) if provider.startswith(PROVIDER_PREFIX) else default
    )


def _urn_name(urn: str) -> str:
    return urn_type_and_name(urn)[1] or ""


def _alias_names(request) -> list[str]:
    names = [_urn_name(a) for a in request.aliasURNs]
    for alias in request.aliases:
        if alias.urn:
            names.append(_urn_name(alias.urn))
        elif alias.spec.name:
            names.append(alias.spec.name)
    return names


def _plain(value: Any) -> Any:
    """Inputs as JSON-ready data (resource references become their URN)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, pulumi.Resource):
        return f"<resource {type(value).__name__}>"
    return str(value)


def _run(body: Callable[[], Any]) -> None:
    """Run `body` as the program, through the SDK shortcuts the mocks allow (`pulumi up` keeps
    the SDK as it is: `infra.engines.mocked_sdk`)."""
    with mocked_sdk.shortcuts():
        _sync_await(run_pulumi_func(body))


@gc_paused  # the SDK's tasks and Outputs: 2.5x faster and linear at 15,000 resources, +8 % RSS
def run_program(
    mesh: Mesh,
    settings: StackSettings,
    today: dt.date,
    mocks: pulumi.runtime.Mocks | None = None,
    program: Callable[[], Any] | None = None,
    *,
    sliced: bool = False,
) -> ResourceGraph:
    """Run the mesh program (or `program`) under `mocks` and return what it registered;
    `sliced`: a domain's slice of the scope-all program (`infra.provision.slices`)."""
    mocks = mocks or DeterministicMocks(settings, platform_accounts(mesh, settings))
    with _lock:
        monitor = RecordingMonitor(mocks, settings.account)
        # a fresh runtime per run: no root stack, no RPCs or outputs (or their failures)
        # left over from an earlier run in this process
        pulumi_settings.ROOT.set(None)
        pulumi_settings.SETTINGS.rpc_manager.clear()
        pulumi_settings.SETTINGS.outputs.clear()
        pulumi_mocks.set_mocks(mocks, project=PROJECT, stack=STACK, preview=False, monitor=monitor)
        body = program or (lambda: build_mesh(mesh, settings, today, sliced=sliced))
        result: list[MeshResources] = []
        _run(lambda: result.append(body()))
        # the mocks' stack never finishes: its exports are read here (`pulumi.export`)
        root = pulumi_settings.ROOT.get()
        exported = getattr(root, "outputs", None) or {}
        outputs = _sync_await(pulumi.Output.all(**exported).future()) if exported else {}
        # registrations arrive in RPC-completion order, which varies: sort for stable output
        return ResourceGraph(
            sorted(monitor.recorded, key=lambda r: (r.name, r.type)), _plain(outputs or {})
        )
