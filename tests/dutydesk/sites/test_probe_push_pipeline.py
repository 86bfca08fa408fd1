"""The probe's pipelined pushes (the next batch read, the last acknowledged one deleted, while a
batch is in flight) against a centre that keeps every sequence number once, as the real one
does (``dutydesk.sites.ingest``): what the centre ends up storing is what a user would see."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from dutydesk.facility.remote import parse_events
from dutydesk.sites import agent as agent_module
from dutydesk.sites.agent import Agent, AgentConfig
from dutydesk.sites.buffer import Buffer
from dutydesk.web.probes_api import MAX_BODY


class FakeCentre:
    """Stores each result number once (numbers at or below its highest are replays), answers
    pulls with its highest stored number; a pull can be held until ``release`` is set."""

    def __init__(self) -> None:
        self.last_seq = 0
        self.stored: list[tuple[int, int]] = []  # (seq, the result's "n")
        self.release = threading.Event()
        self.release.set()
        self.bodies: list[bytes] = []
        self.lose_answer = False  # the next push is stored, its answer lost (a timeout)

    def __call__(self, config: Any, method: str, path: str, body: Any = None,
                 credential: str | None = None, headers: Any = None,
                 held: float = 0.0) -> tuple[int, dict[str, str], Any]:
        if method == "GET":
            self.release.wait(5)
            return 200, {}, {"site": "s", "version": "v1", "checks": [],
                             "last_seq": self.last_seq}
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.bodies.append(raw)
        payload = json.loads(raw)
        items = payload.get("results", payload.get("events", []))
        seqs = [item["seq"] for item in items]
        self.stored += [(item["seq"], item.get("n", 0)) for item in items
                        if item["seq"] > self.last_seq]
        self.last_seq = max([self.last_seq, *seqs])
        if self.lose_answer:
            self.lose_answer = False
            raise agent_module.CentreAway("timed out")
        return 200, {}, {"acked": self.last_seq}


@pytest.fixture
def centre(monkeypatch: pytest.MonkeyPatch) -> FakeCentre:
    fake = FakeCentre()
    monkeypatch.setattr(agent_module, "_request", fake)
    return fake


def _agent(tmp_path: Path, results: int, batch: int = 5000) -> Agent:
    buffer = Buffer(str(tmp_path / "probe.sqlite"))
    buffer.put("credential", "ddp_1_secret")
    buffer.add_many([({"n": n}, 1000.0 + n) for n in range(1, results + 1)])
    buffer.close()
    return Agent(AgentConfig(server="http://centre", site="s", state_dir=str(tmp_path),
                             batch=batch))


def test_results_stored_while_a_pull_was_held_are_not_stored_twice(
        tmp_path: Path, centre: FakeCentre) -> None:
    agent = _agent(tmp_path, 5)

    async def scenario() -> None:
        centre.release.clear()
        pull = asyncio.create_task(agent.pull())  # held by the centre...
        await asyncio.sleep(0.1)
        agent.buffer.add_many([({"n": n}, 1000.0 + n) for n in range(6, 11)])
        centre.lose_answer = True
        with pytest.raises(agent_module.CentreAway):
            await agent.push_once()  # ...while 1..10 are stored (the probe does not hear it)
        centre.release.set()
        await pull  # its answer: the centre has up to 10 (the probe is not behind)
        assert await agent.push_once() == 10  # sent again: replays, acknowledged
        await agent.push_once()

    asyncio.run(scenario())
    assert centre.stored == [(n, n) for n in range(1, 11)]
    assert agent.buffer.depth() == 0 and agent.buffer.last_assigned() == 10
    agent.buffer.close()


def test_a_buffer_found_behind_sends_what_waits_above_the_centre_and_nothing_twice(
        tmp_path: Path, centre: FakeCentre) -> None:
    agent = _agent(tmp_path, 6, batch=3)

    async def scenario() -> None:
        assert await agent.push_once() == 3  # 1..3 stored; 4..6 read ahead meanwhile
        centre.last_seq = 100  # e.g. the file was restored from a backup under the probe
        await agent.pull()
        while await agent.push_once():
            pass

    asyncio.run(scenario())
    # acknowledged ones are not sent again; the waiting ones arrive in order, none taken
    # for a replay
    assert centre.stored == [(1, 1), (2, 2), (3, 3), (101, 4), (102, 5), (103, 6)]
    assert agent.buffer.add({"n": 7}, 2000.0) == 104
    agent.buffer.close()


def test_the_gauges_count_what_waits_and_not_what_the_centre_has(
        tmp_path: Path, centre: FakeCentre, monkeypatch: pytest.MonkeyPatch) -> None:
    agent = _agent(tmp_path, 5)
    asyncio.run(agent.push_once())  # all 5 acknowledged; deleted at the next push
    monkeypatch.setattr(agent_module.time, "time", lambda: 1300.0)

    def scraped() -> tuple[float | None, ...]:
        agent._gauges()
        return tuple(agent.metrics.registry.get_sample_value(f"dutydesk_probe_{name}")
                     for name in ("buffer_depth", "buffer_oldest_seconds", "push_lag_seconds"))

    assert scraped() == (0.0, 0.0, 0.0)  # nothing waits: the centre is not behind
    agent._made.append(({"n": 6}, 1234.5))  # made, not in the file yet
    # it waits; the newest result the centre acknowledged was made at 1005
    assert scraped() == (1.0, 65.5, 295.0)
    agent.flush()
    assert scraped() == (1.0, 65.5, 295.0)
    agent.buffer.close()


def test_forwarded_events_with_long_var_binds_go_in_pushes_the_centre_takes(
        tmp_path: Path, centre: FakeCentre) -> None:
    from dutydesk.sites.agent_inputs import EventForwarder

    agent = _agent(tmp_path, 0)
    forwarder = EventForwarder(agent, None)
    binds = [[f"1.3.6.1.4.1.318.{i}", "x" * 1024, False] for i in range(128)]
    event = {"at": "2026-12-07T10:00:00+00:00", "input": "snmp", "kind": "trap",
             "source": "10.20.0.5", "version": "2c", "var_binds": binds}
    forwarder.buffer.add_many([(1000.0, event)] * 100, 1000.0)  # ~13 MiB in all

    async def scenario() -> None:
        while await forwarder.push_once():
            pass

    asyncio.run(scenario())
    sent = [body for body in centre.bodies if json.loads(body)["events"]]
    assert len(sent) > 1 and all(len(body) < MAX_BODY for body in sent)
    assert sum(len(parse_events(json.loads(body))) for body in sent) == 100
    assert [seq for seq, _n in centre.stored] == list(range(1, 101))
    forwarder.buffer.close()
    agent.buffer.close()
