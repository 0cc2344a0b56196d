"""What ends with a retired domain (`infra.governance.review`, `domain_retired_cascade`): the
rule for a grant, and the grants by LF-tag expression that end.

A grant cascades when it would still hold on the retirement date: it does not expire before
the date, and the product it reaches is not decommissioned on or before it (its own
decommission is reviewed for itself). The same rule for a named grant (`product.consumers`)
and a tag grant (`tag_grants:`).

A tag grant ends with a retiring domain when
- the domain receives it: its consumer role loses every table the expression matches in the
  other domains (its own products it reads as their producer anyway);
- another domain holds it and its expression matches the retiring domain's tables (a mesh-wide
  grant, or one the retiring domain declares over its own products).

What an expression matches is `infra.model.lftags.expand`, as the program provisions it and the
diff compares it, evaluated on the last day before the date: a product or a domain that is gone
by then (decommissioned, retired) has lost its LF-tags, so nothing ends with this retirement
there. One item per tag grant and product, located at the tag grant (its file and line).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from infra.model import lftags
from infra.model.mesh import Mesh
from infra.model.source import Loc, SourceFile
from infra.model.spec import Blueprint, Product


def cascades(expires: dt.date | None, product: Product, date: dt.date) -> bool:
    """A grant expiring on `expires` (None: never) of `product` still holds on `date`."""
    own = product.decommission
    return (expires is None or expires >= date) and (own is None or own.date > date)


def tag_cascade(head: Mesh, retiring: Blueprint) -> Iterator[tuple[SourceFile, Loc, str, str]]:
    """(file, location, reason, product id) of every tag grant of `head` that ends with the
    retirement of `retiring` (its `decommission:`), per product it loses: the tag grants in
    `head`'s order (`_mesh.yaml`'s, then each domain's), the products in blueprint order."""
    retired = retiring.decommission
    if retired is None:
        return
    d, date = retiring.domain, retired.date
    last = date - dt.timedelta(days=1)  # the last day of access
    for ref in lftags.tag_grant_refs(head):
        grantee = ref.grant.domain
        if grantee not in head.all_domains or head.is_retired(grantee, last):
            continue  # no such domain (an error of its own), or its access ended before
        if grantee == d:  # received: what it reads in the other domains
            matches = [m for m in lftags.expand(head, ref, last) if m.domain != d]
            held = f" (the tag grant {ref.label} ends)"
        elif ref.scope in (lftags.MESH_SCOPE, d):  # held by another: over the retiring tables
            matches = list(lftags.expand(head, ref, last, only=retiring))
            held = ""
        else:
            continue  # another domain's grant over its own products
        if ref.scope == lftags.MESH_SCOPE:
            assert head.platform is not None  # tag grants come from a loaded platform file
            src = head.platform.source
        else:
            src = head.source(ref.scope)
        expression = lftags.expression_text(ref.via_tags)
        for m in matches:
            if cascades(ref.grant.expires, m.spec, date):
                pid = f"{m.domain}.{m.product}"
                reason = (
                    f"{grantee}:consumer loses access by LF-tag expression {expression} to "
                    f"{pid} on {date.isoformat()}{held}"
                )
                yield src, ref.loc, reason, pid
