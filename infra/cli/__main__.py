"""`python -m infra.cli`: the `mesh` command."""

from infra.cli import main

main()
