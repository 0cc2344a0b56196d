"""`mesh init stacks`: a stack config for every domain without one, so that a stack per domain
needs no hand work. Each written `Pulumi.<domain>.yaml` holds `mesh:stack: <domain>` and the
values every stack of the mesh must share, copied from the platform stack's config (prefix,
account, region, deploy role, blueprint directory): with them, each stack names the others'
roles and databases exactly as they are. Existing configs are never rewritten; what is wrong
with them (a stack for a domain that does not exist, values that differ from the platform's) is
reported (`infra.diff.stacks.config_problems`).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from infra.blueprints.load import blueprint_files
from infra.diff.stack_configs import SCOPE_PLATFORM, SHARED_KEYS, config_problems, project_configs
from infra.errors import UsageError

HEADER = (
    "# The stack of domain {domain} (one stack per domain): written by `mesh init stacks` from\n"
    "# {platform}, whose prefix, account and region every stack shares. Deploy it after the\n"
    "# platform stack: `mesh stacks` gives the order.\n"
)


def missing_configs(directory: Path, project_dir: Path) -> tuple[dict[Path, str], list[str]]:
    """(the config files to write and their text, the problems of the existing configs)."""
    domains = [p.stem for p in blueprint_files(directory)]
    configs = project_configs(project_dir)
    platform = next((c for c in configs if c.scope == SCOPE_PLATFORM), None)
    if platform is None:
        raise UsageError(
            f"no platform stack in {project_dir}: write Pulumi.platform.yaml (mesh:stack: "
            "platform, mesh:prefix, mesh:account, aws:region, mesh:lakeFormationAdmins) first; "
            "the domain stacks copy its shared values"
        )
    have = {c.scope for c in configs} | {c.name for c in configs}
    shared = {k: platform.values[k] for k in SHARED_KEYS if k in platform.values}
    out: dict[Path, str] = {}
    for domain in domains:
        if domain in have:
            continue
        path = project_dir / f"Pulumi.{domain}.yaml"
        body = yaml.safe_dump(
            {"config": {**shared, "mesh:stack": domain}}, sort_keys=False, default_flow_style=False
        )
        out[path] = HEADER.format(domain=domain, platform=platform.path.name) + body
    problems = [p for p in config_problems(configs, domains) if "without a stack config" not in p]
    return out, problems
