"""The grant policies applied to grants by tag expression (`infra.model.lftags`): each product a
live tag grant reaches today is checked as a named grant of it would be, and the finding is
located at the tag grant (its file and line) with the product it reaches, so an `exceptions:`
entry of the producing domain waives it as it waives a named grant's:

- GOV-004 restricted data shared outside its domain;
- GOV-005 a grant on data at or above the expiry threshold without `expires`, or beyond the
  producing domain's maximum;
- GOV-013 a grantee the producing domain's `allowed_consumer_domains` does not allow;
- GOV-003 no `approved_by` where the producing domain requires approval for every grant.

GOV-015 (a PII column tagged below its product) is `infra.governance.blueprint_rules`'.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from infra.governance.domain_limits import effective
from infra.governance.findings import Finding, blueprint_finding
from infra.model import lftags
from infra.model.mesh import Mesh
from infra.model.spec import Classification


def tag_grant_findings(mesh: Mesh, today: dt.date) -> Iterator[Finding]:
    """Every finding of the live tag grants of `mesh` (see the module docstring)."""
    for ref in lftags.tag_grant_refs(mesh):
        grant, grantee = ref.grant, ref.grant.domain
        if grantee not in mesh.all_domains or lftags.is_expired(grant, today):
            continue
        if ref.scope == lftags.MESH_SCOPE:
            assert mesh.platform is not None
            src = mesh.platform.source
        else:
            src = mesh.source(ref.scope)
        what = f"{ref.label} (tag grant to {grantee})"
        for match in lftags.expand(mesh, ref, today):
            if match.domain == grantee:
                continue  # its own product: the producer role reads it anyway
            bp = mesh.blueprint(match.domain)
            eff, cls = effective(bp), match.spec.classification
            pid = f"{match.domain}.{match.product}"
            if cls is Classification.restricted:
                yield blueprint_finding(
                    src,
                    ref.loc + ("lf_tags",),
                    "GOV-004",
                    f"{what} reaches {pid}, which is restricted and must not be shared outside "
                    f"domain {match.domain} without an exception",
                    pid,
                )
            if eff.expiry_required(cls):
                limit = eff.max_grant_days
                if grant.expires is None:
                    yield blueprint_finding(
                        src,
                        ref.loc,
                        "GOV-005",
                        f"{what} reaches {pid} ({cls.value}) and has no expires: grants on "
                        f"{eff.grant_expiry_from.value} data and above must expire, at most "
                        f"{limit} days ahead",
                        pid,
                    )
                elif (grant.expires - today).days > limit:
                    yield blueprint_finding(
                        src,
                        ref.loc + ("expires",),
                        "GOV-005",
                        f"{what} reaches {pid} ({cls.value}) and expires on "
                        f"{grant.expires.isoformat()}, {(grant.expires - today).days} days from "
                        f"{today.isoformat()}: at most {limit} days",
                        pid,
                    )
            allowed = eff.allowed_consumers
            if allowed is not None and grantee not in allowed:
                yield blueprint_finding(
                    src,
                    ref.loc + ("domain",),
                    "GOV-013",
                    f"{what} reaches {pid}: {grantee!r} is not in domain {match.domain}'s "
                    f"allowed_consumer_domains ({', '.join(sorted(allowed)) or '(none)'})",
                    pid,
                )
            if eff.require_approval and not grant.approved_by:
                yield blueprint_finding(
                    src,
                    ref.loc,
                    "GOV-003",
                    f"{what} reaches {pid} and has no approved_by: domain {match.domain} "
                    "requires approval for every grant (policies.require_approval)",
                    pid,
                )
