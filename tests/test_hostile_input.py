"""Hostile and broken input, end to end through the CLI: every case gets a clean error (exit 1,
2 for a usage error) naming the file and, where there is one, the line; no traceback; bounded
time and memory.

Small cases are fixtures (tests/fixtures/hostile/); bombs, huge files, bytes that are not UTF-8,
symbolic links and FIFOs are made at test time in tmp_path. Time bounds are generous: they are
there to prove an input cannot make a check run for minutes, not to benchmark.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, TODAY
from typer.testing import CliRunner

from infra.blueprints.yaml_safe import MAX_FILE_BYTES, MAX_NODES
from infra.cli import app

HOSTILE = FIXTURES / "hostile"
LOCATED = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): error (?P<code>E\d{3}) ", re.MULTILINE)

HEADER = """\
domain: {domain}
description: Orders and returns of the web shop
owner: {{team: shop-data, email: shop-data@example.com}}
cost_center: CC-1001
"""
PRODUCT = """\
  - name: {name}
    description: One row per order line of the web shop
    classification: internal
    retention_days: 365
    schema:
      - {{name: order_id, type: string}}
      - {{name: amount, type: int}}
"""
BI = HEADER.format(domain="bi") + "products: []\n"


def blueprint(domain: str = "shop", products: str | None = None) -> str:
    return (
        HEADER.format(domain=domain) + "products:\n" + (products or PRODUCT.format(name="orders"))
    )


def cli(*args: str):
    run = CliRunner().invoke(app, list(args))
    output = run.output
    assert "Traceback" not in output, output
    assert run.exception is None or isinstance(run.exception, SystemExit), repr(run.exception)
    return run


def validate_json(directory: Path) -> tuple[int, dict]:
    run = cli("validate", str(directory), "--format", "json")
    return run.exit_code, json.loads(run.stdout)


def located(doc: dict) -> list[tuple[str, int | None, str]]:
    return [(Path(e["file"]).name, e["line"], e["code"]) for e in doc["errors"]]


def write(directory: Path, name: str, content: str | bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def mesh_subprocess(
    *args: str, timeout: float = 60
) -> tuple[subprocess.CompletedProcess, float, int]:
    """`mesh ARGS` in a child process: (result, seconds, peak memory of the child in MiB)."""
    probe = textwrap.dedent(
        """
        import resource, subprocess, sys
        done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
        sys.stderr.write(f"\\nPEAK_MIB={peak}\\n")
        sys.exit(done.returncode)
        """
    )
    script = Path(sys.executable).parent / "mesh"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "infra.cli"]
    env = {**os.environ, "MESH_TODAY": TODAY.isoformat()}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", probe, *command, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )
    seconds = time.perf_counter() - started
    peak = int(re.search(r"PEAK_MIB=(\d+)", done.stderr).group(1))
    assert "Traceback" not in done.stdout + done.stderr
    return done, seconds, peak


# ------------------------------------------------------------------ path traversal in names


def test_path_traversal_in_names_is_refused_at_its_line():
    code, doc = validate_json(HOSTILE / "traversal")
    assert code == 1
    assert [(f, line, c, e["path"]) for (f, line, c), e in zip(located(doc), doc["errors"])] == [
        ("etc.yaml", 1, "E013", "domain"),  # domain: ../etc (no E020 "rename to ../etc.yaml")
        ("shop.yaml", 6, "E013", "products[0].name"),  # a/b
        ("shop.yaml", 12, "E013", "products[0].schema[1].name"),  # ../../x
        ("shop.yaml", 14, "E013", "products[0].consumers[0].domain"),  # ../../root
        ("shop.yaml", 15, "E013", "products[1].name"),  # ..
    ]
    assert "'../etc' is not valid" in doc["errors"][0]["message"]


def test_audit_writes_nothing_for_a_traversal_domain(tmp_path):
    out = tmp_path / "out"
    run = cli("audit", str(HOSTILE / "traversal"), "--out", str(out))
    assert run.exit_code == 1
    assert "etc.yaml:1: error E013" in run.output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []


def test_hidden_and_dot_dot_file_names_are_reported_not_read(tmp_path):
    write(tmp_path, "bi.yaml", BI)
    write(tmp_path, "shop.yaml", blueprint())
    write(tmp_path, "..yaml", "domain: evil\n")  # would be domain '.'
    write(tmp_path, ".hidden.yml", "not: [valid\n")
    code, doc = validate_json(tmp_path)
    assert code == 0 and doc["errors"] == []
    ignored = [(Path(w["file"]).name, w["code"]) for w in doc["warnings"] if w["code"] == "W003"]
    assert ignored == [("..yaml", "W003"), (".hidden.yml", "W003")]


# ------------------------------------------------------------------ symbolic links, FIFOs


def test_symbolic_links_out_of_the_directory_are_refused(tmp_path):
    outside = write(tmp_path / "elsewhere", "other.yaml", blueprint("other"))
    bp = tmp_path / "blueprints"
    write(bp, "bi.yaml", BI)
    (bp / "passwd.yaml").symlink_to("/etc/passwd")
    (bp / "other.yaml").symlink_to(outside)
    (bp / "up.yaml").symlink_to("../elsewhere/other.yaml")
    (bp / "dangling.yaml").symlink_to(bp / "nowhere.yaml")
    (bp / "loop.yaml").symlink_to(bp / "loop.yaml")
    code, doc = validate_json(bp)
    assert code == 1
    by_file = {Path(e["file"]).name: e for e in doc["errors"]}
    for name in ("passwd.yaml", "other.yaml", "up.yaml"):
        assert by_file[name]["code"] == "E001"
        assert "outside the blueprint directory: refused" in by_file[name]["message"]
    for name in ("dangling.yaml", "loop.yaml"):
        assert (
            by_file[name]["code"] == "E001"
            and "points to no readable file" in (by_file[name]["message"])
        )
    assert "root:" not in json.dumps(doc)  # nothing of /etc/passwd is read or echoed


def test_a_symbolic_link_inside_the_directory_is_followed(tmp_path):
    real = write(tmp_path / "blueprints" / "real", "shop.yaml", blueprint())
    write(tmp_path / "blueprints", "bi.yaml", BI)
    (tmp_path / "blueprints" / "shop.yaml").symlink_to(real)
    code, doc = validate_json(tmp_path / "blueprints")
    assert code == 0, doc["errors"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_or_directory_named_like_a_blueprint_does_not_hang(tmp_path):
    write(tmp_path, "bi.yaml", BI)
    os.mkfifo(tmp_path / "shop.yaml")  # opening it for reading would block forever
    (tmp_path / "sales.yaml").mkdir()
    started = time.perf_counter()
    code, doc = validate_json(tmp_path)
    assert time.perf_counter() - started < 10
    assert code == 1
    assert sorted(located(doc)) == [("sales.yaml", None, "E001"), ("shop.yaml", None, "E001")]


def test_a_head_file_linked_to_dev_zero_does_not_exhaust_the_pr_check(tmp_path):
    # the PR check compares BASE and HEAD byte for byte (untouched files, the platform file):
    # those reads are bounded and refuse a link out of the tree, as the load does
    for side in ("base", "head"):
        shutil.copytree(ROOT / "blueprints", tmp_path / side)
    for name in ("evil.yaml", "_mesh.yaml"):
        target = tmp_path / "head" / name
        target.unlink(missing_ok=True)
        target.symlink_to("/dev/zero")
        args = ("diff", str(tmp_path / "base"), str(target.parent), "--validate")
        done, seconds, peak = mesh_subprocess(*args, "--format", "json")
        assert done.returncode == 1, done.stdout + done.stderr
        doc = json.loads(done.stdout)
        assert [(Path(e["file"]).name, e["code"]) for e in doc["errors"]] == [(name, "E001")]
        assert seconds < 60 and peak < 1024, (seconds, peak)
        target.unlink()
        if name == "_mesh.yaml":
            shutil.copy(ROOT / "blueprints" / name, target)


# ------------------------------------------------------------------ YAML bombs


def _laughs(levels: int = 9) -> str:
    lines = ["domain: shop", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append(f"products: *a{levels}")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_quickly_and_in_little_memory(tmp_path):
    write(tmp_path / "bp", "shop.yaml", _laughs(9))  # 10**10 strings once expanded
    done, seconds, peak = mesh_subprocess("validate", str(tmp_path / "bp"))
    assert done.returncode == 1
    assert re.search(r"shop\.yaml:\d+: error E004 .*alias bomb", done.stdout)
    assert seconds < 10 and peak < 400, (seconds, peak)


def test_a_megabyte_string_behind_thousands_of_aliases_is_bounded(tmp_path):
    """Quadratic blow-up: one big scalar, referenced by 80,000 aliases, each one an error whose
    message quotes the value."""
    big = "x" * 1_000_000
    consumers = "\n".join(["    - &big " + big] + ["    - *big"] * 80_000)
    text = blueprint(products=PRODUCT.format(name="orders") + "    consumers:\n" + consumers)
    write(tmp_path / "bp", "shop.yaml", text)
    done, seconds, peak = mesh_subprocess("validate", str(tmp_path / "bp"), "--format", "json")
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert len(doc["errors"]) == 80_001
    assert {e["line"] for e in doc["errors"]} == {14}  # every alias is the anchored node
    assert max(len(e["message"]) for e in doc["errors"]) < 200  # the value is quoted, cut short
    assert seconds < 20 and peak < 600, (seconds, peak)


def test_aliases_just_under_the_node_limit_are_bounded(tmp_path):
    """The largest expansion the node limit lets through: a 1,000-column product repeated by
    aliases up to the limit. Every copy is validated and reported as a duplicate, quickly."""
    columns = "\n".join(f"      - {{name: c{i}, type: string}}" for i in range(1000))
    product = (
        PRODUCT.format(name="orders").split("    schema:")[0].replace("- name", "- &p\n    name")
    )
    copies = MAX_NODES // 3_100
    text = blueprint(products=product + "    schema:\n" + columns + "\n" + "  - *p\n" * copies)
    write(tmp_path, "shop.yaml", text)
    started = time.perf_counter()
    code, doc = validate_json(tmp_path)
    assert time.perf_counter() - started < 15
    assert code == 1
    assert {e["code"] for e in doc["errors"]} == {"E022"} and len(doc["errors"]) == copies


# ------------------------------------------------------------------ size, encoding, duplicates


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    text = blueprint() + "# " + "x" * MAX_FILE_BYTES + "\n"
    write(tmp_path, "shop.yaml", text)
    code, doc = validate_json(tmp_path)
    assert code == 1
    assert located(doc) == [("shop.yaml", None, "E001")]
    assert f"larger than {MAX_FILE_BYTES // 1024} KiB" in doc["errors"][0]["message"]


def test_one_huge_line_under_the_limit_is_bounded(tmp_path):
    text = blueprint().replace(
        "description: Orders and returns", "description: " + "y" * (MAX_FILE_BYTES - 2_000)
    )
    write(tmp_path, "shop.yaml", text)
    started = time.perf_counter()
    code, doc = validate_json(tmp_path)
    assert time.perf_counter() - started < 10
    assert code == 1
    assert located(doc) == [("shop.yaml", 2, "E012")]  # too long for a description
    assert len(doc["errors"][0]["message"]) < 300


def test_bytes_that_are_not_utf8_are_located(tmp_path):
    write(tmp_path, "shop.yaml", blueprint().encode().replace(b"web shop", b"Gr\xfc\xdfe shop"))
    write(tmp_path, "bi.yaml", "\ufeffdomain: bi\n".encode("utf-16"))  # UTF-16: NUL bytes
    code, doc = validate_json(tmp_path)
    assert code == 1
    assert located(doc) == [("bi.yaml", 1, "E001"), ("shop.yaml", 2, "E001")]
    assert "not UTF-8 (byte 0xfc" in doc["errors"][1]["message"]


def test_duplicate_keys_name_both_lines(tmp_path):
    text = blueprint().replace(
        "    retention_days: 365\n", "    retention_days: 365\n    retention_days: 1\n"
    )
    write(tmp_path, "shop.yaml", text)
    code, doc = validate_json(tmp_path)
    assert code == 1
    assert located(doc) == [("shop.yaml", 10, "E003")]
    assert "duplicate key 'retention_days' (first defined on line 9)" in doc["errors"][0]["message"]


def test_nesting_beyond_the_parser_limit_is_a_syntax_error(tmp_path):
    write(tmp_path, "shop.yaml", "domain: shop\nx: " + "[" * 100_000 + "]" * 100_000 + "\n")
    code, doc = validate_json(tmp_path)
    assert code == 1 and located(doc) == [("shop.yaml", 2, "E002")]


# ------------------------------------------------------------------ names


def test_names_colliding_after_normalisation():
    run = cli("validate", str(HOSTILE / "collision"))
    assert run.exit_code == 1
    assert LOCATED.findall(run.stdout) == [
        (str(HOSTILE / "collision" / "sales_eu.yaml"), "6", "E032")
    ]
    assert "'mesh-sales-eu-orders' of sales_eu.orders collides with that of sales.eu_orders" in (
        run.stdout
    )


def test_reserved_words_as_table_and_column_names():
    code, doc = validate_json(HOSTILE / "reserved")
    assert code == 1
    assert [(e["line"], e["code"], e["path"]) for e in doc["errors"]] == [
        (12, "E035", "products[0].schema[1].name"),  # order
        (16, "E035", "products[0].partition_keys[0].name"),  # select
        (17, "E035", "products[1].name"),  # table
    ]
    assert 'every consumer would have to quote it ("order")' in doc["errors"][0]["message"]
    assert [(w["line"], w["code"]) for w in doc["warnings"]] == [(13, "W004"), (14, "W004")]
    assert "must quote it as `date`" in doc["warnings"][0]["message"]


def test_ddl_only_reserved_words_warn_but_pass(tmp_path):
    write(tmp_path, "bi.yaml", BI)
    write(tmp_path, "shop.yaml", blueprint().replace("name: amount", "name: timestamp"))
    code, doc = validate_json(tmp_path)
    assert code == 0 and [w["code"] for w in doc["warnings"]] == ["W004"]


def test_plan_refuses_reserved_words_before_any_resource():
    run = cli("plan", str(HOSTILE / "reserved"))
    assert run.exit_code == 1 and "E035" in run.output


# ------------------------------------------------------------------ consumer lists of thousands


def _consumers(n: int, domain: str = "nope{i}") -> str:
    return "    consumers:\n" + "".join(
        f"      - {{domain: {domain.format(i=i)}, justification: reporting}}\n" for i in range(n)
    )


def test_five_thousand_unknown_consumer_domains(tmp_path):
    write(tmp_path, "bi.yaml", BI)
    write(
        tmp_path, "shop.yaml", blueprint(products=PRODUCT.format(name="orders") + _consumers(5000))
    )
    started = time.perf_counter()
    code, doc = validate_json(tmp_path)
    seconds = time.perf_counter() - started
    assert code == 1
    unknown = [e for e in doc["errors"] if e["code"] == "E025"]
    assert len(unknown) == 5000 and len(doc["errors"]) == 5000  # once each, not per policy too
    assert [e["line"] for e in unknown] == list(range(14, 5014))
    assert unknown[0]["message"] == "consumer domain 'nope0' does not exist; expected one of: bi"
    assert seconds < 10, seconds


def test_suggestion_lists_stay_short_in_a_big_mesh(tmp_path):
    for i in range(40):
        write(
            tmp_path, f"team{i:02d}.yaml", HEADER.format(domain=f"team{i:02d}") + "products: []\n"
        )
    columns = "".join(f"      - {{name: c{i}, type: string}}\n" for i in range(1000))
    product = PRODUCT.format(name="orders").split("    schema:")[0] + "    schema:\n" + columns
    grant = "    consumers:\n      - domain: team00\n        justification: reporting\n"
    grant += "        columns:\n" + "".join(f"          - x{i}\n" for i in range(20_000))
    grant += "      - {domain: nope, justification: reporting}\n"
    write(tmp_path, "shop.yaml", blueprint(products=product + grant))
    started = time.perf_counter()
    run = cli("validate", str(tmp_path), "--format", "json")
    assert time.perf_counter() - started < 15
    doc = json.loads(run.stdout)
    assert run.exit_code == 1
    messages = {e["code"]: e["message"] for e in doc["errors"]}
    assert messages["E025"].endswith("team00, team01, team02, team03, team04, team05, team06, "
        "team07, team08, team09, team10, team11, team12, team13, team14, team15, team16, team17, "
        "team18, team19, ... (20 more)")  # fmt: skip
    assert messages["E026"].endswith(", c19, ... (980 more)")
    # bounded by the input, not input x schema (each error names the file: its path counts)
    assert len(run.stdout) < 20_000 * (400 + len(str(tmp_path)))


# ------------------------------------------------------------------ the other commands


def test_diff_reports_a_hostile_head_with_its_file_and_line(tmp_path):
    write(tmp_path / "base", "bi.yaml", BI)
    write(tmp_path / "base", "shop.yaml", blueprint())
    write(tmp_path / "head", "bi.yaml", BI)
    write(tmp_path / "head", "shop.yaml", _laughs(9))
    run = cli("diff", str(tmp_path / "base"), str(tmp_path / "head"))
    assert run.exit_code == 1
    assert re.search(r"head: .*shop\.yaml:\d+: error E004 ", run.output)


def test_validate_against_a_hostile_base_is_a_warning_not_a_crash(tmp_path):
    write(tmp_path / "base", "bi.yaml", BI)
    write(tmp_path / "base", "shop.yaml", b"domain: shop\n\xff\xfe junk\n")
    write(tmp_path / "head", "bi.yaml", BI)
    write(tmp_path / "head", "shop.yaml", blueprint())
    run = cli("validate", str(tmp_path / "head"), "--base", str(tmp_path / "base"), "-f", "json")
    assert run.exit_code == 0
    assert [w["code"] for w in json.loads(run.stdout)["warnings"]] == ["W006"]


@pytest.mark.parametrize("args", [["validate", "--format", "xml"], ["diff", "only-one"], ["nope"]])
def test_usage_errors_exit_2(args):
    assert cli(*args).exit_code == 2
