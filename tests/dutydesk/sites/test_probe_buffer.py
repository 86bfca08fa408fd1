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
