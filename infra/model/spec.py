"""The blueprint spec: what a domain submits, one YAML file per domain.

These pydantic models are the single source of truth for the format: validation, defaults, the
JSON Schema printed by ``mesh schema`` and the docs all come from here. The spec knows nothing of
Pulumi or AWS.
"""

import datetime as dt
import functools
import json
from enum import Enum
from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator

from infra.model.fields import (  # the spec's types, also imported from here
    ACCOUNT_PATTERN,  # noqa: F401 (re-exported)
    APPROVER_NAMES,  # noqa: F401 (re-exported)
    COLUMN_PATTERN,  # noqa: F401 (re-exported)
    EMAIL_PATTERN,  # noqa: F401 (re-exported)
    GROUP_PATTERN,  # noqa: F401 (re-exported)
    HANDLE_PATTERN,  # noqa: F401 (re-exported)
    NAME_PATTERN,  # noqa: F401 (re-exported)
    TEAM_HANDLE_PATTERN,
    TEAM_PATTERN,
    AccountId,
    Approver,
    ColumnName,
    Email,
    GlueType,
    Name,
    Text,
    _Model,
    empty_dict,
    empty_list,
)
from infra.model.lftag_names import LfTagKeyName, LfTagValue, TagGrant


class Classification(str, Enum):
    """How sensitive a product's data is: public < internal < confidential < restricted."""

    public = "public"
    internal = "internal"
    confidential = "confidential"
    restricted = "restricted"

    @property
    def rank(self) -> int:
        """public 0 < internal 1 < confidential 2 < restricted 3."""
        return _CLASSIFICATION_RANK[self]


_CLASSIFICATION_RANK = {c: i for i, c in enumerate(Classification)}


class DataFormat(str, Enum):
    """File format of the product's objects (and of its Glue table's serde)."""

    parquet = "parquet"
    json = "json"
    csv = "csv"


class DataDisposition(str, Enum):
    """What happens to a decommissioned product's data."""

    retain = "retain"
    delete = "delete"


class Owner(_Model):
    """The team that owns the domain and answers for its data."""

    team: str = Field(pattern=TEAM_PATTERN, description="Owning team", examples=["sales-data"])
    email: Email = Field(description="The owning team's e-mail address")
    github: str | None = Field(
        None,
        pattern=TEAM_HANDLE_PATTERN,
        description="The owning team's GitHub handle: it owns the blueprint in CODEOWNERS and "
        "approves the access the domain grants (mesh codeowners, mesh diff --approvals)",
        examples=["@acme/sales-data"],
    )


class Column(_Model):
    """A column of the product's table (or a partition key)."""

    name: ColumnName
    type: GlueType
    pii: bool = Field(False, description="Personally identifiable: shared only with approval")
    description: Text | None = Field(None, description="What the column holds (the Glue comment)")
    previous_names: list[ColumnName] = Field(
        default_factory=empty_list, description="Earlier names of this column (a declared rename)"
    )
    lf_tags: dict[LfTagKeyName, LfTagValue] = Field(
        default_factory=empty_dict,
        description="Lake Formation tags of this column, overriding the product's (a key of "
        "the ontology in _mesh.yaml each); not on partition keys",
        examples=[{"sensitivity": "high"}],
    )


class Consumer(_Model):
    """A grant: another domain allowed to read the product."""

    domain: Name = Field(description="Consuming domain (must exist in the mesh)")
    columns: list[ColumnName] | None = Field(
        None,
        min_length=1,
        description="Readable columns; omitted = every non-PII column (all if include_pii); "
        "partition keys are readable with every grant and not listed",
    )
    include_pii: bool = Field(False, description="Share PII columns; needs approved_by")
    approved_by: Approver | None = Field(None, description="Who approved sharing PII")
    expires: dt.date | None = Field(None, description="Last day of access (ISO date)")
    justification: Text = Field(description="Why this domain needs the data")
    rows: Text | None = Field(
        None,
        description="Row filter: only the rows for which this predicate holds (Lake "
        "Formation's PartiQL subset: comparisons, AND/OR/NOT, IN, BETWEEN, LIKE, IS NULL over "
        "the product's columns and literals); part of the grant's data cells filter. A PII "
        "column in it needs include_pii and approved_by; omitted = every row",
        examples=["region = 'EU' AND year >= 2024"],
    )
    s3_direct: bool = Field(
        False,
        description="Also let the consumer role read the product's files directly from S3 "
        "(for engines that do not use Lake Formation): the product's bucket and key policies "
        "name the role. Only for grants of every column (PII included only with approval); "
        "default: read through Lake Formation only",
    )


