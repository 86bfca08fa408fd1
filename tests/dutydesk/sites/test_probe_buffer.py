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
    buffer.ensure_seq_above(41)
    assert buffer.add({}, 1.0) == 42
    buffer.ensure_seq_above(10)  # never backwards
    assert buffer.add({}, 2.0) == 43
