"""The collector is off inside a decorated call and back to its previous state after it."""

from __future__ import annotations

import gc

import pytest

from infra.util.gcpause import gc_paused


@gc_paused
def _state(fail: bool = False) -> bool:
    if fail:
        raise RuntimeError("boom")
    return gc.isenabled()


def test_paused_inside_and_restored_after():
    assert gc.isenabled()
    assert _state() is False
    assert gc.isenabled()


def test_restored_after_an_exception():
    with pytest.raises(RuntimeError, match="boom"):
        _state(fail=True)
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    try:
        assert _state() is False
        assert not gc.isenabled()
    finally:
        gc.enable()
