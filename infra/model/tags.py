"""Tag keys the mesh writes on every resource it tags, and AWS's limits on tags.

The program writes them (`infra.provision.program._tags`), governance requires them (GOV-001, GOV-011),
the audit maps resources back to products with them, and the loader counts them when it checks a
product's own `tags:` against AWS's limits, so a tag AWS would refuse fails `mesh validate`, not
`pulumi up`.
"""

from __future__ import annotations

DOMAIN = "mesh:domain"
PRODUCT = "mesh:product"
OWNER = "mesh:owner"
CLASSIFICATION = "mesh:classification"
COST_CENTER = "cost-center"
NO_PRODUCT = "-"  # mesh:product of domain-level resources (not a valid product name)

# every tag the program sets on a product's resources, whatever the blueprint adds
GOVERNANCE = (DOMAIN, PRODUCT, COST_CENTER, OWNER, CLASSIFICATION)

MAX_TAGS = 50  # per resource (S3, KMS, IAM, Glue)
MAX_VALUE = 256  # characters of a tag value
RESERVED_PREFIX = "aws:"  # AWS refuses tag keys starting with it, in any case
