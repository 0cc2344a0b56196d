"""The mesh program deployed into the emulator: `MotoMocks` runs under
`pulumi.runtime.set_mocks` and applies each registered resource to the emulator
(`infra.engines.moto_appliers`, in the account of its provider), one at a time; `deploy` runs
the bootstrap stack and then the mesh, as a real rollout does. A resource type without an
applier is an error naming the type, never silently skipped."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import pulumi

from infra.engines.moto import ApplyError, LocalAws, UnsupportedResource
from infra.engines.moto_appliers import APPLIERS, Account, Applier
from infra.engines.moto_lftags import LfTagAppliers
from infra.engines.moto_query import DataFilters
from infra.engines.recording import (
    PROVIDER_TYPE,
    ResourceGraph,
    env_of_provider,
    run_program,
)
from infra.model.mesh import Mesh
from infra.provision import types as T
from infra.provision.names import parse_logical
from infra.provision.program import StackSettings


class MotoMocks(pulumi.runtime.Mocks):
    """Applies each registered resource to the emulator and returns moto's ids and ARNs."""

    def __init__(
        self,
        aws: LocalAws,
        settings: StackSettings,
        on_resource: Callable[[str, str], None] | None = None,
    ) -> None:
        self.aws = aws
        self.env = settings.env
        self.on_resource = on_resource or (lambda typ, name: None)
        # one resource at a time: the Pulumi runtime registers from several threads, and moto's
        # backends are not safe for concurrent writes (in-process, a Lake Formation grant
        # raised "Set changed size during iteration"); under one GIL nothing is lost
        self._applying = threading.Lock()
        self.data_filters = DataFilters()  # moto holds none (infra/engines/moto_query.py)
        self.appliers: dict[str, Applier] = {
            **APPLIERS,
            T.LF_DATA_FILTER: self.data_filters.apply,
            **LfTagAppliers().appliers(),
        }

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        if args.typ == T.STACK_REFERENCE:  # only a domain stack reads the platform stack's
            raise UnsupportedResource(
                f"the local engine deploys one stack for the whole mesh; {args.name!r} reads "
                "another stack's outputs (plan a domain stack with mesh plan --stack DOMAIN)"
            )
        if not args.custom:  # components are not AWS resources
            self.on_resource(args.typ, args.name)
            return None, inputs
        if args.typ == PROVIDER_TYPE:  # a provider of one account: nothing to create
            return f"{args.name}-id", inputs
        applier = self.appliers.get(args.typ)
        if applier is None:
            raise UnsupportedResource(
                f"the local engine cannot apply {args.typ} (resource {args.name!r}); add an "
                "applier in infra/engines/moto_appliers.py or leave the type out of the program"
            )
        try:
            with self._applying:
                resource_id, outputs = applier(args.name, inputs, self._account_of(args))
        except UnsupportedResource:
            raise
        except Exception as exc:  # boto3/moto errors: name the resource that failed
            raise ApplyError(f"{args.typ} {args.name!r}: {exc}") from exc
        self.on_resource(args.typ, args.name)
        return resource_id, {**inputs, **outputs}

    def _account_of(self, args: pulumi.runtime.MockResourceArgs) -> Account:
        env = env_of_provider(self.env, args.provider)
        return Account(self.aws, env.account, env)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        raise UnsupportedResource(f"the program called the invoke {args.token}; none is mocked")


def domain_of(resource_name: str) -> str:
    """Logical names start with the domain: `sales`, `sales-key`, `sales.orders@marketing-iam`."""
    return parse_logical(resource_name).domain


@dataclass
class Deployment:
    aws: LocalAws
    graph: ResourceGraph


def deploy(
    mesh: Mesh,
    settings: StackSettings,
    today: dt.date,
    aws: LocalAws,
    on_resource: Callable[[str, str], None] | None = None,
) -> Deployment:
    """Run the mesh program with every resource applied to the emulator: first, as a real
    rollout does, the bootstrap stack (the deploy role of each domain account other than the
    platform's, which `mesh doctor --local` checks), then the mesh."""
    aws.warm_up()
    if settings.accounts(mesh).foreign(mesh.all_domains):
        bootstrap = replace(settings, bootstrap=True)
        run_program(mesh, bootstrap, today, mocks=MotoMocks(aws, bootstrap, on_resource))
        # the Organization's RAM sharing, which cross-account grants rely on (the management
        # account enables it, outside every stack): the platform account's organization here
        orgs = aws.in_account("organizations", settings.account)
        orgs.create_organization(FeatureSet="ALL")
        orgs.enable_aws_service_access(ServicePrincipal="ram.amazonaws.com")
    graph = run_program(mesh, settings, today, mocks=MotoMocks(aws, settings, on_resource))
    return Deployment(aws, graph)
