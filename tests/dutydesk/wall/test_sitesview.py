"""Probe trouble and site summaries, decided without storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dutydesk.wall.sitesview import (
    BUFFER_ALERT,
    LAG_SECONDS,
    ProbeRow,
    SiteInfo,
    probe_trouble,
    probe_troubles,
    site_summaries,
)
from dutydesk.wall.snapshot import Counts

NOW = datetime(2026, 12, 7, 10, 42, tzinfo=UTC)


def probe(name: str = "kyiv-dc2-a", silent: float | None = 1.0, buffered: int = 0,
          dropped: int = 0, grace: float = 120.0, site: str = "kyiv-dc2") -> ProbeRow:
    contact = None if silent is None else NOW - timedelta(seconds=silent)
    return ProbeRow(1, name, site, site.title(), "Europe/Kyiv", contact, grace, buffered, dropped)


def test_a_probe_heard_from_recently_with_a_small_buffer_is_healthy() -> None:
    assert probe_trouble(probe(silent=2, buffered=BUFFER_ALERT - 1, dropped=50), NOW) is None


def test_silent_past_its_grace_is_offline_and_within_it_lagging() -> None:
    assert probe_trouble(probe(silent=121), NOW).kind == "offline"
    assert probe_trouble(probe(silent=LAG_SECONDS + 1), NOW).kind == "lagging"
    assert probe_trouble(probe(silent=LAG_SECONDS - 1), NOW) is None
    assert probe_trouble(probe(silent=121), NOW).silent_for == timedelta(seconds=121)


def test_a_full_buffer_is_trouble_even_when_the_probe_talks() -> None:
    assert probe_trouble(probe(silent=1, buffered=BUFFER_ALERT), NOW).kind == "buffering"


def test_a_probe_never_heard_from_is_left_to_the_admin_page() -> None:
    assert probe_trouble(probe(silent=None, buffered=5000), NOW) is None


def test_troubles_are_ordered_offline_lagging_buffering() -> None:
    found = probe_troubles([probe("c", silent=1, buffered=BUFFER_ALERT),
                            probe("b", silent=30), probe("a", silent=500)], NOW)
    assert [(t.probe.name, t.kind) for t in found] == [
        ("a", "offline"), ("b", "lagging"), ("c", "buffering")]


def test_a_sites_worst_colour_counts_probe_trouble_as_unknown() -> None:
    sites = [SiteInfo(1, "kyiv-dc2", "Kyiv DC2", "UTC"), SiteInfo(2, "lviv", "Lviv", "UTC"),
             SiteInfo(3, "odesa", "Odesa", "UTC")]
    troubles = probe_troubles([probe(silent=500, site="lviv")], NOW)
    summaries = site_summaries(sites, {1: Counts(critical=1, warning=2), 3: Counts(ok=9)},
                               {1: (3, 1)}, troubles)
    assert [s.worst for s in summaries] == ["critical", "unknown", "ok"]
    assert (summaries[0].open_incidents, summaries[0].unacknowledged) == (3, 1)
    assert summaries[1].probe_trouble == 1 and summaries[1].counts == Counts()
