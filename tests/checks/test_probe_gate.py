"""A worker paused between "may this run start?" and the request (SIGSTOP while connecting)
wakes up after its claim ran out: the probe must not send the request another worker sent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from checks.probes import build_spec, run_probe
from checks.probes.gate import RunOutlived, set_gate
from checks.result import Status
from tests.checks.worker_processes import CountingTarget

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def target() -> Iterator[CountingTarget]:
    server = CountingTarget()
    yield server
    server.close()


async def _probe_with_gate(url: str, still_ours: bool) -> object:
    async def run() -> object:
        set_gate(lambda: still_ours)  # the run's own task, as the engine sets it
        return await run_probe("http", build_spec("http", {"url": url}), NOW, 5.0)
    return await asyncio.create_task(run())


def test_a_run_whose_claim_ran_out_while_connecting_sends_no_request(
        target: CountingTarget) -> None:
    with pytest.raises(RunOutlived):
        asyncio.run(_probe_with_gate(target.url("rack-1"), still_ours=False))
    assert target.hits == {}


def test_a_run_still_holding_its_claim_probes_once(target: CountingTarget) -> None:
    result = asyncio.run(_probe_with_gate(target.url("rack-1"), still_ours=True))
    assert result.status is Status.OK  # type: ignore[attr-defined]
    assert len(target.hits["/rack-1"]) == 1


def test_a_probe_outside_the_engine_has_no_gate_and_runs(target: CountingTarget) -> None:
    result = asyncio.run(run_probe("http", build_spec("http", {"url": target.url("x")}),
                                   NOW, 5.0))
    assert result.status is Status.OK
    assert len(target.hits["/x"]) == 1
