"""Audit: every generated policy document per principal, the EFFECTIVE access computed from the
resource graph and compared with the declared access, parliament lint, the HTML/Markdown report
(`infra.audit.run`), and the PR-time access diff of two blueprint trees (`infra.audit.diff`).

Kept import-light: `mesh diff` must not load Pulumi.
"""
