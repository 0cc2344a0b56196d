"""The result of checking a blueprint tree: the mesh of its valid blueprints and every problem."""

from __future__ import annotations

from dataclasses import dataclass

from infra.errors import Problem
from infra.model.mesh import Mesh


@dataclass
class Report:
    """What a check of a blueprint tree found: the mesh of its valid blueprints, and every
    error and warning (`infra.api.validate`, and each step of it)."""

    mesh: Mesh
    errors: list[Problem]
    warnings: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.errors
