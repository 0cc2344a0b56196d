"""`mesh validate`: every rule has a failing and a passing fixture, each error has its exact code,
file, line and path; the CLI speaks text, json and github with the contract's exit codes.

Fixtures live in tests/fixtures/validate/<case>/{invalid,valid}/: the valid twin is the smallest
correction of the invalid one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, ROOT, TODAY
from typer.testing import CliRunner

from infra.blueprints import parallel
from infra.blueprints.load import load_mesh
from infra.blueprints.yaml_safe import MAX_FILE_BYTES
from infra.cli import app
from infra.errors import CODES, UsageError

VALIDATE = FIXTURES / "validate"

# case -> every error of the invalid twin: (code, file name, line, field path), in report order
EXPECTED: dict[str, list[tuple[str, str, int | None, str]]] = {
    # ------------------------------------------------------------------ across the mesh
    "e020_domain_is_file_stem": [("E020", "sales.yaml", 1, "domain")],
    # two files can only define the same domain as <stem>.yaml and <stem>.yml (E020 otherwise)
    "e021_domain_defined_twice": [("E021", "sales.yml", 1, "domain")],
    "e022_product_defined_twice": [("E022", "sales.yaml", 15, "products[1].name")],
    "e023_column_defined_twice": [
        ("E023", "sales.yaml", 14, "products[0].schema[2].name"),
        ("E023", "sales.yaml", 17, "products[0].partition_keys[1].name"),
    ],
    "e024_partition_key_repeats_column": [
        ("E024", "sales.yaml", 17, "products[0].partition_keys[1].name")
    ],
    "e025_consumer_domain_unknown": [("E025", "sales.yaml", 16, "products[0].consumers[0].domain")],
    "e026_consumer_column_not_in_schema": [
        ("E026", "sales.yaml", 19, "products[0].consumers[0].columns[1]")
    ],
    "e027_pii_shared_without_include_pii": [
        ("E027", "sales.yaml", 19, "products[0].consumers[0].columns[1]")
    ],
    # approved_by is missing: the line is the consumer's own
    "e028_include_pii_without_approval": [
        ("E028", "sales.yaml", 16, "products[0].consumers[0].approved_by")
    ],
    "e029_domain_consumes_itself": [("E029", "sales.yaml", 16, "products[0].consumers[0].domain")],
    "e030_consumer_listed_twice": [("E030", "sales.yaml", 19, "products[0].consumers[1].domain")],
    "e031_no_blueprints": [("E031", "invalid", None, "")],  # README, notes.txt, .hidden.yaml only
    "e034_exception_unknown_product": [("E034", "sales.yaml", 18, "exceptions[0].product")],
    # direct S3 read of a column-limited grant, and of one that omits the PII columns
    "e037_s3_direct_on_column_limited_grant": [
        ("E037", "sales.yaml", 19, "products[0].consumers[0].s3_direct"),
        ("E037", "sales.yaml", 31, "products[1].consumers[0].s3_direct"),
    ],
    # a row filter (`rows:`) is no way around a column restriction either
    "e037_s3_direct_on_a_row_filtered_grant": [
        ("E037", "sales.yaml", 25, "products[0].consumers[0].s3_direct")
    ],
    # row filters, parsed with sqlglot: an incomplete predicate, then a function call
    "e095_row_filter_unsupported_syntax": [
        ("E095", "sales.yaml", 21, "products[0].consumers[0].rows"),
        ("E095", "sales.yaml", 24, "products[0].consumers[1].rows"),
    ],
    "e096_row_filter_unknown_column": [("E096", "sales.yaml", 21, "products[0].consumers[0].rows")],
    "e097_row_filter_not_a_predicate": [
        ("E097", "sales.yaml", 21, "products[0].consumers[0].rows")
    ],
    "e098_row_filter_on_pii_without_approval": [
        ("E098", "sales.yaml", 21, "products[0].consumers[0].rows")
    ],
    # ------------------------------------------------------------------ the model
    "e010_unknown_keys": [
        ("E010", "sales.yaml", 3, "owner.slack"),
        ("E010", "sales.yaml", 5, "colour"),
        ("E010", "sales.yaml", 11, "products[0].retention_dayz"),
        ("E010", "sales.yaml", 13, "products[0].schema[0].nullable"),
        ("E010", "sales.yaml", 17, "products[0].consumers[0].reason"),
        ("E010", "sales.yaml", 18, "policies.max_grant_dayz"),
    ],
    # a missing key has no line of its own: the line of the mapping that lacks it
    "e011_missing_fields": [
        ("E011", "sales.yaml", 1, "cost_center"),
        ("E011", "sales.yaml", 3, "owner.email"),
        ("E011", "sales.yaml", 5, "products[0].retention_days"),
        ("E011", "sales.yaml", 9, "products[0].schema[0].type"),
        ("E011", "sales.yaml", 11, "products[0].consumers[0].justification"),
    ],
    "e012_wrong_types": [
        ("E012", "sales.yaml", 8, "products[0].classification"),
        ("E012", "sales.yaml", 9, "products[0].format"),
        ("E012", "sales.yaml", 10, "products[0].retention_days"),
        ("E012", "sales.yaml", 11, "products[0].freshness_slo_hours"),
        ("E012", "sales.yaml", 13, "products[0].schema[0].pii"),
        ("E012", "sales.yaml", 14, "products[0].schema[1].type"),
        ("E012", "sales.yaml", 17, "products[0].consumers[0].columns"),
        ("E012", "sales.yaml", 18, "products[0].consumers[0].expires"),
        ("E012", "sales.yaml", 20, "policies"),
        ("E012", "sales.yaml", 21, "exceptions"),
    ],
    "e013_bad_names": [
        ("E013", "Billing.yaml", 1, "domain"),
        ("E013", "sales.yaml", 3, "owner.email"),
        ("E013", "sales.yaml", 3, "owner.team"),
        ("E013", "sales.yaml", 4, "cost_center"),
        ("E013", "sales.yaml", 6, "products[0].name"),
        ("E013", "sales.yaml", 11, "products[0].schema[0].name"),
        ("E013", "sales.yaml", 14, "products[0].consumers[0].domain"),
        ("E013", "sales.yaml", 15, "products[0].consumers[0].approved_by"),
    ],
    # one bad type per line, from line 12 on: decimal bounds, array, struct, map, nesting, junk
    "e014_glue_types": [
        ("E014", "sales.yaml", 12 + i, f"products[0].schema[{i}].type") for i in range(18)
    ],
    # ------------------------------------------------------------------ reading the file
    "file_empty": [("E005", "sales.yaml", 1, "")],
    "file_only_comments": [("E005", "sales.yaml", 1, "")],
    "file_nul_bytes": [("E001", "sales.yaml", 4, "")],
    "file_binary_junk": [("E001", "sales.yaml", 1, "")],
    "file_not_utf8": [("E001", "sales.yaml", 2, "")],
    "file_control_character": [("E002", "sales.yaml", 2, "")],
    "file_yaml_syntax_error": [("E002", "sales.yaml", 11, "")],
    "file_unclosed_flow": [("E002", "sales.yaml", 15, "")],
    "file_two_documents": [("E002", "sales.yaml", 17, "")],
    "file_duplicate_key": [("E003", "sales.yaml", 11, "")],
    "file_alias_bomb": [("E004", "sales.yaml", 2, "")],
    "file_alias_recursive": [("E004", "sales.yaml", 2, "")],
    "file_python_tag": [("E004", "sales.yaml", 4, "")],
    "file_custom_tag": [("E004", "sales.yaml", 10, "")],
    "file_binary_tag": [("E004", "sales.yaml", 2, "")],
    "file_merge_key": [("E004", "sales.yaml", 4, "")],
    "file_complex_key": [("E004", "sales.yaml", 4, "")],
    "file_top_level_list": [("E005", "sales.yaml", 1, "")],
    "file_top_level_scalar": [("E005", "sales.yaml", 1, "")],
    "file_invalid_scalar": [("E012", "sales.yaml", 10, "")],
}

# words each message must contain: it says what was wrong and what was expected
MESSAGE_HINTS = {
    "e010_unknown_keys": "expected one of",
    "e020_domain_is_file_stem": "must equal the file name 'sales'",
    "e021_domain_defined_twice": "already defined in",
    "e025_consumer_domain_unknown": "expected one of: marketing",
    "e026_consumer_column_not_in_schema": "expected one of: order_id, customer_email, amount",
    "e027_pii_shared_without_include_pii": "include_pii",
    "e028_include_pii_without_approval": "approved_by",
    "e037_s3_direct_on_column_limited_grant": "path around a column restriction",
    "e037_s3_direct_on_a_row_filtered_grant": "path around the filter",
    "e096_row_filter_unknown_column": "expected one of: amount, customer_email, dt, order_id",
    "e097_row_filter_not_a_predicate": "is not a boolean predicate",
    "e098_row_filter_on_pii_without_approval": "include_pii: true and approved_by",
    "file_duplicate_key": "first defined on line 8",
    "file_alias_bomb": "alias bomb",
    "file_python_tag": "python/object/apply:os.system",
    "file_not_utf8": "not UTF-8",
    "file_nul_bytes": "NUL",
    "file_control_character": "#x0007",
    "file_top_level_list": "got list",
}

CASES = sorted(EXPECTED)


def _errors(directory: Path) -> list[tuple[str, str, int | None, str]]:
    result = load_mesh(directory, today=TODAY)
    return [(e.code, Path(e.file).name, e.line, e.path) for e in result.errors]


def test_every_fixture_case_is_expected():
    on_disk = {p.name for p in VALIDATE.iterdir() if (p / "invalid").is_dir()}
    assert on_disk == set(EXPECTED)
    for case in on_disk:
        assert (VALIDATE / case / "valid").is_dir(), f"{case} has no valid twin"


def test_every_error_code_in_the_fixtures_is_a_known_code():
    codes = {code for errors in EXPECTED.values() for code, *_ in errors}
    assert codes <= set(CODES)
    # every rule of the issue has its fixture (E032/E033 are the naming checks of `mesh plan`)
    assert {f"E0{n:02d}" for n in [1, 2, 3, 4, 5, 10, 11, 12, 13, 14]} <= codes
    assert {f"E0{n}" for n in [20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 34, 37]} <= codes
    assert {"E095", "E096", "E097", "E098"} <= codes  # row filters


@pytest.mark.parametrize("case", CASES)
def test_invalid_fixture_reports_exact_errors(case):
    assert _errors(VALIDATE / case / "invalid") == EXPECTED[case]


@pytest.mark.parametrize("case", CASES)
def test_valid_twin_passes(case):
    result = load_mesh(VALIDATE / case / "valid", today=TODAY)
    assert result.errors == []
    assert result.warnings == []
    assert result.ok


@pytest.mark.parametrize("case", sorted(MESSAGE_HINTS))
def test_messages_say_what_was_expected(case):
    result = load_mesh(VALIDATE / case / "invalid", today=TODAY)
    for error in result.errors:
        assert MESSAGE_HINTS[case] in error.message
        assert "\n" not in error.message


def test_glue_type_messages_quote_the_type():
    result = load_mesh(VALIDATE / "e014_glue_types/invalid", today=TODAY)
    bp = yaml.safe_load((VALIDATE / "e014_glue_types/invalid/sales.yaml").read_text())
    types = [c["type"] for c in bp["products"][0]["schema"]]
    for error, text in zip(result.errors, types, strict=True):
        assert repr(text[:60])[:-1] in error.message


def test_bom_is_accepted():
    assert load_mesh(VALIDATE / "file_bom_valid", today=TODAY).ok


def test_domain_named_by_two_files_of_different_stems_is_a_stem_error_not_a_duplicate(tmp_path):
    shutil.copy(VALIDATE / "e021_domain_defined_twice/invalid/sales.yaml", tmp_path / "sales.yaml")
    shutil.copy(VALIDATE / "e021_domain_defined_twice/invalid/sales.yaml", tmp_path / "shop.yaml")
    assert _errors(tmp_path) == [("E020", "shop.yaml", 1, "domain")]
    assert load_mesh(tmp_path, today=TODAY).mesh.domains == ["sales"]


def test_file_larger_than_the_limit_is_refused(tmp_path):
    valid = (VALIDATE / "e022_product_defined_twice/valid/sales.yaml").read_bytes()
    padding = b"# " + b"x" * 97 + b"\n"  # 100-byte comment lines
    at_limit = valid + padding * ((MAX_FILE_BYTES - len(valid)) // 100)
    at_limit += b"#" * (MAX_FILE_BYTES - len(at_limit) - 1) + b"\n"
    assert len(at_limit) == MAX_FILE_BYTES
    (tmp_path / "sales.yaml").write_bytes(at_limit)
    assert load_mesh(tmp_path, today=TODAY).ok
    (tmp_path / "sales.yaml").write_bytes(at_limit + b"\n")
    errors = load_mesh(tmp_path, today=TODAY).errors
    assert [(e.code, e.line, e.path) for e in errors] == [("E001", None, "")]
    assert "larger than 2048 KiB" in errors[0].message


def test_huge_file_of_junk_is_refused_quickly(tmp_path):
    (tmp_path / "sales.yaml").write_bytes(os.urandom(5 * MAX_FILE_BYTES))
    assert _errors(tmp_path) == [("E001", "sales.yaml", None, "")]


def test_unreadable_blueprint_is_an_error_not_a_crash(tmp_path):
    (tmp_path / "sales.yaml").mkdir()  # a directory with a blueprint's name
    [error] = load_mesh(tmp_path, today=TODAY).errors
    assert (error.code, Path(error.file).name) == ("E001", "sales.yaml")
    assert "cannot read file" in error.message


def test_missing_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load_mesh(tmp_path / "nope", today=TODAY)
    (tmp_path / "file.yaml").write_text("domain: sales\n")
    with pytest.raises(UsageError, match="is not a directory"):
        load_mesh(tmp_path / "file.yaml", today=TODAY)


def test_every_error_is_reported_at_once():
    errors = _errors(VALIDATE / "many_errors")
    assert errors == [
        ("E003", "finance.yaml", 6, ""),
        ("E025", "logistics.yaml", 16, "products[0].consumers[0].domain"),
        ("E020", "marketing.yaml", 1, "domain"),
        ("E011", "sales.yaml", 1, "cost_center"),
        ("E010", "sales.yaml", 4, "cost_centre"),
        ("E014", "sales.yaml", 12, "products[0].schema[1].type"),
    ]
    # one file with three different errors gives three errors
    assert [code for code, name, *_ in errors if name == "sales.yaml"] == ["E011", "E010", "E014"]


def test_expiry_warnings_do_not_fail_validation():
    result = load_mesh(VALIDATE / "warnings_expiry", today=TODAY)
    assert result.ok
    assert [(w.code, Path(w.file).name, w.line, w.path) for w in result.warnings] == [
        ("W001", "sales.yaml", 18, "products[0].consumers[0].expires"),
        ("W002", "sales.yaml", 22, "products[0].consumers[1].expires"),
    ]
    assert "expires in 15 day(s)" in result.warnings[0].message
    assert "grants nothing" in result.warnings[1].message


def test_line_look_ups_work_on_valid_files_after_loading(single_dir):
    # a valid file keeps its text, not its node tree: the first look-up composes it again
    mesh = load_mesh(single_dir, today=TODAY).mesh
    source = mesh.source("sales")
    assert source.line_of(("products", 1, "name")) == 37
    assert source.problem(("products", 0, "consumers", 1), "E029", "x").line == 28
    assert source.line_of(("products", 0, "schema", 2, "pii")) == 15


@pytest.mark.parametrize(
    "directory",
    [
        "many_errors",
        "warnings_expiry",
        "e013_bad_names/invalid",
        "e021_domain_defined_twice/invalid",
        "file_alias_bomb/invalid",
    ],
)
def test_parallel_load_gives_the_serial_result(monkeypatch, directory):
    path = VALIDATE / directory
    monkeypatch.setenv("MESH_PARALLEL_LOAD", "0")
    serial = load_mesh(path, today=TODAY)
    monkeypatch.delenv("MESH_PARALLEL_LOAD")
    monkeypatch.setattr(parallel, "_can_fork", lambda n_files: True)
    loaded = load_mesh(path, today=TODAY)
    assert loaded.errors == serial.errors
    assert loaded.warnings == serial.warnings
    assert loaded.mesh == serial.mesh


def test_parallel_load_of_the_sample_mesh(monkeypatch, single_dir):
    monkeypatch.setattr(parallel, "_can_fork", lambda n_files: True)
    result = load_mesh(single_dir, today=TODAY)
    assert result.errors == []
    assert result.mesh.domains == ["analytics", "finance", "logistics", "marketing", "sales"]
    assert result.mesh.source("sales").line_of(("products", 1, "name")) == 37


def test_a_failing_helper_falls_back_to_the_serial_result(monkeypatch):
    path = VALIDATE / "many_errors"
    serial = load_mesh(path, today=TODAY)

    def broken(*args, **kwargs):
        raise RuntimeError("the helper cannot pickle")

    monkeypatch.setattr(parallel, "_can_fork", lambda n_files: True)
    monkeypatch.setattr(parallel.pickle, "dumps", broken)  # only the forked helper pickles
    loaded = load_mesh(path, today=TODAY)
    assert loaded.errors == serial.errors
    assert loaded.mesh == serial.mesh


def test_a_hanging_helper_is_stopped_and_its_share_loaded_here(monkeypatch):
    import time

    path = VALIDATE / "many_errors"
    serial = load_mesh(path, today=TODAY)
    monkeypatch.setattr(parallel, "_can_fork", lambda n_files: True)
    monkeypatch.setattr(parallel, "_helper_timeout", lambda n_files: 0.5)
    monkeypatch.setattr(parallel.pickle, "dumps", lambda *a, **k: time.sleep(60))  # helper only
    start = time.monotonic()
    loaded = load_mesh(path, today=TODAY)
    assert time.monotonic() - start < 30
    assert loaded.errors == serial.errors
    assert loaded.mesh == serial.mesh


def test_no_fork_while_another_thread_runs():
    import threading

    stop = threading.Event()  # (earlier tests may have left threads: only assert the False side)
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not parallel._single_threaded()
        assert not parallel._can_fork(10_000)
    finally:
        stop.set()
        thread.join()


def test_load_restores_the_garbage_collector():
    import gc

    assert gc.isenabled()
    load_mesh(VALIDATE / "many_errors", today=TODAY)
    assert gc.isenabled()


# --------------------------------------------------------------------------- the CLI
# `mesh validate` also reports governance findings (GOV-xxx) on valid blueprints; the CLI tests
# below look at the loader's codes (CODES) and leave the policies to the governance tests.

runner = CliRunner()


def _loader_lines(output: str) -> list[str]:
    """The loader's error lines (warnings, such as W003 for a hidden file, are not in EXPECTED)."""
    return [line for line in output.splitlines() if any(f" error {c}" in line for c in CODES)]


