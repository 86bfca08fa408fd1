"""The engine's event loop: uvloop when installed and wanted, the standard loop otherwise."""

from __future__ import annotations

import asyncio
import sys

import pytest

from checks.engine import event_loop_factory


def test_the_standard_loop_is_used_when_uvloop_is_not_wanted() -> None:
    assert event_loop_factory(prefer_uvloop=False) is asyncio.new_event_loop


def test_the_standard_loop_is_used_when_uvloop_is_not_installed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes "import uvloop" fail
    assert event_loop_factory(prefer_uvloop=True) is asyncio.new_event_loop


def test_uvloop_runs_the_engine_when_installed() -> None:
    uvloop = pytest.importorskip("uvloop")
    loop = event_loop_factory(prefer_uvloop=True)()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
