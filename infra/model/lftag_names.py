"""The names of Lake Formation tags (LF-tags): what a key and a value may be, and the keys the
mesh derives itself. Apart from `infra.model.lftags` so that `infra.model.spec` can type a
product's and a column's `lf_tags:` without importing the ontology's models.

LF-tags are not AWS resource tags (`tags:`, `infra.model.tags`): they live in the Lake Formation
catalog of one account and decide access (tag-based access control, LF-TBAC). AWS allows keys of
up to 128 and values of up to 256 characters of letters, digits, spaces and `_.:/=+-@%`
(https://docs.aws.amazon.com/lake-formation/latest/APIReference/API_LFTag.html); the mesh takes
lower-case ones only, so a key or value never differs from another by case alone, and no `*`
(a wildcard in a tag policy) and no space.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

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
