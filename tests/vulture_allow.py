"""Names vulture cannot see used: called by a framework, not by our code. Read by vulture (as a
whitelist), never imported or run. Each group says who uses the names."""
# ruff: noqa

# Pulumi's mocks interface (infra/engines/recording.py, infra/engines/moto_deploy.py)
_.new_resource
# PyYAML's resolver hooks, disabled on the hostile-input loader (infra/blueprints/yaml_safe.py)
_.descend_resolver
_.ascend_resolver
# reprlib.Repr and ruamel.yaml settings (infra/errors.py, infra/contracts/mapping.py, edit.py)
_.maxstring
_.maxother
_.maxlevel
_.maxlist
_.maxdict
_.preserve_quotes
# parliament reads a finding's ignore_locations (infra/audit/lint.py)
_.ignore_locations
# the Jinja2 template of the report (infra/audit/templates/report.html.j2)
_.total_columns
_.differs
_.kind_label
_.kind_title
# pydantic: model configuration, validators and ODCS quality fields kept for round trips
_.model_config
_._quality_fits
_.dimension
_.businessImpact
_.schedule
_.scheduler
_.metric
_.arguments
_.mustBe
_.mustNotBe
_.mustBeGreaterThan
_.mustBeGreaterOrEqualTo
_.mustBeLessThan
_.mustBeLessOrEqualTo
_.mustBeBetween
_.mustNotBeBetween
_.engine
_.implementation
_.customProperties
_.authoritativeDefinitions
# Pulumi components keep their children as attributes (infra/provision/components.py)
_.producer_lf
_.lifecycle
# a role kind read through ROLE_KINDS (infra/provision/names.py)
_.PRODUCER
# html.parser callbacks (tests/test_report.py), pytest's module marks and side-effect fixtures
_.handle_starttag
_.handle_endtag
_.handle_data
_.pytestmark
_.forked
# tests/conftest.py imports Hypothesis's lazy modules up front (CPython 3.11)
_.EAGER_IMPORTS
# io.RawIOBase asks a raw stream whether it is writable (infra/cli/__init__.py's closed-pipe guard)
_.writable
# a choice of `mesh contract export --odcs-version`, read by typer (infra/cli/contract.py)
_.v3_1_0