class Decommission(_Model):
    """The product is being retired: from `date` on it grants nothing."""

    date: dt.date = Field(description="From this day the product's grants are revoked")
    reason: Text = Field(description="Why the product is retired (shown to its consumers)")
    data: DataDisposition = Field(
        DataDisposition.retain,
        description="retain: keep bucket, key and table; delete: allow deletion after the date "
        "when the stack also allows it",
    )


QUALITY_COLUMN_PATTERN = r"^[a-z_][a-z0-9_]{0,127}(\.[a-z_][a-z0-9_]{0,127}){0,15}$"
GLUE_PARAMETER_MAX = 512_000  # characters of one Glue table parameter value (AWS quota)


class QualityRule(_Model):
    """A data-quality rule of the product: one ODCS v3 `quality` entry, key for key (camelCase,
    as in the standard), plus `column`. Stored in the blueprint and exported in the contract,
    never executed here: datacontract-cli runs them. Not in the Glue table: its parameters are
    read by every grantee, and a rule names columns a column-limited grant does not show."""

    column: str | None = Field(
        None,
        pattern=QUALITY_COLUMN_PATTERN,
        description="Column the rule checks (a.b: field b of struct column a); omitted = the table",
        examples=["customer_email"],
    )
    id: str | None = Field(None, max_length=256, description="Identifier of the rule")
    name: str | None = Field(None, max_length=256, description="Short name of the rule")
    description: str | None = Field(
        None, max_length=8192, description="What the rule checks, in words"
    )
    type: str | None = Field(
        None, max_length=64, description="text | library | sql | custom", examples=["library"]
    )
    dimension: str | None = Field(
        None,
        max_length=64,
        description="Quality dimension: accuracy, completeness, conformity, consistency, "
        "coverage, timeliness or uniqueness",
        examples=["completeness"],
    )
    method: str | None = Field(
        None, max_length=256, description="How the rule is checked (e.g. reconciliation)"
    )
    severity: str | None = Field(
        None, max_length=64, description="How serious a failure is", examples=["error"]
    )
    businessImpact: str | None = Field(
        None, max_length=256, description="What a failure means for the business"
    )
    schedule: str | None = Field(
        None, max_length=256, description="When the rule runs (e.g. a cron expression)"
    )
    scheduler: str | None = Field(
        None, max_length=256, description="What runs the rule on its schedule (e.g. cron)"
    )
    unit: str | None = Field(
        None,
        max_length=64,
        description="Unit of the thresholds: rows or percent",
        examples=["rows", "percent"],
    )
    metric: str | None = Field(
        None,
        max_length=64,
        description="The library metric measured (type: library)",
        examples=["nullValues", "rowCount"],
    )
    rule: str | None = Field(None, max_length=256, description="Deprecated in ODCS: use metric")
    arguments: dict[str, Any] | None = Field(
        None, description="Arguments of the metric (e.g. validValues, pattern)"
    )
    mustBe: Any = Field(None, description="The metric must equal this value")
    mustNotBe: Any = Field(None, description="The metric must not equal this value")
    mustBeGreaterThan: int | float | None = Field(
        None, description="The metric must be greater than this number"
    )
    mustBeGreaterOrEqualTo: int | float | None = Field(
        None, description="The metric must be greater than or equal to this number"
    )
    mustBeLessThan: int | float | None = Field(
        None, description="The metric must be less than this number"
    )
    mustBeLessOrEqualTo: int | float | None = Field(
        None, description="The metric must be less than or equal to this number"
    )
    mustBeBetween: list[int | float] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="The metric must lie between these two numbers (inclusive)",
    )
    mustNotBeBetween: list[int | float] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="The metric must lie outside these two numbers",
    )
    query: str | None = Field(None, max_length=65_536, description="SQL (type: sql)")
    engine: str | None = Field(
        None,
        max_length=256,
        description="The tool that runs a custom rule (type: custom)",
        examples=["soda", "great-expectations"],
    )
    implementation: str | dict[str, Any] | None = Field(
        None, description="The rule in the engine's own language (type: custom)"
    )
    tags: list[str] | None = Field(None, description="Free-text tags of the rule")
    customProperties: list[dict[str, Any]] | None = Field(
        None, description="ODCS custom properties of the rule: [{property, value}]"
    )
    authoritativeDefinitions: list[dict[str, Any]] | None = Field(
        None, description="Where the rule is defined authoritatively: [{url, type}]"
    )


