"""Flips claimed in one batch reach the pipeline in their turn: a problem and its recovery in
one batch (replayed after a probe's link outage) open the incident and then resolve it."""

from __future__ import annotations

from types import SimpleNamespace

from dutydesk.incidents.jobs import in_order_runs


def _alert(key: str, status: str) -> SimpleNamespace:
    return SimpleNamespace(dedup_key=key, status=status)


def test_a_key_seen_again_starts_a_new_run_and_the_order_is_kept() -> None:
    alerts = [_alert("check:1", "firing"), _alert("check:2", "firing"),
              _alert("check:1", "resolved"), _alert("check:3", "firing"),
              _alert("check:2", "resolved"), _alert("check:1", "firing")]
    runs = in_order_runs(alerts)
    assert [[(a.dedup_key, a.status) for a in run] for run in runs] == [
        [("check:1", "firing"), ("check:2", "firing")],
        [("check:1", "resolved"), ("check:3", "firing"), ("check:2", "resolved")],
        [("check:1", "firing")],
    ]
    assert [a for run in runs for a in run] == alerts


def test_distinct_keys_stay_one_batch_and_nothing_is_no_run() -> None:
    alerts = [_alert(f"check:{i}", "firing") for i in range(5)]
    assert in_order_runs(alerts) == [alerts]
    assert in_order_runs([]) == []
