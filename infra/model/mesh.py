"""The Mesh: every valid blueprint of the mesh, the one model everything reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from infra.model.platform import Platform
from infra.model.source import SourceFile
from infra.model.spec import Blueprint, Product


@dataclass(frozen=True)
class Mesh:
    """Every valid blueprint of the mesh, sorted by domain. The one model everything reads."""

    blueprints: tuple[Blueprint, ...]
    sources: dict[str, SourceFile] = field(default_factory=dict, compare=False, repr=False)
    # every domain of the mesh, also those whose blueprint was not loaded (`load_mesh(only=)`)
    other_domains: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    # (domain, product, consumer domain) of grants governance revoked: an exception that
    # allowed them has expired (`infra.governance.evaluate.with_governance`)
    revoked: frozenset[tuple[str, str, str]] = field(default=frozenset(), compare=False)
    # the `account:` of domains whose blueprint was not loaded (`load_mesh(only=)`)
    other_accounts: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    # the domain-level decommission date of domains whose blueprint was not loaded
    other_retired: dict[str, dt.date] = field(default_factory=dict, compare=False, repr=False)
    # the tree's platform file (`_mesh.yaml`), when it has a valid one
    platform: Platform | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_domain", {b.domain: b for b in self.blueprints})

    @property
    def domains(self) -> list[str]:
        """The domains whose blueprints are loaded."""
        return [b.domain for b in self.blueprints]

    @property
    def all_domains(self) -> frozenset[str]:
        """Every domain of the mesh (what a grant may name), loaded or not."""
        return frozenset(self.domains) | self.other_domains

    def account_of(self, domain: str) -> str | None:
        """The AWS account a domain's blueprint names (None: the stack's account)."""
        bp = self._by_domain.get(domain)  # type: ignore[attr-defined]
        return bp.account if bp is not None else self.other_accounts.get(domain)

    def retired_on(self, domain: str) -> dt.date | None:
        """The date a domain's decommission (domain-level) takes effect, if it has one."""
        bp = self._by_domain.get(domain)  # type: ignore[attr-defined]
        if bp is not None:
            return bp.decommission.date if bp.decommission is not None else None
        return self.other_retired.get(domain)

    def is_retired(self, domain: str, today: dt.date) -> bool:
        """From its decommission date on, a domain gives and receives no grant, has no roles."""
        date = self.retired_on(domain)
        return date is not None and date <= today

    def blueprint(self, domain: str) -> Blueprint:
        return self._by_domain[domain]  # type: ignore[attr-defined]

    def products(self) -> Iterator[tuple[Blueprint, Product]]:
        for bp in self.blueprints:
            for product in bp.products:
                yield bp, product

    def product(self, product_id: str) -> tuple[Blueprint, Product]:
        domain, _, name = product_id.partition(".")
        bp = self.blueprint(domain)
        for p in bp.products:
            if p.name == name:
                return bp, p
        raise KeyError(product_id)

    def owner_handle(self, domain: str) -> str | None:
        """The GitHub team owning `domain`: its blueprint's `owner.github`, else the platform
        file's `owners` entry."""
        bp = self._by_domain.get(domain)  # type: ignore[attr-defined]
        if bp is not None and bp.owner.github:
            return bp.owner.github
        return self.platform.spec.owners.get(domain) if self.platform is not None else None

    def source(self, domain: str) -> SourceFile:
        return self.sources.get(domain) or SourceFile(f"{domain}.yaml")

    def revoked_of(self, domain: str, product: str) -> frozenset[str]:
        """The consumer domains whose grant of `domain.product` governance revoked."""
        if not self.revoked:
            return frozenset()
        return frozenset(c for d, p, c in self.revoked if (d, p) == (domain, product))
