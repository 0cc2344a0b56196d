"""A domain's slice of the scope-`all` program (`infra.provision.program.build_mesh(...,
sliced=True)`, run by `infra.engines.stackrun`): the resources the domain's stack holds, each
declared exactly as the scope-`all` program declares it.

A domain's own stack (`pulumi up`, `mesh plan --stack`) declares them a little differently: its
resources do not wait for other stacks' consumer roles, and its catalog waits for the platform
stack through a `StackReference` (`infra.provision.guard`). A slice instead waits for what the
whole-mesh program has it wait for, through stand-ins: `pulumi.resource.DependencyResource`s
with the URNs the scope-`all` run gives those resources. The engine records a dependency on a
stand-in by its URN (the recorded `depends_on` are logical names) and registers nothing for it.
So the slices of every stack, together, record what the scope-`all` run records, resource for
resource (tests/test_plan_slices.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pulumi

from infra.model import lftags
from infra.model.mesh import Mesh
from infra.model.spec import Blueprint
from infra.provision import types as T
from infra.provision.accounts import Accounts
from infra.provision.lftags import LF_TAG_PART, PLATFORM_LOGICAL
from infra.provision.names import Part, child_name, domain_logical


@dataclass(frozen=True)
class _Elsewhere:
    """A domain of another stack as a slice sees it: its consumer role (None once retired)."""

    consumer: pulumi.Resource | None


class Slice:
    """What a domain's slice of the scope-`all` program depends on in the other stacks: the
    platform's Lake Formation settings and LF-tags, and the other domains' consumer roles, each
    a `pulumi.resource.DependencyResource` with the URN the scope-`all` run gives it. The
    engine records a dependency on it by that URN (so by the same logical name) and registers
    nothing for it."""

    def __init__(self, mesh: Mesh, accounts: Accounts, today: dt.date) -> None:
        self.mesh, self.accounts, self.today = mesh, accounts, today

    @staticmethod
    def urn(parent_type: str, type_: str, name: str) -> str:
        """The URN of a child of a component of the stack (`pulumi.runtime.mocks` and the
        engine name it so: the parent's own type, `$`, the child's type)."""
        stack, project = pulumi.get_stack(), pulumi.get_project()
        return f"urn:pulumi:{stack}::{project}::{parent_type}${type_}::{name}"

    def _stand_in(self, parent_type: str, type_: str, name: str) -> pulumi.Resource:
        return pulumi.resource.DependencyResource(self.urn(parent_type, type_, name))

    def lake_settings(self) -> dict[str, pulumi.Resource]:
        """account -> its `DataLakeSettings` (`Platform`'s children)."""
        platform = self.accounts.platform
        out = {platform: self._stand_in(T.PLATFORM, T.LF_SETTINGS, _settings_name(None))}
        for a in self.accounts.foreign(self.mesh.all_domains):
            out[a] = self._stand_in(T.PLATFORM, T.LF_SETTINGS, _settings_name(a))
        return out

    def lf_tags(self) -> dict[str, list[pulumi.Resource]]:
        """account -> its LfTags (`infra.provision.lftags.build_ontology`), when tag-based
        access is on."""
        if not lftags.enabled(self.mesh):
            return {}
        return {
            account: [
                self._stand_in(T.PLATFORM, T.LF_TAG, _lftag_name(account, key)) for key in keys
            ]
            for account, keys in lftags.account_values(self.mesh, self.accounts.of).items()
        }

    def domains(self, included: list[Blueprint]) -> dict[str, _Elsewhere]:
        """The domains of the mesh not in `included`, with their consumer roles (none once
        retired, as `domain_args`)."""
        mine = {bp.domain for bp in included}
        return {
            bp.domain: _Elsewhere(
                None
                if bp.decommission is not None and bp.decommission.date <= self.today
                else self._stand_in(
                    T.DOMAIN, T.ROLE, child_name(domain_logical(bp.domain), "consumer")
                )
            )
            for bp in self.mesh.blueprints
            if bp.domain not in mine
        }


def _settings_name(account: str | None) -> str:
    """The logical name of the platform's `DataLakeSettings` of its own account (None) or of
    another (`Platform`)."""
    part = Part.LAKE_SETTINGS if account is None else f"{Part.LAKE_SETTINGS}-{account}"
    return child_name(PLATFORM_LOGICAL, part)


def _lftag_name(account: str, key: str) -> str:
    """The logical name of an LfTag (`infra.provision.lftags.build_ontology`)."""
    return child_name(PLATFORM_LOGICAL, f"{LF_TAG_PART}-{account}-{key}")
