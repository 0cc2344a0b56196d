"""Benchmark: grants by LF-tag expression at scale (issue 29).

    python bench/tag_bench.py [--domains 1000] [--products 10] [--consumers 3] [--share 0.5]
                              [--rounds 3] [--quick]

On the synthetic mesh (bench/meshgen.py, uniform fan-in) with ``--share`` of the domains
granting by tag expression instead of by name (meshgen's ``tag_share``: their plain grants on
internal and public products become one ``{classification: [internal, public]}`` grant per
consumer domain):

1. the number of Lake Formation permissions the program declares, without and with the tag
   grants. At 1,000 domains the program itself would run for many minutes, so the count is
   `lf_permissions` (three per live domain, one per named read grant, one per domain tag grant
   and one per mesh-wide tag grant and account), checked first to equal the number of
   `aws.lakeformation.Permissions` the program records on the same kind of mesh at
   ``--check-domains`` domains (10);
2. `mesh diff BASE HEAD --validate --format markdown` (a subprocess, start-up included) on two
   pull requests against the same BASE, the tag mesh, run interleaved, ``--rounds`` rounds:
   *named*, one named grant added to a product (the PR check of every named grant), and
   *retag*, one product's `classification` LF-tag changed from confidential to internal in a
   domain that grants by tag, so that each of its tag grants now reaches it (new access, exit
   3, the expression named in the comment). Both must exit 3. Prints min and median of each
   and their ratio (retag / named).
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.meshgen import MESH_FILE_WITH_TAGS, blueprints, render
from bench.timing import mesh_parser

TODAY = dt.date(2026, 11, 25)


def write_tree(directory: Path, bps: list[dict[str, Any]]) -> Path:
    """The blueprints, and the platform file with an LF-tag ontology when one grants by tag."""
    directory.mkdir(parents=True)
    if any(bp.get("tag_grants") for bp in bps):
        (directory / "_mesh.yaml").write_text(MESH_FILE_WITH_TAGS, encoding="utf-8")
    for bp in bps:
        (directory / f"{bp['domain']}.yaml").write_text(render(bp), encoding="utf-8")
    return directory


def lf_permissions(mesh, today: dt.date) -> int:
    """The Lake Formation permissions the program declares for `mesh` in one account: per live
    domain its producer's tables and both roles' DESCRIBE on `default`; one per named read grant;
    one per live tag grant of a domain, one per mesh-wide one and account holding products."""
    from infra.model import access
    from infra.provision.lftags import live_refs

    model = access.declared_access(mesh, today)
    live = [d for d in mesh.domains if not mesh.is_retired(d, today)]
    named = sum(1 for g in model.grants if g.access == "read" and g.via_tags is None)
    # one account: a mesh-wide grant is one permission, like a domain's
    return 3 * len(live) + named + len(live_refs(mesh, today))


def recorded_lf_permissions(mesh, today: dt.date) -> int:
    from infra.engines.recording import run_program
    from infra.provision import types as T
    from infra.provision.program import StackSettings

    graph = run_program(mesh, StackSettings(single_account=True), today)
    return len(graph.by_type(T.LF_PERMISSIONS))


def load(directory: Path):
    from infra.blueprints.load import load_mesh

    result = load_mesh(directory, today=TODAY)
    if result.errors:
        raise SystemExit(f"{directory}: {result.errors[:3]}")
    return result.mesh


def named_pr(bps: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """One named grant added: the first shared product of the first domain granting by name
    gets one more consumer, whole-table and non-PII, expiring in 90 days."""
    head = copy.deepcopy(bps)
    names = [b["domain"] for b in head]
    for bp in head:
        if bp.get("tag_grants"):
            continue
        for product in bp["products"]:
            if product["classification"] == "restricted":
                continue
            taken = {g["domain"] for g in product["consumers"]} | {bp["domain"]}
            newcomer = next(n for n in names if n not in taken)
            product["consumers"].append(
                {
                    "domain": newcomer,
                    "expires": TODAY + dt.timedelta(days=90),
                    "justification": "quarterly planning (added in this PR)",
                }
            )
            return head, f"{newcomer}:consumer -> {bp['domain']}.{product['name']}"
    raise SystemExit("no domain grants by name")


def retag_pr(bps: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """One product retagged: a confidential product of a domain that grants by tag becomes
    internal (its `classification` LF-tag), so that every tag grant of its domain reaches it."""
    head = copy.deepcopy(bps)
    for bp in head:
        if not bp.get("tag_grants"):
            continue
        for product in bp["products"]:
            if product["classification"] == "confidential":
                product["classification"] = "internal"
                grantees = ", ".join(g["domain"] for g in bp["tag_grants"])
                return head, f"{bp['domain']}.{product['name']} -> internal (reaches {grantees})"
    raise SystemExit("no confidential product in a domain granting by tag")


def mesh_command() -> list[str]:
    script = Path(sys.executable).parent / "mesh"
    return [str(script)] if script.exists() else [sys.executable, "-m", "infra.cli"]


def timed(args: list[str], env: dict[str, str], expect: int) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != expect:
        tail = (done.stdout + done.stderr).strip().splitlines()[-8:]
        raise SystemExit(
            f"{' '.join(args)} exited {done.returncode}, not {expect}:\n" + "\n".join(tail)
        )
    return seconds, done.stdout


def main(argv: list[str]) -> int:
    parser = mesh_parser(__doc__, 1000, 10, 3)
    parser.add_argument("--share", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--check-domains", type=int, default=10)
    parser.add_argument(
        "--fan-in", default="uniform,neighbours", help="meshgen modes to count (the first is timed)"
    )
    parser.add_argument("--quick", action="store_true", help="100 domains, 3 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.domains = 100
    args.rounds = max(args.rounds, 3)
    env = {**os.environ, "MESH_TODAY": TODAY.isoformat()}
    shape = (args.products, args.consumers)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # 1. the count, checked against the program on a small mesh of the same kind
        for share in (0.0, args.share):
            small = blueprints(args.check_domains, *shape, today=TODAY, tag_share=share)
            mesh = load(write_tree(root / f"check-{share}", small))
            counted, recorded = lf_permissions(mesh, TODAY), recorded_lf_permissions(mesh, TODAY)
            if counted != recorded:
                raise SystemExit(
                    f"share {share}: counted {counted}, the program records {recorded}"
                )
            print(
                f"check at {args.check_domains} domains, share {share}: {counted} == program's {recorded}"
            )
        modes = args.fan_in.split(",")
        for mode in modes:
            named_bps = blueprints(args.domains, *shape, today=TODAY, fan_in=mode)
            bps = blueprints(args.domains, *shape, today=TODAY, fan_in=mode, tag_share=args.share)
            before = lf_permissions(load(write_tree(root / f"named-{mode}", named_bps)), TODAY)
            after = lf_permissions(load(write_tree(root / f"tags-{mode}", bps)), TODAY)
            tag_grants = sum(len(bp.get("tag_grants", [])) for bp in bps)
            named_grants = sum(len(p["consumers"]) for bp in named_bps for p in bp["products"])
            left = sum(len(p["consumers"]) for bp in bps for p in bp["products"])
            print(
                f"\n{args.domains} domains x {args.products} products, {args.consumers} consumers "
                f"per product ({mode} fan-in), {args.share:.0%} of the domains granting by tag"
            )
            print(f"  grants: {named_grants} named -> {left} named + {tag_grants} by tag")
            print(
                f"  Lake Formation permissions: {before} -> {after} ({after - before:+d}, "
                f"{after / before:.2f}x)"
            )
            if mode == modes[0]:
                tag_bps, base = bps, root / f"tags-{mode}"

        # 2. the PR check, interleaved
        head_named, what_named = named_pr(tag_bps)
        head_retag, what_retag = retag_pr(tag_bps)
        trees = {
            "named": write_tree(root / "head-named", head_named),
            "retag": write_tree(root / "head-retag", head_retag),
        }
        print(f"  PR named: {what_named}\n  PR retag: {what_retag}")
        times: dict[str, list[float]] = {"named": [], "retag": []}
        outputs = {}
        for r in range(args.rounds):
            order = ("named", "retag") if r % 2 == 0 else ("retag", "named")
            for kind in order:
                cmd = [*mesh_command(), "diff", str(base), str(trees[kind]), "--validate", "--format", "markdown"]  # fmt: skip
                seconds, outputs[kind] = timed(cmd, env, 3)
                times[kind].append(seconds)
        if "classification" not in outputs["retag"]:
            raise SystemExit("the retag PR's comment does not name the expression")
        print(f"\n  mesh diff --validate --format markdown, {args.rounds} rounds interleaved")
        print(f"  {'PR':<8}{'min s':>8}{'median s':>10}")
        for kind in ("named", "retag"):
            print(f"  {kind:<8}{min(times[kind]):>8.2f}{statistics.median(times[kind]):>10.2f}")
        ratio_min = min(times["retag"]) / min(times["named"])
        ratio_med = statistics.median(times["retag"]) / statistics.median(times["named"])
        print(f"  retag / named: min {ratio_min:.2f}, median {ratio_med:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
