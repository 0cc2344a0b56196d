"""The blueprint's field types: names, patterns, approvers, text, and the base of every model.

Apart from `infra.model.spec` so that the models of other modules (the LF-tag ontology and tag
grants, `infra.model.lftags`) use the same types, and the spec can use those models.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from infra.model.gluetypes import normalize_glue_type

NAME_PATTERN = r"^[a-z][a-z0-9_]{1,30}$"
COLUMN_PATTERN = r"^[a-z_][a-z0-9_]{0,127}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
TEAM_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"
ACCOUNT_PATTERN = r"^[0-9]{12}$"
# GitHub handles: a user (@alice) or a team (@org/team), as CODEOWNERS and reviews name them
HANDLE_PATTERN = r"^@[A-Za-z0-9][A-Za-z0-9-]{0,38}(/[A-Za-z0-9][A-Za-z0-9._-]{0,99})?$"
TEAM_HANDLE_PATTERN = r"^@[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
GROUP_PATTERN = r"^[a-z][a-z0-9_-]{1,30}$"  # an approver group of `_mesh.yaml` (privacy, ...)
# Validation context of a tree with a platform file (`_mesh.yaml`): approved_by may then name an
# approver group or a GitHub handle (which one it must name is checked against the file:
# `infra.governance.approvals`); without the file it is an e-mail address, as it always was.
APPROVER_NAMES = {"approver_names": True}

Name = Annotated[
    str,
    Field(pattern=NAME_PATTERN, description="lower-case letters, digits and _, 2-31 chars"),
]
ColumnName = Annotated[
    str,
    Field(pattern=COLUMN_PATTERN, description="Glue column name: lower-case letters, digits, _"),
]
AccountId = Annotated[
    str,
    Field(
        pattern=ACCOUNT_PATTERN,
        description="AWS account id: 12 digits, quoted (a YAML number would lose leading zeros)",
        examples=["111122223333"],
    ),
]
Email = Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=254, examples=["team@example.com"])]
_EMAIL = re.compile(EMAIL_PATTERN)


def _approver(value: str, info: ValidationInfo) -> str:
    if not (info.context or {}).get("approver_names") and not _EMAIL.match(value):
        raise PydanticCustomError(  # the error the e-mail pattern gives (E013, its hint)
            "string_pattern_mismatch",
            "String should match pattern '{pattern}'",
            {"pattern": EMAIL_PATTERN},
        )
    return value


Approver = Annotated[
    str,
    Field(
        max_length=254,
        description="Who approved: an e-mail address; in a mesh with a platform file "
        "(_mesh.yaml) an approver group of that file or one of its members' GitHub handles",
        examples=["privacy", "@acme/privacy-office", "privacy-office@example.com"],
        json_schema_extra={
            "pattern": "^(?:"
            + "|".join(p[1:-1] for p in (EMAIL_PATTERN, HANDLE_PATTERN, GROUP_PATTERN))
            + ")$"
        },
    ),
    AfterValidator(_approver),
]
Text = Annotated[str, Field(min_length=1, max_length=2048)]
GlueType = Annotated[
    str,
    Field(
        min_length=1,
        description="Glue column type: string, int, bigint, double, boolean, date, timestamp, "
        "decimal(p,s), varchar(n), array<..>, map<..,..>, struct<name:type,..>",
        examples=["string", "decimal(12,2)", "array<struct<sku:string,qty:int>>"],
    ),
    AfterValidator(normalize_glue_type),
]


class _Model(BaseModel):
    """The base of every blueprint model. `defer_build`: a model's validator is built when it
    first validates (or serialises, or prints its JSON Schema), not when its module is imported:
    a command pays only for the models it uses, and a model used only inside another (a
    `Column` inside a `Product` inside a `Blueprint`) has its schema generated once, inside the
    outer one's, instead of once more for a validator of its own nobody calls."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False, defer_build=True)


# The default of a list or mapping field. Not `list` or `dict` themselves: pydantic inspects a
# default factory's signature (does it take the validated data?), and a built-in's signature is
# parsed from its text with the tokenizer, whose first use compiles its regular expressions:
# milliseconds of every command's start-up. Same values, same JSON Schema (a factory's result is
# never shown there).
def empty_list() -> list:
    return []


def empty_dict() -> dict:
    return {}
