"""The models of Lake Formation tags (LF-tags): what a key and a value may be, the keys the mesh
derives itself, an ontology key (`LfTagKey`) and a grant by tag expression (`TagGrant`). Apart
from `infra.model.lftags` (what they mean: effective tags, matching, expansion), which reads the
mesh, so that `infra.model.spec` and `infra.model.platform` can use them.

LF-tags are not AWS resource tags (`tags:`, `infra.model.tags`): they live in the Lake Formation
catalog of one account and decide access (tag-based access control, LF-TBAC). AWS allows keys of
up to 128 and values of up to 256 characters of letters, digits, spaces and `_.:/=+-@%`
(https://docs.aws.amazon.com/lake-formation/latest/APIReference/API_LFTag.html); the mesh takes
lower-case ones only, so a key or value never differs from another by case alone, and no `*`
(a wildcard in a tag policy) and no space.
"""

import datetime as dt
from typing import Annotated

from pydantic import Field

from infra.model.fields import Approver, Name, Text, _Model

LF_TAG_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,127}$"
LF_TAG_VALUE_PATTERN = r"^[a-z0-9][a-z0-9_.:/=+@%-]{0,255}$"

LfTagKeyName = Annotated[
    str,
    Field(
        pattern=LF_TAG_KEY_PATTERN,
        description="LF-tag key: lower-case letters, digits and _, 1-128 characters",
        examples=["sensitivity"],
    ),
]
LfTagValue = Annotated[
    str,
    Field(
        pattern=LF_TAG_VALUE_PATTERN,
        description="LF-tag value: lower-case letters, digits and _.:/=+@%-, 1-256 characters",
        examples=["low"],
    ),
]

# The keys the mesh derives for every product (never declared in `_mesh.yaml`, never set in a
# blueprint): `domain` (the owning domain), `classification` (the product's classification) and
# `pii` ("true" on PII columns, "false" on the table and every other column: how a tag grant
# without approved PII leaves PII columns out, as Lake Formation's own example does: "access to
# all columns that do not have the LF-tag 'PII'", API_LFTag.html above).
DOMAIN_KEY = "domain"
CLASSIFICATION_KEY = "classification"
PII_KEY = "pii"
DERIVED_KEYS = (DOMAIN_KEY, CLASSIFICATION_KEY, PII_KEY)
PII_VALUES = ("false", "true")

OWNERS = "owners"  # assigned_by: the owning domain sets the key (no approval)

# AWS Lake Formation's LF-tag quotas, budgeted by `mesh validate` (`infra.blueprints.lftags`):
# values of one LF-tag (API_LFTag.html: "The maximum number of values that can be defined for a
# LF-Tag is 1000"), LF-tags on one resource (TBAC-assigning-tags.html: "The maximum number of
# LF-Tags that you can assign to a resource is 50"), LF-tag keys per account (Service Quotas,
# "Lake Formation endpoints and quotas": 1,000 LF-tag keys per account).
MAX_VALUES_PER_KEY = 1000
MAX_TAGS_PER_RESOURCE = 50
MAX_KEYS_PER_ACCOUNT = 1000


class LfTagKey(_Model):
    """One key of the ontology: its allowed values (least sensitive first), what it means, and
    who may assign it."""

    values: list[LfTagValue] = Field(
        min_length=1,
        description="Allowed values, from the least to the most sensitive (the order decides "
        "what 'less sensitive' means for a PII column: GOV-015)",
        examples=[["low", "high"]],
    )
    description: Text = Field(description="What the key means")
    assigned_by: str = Field(
        OWNERS,
        pattern=r"^[a-z][a-z0-9_-]{1,30}$",
        description="Who may assign the key: `owners` (the owning domain, the default) or an "
        "approver group of _mesh.yaml, whose approval a product then names in "
        "lf_tags_approved_by",
        examples=["owners", "privacy"],
    )


class TagGrant(_Model):
    """A grant by tag expression: `domain`'s consumer role reads every product (and column)
    whose LF-tags match `lf_tags` (AND across keys, OR within a key's values)."""

    domain: Name = Field(description="The consuming domain (must exist in the mesh)")
    lf_tags: dict[LfTagKeyName, list[LfTagValue]] = Field(
        min_length=1,
        max_length=50,
        description="The expression: key -> the values any of which matches",
        examples=[{"classification": ["internal", "public"], "sensitivity": ["low"]}],
    )
    justification: Text = Field(description="Why the domain needs the data")
    expires: dt.date | None = Field(None, description="Last day of access (ISO date)")
    include_pii: bool = Field(
        False, description="Also the PII columns of the matching products; needs approved_by"
    )
    approved_by: Approver | None = Field(
        None,
        description="Who approved: privacy for PII; the platform group for a mesh-wide grant "
        "(with _mesh.yaml approvers)",
    )

    @property
    def via_tags(self) -> dict[str, list[str]]:
        """The expression as declared: what `mesh diff --format json` shows as `via_tags`."""
        return {k: list(v) for k, v in self.lf_tags.items()}


# the classifications, least sensitive first: the derived `classification` LF-tag's values
# (`infra.model.spec.Classification`, which tests/test_lftags_model.py checks them against)
CLASSIFICATION_VALUES = ("public", "internal", "confidential", "restricted")
