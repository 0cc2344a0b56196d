"""The emulator's S3 authorization, checked against AWS's before it is trusted: moto 5.2.6
authorizes ListObjectsV2 as `s3:ListObjectsV2` where AWS (and moto 5.2.5) authorize it as
`s3:ListBucket`. The engine maps moto's action to AWS's; what still differs is reported as the
emulator's deviation, never as a mismatch of the mesh, and the policies keep AWS's actions."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from infra.blueprints.load import load_mesh
from infra.cli.up_view import render
from infra.engines.emulator import AWS_S3_ACTIONS, Deviation, calibrate
from infra.engines.moto import LocalAws
from infra.engines.moto_deploy import deploy
from infra.engines.verify import Cell, verify
from infra.provision.documents import CONSUMER_BUCKET_ACTIONS, PRODUCER_BUCKET_ACTIONS
from infra.provision.program import StackSettings

SETTINGS = StackSettings()
# moto 5.2.6's behaviour on any moto: ListObjectsV2 authorized against its own name
AS_MOTO_526 = {**AWS_S3_ACTIONS, "ListBucket": "ListObjectsV2", "ListObjectsV2": "ListObjectsV2"}


def test_the_engine_authorizes_every_probed_call_as_aws_does():
    """Whatever moto is installed (the lock's, or the newest in the weekly check)."""
    local = LocalAws(SETTINGS.region)
    try:
        assert calibrate(local, local.account) == []
        # nothing is left behind: no calibration bucket, no role
        assert local.client("s3").list_buckets()["Buckets"] == []
        assert local.client("iam").list_roles()["Roles"] == []
    finally:
        local.stop()


def test_a_deviating_emulator_is_named_with_the_action_it_wants():
    local = LocalAws(SETTINGS.region, s3_actions=AS_MOTO_526)
    try:
        assert calibrate(local, local.account) == [
            Deviation("list", "ListObjectsV2", "s3:ListBucket", "s3:ListObjectsV2")
        ]
    finally:
        local.stop()


def test_the_undo_gives_moto_back_its_own_authorization():
    from moto.iam.access_control import S3IAMRequest

    before = S3IAMRequest.__init__
    local = LocalAws(SETTINGS.region, s3_actions=AS_MOTO_526)
    assert S3IAMRequest.__init__ is not before
    local.stop()
    assert S3IAMRequest.__init__ is before


@pytest.fixture(scope="module")
def deviating(sample_dir, today):
    mesh = load_mesh(sample_dir, today=today).mesh
    local = LocalAws(SETTINGS.region, SETTINGS.deploy_role_name, s3_actions=AS_MOTO_526)
    try:
        deployment = deploy(mesh, SETTINGS, today, local)
        yield verify(mesh, SETTINGS, today, local, deployment.graph)
    finally:
        local.stop()


def test_a_deviation_is_reported_as_the_emulators_never_as_a_mismatch(deviating):
    result = deviating
    assert [d.operation for d in result.deviations] == ["list"]
    assert result.mismatches == [] and result.ok
    producers = [c for c in result.cells if "write" in c.expected]
    assert producers and all(c.unproven == {"list"} for c in producers)
    # what the emulator did for list is recorded, not hidden: it denied every producer
    assert all("list" not in c.actual for c in producers)
    out = io.StringIO()
    render(result, Console(file=out, width=400, color_system=None))
    text = out.getvalue()
    assert "EMULATOR DEVIATION moto" in text
    assert "authorizes S3 ListObjectsV2 against s3:ListObjectsV2" in text
    assert "MISMATCH" not in text
    assert "RL?W" in text  # the list cell shows what is expected, marked unproven
    assert "VERIFIED" in text and "not counted: list" in text


def test_the_policies_keep_aws_actions():
    """No emulator action name leaks into a document: the producers list with s3:ListBucket."""
    assert "s3:ListBucket" in PRODUCER_BUCKET_ACTIONS
    assert "s3:ListBucket" in CONSUMER_BUCKET_ACTIONS
    assert not any("ListObjects" in a for a in PRODUCER_BUCKET_ACTIONS + CONSUMER_BUCKET_ACTIONS)


@pytest.mark.parametrize(
    "cell, ok",
    [
        (Cell("d:producer", "d.p", frozenset("LRW"), frozenset("RW"), frozenset("L")), True),
        (Cell("d:producer", "d.p", frozenset("LRW"), frozenset("R"), frozenset("L")), False),
        (Cell("d:consumer", "d.p", frozenset(), frozenset("L"), frozenset("L")), True),
        (Cell("d:consumer", "d.p", frozenset(), frozenset("L"), frozenset()), False),
    ],
    ids=[
        "unproven-list-ignored",
        "write-missing-still-a-mismatch",
        "unproven-extra",
        "proven-extra",
    ],
)
def test_only_the_unproven_operation_is_left_out(cell, ok):
    assert cell.ok is ok
