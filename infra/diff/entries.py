"""The entries of `mesh diff`: the reasons a grant is new, removed or changed access, and how
two grants of one principal on one product compare (`_compare`). Shared by the named grants'
diff (`infra.diff.access_diff`) and the tag grants' (`infra.diff.tag_diff`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.blueprints import rowfilter
from infra.model.access import DeclaredGrant

# reason code -> phrase (widening first)
REASONS: dict[str, str] = {
    "new_consumer": "new consumer",
    "new_product_shared": "a new product, already shared",
    "renewed": "expired grant renewed",
    "recommissioned": "product no longer decommissioned",
    "more_columns": "more columns",
    "pii_now_included": "PII now included",
    "more_pii_columns": "more PII columns",
    "longer_expiry": "longer expiry",
    "expiry_removed": "expiry removed",
    "write_instead_of_read": "write instead of read",
    "direct_s3_read": "direct S3 read (every column, around Lake Formation)",
    "more_partition_keys": "more partition keys (readable with every grant)",
    "consumer_account_moved": "the consumer moves to another AWS account, with this grant",
    "row_filter_removed": "row filter removed (every row)",
    "row_filter_widened": "row filter widened (or changed so that it cannot be ordered)",
    # grants by tag expression (`infra.diff.tag_diff`): what made the expression reach more
    "tag_new_product": "a new product matches a tag grant",
    "tag_product_retagged": "the product's LF-tags changed",
    "tag_column_retagged": "column LF-tags changed",
    "tag_grant_added": "new tag grant",
    "tag_expression_widened": "tag expression changed",
    "fewer_columns": "fewer columns",
    "pii_removed": "PII no longer included",
    "shorter_expiry": "shorter expiry",
    "expiry_added": "expiry added",
    "read_instead_of_write": "read instead of write",
    "no_direct_s3_read": "no direct S3 read any more",
    "row_filter_added": "row filter added",
    "row_filter_narrowed": "row filter narrowed (conditions added)",
    "approver_changed": "approver changed",
    "consumer_removed": "consumer removed",
    "tag_no_longer_matches": "no longer matches the tag expression",
    "grant_expired": "grant expired",
    "product_removed": "product removed",
    "product_decommissioned": "product decommissioned",
}


@dataclass
class Entry:
    grant: DeclaredGrant
    reasons: list[str]
    details: list[str]
    before: DeclaredGrant | None = None

    @property
    def why(self) -> str:
        return "; ".join(self.details)

    def as_json(self) -> dict[str, Any]:
        out = self.grant.as_json()
        out["approved_by"] = self.grant.approved_by
        out["justification"] = self.grant.justification
        out["reasons"] = list(self.reasons)
        out["why"] = self.why
        if self.before is not None:
            out["before"] = self.before.as_json()
        return out


def _compare(
    before: DeclaredGrant, after: DeclaredGrant, pii_columns: frozenset[str]
) -> tuple[list, list]:
    reasons, details = [], []

    def add(code: str, detail: str | None = None) -> None:
        reasons.append(code)
        details.append(REASONS[code] + (f" ({detail})" if detail else ""))

    if before.access == "read" and after.access == "write":
        add("write_instead_of_read")
    added = sorted(set(after.columns) - set(before.columns))
    removed = sorted(set(before.columns) - set(after.columns))
    if added:
        add("more_columns", "+" + ", +".join(added))
    if not before.pii and after.pii:
        add("pii_now_included", ", ".join(c for c in added if c in pii_columns) or None)
    elif before.pii and set(added) & pii_columns:
        add("more_pii_columns", ", ".join(c for c in added if c in pii_columns))
    if before.expires is not None and after.expires is None:
        add("expiry_removed", f"was {before.expires.isoformat()}")
    elif before.expires and after.expires and after.expires > before.expires:
        add("longer_expiry", f"{before.expires.isoformat()} -> {after.expires.isoformat()}")
    if after.s3_direct and not before.s3_direct:
        add("direct_s3_read")
    rows = rowfilter.compare(before.row_filter, after.row_filter)
    if rows == "wider":
        if after.row_filter is None:
            add("row_filter_removed", f"was {before.row_filter}")
        else:
            add("row_filter_widened", f"{before.row_filter} -> {after.row_filter}")
    if before.access == "write" and after.access == "read":
        add("read_instead_of_write")
    if removed:
        add("fewer_columns", "-" + ", -".join(removed))
    if before.pii and not after.pii:
        add("pii_removed")
    if before.expires is None and after.expires is not None:
        add("expiry_added", after.expires.isoformat())
    elif before.expires and after.expires and after.expires < before.expires:
        add("shorter_expiry", f"{before.expires.isoformat()} -> {after.expires.isoformat()}")
    if before.s3_direct and not after.s3_direct:
        add("no_direct_s3_read")
    if rows == "narrower":
        if before.row_filter is None:
            add("row_filter_added", after.row_filter)
        else:
            add("row_filter_narrowed", f"{before.row_filter} -> {after.row_filter}")
    if before.approved_by != after.approved_by and after.access == "read":
        add("approver_changed", f"{before.approved_by or 'none'} -> {after.approved_by or 'none'}")
    return reasons, details


def _is_widening(reasons: list[str]) -> bool:
    narrowing_from = list(REASONS).index("fewer_columns")
    return any(list(REASONS).index(r) < narrowing_from for r in reasons)


def _phrase(code: str, detail: str | None = None) -> str:
    return REASONS[code] + (f" ({detail})" if detail else "")
