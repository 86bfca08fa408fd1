"""Incident figures on /metrics come from the database, so a scrape of the web process shows
what every process did (SLA breaches are recorded by the worker) and survives restarts.

Expected figures are worked out by hand from the seeded timelines, not by the code under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from dutydesk.app import create_app
from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.jobs import run_clocks
from dutydesk.incidents.models import Incident, IncidentEventRow
from dutydesk.incidents.pipeline import process_alerts
from dutydesk.web.incident_metrics import (
    ACK_BUCKETS,
    AckHistogram,
    IncidentFiguresCollector,
    cumulative,
    opened_counts,
)
from tests.conftest import bearer

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: Any) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def seed(
    db: Database,
    key: str,
    *,
    source: str,
    opened_as: str,
    now_priority: str | None = None,
    events: list[tuple[str, float, dict[str, Any]]] = (),  # type: ignore[assignment]
    acknowledged_after: float | None = None,
) -> None:
    """An incident opened at NOW with ``opened_as`` priority and ``events`` (kind, seconds
    after opening, data) on its timeline, as the lifecycle would have written them."""
    with db.session() as s:
        incident = Incident(
            dedup_key=key, title=key, source=source, priority=now_priority or opened_as,
            status="acknowledged" if acknowledged_after is not None else "triggered",
            acknowledged_at=(NOW + timedelta(seconds=acknowledged_after)
                             if acknowledged_after is not None else None),
            created_at=NOW, last_alert_at=NOW, updated_at=NOW,
        )
        s.add(incident)
        s.flush()
        s.add(IncidentEventRow(incident_id=incident.id, kind="triggered", at=NOW, actor=source,
                               data={"priority": opened_as, "line": "first_line"}))
        for kind, after, data in events:
            s.add(IncidentEventRow(incident_id=incident.id, kind=kind,
                                   at=NOW + timedelta(seconds=after), actor="olena", data=data))


def breach(clock: str, priority: str, after: float) -> tuple[str, float, dict[str, Any]]:
    return ("sla_breached", after, {"clock": clock, "priority": priority,
                                    "elapsed_s": int(after), "target_s": int(after)})


def ack(after: float) -> tuple[str, float, dict[str, Any]]:
    return ("acknowledged", after, {})


def seed_month(db: Database) -> None:
    """Seven incidents; the comments say where each lands."""
    # check P1, acknowledged after 20 s and after exactly 30 s: both within le=30
    seed(db, "a", source="check", opened_as="P1", events=[ack(20)], acknowledged_after=20)
    seed(db, "b", source="check", opened_as="P1", events=[ack(30)], acknowledged_after=30)
    # alertmanager P2: 30.5 s is past 30 s (le=60), on both databases
    seed(db, "c", source="alertmanager", opened_as="P2", events=[ack(30.5)],
         acknowledged_after=30.5)
    # opened as P2, raised to P1 later: still counted as opened P2; its ack breach was against P1
    seed(db, "d", source="alertmanager", opened_as="P2", now_priority="P1",
         events=[("priority_changed", 60, {"from": "P2", "to": "P1", "reason": "VIP"}),
                 ("sla_warning", 300, {"clock": "acknowledge", "priority": "P1"}),
                 breach("acknowledge", "P1", 360), ack(400)],
         acknowledged_after=400)
    # manual P3: first ack after 1000 s (le=1800), withdrawn, acknowledged again at 5000 s:
    # the histogram keeps the FIRST acknowledgement; both clocks breached
    seed(db, "e", source="manual", opened_as="P3",
         events=[ack(1000), ("unacknowledged", 1200, {"reason": "wrong person"}), ack(5000),
                 breach("acknowledge", "P3", 4000), breach("resolve", "P3", 30000)],
         acknowledged_after=5000)
    # manual P4, never acknowledged: counted as opened, not in the histogram
    seed(db, "f", source="manual", opened_as="P4")
    # pagerduty P3, acknowledged after 20000 s: beyond the last bucket, only in +Inf
    seed(db, "g", source="pagerduty", opened_as="P3",
         events=[breach("acknowledge", "P3", 14400), ack(20000)], acknowledged_after=20000)


def test_incidents_are_counted_by_the_priority_they_opened_with_and_their_source(
    client: Any, db: Database
) -> None:
    seed_month(db)
    samples = scrape(client)
    assert series(samples, "dutydesk_incidents_total") == {
        frozenset({("priority", "P1"), ("source", "check")}): 2,
        frozenset({("priority", "P2"), ("source", "alertmanager")}): 2,
        frozenset({("priority", "P3"), ("source", "manual")}): 1,
        frozenset({("priority", "P4"), ("source", "manual")}): 1,
        frozenset({("priority", "P3"), ("source", "pagerduty")}): 1,
    }


def test_the_ack_histogram_holds_the_first_acknowledgement_of_each_incident(
    client: Any, db: Database
) -> None:
    seed_month(db)
    samples = scrape(client)
    # waits: 20, 30, 30.5, 400, 1000, 20000 s
    expected = {30: 2, 60: 3, 120: 3, 300: 3, 600: 4, 900: 4, 1800: 5, 3600: 5, 7200: 5,
                14400: 5}
    assert set(expected) == set(ACK_BUCKETS)
    for le, count in expected.items():
        assert value(samples, "dutydesk_incident_ack_seconds_bucket", le=f"{le:.1f}") == count, le
    assert value(samples, "dutydesk_incident_ack_seconds_bucket", le="+Inf") == 6
    assert value(samples, "dutydesk_incident_ack_seconds_count") == 6
    assert value(samples, "dutydesk_incident_ack_seconds_sum") == 21480.5


def test_sla_breaches_are_counted_by_priority_and_clock_and_warnings_are_not(
    client: Any, db: Database
) -> None:
    seed_month(db)
    samples = scrape(client)
    assert series(samples, "dutydesk_sla_breaches_total") == {
        frozenset({("priority", "P1"), ("clock", "acknowledge")}): 1,
        frozenset({("priority", "P3"), ("clock", "acknowledge")}): 2,
        frozenset({("priority", "P3"), ("clock", "resolve")}): 1,
    }


def test_an_empty_database_scrapes_as_zeros_not_as_an_error(client: Any) -> None:
    samples = scrape(client)
    assert series(samples, "dutydesk_incidents_total") == {}
    assert series(samples, "dutydesk_sla_breaches_total") == {}
    assert value(samples, "dutydesk_incident_ack_seconds_count") == 0
    assert value(samples, "dutydesk_incident_ack_seconds_bucket", le="+Inf") == 0
    assert value(samples, "dutydesk_incident_ack_seconds_sum") == 0


def test_a_breach_the_worker_records_appears_in_the_web_apps_scrape_and_survives_a_restart(
    client: Any, db: Database, settings: Settings
) -> None:
    alert = Alert(source=AlertSource.ALERTMANAGER, dedup_key="alertmanager:ups-a",
                  status=AlertStatus.FIRING, starts_at=NOW, summary="UPS A on battery",
                  severity=Severity.CRITICAL, labels={"alertname": "UpsOnBattery"})
    with db.session() as s:
        process_alerts(s, [alert], settings=settings, now=NOW)  # P2: 30 min to acknowledge
    before = scrape(client)
    assert series(before, "dutydesk_sla_breaches_total") == {}
    # The worker is another process: its own engine, its own job run; the web app runs nothing.
    worker_db = Database(settings.database_url, pool_size=1)
    try:
        assert run_clocks(worker_db, settings, now=NOW + timedelta(minutes=31)) == 1
    finally:
        worker_db.dispose()
    after_restart = scrape(create_app(settings, db=db).test_client())  # a fresh web process
    assert value(after_restart, "dutydesk_sla_breaches_total",
                 priority="P2", clock="acknowledge") == 1
    assert value(after_restart, "dutydesk_incidents_total",
                 priority="P2", source="alertmanager") == 1


def test_an_acknowledgement_through_the_api_lands_in_its_bucket(
    app: Any, db: Database, api_token: Any, settings: Settings
) -> None:
    opened = utcnow() - timedelta(seconds=700)  # acknowledged ~700 s later: le=900, not le=600
    alert = Alert(source=AlertSource.ALERTMANAGER, dedup_key="alertmanager:crac-1",
                  status=AlertStatus.FIRING, starts_at=opened, summary="CRAC 1 high temperature",
                  severity=Severity.CRITICAL)
    with db.session() as s:
        (incident_id,) = process_alerts(s, [alert], settings=settings, now=opened).opened
    client = app.test_client()
    answer = client.post(f"/api/v1/incidents/{incident_id}/ack",
                         headers=bearer(api_token("engineer")))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    samples = scrape(client)
    assert value(samples, "dutydesk_incident_ack_seconds_bucket", le="600.0") == 0
    assert value(samples, "dutydesk_incident_ack_seconds_bucket", le="900.0") == 1
    assert 700 <= value(samples, "dutydesk_incident_ack_seconds_sum") < 900


def test_a_burst_of_scrapes_costs_one_query_set_until_the_figures_are_old(db: Database) -> None:
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute",  # queries, not SQLite's BEGIN IMMEDIATE
                 lambda *args: statements.append(args[2]) if args[2].startswith("SELECT") else None)
    clock = [1000.0]
    collector = IncidentFiguresCollector(db, ttl=10, clock=lambda: clock[0])
    seed(db, "a", source="check", opened_as="P1")
    statements.clear()

    def incidents_opened() -> float:
        (family,) = [f for f in collector.collect() if f.name == "dutydesk_incidents"]
        return sum(sample.value for sample in family.samples)

    assert incidents_opened() == 1
    one_reading = len(statements)
    assert one_reading == 4  # incidents, priority changes, first acknowledgements, breaches
    seed(db, "b", source="check", opened_as="P1")
    statements.clear()
    clock[0] += 9
    assert [incidents_opened() for _ in range(5)] == [1] * 5  # served from the reading
    assert statements == []
    clock[0] += 1
    assert incidents_opened() == 2  # ten seconds on: read again, once
    assert len(statements) == one_reading


def test_an_unreachable_database_leaves_the_figures_out_and_is_tried_again() -> None:
    gone = Database("postgresql+psycopg://nobody@127.0.0.1:1/nothing", pool_size=1)
    try:
        collector = IncidentFiguresCollector(gone, ttl=10, clock=lambda: 0.0)
        for _ in range(2):  # not cached: the next scrape asks the database again
            families = list(collector.collect())
            assert [f.name for f in families] == [
                "dutydesk_incidents", "dutydesk_incident_ack_seconds", "dutydesk_sla_breaches"]
            assert all(f.samples == [] for f in families)
    finally:
        gone.dispose()


# --- the pure parts -----------------------------------------------------------------------------


def test_a_reprioritised_incident_counts_under_the_priority_it_opened_with() -> None:
    now = {("P1", "check"): 3, ("P3", "manual"): 1}
    changes = [
        (7, "P2", "P1", "check"),  # opened P2, now P1
        (7, "P1", "P1", "check"),  # a later change of the same incident: only the first counts
        (9, "P1", "P1", "check"),  # changed and changed back: no move
        (12, "P4", "P3", "manual"),  # the only P3 incident opened P4: the P3 series is gone
    ]
    assert opened_counts(now, changes) == {
        ("P1", "check"): 2, ("P2", "check"): 1, ("P4", "manual"): 1}


def test_the_histogram_adds_up_the_buckets_and_keeps_the_ones_beyond_the_last() -> None:
    last = len(ACK_BUCKETS)
    histogram = cumulative({0: (2, 50.0), 2: (1, 100.0), last: (1, 20000.0)})
    assert histogram == AckHistogram(
        buckets=(2, 2, 3, 3, 3, 3, 3, 3, 3, 3), count=4, sum_seconds=20150.0)
    assert cumulative({}) == AckHistogram(buckets=(0,) * last, count=0, sum_seconds=0.0)
