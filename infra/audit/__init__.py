"""Audit: every generated policy document per principal, the EFFECTIVE access computed from the
resource graph and compared with the declared access, parliament lint, the HTML/Markdown report
(`infra.audit.audit`), and the PR-time access diff of two blueprint trees (`infra.diff.access_diff`).

Kept import-light: `mesh diff` must not load Pulumi.
"""
