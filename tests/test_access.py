"""The declared access model's column rules (DESIGN "Access model")."""

from __future__ import annotations

import pytest

from infra.model import access
from infra.model.spec import Consumer, Product

PRODUCT = Product.model_validate(
    {
        "name": "orders",
        "description": "One row per order line",
        "classification": "confidential",
        "format": "parquet",
        "retention_days": 365,
        "schema": [
            {"name": "order_id", "type": "string"},
            {"name": "email", "type": "string", "pii": True},
            {"name": "phone", "type": "string", "pii": True},
            {"name": "amount", "type": "decimal(12,2)"},
        ],
    }
)


def consumer(**fields) -> Consumer:
    return Consumer.model_validate({"domain": "marketing", "justification": "x", **fields})


@pytest.mark.parametrize(
    ("grant", "columns", "pii", "whole"),
    [
        (consumer(), ("amount", "order_id"), frozenset(), False),
        (
            consumer(include_pii=True, approved_by="privacy@example.com"),
            ("amount", "email", "order_id", "phone"),
            frozenset({"email", "phone"}),
            True,
        ),
        (
            consumer(columns=["order_id", "email"]),
            ("email", "order_id"),
            frozenset({"email"}),
            False,
        ),
        (
            consumer(columns=["phone", "amount", "email", "order_id"]),
            ("amount", "email", "order_id", "phone"),
            frozenset({"email", "phone"}),
            True,
        ),
    ],
    ids=["default-non-pii", "approved-pii", "some-columns", "every-column-listed"],
)
def test_readable_columns_pii_and_whole_table(grant, columns, pii, whole):
    assert access.readable_columns(PRODUCT, grant) == columns
    assert access.readable_pii(PRODUCT, grant) == pii
    assert access.covers_every_column(PRODUCT, [grant]) == [whole]


def test_grants_computed_together_equal_grants_one_by_one():
    """consumer_grants computes what a product's grants share once; each grant is the same."""
    from infra.model.spec import Blueprint

    bp = Blueprint.model_validate(
        {
            "domain": "sales",
            "description": "Orders of the web shop",
            "owner": {"team": "sales-data", "email": "sales@example.com"},
            "cost_center": "CC-1",
            "products": [],
        }
    )
    approved = {"include_pii": True, "approved_by": "p@example.com"}
    grants = [
        consumer(),
        consumer(),
        consumer(**approved),
        consumer(**approved, s3_direct=True),
        consumer(s3_direct=True),  # not every column (E037 at validate): no S3 path either
    ]
    a, b, c, d, e = access.consumer_grants(bp, PRODUCT, grants)
    assert a == b == access.consumer_grant(bp, PRODUCT, grants[0])
    assert (a.columns, a.pii, a.s3_direct, a.via, a.whole_table) == (
        ("amount", "order_id"),
        False,
        False,
        ("lakeformation",),
        False,
    )
    assert (c.columns, c.pii, c.s3_direct, c.via, c.whole_table) == (
        ("amount", "email", "order_id", "phone"),
        True,
        False,  # every column, but read through Lake Formation only unless opted in
        ("lakeformation",),
        True,
    )
    assert (d.s3_direct, d.via, d.whole_table) == (True, ("lakeformation", "s3"), True)
    assert (e.s3_direct, e.via, e.whole_table) == (False, ("lakeformation",), False)
