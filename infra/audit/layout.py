"""The layout of `mesh audit DIR --out OUT`: file names only, no audit logic.

    OUT/policies/<domain>.<kind>.json   one file per role, e.g. `sales.consumer.json` for the
                                        principal `sales:consumer`, `sales.lf-access.json` for
                                        the domain's Lake Formation data-access role
    OUT/policies/index.json             {"principals": {principal id: file name}}
    OUT/access-matrix.json              {"generated_at", "grants", "expired"}
    OUT/report.md, OUT/report.html

Policy file names hold no `:` (Windows, zip and tar tools, artifact uploaders and some web
servers refuse or mangle it). Domain names never contain a dot (`^[a-z][a-z0-9_]{1,30}$`) and a
principal id is `<domain>:<kind>`, so `<domain>.<kind>.json` is unambiguous and reversible;
index.json says it without parsing.
"""

from __future__ import annotations

import re

MATRIX_FILE = "access-matrix.json"
POLICIES_DIR = "policies"
POLICY_INDEX = "index.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"

_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def principal_file_name(principal: str) -> str:
    """`sales:consumer` -> `sales.consumer.json`. Raises ValueError on anything that is not
    `<domain>:<kind>` made of letters, digits, `_` and `-` (no path can come out of it)."""
    domain, sep, kind = principal.partition(":")
    if not (sep and _SAFE.fullmatch(domain) and _SAFE.fullmatch(kind)):
        raise ValueError(f"not a principal id of the form <domain>:<kind>: {principal[:60]!r}")
    return f"{domain}.{kind}.json"


def principal_href(principal: str) -> str:
    """The link from report.html or report.md (both in OUT/) to a principal's policy file."""
    return f"{POLICIES_DIR}/{principal_file_name(principal)}"
