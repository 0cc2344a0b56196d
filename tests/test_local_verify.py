"""The local engine's verification as a guest: it runs in forks, leaves no probe object behind,
and its clients reach the emulator in-process, never AWS."""

from __future__ import annotations

import os

import boto3
import pytest

from infra.blueprints.load import load_mesh
from infra.engines import parallel
from infra.engines.moto import ApplyError, LocalAws
from infra.engines.moto_deploy import deploy
from infra.engines.verify import verify
from infra.provision.program import StackSettings

SETTINGS = StackSettings()


@pytest.fixture(scope="module")
def verified(sample_dir, today):
    mesh = load_mesh(sample_dir, today=today).mesh
    local = LocalAws(SETTINGS.region)
    try:
        deployment = deploy(mesh, SETTINGS, today, local)
        result = verify(mesh, SETTINGS, today, local, deployment.graph)
        accounts = SETTINGS.accounts(mesh)
        left = {}  # every bucket of every account: the versions of the objects it holds
        for account in sorted({accounts.of(d) for d in mesh.domains}):
            s3 = local.in_account("s3", account)
            for bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
                versions = s3.list_object_versions(Bucket=bucket)
                left[bucket] = [
                    v["Key"]
                    for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])
                ]
        # the server, over HTTP, holds what the in-process clients created
        http = boto3.client(
            "s3",
            endpoint_url=local.endpoint,
            region_name=SETTINGS.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        over_http = sorted(b["Name"] for b in http.list_buckets()["Buckets"])
        in_process = sorted(b["Name"] for b in local.client("s3").list_buckets()["Buckets"])
        yield result, left, (over_http, in_process)
    finally:
        local.stop()


def test_the_verification_leaves_no_object_behind(verified):
    """Probe objects (the seeded one per product and the producers' writes) are deleted, every
    version: the buckets are versioned, and a plain delete would leave them behind a marker."""
    result, left, _ = verified
    assert result.ok
    assert len(left) == 10 + 5  # product buckets and the domains' query-results buckets
    assert left == {bucket: [] for bucket in left}


def test_the_server_holds_what_the_engine_deployed(verified):
    """The engine's clients are in-process; the server other processes use has the same state."""
    _, _, (over_http, in_process) = verified
    assert over_http == in_process
    assert over_http


def test_a_client_of_a_stopped_emulator_sends_nothing_to_aws():
    local = LocalAws(SETTINGS.region)
    s3 = local.client("s3")
    s3.list_buckets()
    local.stop()
    with pytest.raises(ApplyError, match="the emulator is stopped: not sending a request to"):
        s3.list_buckets()


def _pid_and_square(n: int) -> tuple[int, int]:
    return os.getpid(), n * n


def test_map_in_forks_keeps_order_and_reports_each_result():
    seen = []
    mapped = parallel.map_in_forks(
        _pid_and_square, list(range(7)), workers=3, on_result=seen.append
    )
    assert [square for _, square in mapped.results] == [n * n for n in range(7)]
    assert mapped.forked
    assert os.getpid() not in {pid for pid, _ in mapped.results}
    assert len({pid for pid, _ in mapped.results}) == 3
    assert sorted(seen) == sorted(mapped.results)


def test_map_in_forks_changes_nothing_here():
    box = {"n": 0}

    def bump(_: int) -> int:
        box["n"] += 1
        return box["n"]

    # each fork counts from the parent's 0: items 1, 3 in one, 2, 4 in the other
    assert parallel.map_in_forks(bump, [1, 2, 3, 4], workers=2).results == [1, 1, 2, 2]
    assert box == {"n": 0}
    # one worker: in this process, in order, and what it changes stays
    mapped = parallel.map_in_forks(bump, [1, 2, 3], workers=1)
    assert (mapped.results, mapped.forked, box) == ([1, 2, 3], False, {"n": 3})


def test_a_failing_item_fails_the_map_naming_it():
    def fail_on_three(n: int) -> int:
        if n == 3:
            raise ValueError("three is not allowed")
        return n

    with pytest.raises(parallel.WorkerFailed, match=r"item 3: ValueError: three is not allowed"):
        parallel.map_in_forks(fail_on_three, [1, 2, 3, 4], workers=2)


def test_a_worker_that_dies_fails_the_map():
    def die(n: int) -> int:
        os._exit(9)

    with pytest.raises(parallel.WorkerFailed, match="exited with status"):
        parallel.map_in_forks(die, [1, 2], workers=2)


def test_meanwhile_runs_here_once_the_forks_have_started():
    order = []

    def item(n: int) -> int:
        order.append(n)  # in a fork: not seen here
        return n

    mapped = parallel.map_in_forks(
        item, [1, 2], workers=2, meanwhile=lambda: order.append("meanwhile") or os.getpid()
    )
    assert (mapped.results, mapped.meanwhile, order) == ([1, 2], os.getpid(), ["meanwhile"])
    # without forks: the items first, then meanwhile, all here
    order.clear()
    mapped = parallel.map_in_forks(item, [1, 2], workers=1, meanwhile=lambda: order.append("m"))
    assert (mapped.forked, order) == (False, [1, 2, "m"])
