"""Pulumi entry point (`Pulumi.yaml` main: infra/): load the blueprints, declare the mesh.

No logic here: loading and validation live in infra.blueprints.load, resources in infra.provision.program.
"""

import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:  # `pulumi up` runs this file without installing the package
    sys.path.insert(0, str(PROJECT_DIR))

from infra.entry import load_for_pulumi

load_for_pulumi(PROJECT_DIR)