def quality_json(rules: list[QualityRule]) -> str:
    """Compact JSON of quality rules (ASCII only, so characters = bytes): what the size bound
    measures (`GLUE_PARAMETER_MAX`, one Glue parameter value, where engines keep rules)."""
    return json.dumps(
        [r.model_dump(mode="json", exclude_none=True) for r in rules], separators=(",", ":")
    )


class Product(_Model):
    """A data product: one table of the domain, its storage and who may read it."""

    name: Name
    description: Text = Field(description="What the product holds (e.g. one row per order line)")
    classification: Classification = Field(
        description="How sensitive the data is: decides the governance limits"
    )
    format: DataFormat = Field(DataFormat.parquet, description="File format of the objects")
    retention_days: int = Field(gt=0, le=36500, description="Objects expire after this many days")
    freshness_slo_hours: int | None = Field(
        None,
        gt=0,
        le=8760,
        description="New data arrives at least this often (required from confidential on)",
    )
    schema_: list[Column] = Field(
        alias="schema",
        min_length=1,
        max_length=1000,
        description="The table's columns, in order (partition keys not included)",
    )
    partition_keys: list[Column] = Field(
        default_factory=empty_list,
        max_length=20,
        description="Partition columns (object key segments key=value, readable by every "
        "grant; never PII)",
    )
    quality: list[QualityRule] = Field(
        default_factory=empty_list,
        max_length=500,
        description="Data-quality rules (ODCS v3 quality entries; `mesh contract import` fills "
        "it from a contract); exported in the product's contract, not executed",
    )
    consumers: list[Consumer] = Field(
        default_factory=empty_list, description="The grants: domains that may read the product"
    )
    tags: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:/=+\-@ ]{1,64}$")], Text] = Field(
        default_factory=empty_dict, description="Extra tags on every resource of the product"
    )
    previous_names: list[Name] = Field(
        default_factory=empty_list, description="Earlier names of this product (a declared rename)"
    )
    decommission: Decommission | None = Field(
        None, description="Retire the product: its grants end on the date (data kept by default)"
    )
    lf_tags: dict[LfTagKeyName, LfTagValue] = Field(
        default_factory=empty_dict,
        description="Lake Formation tags of the product's table, inherited by its columns (a "
        "key of the ontology in _mesh.yaml each; domain, classification and pii are derived, "
        "never set); `tags:` are AWS resource tags",
        examples=[{"sensitivity": "low"}],
    )
    lf_tags_approved_by: Approver | None = Field(
        None,
        description="Who approved the product's and its columns' LF-tags whose key the "
        "ontology lets only an approver group assign (assigned_by: privacy): that group or one "
        "of its members",
        examples=["privacy"],
    )

    @field_validator("quality")
    @classmethod
    def _quality_fits(cls, rules: list[QualityRule], info: ValidationInfo) -> list[QualityRule]:
        if not rules:
            return rules
        if "schema_" in info.data:  # else the schema is invalid, reported on its own
            names = {c.name for c in [*info.data["schema_"], *info.data.get("partition_keys", [])]}
            for i, rule in enumerate(rules):
                if rule.column is not None and rule.column.split(".")[0] not in names:
                    raise ValueError(
                        f"quality[{i}].column {rule.column!r} is not a column of the product"
                    )
        size = len(quality_json(rules))
        if size > GLUE_PARAMETER_MAX:
            raise ValueError(
                f"the quality rules take {size:,} characters as JSON; a Glue table parameter "
                f"value (where an engine keeps them) holds at most {GLUE_PARAMETER_MAX:,}"
            )
        return rules

    @property
    def columns(self) -> list[Column]:
        return self.schema_

    @functools.cached_property
    def pii_columns(self) -> frozenset[str]:
        """Computed once per (frozen) product: access, governance and names ask for it per
        grant. Pydantic compares and dumps fields only, so the cache changes neither."""
        return frozenset(c.name for c in self.schema_ if c.pii)


