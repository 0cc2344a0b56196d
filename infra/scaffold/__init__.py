"""Self-serve scaffolding: what a platform team or a new domain team starts from.

- `ci`: the pull-request workflow `mesh init ci` writes (`templates/mesh-pr.yml`).
- `blueprint`: `mesh new domain` and `mesh new product`: blueprint text in the sample's style,
  checked by the one pipeline (`infra.api.validate`) before anything is written.

A layer above `infra.api` (it judges what it writes the way every command does) and below the
CLI, which only asks its questions and prints.
"""
