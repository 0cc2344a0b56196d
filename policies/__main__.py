"""Pulumi CrossGuard policy pack of the mesh: `pulumi preview --policy-pack policies`.

Only constructs the pack: the policies are built by `infra.crossguard` from the same
rules `mesh plan` runs. Constructing a PolicyPack starts the analyzer server and blocks, so this
file is the pack's entry point and nothing imports it.
"""

import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:  # the pack may run without the package installed
    sys.path.insert(0, str(PROJECT_DIR))

from pulumi_policy import EnforcementLevel, PolicyPack

from infra.crossguard import PACK_NAME, load_context, policies

PolicyPack(
    name=PACK_NAME,
    policies=policies(load_context(PROJECT_DIR / "blueprints")),
    enforcement_level=EnforcementLevel.MANDATORY,
)
