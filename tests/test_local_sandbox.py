"""The kept local mesh as a sandbox: `mesh up --local --keep` with IAM enforcement on, `mesh local
creds`, and the README's producer/consumer flow with pyarrow, run as the README writes it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

pytest.importorskip("pyarrow", reason="pyarrow is in the dev extra: pip install -e '.[dev]'")

MESH = [sys.executable, "-m", "infra.cli"]
PARQUET = "mesh-sales-orders/data/dt=2026-11-25/part-0.parquet"


def readme_blocks(kind: str) -> list[str]:
    section = (ROOT / "README.md").read_text().split("### The kept mesh as a sandbox")[1]
    section = section.split("\n## ")[0]
    return re.findall(rf"```{kind}\n(.*?)```", section, re.DOTALL)


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """`mesh up --local --keep` on the sample mesh, until its state file is written."""
    state = tmp_path_factory.mktemp("sandbox") / "local.json"
    env = {**os.environ, "MESH_LOCAL_STATE": str(state), "COLUMNS": "200"}
    process = subprocess.Popen(
        [*MESH, "up", "--local", "--keep"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 600
    while not (state.exists() and any("reset-auth -d 0" in line for line in lines)):
        assert process.poll() is None, "".join(lines)
        assert time.monotonic() < deadline, "".join(lines)
        time.sleep(0.2)
    try:
        yield process, env, state, lines
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


NO_CREDENTIALS = "false  # mesh local creds failed: no credentials (the error is on stderr)\n"


def creds(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*MESH, "local", "creds", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def exported(env: dict, *args: str) -> dict[str, str]:
    """`eval "$(mesh local creds ...)"`: the variables the export lines set."""
    done = creds(env, *args)
    assert done.returncode == 0, done.stderr
    script = f"{done.stdout}\nenv -0"
    out = subprocess.run(["bash", "-c", script], env={}, capture_output=True, check=True).stdout
    pairs = [item.split("=", 1) for item in out.decode().split("\0") if "=" in item]
    return {k: v for k, v in pairs if k.startswith("AWS_")}


def python(code: str, aws: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | aws
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def readme_shell(tmp_path: Path, blueprints: Path) -> subprocess.CompletedProcess:
    """The README's first bash block exactly as written (`mesh up --local --keep &` and, at
    once, `eval "$(mesh local creds ...)"`), under `set -e`, in a directory holding
    `.venv/bin/mesh` and `blueprints/`; then the AWS_ variables the shell got, in aws.env. The
    kept mesh is stopped when the script ends."""
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "mesh").write_text(f'#!/bin/sh\nexec {sys.executable} -m infra.cli "$@"\n')
    (bin_dir / "mesh").chmod(0o755)
    (tmp_path / "blueprints").symlink_to(blueprints)
    script = (
        "set -e\n"
        + readme_blocks("bash")[0]
        + "kept=$!\ntrap 'kill $kept 2>/dev/null; wait $kept' EXIT\n"
        + "env | grep '^AWS_' > aws.env\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"MESH_LOCAL_STATE": str(tmp_path / "local.json"), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_readme_keep_then_creds_gives_the_shell_credentials_as_written(tmp_path):
    """`mesh local creds` runs while the kept mesh is still starting: it waits for it."""
    done = readme_shell(tmp_path, ROOT / "blueprints")
    assert done.returncode == 0, done.stderr
    got = dict(line.split("=", 1) for line in (tmp_path / "aws.env").read_text().splitlines())
    assert set(got) >= {"AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"}
    assert got["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert not (tmp_path / "local.json").exists()  # stopped by the trap: its state is gone


def test_the_readme_keep_then_creds_fails_the_shell_when_the_mesh_is_not_kept(tmp_path):
    broken, shell = tmp_path / "broken", tmp_path / "shell"
    broken.mkdir()
    shell.mkdir()
    (broken / "sales.yaml").write_text("domain: sales\nproducts: 7\n")
    done = readme_shell(shell, broken)
    assert done.returncode == 1  # eval "false": set -e stops the script, no credentials
    assert not (shell / "aws.env").exists()
    assert "error: the local mesh was not kept: the blueprints are not valid" in done.stderr


def test_keep_prints_an_assumed_role_and_the_enforcement_switch(kept):
    _, _, _, lines = kept
    out = "".join(lines)
    assert "with IAM enforcement on" in out
    assert re.search(r"export AWS_SESSION_TOKEN=\S+", out)  # an assumed role's session
    assert re.search(r"Credentials of an assumed domain role \(\w+:producer\)", out)
    assert re.search(r"reset-auth -d inf\n", out) and re.search(r"reset-auth -d 0\n", out)
    assert "mesh local creds" in out


def test_the_readme_flow_a_producer_writes_parquet_and_a_consumer_reads_it(kept):
    producer_code, consumer_code = readme_blocks("python")
    bash = "\n".join(readme_blocks("bash"))
    assert "mesh local creds sales:producer" in bash
    assert "mesh local creds finance:consumer --product sales.orders" in bash
    _, env, _, _ = kept
    producer = exported(env, "sales:producer")
    assert set(producer) >= {"AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_REGION"}
    wrote = python(producer_code, producer)
    assert wrote.returncode == 0, wrote.stderr
    vended = exported(env, "finance:consumer", "--product", "sales.orders")
    read = python(consumer_code, vended)
    assert read.returncode == 0, read.stderr
    # the rows as written
    assert re.findall(r"'order_id': '(o-\d)'", read.stdout) == ["o-1", "o-2"]
    assert "'amount': Decimal('12.50')" in read.stdout and "'quantity': 3" in read.stdout


READ = (
    "import os, pyarrow.parquet as pq\nfrom pyarrow import fs\n"
    "s3 = fs.S3FileSystem(endpoint_override=os.environ['AWS_ENDPOINT_URL'], "
    "region=os.environ['AWS_REGION'])\n"
    f"pq.read_table({PARQUET!r}, filesystem=s3)\n"
)
WRITE = (
    "import os, pyarrow as pa, pyarrow.parquet as pq\nfrom pyarrow import fs\n"
    "s3 = fs.S3FileSystem(endpoint_override=os.environ['AWS_ENDPOINT_URL'], "
    "region=os.environ['AWS_REGION'])\n"
    f"pq.write_table(pa.table({{'order_id': ['x']}}), {PARQUET!r}, filesystem=s3)\n"
)


@pytest.mark.parametrize(
    "who, code",
    [
        (["finance:consumer"], READ),  # a consumer's own role: no S3 at all
        (["finance:consumer", "--product", "sales.orders"], WRITE),  # vended: read only
        (["logistics:producer"], WRITE),  # another domain's producer
        (["logistics:producer"], READ),
    ],
    ids=["consumer-reads", "vended-writes", "other-producer-writes", "other-producer-reads"],
)
def test_enforcement_denies_what_the_access_model_does_not_grant(kept, who, code):
    test_the_readme_flow_a_producer_writes_parquet_and_a_consumer_reads_it(kept)  # the file
    _, env, _, _ = kept
    done = python(code, exported(env, *who))
    assert done.returncode != 0
    assert "ACCESS_DENIED" in done.stderr or "AccessDenied" in done.stderr, done.stderr


def test_a_column_limited_grant_gets_nothing_vended(kept):
    _, env, _, _ = kept
    done = creds(env, "marketing:consumer", "--product", "sales.orders")
    assert done.returncode == 1 and done.stdout == NO_CREDENTIALS  # eval fails too
    assert "holds no Lake Formation SELECT on all of sales.orders's columns" in done.stderr
    assert "Athena" in done.stderr


def test_creds_as_credential_process_json(kept):
    _, env, state, _ = kept
    done = creds(env, "sales:producer", "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["Version"] == 1
    assert set(doc) >= {"AccessKeyId", "SecretAccessKey", "SessionToken", "Endpoint", "Region"}
    held = json.loads(state.read_text())
    assert doc["AccessKeyId"] == held["roles"]["sales:producer"]["credentials"]["aws_access_key_id"]
    assert oct(state.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["nobody:producer"], 2, "is not a role of the kept mesh"),
        (["sales:producer", "--product", "sales.orders"], 2, "sales:producer is a producer"),
        (["admin", "--product", "sales.orders"], 2, "not an admin"),
        (["admin:999999999999"], 2, "no account 999999999999 in the kept mesh"),
    ],
)
def test_creds_refuses_what_the_kept_mesh_does_not_have(kept, args, code, message):
    _, env, _, _ = kept
    done = creds(env, *args)
    assert done.returncode == code and message in done.stderr, done.stderr


def test_the_admin_sees_everything_and_enforcement_switches_off_and_on(kept):
    _, env, _, _ = kept
    admin = exported(env, "admin:111122223333")
    listing = "import boto3; print(boto3.client('s3').list_objects_v2(Bucket='mesh-sales-orders', Prefix='data/')['KeyCount'])"
    assert python(listing, admin).returncode == 0
    consumer = exported(env, "finance:consumer")
    endpoint = consumer["AWS_ENDPOINT_URL"]

    def switch(value: bytes) -> None:
        request = urllib.request.Request(
            f"{endpoint}/moto-api/reset-auth", data=value, headers={"Content-Type": "text/plain"}
        )
        urllib.request.urlopen(request, timeout=10).read()

    switch(b"inf")  # off: the consumer's own session reads the producer's bucket
    try:
        assert python(listing, consumer).returncode == 0
    finally:
        switch(b"0")  # on again
    assert python(listing, consumer).returncode != 0


def test_the_verification_left_nothing_in_the_buckets(kept):
    """What the sandbox holds is the deployment: the verifier's probe objects are gone."""
    _, env, _, _ = kept
    code = (
        "import boto3; s3 = boto3.client('s3')\n"
        "print(sum(len(s3.list_object_versions(Bucket=b['Name']).get('Versions', []))"
        " for b in s3.list_buckets()['Buckets']))"
    )
    counts = [
        python(code, exported(env, f"admin:{account}")).stdout.strip()
        for account in ("123456789012", "444455556666")
    ]
    assert counts == ["0", "0"]


def test_stopping_the_kept_mesh_removes_its_state(tmp_path):
    """Last: a fresh kept mesh, stopped with `kill`; then `mesh local creds` finds none."""
    state = tmp_path / "local.json"
    env = {**os.environ, "MESH_LOCAL_STATE": str(state)}
    process = subprocess.Popen(
        [*MESH, "up", "--local", "--keep", "tests/fixtures/single"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 600
        while not (state.exists() and json.loads(state.read_text())["status"] == "ready"):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    assert not state.exists()
    done = creds(env, "sales:producer", "--wait", "0")
    assert done.returncode == 1
    assert "no local mesh is kept" in done.stderr and "mesh up --local --keep" in done.stderr
    Path(state).write_text(json.dumps({"status": "ready", "endpoint": "http://127.0.0.1:9"}))
    done = creds(env, "sales:producer", "--wait", "0")
    assert done.returncode == 1 and "does not answer" in done.stderr
