"""Render the audit report in headless Chromium and save screenshots of its main views; print the
report's size and generation time, and any console error.

    python bench/screenshot_report.py [BLUEPRINT_DIR] [--out shots/report] [--width 1400]
                                      [--height 1000] [--report existing/report.html]
                                      [--domain sales] [--pdf]

Without --report it first runs `mesh audit BLUEPRINT_DIR --out <tmp>` (timed). Writes
`<out>-top.png` (verdict, counts, explanations), `<out>-domains.png` (the domain view),
`<out>-domain.png` (one domain's section, opened as a reader who clicks it: --domain, default the
domain with most grants), `<out>-grants.png` (the grant table filtered to that domain) and, with --pdf,
`<out>.pdf` (the print version). Needs a Chromium binary (Debian: apt-get install -y chromium);
exit 2 when none is found, 1 on a console error.
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
sys.path.insert(0, str(ROOT))

from bench.chromium import Browser, find_browser

TOP = "(el => el.getBoundingClientRect().top + window.scrollY)"


def shoot(
    browser: str, html: Path, out: Path, width: int, height: int, domain: str | None, pdf: bool
) -> int:
    with Browser(browser) as b:
        page = b.open(html, width, height)
        print(f"page height: {page.evaluate('document.documentElement.scrollHeight')} px")
        shots = [page.screenshot(out.with_name(out.name + "-top.png"))]
        y = page.evaluate(f"{TOP}(document.getElementById('domains'))")
        shots.append(page.screenshot(out.with_name(out.name + "-domains.png"), y=y))
        if domain is None:  # the domain with most rows in the grant table
            domain = page.evaluate(
                "Array.from(document.querySelectorAll('#grants tbody'))"
                ".sort((a, b) => b.rows.length - a.rows.length)[0].id.slice(7)"
            )
        page.evaluate(f"location.hash = '#domain-{domain}'")
        y = page.evaluate(f"{TOP}(document.getElementById('domain-{domain}'))")
        shots.append(page.screenshot(out.with_name(out.name + "-domain.png"), y=y))
        page.evaluate(f"document.querySelector('a[data-filter-domain=\"{domain}\"]').click()")
        count = page.evaluate("document.getElementById('grant-count').value")
        y = page.evaluate(f"{TOP}(document.getElementById('grant-table'))")
        shots.append(page.screenshot(out.with_name(out.name + "-grants.png"), y=y))
        page.evaluate("document.getElementById('grant-filter').reset()")
        for shot in shots:
            print(f"screenshot: {shot}")
        print(f"filter on {domain}: {count}")
        if pdf:
            started = time.perf_counter()
            page.pdf(out.with_name(out.name + ".pdf"))
            print(f"pdf: {out.with_name(out.name + '.pdf')} ({time.perf_counter() - started:.1f}s)")
        for error in b.errors:
            print(f"CONSOLE ERROR: {error}")
        return 1 if b.errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("blueprints", nargs="?", default=str(ROOT / "blueprints"))
    parser.add_argument("--out", default="report", help="path prefix of the PNG and PDF files")
    parser.add_argument("--report", help="an existing report.html (skips the audit)")
    parser.add_argument("--domain", help="the domain to drill into (default: most grants)")
    parser.add_argument("--pdf", action="store_true", help="also print it to <out>.pdf")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
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
    started = time.perf_counter()
    out = Path(args.out).resolve()
    code = shoot(browser, html, out, args.width, args.height, args.domain, args.pdf)
    print(f"browser: {time.perf_counter() - started:.2f}s")
    return code


if __name__ == "__main__":
    sys.exit(main())