class DomainPolicies(_Model):
    """Domain-local governance: may only tighten the global policies."""

    max_grant_days: int | None = Field(None, gt=0, description="Grants must expire within N days")
    allowed_consumer_domains: list[Name] | None = Field(
        None, description="Only these domains may be granted access"
    )
    require_freshness_slo: bool | None = Field(
        None, description="Every product needs freshness_slo_hours"
    )
    max_retention_days: int | None = Field(
        None, gt=0, description="Upper bound of retention_days (within the global bounds)"
    )
    min_retention_days: int | None = Field(
        None, gt=0, description="Lower bound of retention_days (within the global bounds)"
    )
    grant_expiry_from: Classification | None = Field(
        None,
        description="Grants on products of this classification or higher must expire (the "
        "global policy starts at confidential; only a lower classification tightens it)",
        examples=["internal"],
    )
    require_approval: bool | None = Field(
        None, description="Every grant needs approved_by, not only grants that share PII"
    )
    allowed_consumer_accounts: list[AccountId] | None = Field(
        None,
        description="Only domains in these AWS accounts may be granted access (the domain's own "
        "account is always allowed)",
    )


class PolicyException(_Model):
    """A time-limited waiver of one global policy for one product."""

    policy: str = Field(
        min_length=1, description="Id of the waived policy (`mesh policies`)", examples=["GOV-004"]
    )
    product: Name
    justification: Text = Field(description="Why the policy is waived for this product")
    expires: dt.date = Field(description="Last day the exception waives the policy")
    approved_by: Approver | None = Field(
        None, description="Who approved the exception (required with _mesh.yaml)"
    )
    consumers: list[Name] | None = Field(
        None,
        max_length=1000,
        description="The consumer domains whose grants this exception covers, for a policy "
        "found on grants (GOV-004 restricted data shared, GOV-005 grant expiry, ...): a grant "
        "to another domain is not waived. Without it, the exception waives the policy for "
        "every grant of the product, and the PR check asks the waiving group again for each "
        "grant added after the exception was approved",
        examples=[["audit"]],
    )
    retention_days: int | None = Field(
        None,
        gt=0,
        description="GOV-006 only: the retention_days below the classification's floor this "
        "exception allows, exactly (without it, an exception cannot waive a retention below "
        "the floor: a shorter retention deletes data)",
    )


class Blueprint(_Model):
    """One domain's blueprint (one YAML file under blueprints/)."""

    domain: Name
    description: Text = Field(description="What the domain covers")
    owner: Owner = Field(description="Who owns the domain")
    cost_center: str = Field(
        pattern=r"^[A-Za-z0-9-]{1,32}$",
        description="Cost center billed for the domain's resources (tag cost-center)",
        examples=["CC-1001"],
    )
    account: AccountId | None = Field(
        None,
        description="The domain's AWS account; without it, the stack's account (mesh:account). "
        "Domains may share an account",
    )
    previous_account: AccountId | None = Field(
        None,
        description="The account the domain moves from: a move replaces every resource of the "
        "domain (its data must be copied first), so it is refused unless stated here",
    )
    decommission: Decommission | None = Field(
        None,
        description="The domain is being retired: from `date` on it gives and receives no "
        "grant and its producer and consumer roles are removed; its products' data is kept or "
        "deleted as `data` says (deletion also needs the stack's mesh:allowDataDeletion); after "
        "the date a domain with data: delete may be removed from the tree",
    )
    products: list[Product] = Field(
        default_factory=empty_list, description="The domain's data products"
    )
    policies: DomainPolicies = Field(
        default_factory=DomainPolicies,
        description="Domain-local governance, tightening the global policies only",
    )
    exceptions: list[PolicyException] = Field(
        default_factory=empty_list, description="Waivers of global policies for single products"
    )
    tag_grants: list[TagGrant] = Field(
        default_factory=empty_list,
        max_length=1000,
        description="Grants by LF-tag expression over this domain's own products (the "
        "expression is ANDed with domain: [<this domain>]): the domain reads every product and "
        "column whose LF-tags match, today's and future ones",
    )


def blueprint_json_schema() -> dict:
    schema = Blueprint.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Data mesh domain blueprint"
    return schema
