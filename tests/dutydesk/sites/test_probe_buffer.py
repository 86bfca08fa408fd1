"""The probe's buffer keeps results in order until the centre has them, within its bounds, and
counts what it had to drop."""

from __future__ import annotations

from pathlib import Path

from dutydesk.sites.buffer import Buffer


def test_results_are_numbered_in_order_and_forgotten_only_when_acknowledged(
        tmp_path: Path) -> None:
    buffer = Buffer(str(tmp_path / "b.sqlite"))
    seqs = [buffer.add({"n": i}, 1000.0 + i) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert [r for _s, _m, r in buffer.oldest(2)] == [{"n": 0}, {"n": 1}]
    buffer.ack(3)
    assert buffer.depth() == 2 and buffer.oldest_made_at() == 1003.0
    buffer.ack(5)
    # numbers are never reused, also after a restart with an empty buffer
    buffer.close()
    again = Buffer(str(tmp_path / "b.sqlite"))
    assert again.add({"n": 5}, 1010.0) == 6


def test_a_full_buffer_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    buffer = Buffer(str(tmp_path / "b.sqlite"), max_results=3, max_age=100)
    for i in range(5):
        buffer.add({"n": i}, 1000.0 + i)
    assert [r["n"] for _s, _m, r in buffer.oldest(10)] == [2, 3, 4]
    assert buffer.dropped == 2
    buffer.add({"n": 5}, 1200.0)  # everything else is older than max_age now
    assert [r["n"] for _s, _m, r in buffer.oldest(10)] == [5] and buffer.dropped == 5


def test_a_probe_whose_buffer_was_lost_numbers_above_what_the_centre_stored(
        tmp_path: Path) -> None:
    buffer = Buffer(str(tmp_path / "b.sqlite"))
    assert buffer.catch_up(41, buffer.last_assigned()) == 0  # nothing buffered yet
    assert buffer.add({}, 1.0) == 42
    assert buffer.catch_up(10, buffer.last_assigned()) == 0  # never backwards
    assert buffer.add({}, 2.0) == 43


def test_results_kept_in_groups_are_numbered_in_order_and_aged_out_at_any_depth(
        tmp_path: Path) -> None:
    buffer = Buffer(str(tmp_path / "b.sqlite"), max_age=100)
    first = buffer.add_many([({"n": i}, 1000.0 + i / 1000) for i in range(3000)])
    assert first == list(range(1, 3001))
    # an hour later the whole group is past the age bound: dropped, counted, numbering goes on
    assert buffer.add_many([({"n": "late"}, 4600.0)]) == [3001]
    assert buffer.depth() == 1 and buffer.dropped == 3000
    assert [r for _s, _m, r in buffer.oldest(5, after=0)] == [{"n": "late"}]


def test_a_push_of_long_messages_stays_under_the_centres_body_limit(tmp_path: Path) -> None:
    import json
    from datetime import UTC, datetime

    from dutydesk.sites.agent import Agent, AgentConfig
    from dutydesk.sites.ingest import parse_batch
    from dutydesk.web.probes_api import MAX_BODY

    state = tmp_path / "probe"
    buffer = Buffer(str(state / "probe.sqlite"))
    buffer.put("credential", "ddp_1_secret")
    at = datetime(2026, 12, 7, 10, 0, tzinfo=UTC).isoformat()
    buffer.add_many([({"check_id": 1, "status": "CRITICAL", "message": "й" * 2000,
                       "started_at": at, "duration": 0.1, "metrics": {}}, 1000.0)] * 5000)
    buffer.close()
    agent = Agent(AgentConfig(server="http://127.0.0.1:9", site="default",
                              state_dir=str(state)))
    encoded = agent._encode(agent.buffer.oldest_raw(agent.config.batch))
    assert encoded is not None
    rows, body = encoded
    assert 0 < len(rows) < 5000 and len(body) < MAX_BODY
    pairs, _figures = parse_batch(json.loads(body))  # what the centre takes: all of them
    assert [seq for seq, _r in pairs] == [seq for seq, _m, _t in rows] == list(
        range(1, len(rows) + 1))
    assert pairs[0][1].result.message == "й" * 2000
    agent.buffer.close()


def test_a_buffer_restored_from_a_backup_moves_its_results_above_the_centre_in_order(
        tmp_path: Path) -> None:
    buffer = Buffer(str(tmp_path / "b.sqlite"))
    for n in range(1, 6):
        buffer.add({"n": n}, float(n))
    buffer.ack(2)  # 3, 4, 5 wait; the centre has 100 (stored after the backup was taken)
    assert buffer.catch_up(100, buffer.last_assigned()) == 3
    assert [(seq, r["n"]) for seq, _m, r in buffer.oldest(10)] == [(101, 3), (102, 4), (103, 5)]
    assert buffer.add({"n": 6}, 6.0) == 104
    assert buffer.last_assigned() == 104


def test_results_whose_acknowledgement_was_not_heard_are_not_renumbered(tmp_path: Path) -> None:
    buffer = Buffer(str(tmp_path / "b.sqlite"))
    for n in range(1, 6):
        buffer.add({"n": n}, float(n))
    # the centre stored 1..4 and the probe was killed before it heard so: not behind
    assert buffer.catch_up(4, buffer.last_assigned()) == 0
    assert [seq for seq, _m, _r in buffer.oldest(10)] == [1, 2, 3, 4, 5]
    # numbers given while the centre's answer was on its way do not hide a lost file
    fresh = Buffer(str(tmp_path / "new.sqlite"))
    before = fresh.last_assigned()
    for n in range(1, 4):
        fresh.add({"n": n}, float(n))
    assert fresh.catch_up(2, before) == 3
    assert [seq for seq, _m, _r in fresh.oldest(10)] == [3, 4, 5]
