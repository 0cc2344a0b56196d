"""The platform file, `blueprints/_mesh.yaml`: who may approve what, and which GitHub team owns
a domain whose blueprint does not say (`owner.github`).

A file whose name starts with `_` is never a domain. The platform team owns this one: a change
to it needs the `platform` group's approval (`infra.governance.approvals`). Without it the mesh
works as before: `approved_by` is an e-mail address and nothing checks who it is.

```yaml
approvers:                       # groups a grant or exception may name in approved_by
  privacy:  {description: Data protection office, members: ["@acme/privacy-office"]}
  security: {description: Security engineering,   members: ["@acme/security"]}
  platform: {description: Data platform team,     members: ["@acme/data-platform"]}
owners:                          # optional: domains whose blueprint has no owner.github
  analytics: "@acme/central-bi"
accounts: ["111122223333", "444455556666"]   # optional: the mesh's AWS accounts
lf_tags:                         # optional: the LF-tag ontology (`infra.model.lftags`)
  sensitivity: {values: [low, high], description: ..., assigned_by: privacy}
tag_grants:                      # optional: mesh-wide grants by LF-tag expression
  - {domain: analytics, lf_tags: {classification: [public]}, justification: ..., approved_by: platform}
```

With `accounts`, a domain's `account:` outside the list is an error (E074): a blueprint cannot
carry its grants into an account the platform does not run (the platform stack would rewrite
that account's Lake Formation settings). Adding an account is a change of this file, which the
platform group approves.
"""

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field

from infra.model.lftag_names import LfTagKey, LfTagKeyName, TagGrant
from infra.model.source import SourceFile
from infra.model.spec import (
    GROUP_PATTERN,
    HANDLE_PATTERN,
    NAME_PATTERN,
    TEAM_HANDLE_PATTERN,
    AccountId,
    Text,
    _Model,
    empty_dict,
    empty_list,
)

MESH_FILE = "_mesh.yaml"
PRIVACY, SECURITY, PLATFORM = "privacy", "security", "platform"
REQUIRED_GROUPS = (PRIVACY, SECURITY, PLATFORM)

Handle = Annotated[
    str,
    Field(
        pattern=HANDLE_PATTERN,
        description="A GitHub handle: a user (@alice) or a team (@org/team)",
        examples=["@acme/privacy-office", "@alice"],
    ),
]
TeamHandle = Annotated[
    str,
    Field(
        pattern=TEAM_HANDLE_PATTERN,
        description="A GitHub team handle (@org/team)",
        examples=["@acme/sales-data"],
    ),
]
GroupName = Annotated[
    str,
    Field(pattern=GROUP_PATTERN, description="lower-case letters, digits, - and _, 2-31 chars"),
]


class ApproverGroup(_Model):
    """People who may approve one kind of change: any one member's approval is the group's."""

    description: Text
    members: list[Handle] = Field(min_length=1, max_length=100)


class MeshFile(_Model):
    """`_mesh.yaml`: the approver groups (privacy, security and platform at least) and the
    owners of domains whose blueprint names none."""

    approvers: dict[GroupName, ApproverGroup] = Field(
        description="Approver groups; privacy, security and platform are required, others may "
        "be added (the catalogue names the group that may waive each policy)"
    )
    owners: dict[Annotated[str, Field(pattern=NAME_PATTERN)], TeamHandle] = Field(
        default_factory=empty_dict,
        description="Domain -> owning GitHub team, for blueprints without owner.github",
    )
    accounts: list[AccountId] | None = Field(
        None,
        max_length=10_000,
        description="The mesh's AWS accounts: a domain's account: must be one of them (without "
        "the list, any account)",
        examples=[["111122223333", "444455556666"]],
    )
    lf_tags: dict[LfTagKeyName, LfTagKey] | None = Field(
        None,
        description="The LF-tag ontology: keys products and columns may carry (lf_tags:), "
        "their allowed values (least sensitive first) and who assigns each; domain, "
        "classification and pii are derived by the mesh and not declared here. Turns "
        "tag-based access on (`lf_tags: {}`: the derived keys only); without it, no LF-tags "
        "are created and no tag grant is allowed",
    )
    tag_grants: list[TagGrant] = Field(
        default_factory=empty_list,
        max_length=1000,
        description="Mesh-wide grants by LF-tag expression over every domain's products "
        "(approved by the platform group)",
    )


def editor_json_schema() -> dict:
    """One JSON Schema for every YAML file of a blueprint directory, for an editor that maps a
    schema to a glob (`blueprints/*.yaml` matches `_mesh.yaml` too, and the YAML extension's
    globs cannot exclude it): a document with `domain` is a blueprint, any other the platform
    file."""
    from infra.model.spec import blueprint_json_schema

    blueprint = blueprint_json_schema()
    mesh_file = MeshFile.model_json_schema(by_alias=True)
    defs = blueprint.pop("$defs", {})
    for name, definition in mesh_file.pop("$defs", {}).items():
        if name in defs and defs[name] != definition:
            raise ValueError(f"two definitions named {name} in the editor schema")
        defs[name] = definition
    schema_uri = blueprint.pop("$schema")
    blueprint.pop("title", None)
    defs["Blueprint"], defs["MeshFile"] = blueprint, mesh_file
    return {
        "$schema": schema_uri,
        "title": f"Data mesh blueprint, or the platform file {MESH_FILE}",
        "if": {"required": ["domain"]},
        "then": {"$ref": "#/$defs/Blueprint"},
        "else": {"$ref": "#/$defs/MeshFile"},
        "$defs": defs,
    }


class ApprovalsFile(_Model):
    """`mesh diff --approvals FILE`: the handles whose approval a pull request has (its
    approving reviewers, `@login`, and their teams, `@org/team`)."""

    approved_by: list[Handle] = Field(max_length=10_000)


def handle_key(handle: str) -> str:
    """GitHub logins and team slugs are case-insensitive."""
    return handle.lower()


@dataclass(frozen=True)
class Platform:
    """The loaded platform file of a tree: its model, source (for lines) and text (to tell a
    change)."""

    spec: MeshFile
    source: SourceFile = field(compare=False, repr=False)
    text: str = field(compare=False, repr=False)

    @property
    def groups(self) -> list[str]:
        return list(self.spec.approvers)

    def members(self, group: str) -> tuple[str, ...]:
        found = self.spec.approvers.get(group)
        return tuple(found.members) if found is not None else ()

    def groups_of(self, approver: str) -> frozenset[str]:
        """The groups an `approved_by` value stands for: a group by its name, or every group
        that lists the handle (case-insensitive). Empty: not a registered approver."""
        if approver in self.spec.approvers:
            return frozenset({approver})
        key = handle_key(approver)
        return frozenset(
            name
            for name, group in self.spec.approvers.items()
            if any(handle_key(m) == key for m in group.members)
        )
