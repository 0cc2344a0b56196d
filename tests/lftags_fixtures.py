"""A small mesh with an LF-tag ontology and tag grants, for the tag-based access tests."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

TODAY = dt.date(2026, 12, 5)

MESH_FILE = """\
approvers:
  privacy:  {description: Privacy, members: ["@acme/privacy"]}
  security: {description: Security, members: ["@acme/security"]}
  platform: {description: Platform, members: ["@acme/platform"]}
lf_tags:
  sensitivity: {values: [low, high], description: How sensitive, assigned_by: privacy}
  area: {values: [shop, ops], description: Business area}
tag_grants:
  - {domain: analytics, lf_tags: {classification: [public]}, justification: open data,
     expires: 2027-12-31, approved_by: platform}
"""

SALES = """\
domain: sales
description: Sales of the shop
owner: {team: sales-data, email: sales@example.com, github: "@acme/sales"}
cost_center: CC-1
tag_grants:
  - {domain: analytics, lf_tags: {classification: [internal, public], sensitivity: [low]},
     justification: dashboards, expires: 2027-06-30}
products:
  - name: orders
    description: One row per order
    classification: internal
    retention_days: 30
    lf_tags: {sensitivity: low, area: shop}
    lf_tags_approved_by: privacy
    schema:
      - {name: order_id, type: string}
      - {name: email, type: string, pii: true, lf_tags: {sensitivity: high}}
      - {name: amount, type: int}
      - {name: note, type: string, lf_tags: {sensitivity: high}}
  - name: prices
    description: One row per price
    classification: public
    retention_days: 30
    schema:
      - {name: sku, type: string}
      - {name: price, type: int, lf_tags: {area: shop}}
"""

ANALYTICS = """\
domain: analytics
description: Company-wide analytics
owner: {team: bi, email: bi@example.com, github: "@acme/bi"}
cost_center: CC-2
products: []
"""


def write(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(text))
    return tmp_path
