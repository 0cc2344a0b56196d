"""The house rules the code keeps: every problem code is registered with its severity, and
every entry point judges a tree by the one pipeline (`infra.api`)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, TODAY
from typer.testing import CliRunner

from infra import api, entry
from infra.cli import app
from infra.errors import REGISTRY, Problem, Severity
from infra.governance import catalogue as cat
from infra.provision.program import StackSettings

INFRA = Path(__file__).resolve().parent.parent / "infra"
CODE = re.compile(r"(?:E|W|C|CW)\d{2,3}|GOV-(?:\d{3}|X\d{2})")


def _code_literals() -> dict[str, list[str]]:
    """Every string constant in infra/ that is exactly a problem code, with where it is."""
    found: dict[str, list[str]] = {}
    for path in sorted(INFRA.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and CODE.fullmatch(value):
                found.setdefault(value, []).append(f"{path.name}:{node.lineno}")
    return found


def test_every_code_in_the_code_is_registered():
    unknown = {c: at for c, at in _code_literals().items() if c not in REGISTRY}
    assert unknown == {}


def test_no_code_is_registered_twice():
    """A dict literal keeps the last of two equal keys silently: two branches that each add
    the next free code merge without a conflict and one code loses its meaning."""
    tree = ast.parse((INFRA / "errors.py").read_text(encoding="utf-8"))
    keys = [
        k.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for k in node.keys
        if isinstance(k, ast.Constant) and isinstance(k.value, str) and CODE.fullmatch(k.value)
    ]
    assert sorted(k for k in set(keys) if keys.count(k) > 1) == []


def test_every_registered_code_is_raised_somewhere():
    used = set(_code_literals()) | {p.id for p in cat.CATALOGUE}
    assert sorted(set(REGISTRY) - used) == []


def test_a_problem_takes_its_severity_from_its_code():
    assert Problem("f", 1, "", "W007", "near a quota").severity is Severity.warning
    assert Problem("f", 1, "", "E036", "over a quota").severity is Severity.error
    assert Problem("f", 1, "", "GOV-X01", "active exception").severity is Severity.warning
    # an error may be demoted (it lapsed, or the base tree has it), a warning never raised
    assert Problem("f", 1, "", "GOV-005", "x", Severity.warning).severity is Severity.warning
    with pytest.raises(ValueError, match="W007 is a warning"):
        Problem("f", 1, "", "W007", "x", Severity.error)
    with pytest.raises(ValueError, match="unknown problem code 'E999'"):
        Problem("f", 1, "", "E999", "misspelt")


def test_the_catalogue_and_the_registry_agree():
    governance = {c.id for c in REGISTRY.values() if c.family == "governance"}
    exceptions = set(cat.EXCEPTION_CODES)
    assert governance == set(cat.POLICIES) | exceptions
    for policy in cat.CATALOGUE:
        assert policy.severity is REGISTRY[policy.id].severity


def _pulumi_settings(tree: Path) -> StackSettings:
    return StackSettings(blueprints=tree)


@pytest.mark.parametrize(
    "tree",
    [
        FIXTURES / "program/invalid",
        FIXTURES / "naming/too_long",
        FIXTURES / "governance/blueprint/pii-bad",
        FIXTURES / "governance/blueprint/restricted-bad",
        FIXTURES / "governance/blueprint/exception-active",
        Path(__file__).resolve().parent.parent / "blueprints",
    ],
    ids=lambda p: p.name,
)
def test_validate_and_the_pulumi_entry_report_the_same_problems(tree):
    """`mesh validate` and what `pulumi up` checks (`infra.entry.check`) find the
    same errors and warnings on the same tree: one pipeline, not two assemblies of it."""
    result = CliRunner().invoke(app, ["validate", str(tree), "--format", "json"])
    doc = json.loads(result.stdout)
    deployed = entry.check(_pulumi_settings(tree))
    as_json = [p.as_json() for p in deployed.errors]
    assert as_json == doc["errors"]
    # deploying, a finding only a lapsed exception brought back is a warning: none here
    assert [p.as_json() for p in deployed.warnings] == doc["warnings"]
    assert api.validate(tree).errors == deployed.errors


def test_the_type_tokens_are_what_pulumi_aws_records(sample_dir):
    """`infra.provision.types` is what rules, audit, engines and tests compare with: every type
    the program declares on the sample is one of its tokens, spelt as pulumi_aws spells it."""
    from infra.engines.recording import run_program
    from infra.provision import types

    tokens = {v for k, v in vars(types).items() if k.isupper()}
    mesh = api.validate(sample_dir).mesh
    declared = {r.type for r in run_program(mesh, StackSettings(), TODAY).resources}
    assert declared - {"pulumi:pulumi:Stack"} <= tokens
    assert {types.BUCKET, types.KEY, types.LF_PERMISSIONS, types.GRANT} <= declared


def test_logical_names_parse_back_to_what_made_them():
    from infra.provision.names import (
        Logical,
        Part,
        child_name,
        domain_logical,
        grant_logical,
        parse_logical,
        product_logical,
    )

    assert parse_logical(child_name(domain_logical("sales"), Part.KEY)) == Logical(
        "sales", part="key"
    )
    assert parse_logical(child_name(domain_logical("sales"), Part.LF_ACCESS)).part == "lf-access"
    product = parse_logical(child_name(product_logical("sales", "orders"), Part.BUCKET_POLICY))
    assert (product.product_id, product.part, product.component) == (
        "sales.orders",
        "policy",
        "sales.orders",
    )
    grant = parse_logical(
        child_name(grant_logical("sales", "orders", "mkt_eu"), Part.LF_PERMISSION)
    )
    assert (grant.domain, grant.product, grant.consumer, grant.part) == (
        "sales",
        "orders",
        "mkt_eu",
        "lakeformation",
    )
    assert grant.component == "sales.orders@mkt_eu"


# ------------------------------------------------------------------------------ layering

ROOT = INFRA.parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


def test_the_layering_contracts_hold():
    """import-linter's contracts in pyproject.toml: entry points > api > features > engines >
    audit > governance > provision | blueprints > model > errors > util; no Pulumi or AWS SDK
    below the engines; moto only in the moto engine."""
    done = _run(str(Path(sys.executable).parent / "lint-imports"), "--no-cache")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_dead_code():
    """vulture over infra/ (and what uses it: the pack, benchmarks, tests); framework-called
    names are listed with their caller in tests/vulture_allow.py."""
    done = _run(sys.executable, "-m", "vulture")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_no_import_cycles():
    import grimp

    graph = grimp.build_graph("infra", cache_dir=None)
    cycles = sorted(
        (module, *graph.find_shortest_chain(imported, module))
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(imported, module)
    )
    assert cycles == []


def test_a_long_module_says_why_it_is_one():
    long = {}
    paths = sorted(INFRA.rglob("*.py"))
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 500:
            doc = ast.get_docstring(ast.parse(text)) or ""
            long[path.relative_to(ROOT).as_posix()] = "Why one module" in doc
    assert len(paths) > 100  # the scan sees the package (today no module is over 500 lines)
    assert all(long.values()), long