def _run(*args: str):
    result = runner.invoke(app, list(args))
    output = result.output + (result.stderr or "")
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_cli_text_valid(single_dir):
    result = _run("validate", str(single_dir))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("valid: 5 domain(s), 10 product(s), 0 error(s), ")
    assert lines[0].startswith(f"{single_dir}/logistics.yaml:")
    assert ": warning W002 products[0].consumers[1].expires: " in lines[0]


@pytest.mark.parametrize("case", CASES)
def test_cli_text_invalid(case):
    directory = VALIDATE / case / "invalid"
    result = _run("validate", str(directory))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1].startswith("INVALID: ")
    lines = _loader_lines(result.stdout)
    assert len(lines) == len(EXPECTED[case])
    for line, (code, name, number, path) in zip(lines, EXPECTED[case], strict=True):
        where = f"{name}:{number}: " if number else f"{name}: "
        assert where in line
        assert f" error {code}" in line
        if path:
            assert f" {path}: " in line


@pytest.mark.parametrize("case", ["e010_unknown_keys", "file_binary_junk", "e031_no_blueprints"])
def test_cli_json_invalid(case):
    result = _run("validate", str(VALIDATE / case / "invalid"), "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)  # stdout is one JSON document and nothing else
    assert set(doc) == {"ok", "errors", "warnings"}
    assert doc["ok"] is False
    # the hidden `.hidden.yaml` of e031 is not read, only reported
    assert [w["code"] for w in doc["warnings"]] == (["W003"] if case.startswith("e031") else [])
    for error in doc["errors"]:
        assert set(error) == {"file", "line", "path", "code", "message"}
    errors = [e for e in doc["errors"] if e["code"] in CODES]
    assert [(e["code"], Path(e["file"]).name, e["line"], e["path"]) for e in errors] == (
        EXPECTED[case]
    )


def test_cli_json_valid_with_warnings():
    result = _run("validate", str(VALIDATE / "warnings_expiry"), "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["errors"] == []
    assert [w["code"] for w in doc["warnings"]] == ["W001", "W002"]
    assert all(set(w) == {"file", "line", "path", "code", "message"} for w in doc["warnings"])


def test_cli_github_annotations():
    result = _run("validate", str(VALIDATE / "many_errors"), "-f", "github")
    assert result.exit_code == 1
    assert all(line.startswith("::error file=") for line in result.stdout.splitlines())
    lines = [line for line in result.stdout.splitlines() if line.split("title=")[1][:4] in CODES]
    assert len(lines) == 6
    sales = str(VALIDATE / "many_errors" / "sales.yaml")
    assert f"::error file={sales},line=12,title=E014::products[0].schema[1].type: " in lines[-1]
    result = _run("validate", str(VALIDATE / "warnings_expiry"), "-f", "github")
    assert result.exit_code == 0
    assert [line.split(",title=")[1][:4] for line in result.stdout.splitlines()] == [
        "W001",
        "W002",
    ]
    assert result.stdout.startswith("::warning file=")
    result = _run("validate", str(VALIDATE / "e031_no_blueprints/invalid"), "-f", "github")
    assert result.stdout.startswith("::error file=") and ",line=" not in result.stdout


def test_cli_missing_directory_exits_2(tmp_path):
    result = _run("validate", str(tmp_path / "missing"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    assert result.stdout == ""
    result = _run("validate", str(tmp_path / "missing"), "--format", "json")
    assert result.exit_code == 2
    assert result.stdout == ""


def test_cli_bad_format_exits_2(single_dir):
    assert _run("validate", str(single_dir), "--format", "xml").exit_code == 2


def _mesh(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "mesh"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "infra.cli"]
    return subprocess.run(
        command + list(args), capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )


def test_console_script_end_to_end():
    """The installed `mesh` (with its never-a-traceback wrapper), on the default directory."""
    done = _mesh("validate")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("valid: 5 domain(s), 10 product(s)")
    done = _mesh("validate", str(VALIDATE / "file_binary_junk/invalid"), "--format", "json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["errors"][0]["code"] == "E001"
    done = _mesh("validate", "no/such/dir")
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
