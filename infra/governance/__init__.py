"""Federated computational governance: global policies as code, checked on the blueprints and on
the generated resources; domains may only tighten them; exceptions are explicit and expire.

`catalogue` holds the policies (ids GOV-0xx) and their limits, `evaluate` runs them (blueprint
rules and resource rules, with the same waivers), `change_safety` and `review` judge a change
from one tree to the next. Nothing here imports Pulumi but `crossguard`, the policy-pack adapter.
"""
