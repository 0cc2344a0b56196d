"""Render the audit report in headless Chromium and save a screenshot; print the report's size
and generation time.

    python bench/screenshot_report.py [BLUEPRINT_DIR] [--out report.png] [--width 1400]
                                      [--height 2000] [--report existing/report.html]

Without --report it first runs `mesh audit BLUEPRINT_DIR --out <tmp>` (timed). Needs Debian's
`chromium` package (apt-get install -y chromium); it is not a test dependency, so CI never
needs a browser. Exit 2 when no Chromium is found.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(browser: str, html: Path, png: Path, width: int, height: int) -> None:
    profile = tempfile.mkdtemp(prefix="mesh-chromium-")
    try:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size={width},{height}",
            html.resolve().as_uri(),
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("blueprints", nargs="?", default=str(ROOT / "blueprints"))
    parser.add_argument("--out", default="report.png", help="PNG to write")
    parser.add_argument("--report", help="an existing report.html (skips the audit)")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=2000)
    args = parser.parse_args(argv)

    browser = find_browser()
    if browser is None:
        print("no Chromium found: apt-get install -y chromium", file=sys.stderr)
        return 2
    if args.report:
        html = Path(args.report)
    else:
        out = Path(tempfile.mkdtemp(prefix="mesh-audit-"))
        mesh = shutil.which("mesh") or str(Path(sys.executable).parent / "mesh")
        started = time.perf_counter()
        proc = subprocess.run(
            [mesh, "audit", args.blueprints, "--out", str(out)],
            check=False,
            capture_output=True,
            text=True,
            env={**os.environ},
        )
        elapsed = time.perf_counter() - started
        sys.stdout.write(proc.stdout)
        print(f"mesh audit exit {proc.returncode}, {elapsed:.2f}s wall (process start included)")
        html = out / "report.html"
    size = html.stat().st_size
    print(f"report.html: {size} bytes ({size / 1024:.1f} KiB) at {html}")
    png = Path(args.out).resolve()
    started = time.perf_counter()
    screenshot(browser, html, png, args.width, args.height)
    print(f"screenshot: {png} ({time.perf_counter() - started:.2f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
