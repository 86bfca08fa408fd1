"""Alerts a duty team can trust at night, with the engine running for real on both databases
against local targets, and its flips going through the real alert pipeline."""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from checks.engine import Engine, EngineConfig
from checks.models import CheckDependency, CheckStateRow, FlipRow, MaintenanceWindowRow
from checks.store import CheckStore
from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.jobs import process_flips
from dutydesk.incidents.models import AlertReceived, Incident, SilenceRow
from dutydesk.models import Role
from tests.checks.conftest import free_port
from tests.checks.engine_helpers import add_check, runs_of, switchable_target, wait_for_runs
from tests.conftest import bearer

FAST = EngineConfig(claim_interval=0.05, flush_interval=0.05, context_refresh=0.3)


@pytest.fixture
def engine(db: Database) -> Iterator[Engine]:
    running = Engine(db, FAST)
    running.start()
    yield running
    running.stop()


@contextmanager
def running_engine(db: Database) -> Iterator[Engine]:
    """An engine that reads windows and the guard's verdict when it starts."""
    running = Engine(db, FAST)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def run_now(db: Database, check_id: int) -> None:
    before = runs_of(db, check_id)
    assert CheckStore(db).request_run(check_id, utcnow())
    wait_for_runs(db, check_id, before + 1)


def state_of(db: Database, check_id: int) -> CheckStateRow:
    with db.session() as s:
        return s.get(CheckStateRow, check_id)


def kinds_of(db: Database, check_id: int) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(FlipRow.kind).where(FlipRow.check_id == check_id)
                              .order_by(FlipRow.id)))


def incidents_of(db: Database, check_id: int) -> list[Incident]:
    with db.session() as s:
        rows = list(s.scalars(select(Incident).where(Incident.check_id == check_id)
                              .order_by(Incident.id)))
        s.expunge_all()
        return rows


def test_a_warning_parent_does_not_hide_its_childs_critical(
    db: Database, settings: Settings, engine: Engine
) -> None:
    # The core switch answers slowly (WARNING); the UPS behind it is down (CRITICAL).
    with switchable_target() as switch, switchable_target() as ups:
        switch.delay = 0.3
        parent = add_check(db, "core-switch", switch.url, max_attempts=1,
                           spec={"url": switch.url, "warn_response_time": 0.1})
        child = add_check(db, "ups-c", ups.url, max_attempts=1)
        with db.session() as s:
            s.add(CheckDependency(child_id=child, parent_id=parent))
        run_now(db, parent)
        assert (state_of(db, parent).status, state_of(db, parent).state_type) == ("WARNING",
                                                                                  "HARD")
        ups.healthy = False
        run_now(db, child)

    seen = state_of(db, child)
    assert seen.status == "CRITICAL"  # not UNREACHABLE: the switch still forwards
    assert kinds_of(db, child) == ["problem"]
    process_flips(db, settings)
    [incident] = incidents_of(db, child)
    assert incident.title.startswith("ups-c is CRITICAL")


def test_a_child_that_counts_warning_parents_as_down_is_unreachable_and_muted(
    db: Database, settings: Settings, engine: Engine
) -> None:
    # This sensor's owner says: a WARNING switch already means the sensor cannot be trusted.
    with switchable_target() as switch, switchable_target() as sensor:
        switch.delay = 0.3
        parent = add_check(db, "edge-switch", switch.url, max_attempts=1,
                           spec={"url": switch.url, "warn_response_time": 0.1})
        child = add_check(db, "sensor-d", sensor.url, max_attempts=1, parent_up_states=["OK"])
        with db.session() as s:
            s.add(CheckDependency(child_id=child, parent_id=parent))
        run_now(db, parent)
        sensor.healthy = False
        run_now(db, child)
    assert state_of(db, child).status == "UNREACHABLE"
    assert kinds_of(db, child) == ["unreachable"]

    # A problem flip that raced the parent's (same definition in the pipeline's muter).
    with db.session() as s:
        s.add(FlipRow(check_id=child, kind="problem", old_status="OK", new_status="CRITICAL",
                      reason="CRITICAL (HARD, attempt 1/1): HTTP 503", at=utcnow()))
    process_flips(db, settings)
    assert incidents_of(db, child) == []
    with db.session() as s:
        muted = s.scalars(select(AlertReceived.muted_reason)
                          .where(AlertReceived.dedup_key == f"check:{child}")).all()
    assert muted == ["parent_down"]




def window_for(db: Database, check_id: int, start: datetime, end: datetime) -> int:
    with db.session() as s:
        row = MaintenanceWindowRow(name="battery swap", kind="one_off", check_id=check_id,
                                   definition={"start": start.isoformat(),
                                               "end": end.isoformat()})
        s.add(row)
        s.flush()
        return row.id


def problem_flip_time(db: Database, check_id: int) -> datetime:
    with db.session() as s:
        return s.scalar(select(FlipRow.at).where(FlipRow.check_id == check_id,
                                                 FlipRow.kind == "problem"))


def test_a_problem_that_outlasts_the_maintenance_window_is_alerted_exactly_once_after_it(
    db: Database, settings: Settings
) -> None:
    kyiv = dataclasses.replace(settings, timezone="Europe/Kyiv")
    with switchable_target() as ups:
        check_id = add_check(db, "ups-m", ups.url, max_attempts=1)
        now = utcnow()
        window = window_for(db, check_id, now - timedelta(minutes=5), now + timedelta(hours=1))
        during = Engine(db, FAST)  # reads the window when it starts
        during.start()
        try:
            run_now(db, check_id)
            ups.healthy = False  # the battery swap goes wrong: the UPS stays down
            run_now(db, check_id)
        finally:
            during.stop()
        process_flips(db, kyiv)
        assert incidents_of(db, check_id) == []  # muted while the window lasts

        with db.session() as s:  # the engineers close the window early; the UPS is still down
            s.get(MaintenanceWindowRow, window).definition = {
                "start": (now - timedelta(minutes=5)).isoformat(),
                "end": (utcnow() - timedelta(seconds=1)).isoformat()}
        after = Engine(db, FAST)
        after.start()
        try:
            run_now(db, check_id)
            process_flips(db, kyiv)
            run_now(db, check_id)  # still failing on the next runs: nothing more
            process_flips(db, kyiv)
        finally:
            after.stop()

    assert kinds_of(db, check_id)[-1] == "maintenance_ended"
    [incident] = incidents_of(db, check_id)
    since = problem_flip_time(db, check_id).astimezone(ZoneInfo("Europe/Kyiv"))
    assert incident.title.startswith("ups-m is CRITICAL")
    assert f"was failing during maintenance since {since:%H:%M}" in incident.title
    assert incident.status == "triggered"


def test_a_problem_still_failing_when_its_silence_expires_is_alerted_exactly_once(
    db: Database, settings: Settings, engine: Engine
) -> None:
    with switchable_target() as mail:
        check_id = add_check(db, "mail-relay", mail.url, max_attempts=1)
        now = utcnow()
        with db.session() as s:
            s.add(SilenceRow(matchers='check="mail-relay"', starts_at=now - timedelta(minutes=1),
                             ends_at=now + timedelta(hours=1), created_by="night shift",
                             comment="relay migration"))
        run_now(db, check_id)
        mail.healthy = False
        run_now(db, check_id)
    process_flips(db, settings)
    assert incidents_of(db, check_id) == []

    later = utcnow() + timedelta(hours=2)  # the silence has expired; the relay is still down
    process_flips(db, settings, now=later)
    process_flips(db, settings, now=later + timedelta(minutes=1))
    [incident] = incidents_of(db, check_id)
    assert "was failing while silenced" in incident.title


def test_a_child_still_down_when_its_parent_recovers_is_alerted_once(
    db: Database, settings: Settings, engine: Engine
) -> None:
    with switchable_target() as switch, switchable_target() as sensor:
        parent = add_check(db, "switch-p", switch.url, max_attempts=1)
        child = add_check(db, "sensor-p", sensor.url, max_attempts=1)
        with db.session() as s:
            s.add(CheckDependency(child_id=child, parent_id=parent))
        run_now(db, parent)
        run_now(db, child)
        switch.healthy = sensor.healthy = False
        run_now(db, parent)
        run_now(db, child)
        process_flips(db, settings)
        assert incidents_of(db, child) == []  # unreachable: the switch's incident says it all

        switch.healthy = True  # the switch comes back; the sensor itself is broken
        run_now(db, parent)
        run_now(db, child)
        process_flips(db, settings)
        run_now(db, child)
        process_flips(db, settings)
    assert kinds_of(db, child) == ["unreachable", "reachable", "problem"]
    [incident] = incidents_of(db, child)
    assert "parents reachable again" in incident.title


def test_an_offline_poller_raises_one_incident_not_one_per_check(
    db: Database, settings: Settings
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"  # what every check sees while the uplink is cut
    with switchable_target() as router, switchable_target() as resolver:
        references = [add_check(db, "core-router", router.url, guard_reference=True),
                      add_check(db, "resolver", resolver.url, guard_reference=True)]
        victims = [add_check(db, f"pdu-{n}", dead, max_attempts=1, timeout=2.0)
                   for n in range(3)]
        router.healthy = resolver.healthy = False

        with running_engine(db):
            for ref in references:
                run_now(db, ref)  # first failures: SOFT, the guard has not decided yet
        with running_engine(db):  # assesses the poller from the fresh failures at start
            for ref in references:
                run_now(db, ref)  # confirmed HARD while the poller is known offline
            for victim in victims:
                run_now(db, victim)
        process_flips(db, settings)
        process_flips(db, settings)

        with db.session() as s:
            titles = list(s.scalars(select(Incident.title).where(Incident.status != "resolved")))
        assert len(titles) == 1
        assert titles[0].startswith("poller offline: all reference targets unreachable")
        for victim in victims:
            judged = state_of(db, victim)
            assert (judged.last_status, judged.state_type) == ("UNKNOWN", "HARD")
            assert judged.last_message.startswith("poller offline")

        router.healthy = resolver.healthy = True  # the uplink is back
        with running_engine(db):
            for ref in references:
                run_now(db, ref)
        with running_engine(db):
            for victim in victims[:1]:
                run_now(db, victim)  # the PDU really is down: now it says so itself
        process_flips(db, settings)

    with db.session() as s:
        poller = s.scalar(select(Incident).where(Incident.dedup_key == "poller:offline"))
        assert poller.status == "resolved"
        still_open = list(s.scalars(select(Incident.title).where(Incident.status != "resolved")))
    assert len(still_open) == 1 and still_open[0].startswith("pdu-0 is CRITICAL")


def test_the_guard_reads_a_five_minute_reference_as_fresh_for_five_minutes(db: Database) -> None:
    now = utcnow()
    for slug, age in (("core-router", 30), ("resolver", 240)):
        check_id = add_check(db, slug, "http://127.0.0.1:9/", guard_reference=True,
                             interval=300.0)
        with db.session() as s:
            row = s.get(CheckStateRow, check_id)
            row.last_status, row.last_message = "CRITICAL", "connection refused"
            row.last_result_at = now - timedelta(seconds=age)
    assert CheckStore(db).poller_verdict(now).offline


def test_a_check_whose_forbidden_word_lies_beyond_the_body_cap_is_unknown_not_ok(
    db: Database, engine: Engine, http_target: Any
) -> None:
    url = http_target.url("/big")  # 3 MiB, then NEEDLE-AT-THE-END
    check_id = add_check(db, "status-page", url, max_attempts=1,
                         spec={"url": url, "keyword_absent": "NEEDLE-AT-THE-END"})
    run_now(db, check_id)
    judged = state_of(db, check_id)
    assert judged.last_status == "UNKNOWN"
    assert "longer than max_body_bytes (1,048,576 bytes)" in judged.last_message


def test_a_check_with_a_regular_expression_condition_judges_the_body(
    db: Database, engine: Engine, http_target: Any
) -> None:
    url = http_target.url("/ok")  # "all systems OK"
    good = add_check(db, "portal", url, max_attempts=1,
                     spec={"url": url, "conditions": ['body ~= "systems (OK|GOOD)"']})
    bad = add_check(db, "portal-2", url, max_attempts=1,
                    spec={"url": url, "conditions": ['body ~= "^version [0-9]+"']})
    run_now(db, good)
    run_now(db, bad)
    assert state_of(db, good).last_status == "OK"
    assert (state_of(db, bad).last_status, state_of(db, bad).last_message) == (
        "CRITICAL", 'body ("all systems OK") ~= "^version [0-9]+"')


def test_a_dns_check_compares_aaaa_answers_as_addresses(
    db: Database, engine: Engine, dns_port: int
) -> None:
    # The runbook writes the address as the network team does; the server answers fd00::5.
    check_id = add_check(db, "db-aaaa", "", type="dns", max_attempts=1,
                         spec={"name": "db.test", "record_type": "AAAA", "server": "127.0.0.1",
                               "port": dns_port, "expected": ["FD00:0:0::5"], "exact": True})
    run_now(db, check_id)
    judged = state_of(db, check_id)
    assert judged.last_status == "OK", judged.last_message


def test_a_plugins_long_output_and_perfdata_reach_the_page_the_api_and_metrics(
    db: Database, client: Any, signed_in: Any, api_token: Any
) -> None:
    # Plugins run by name from the operator's plugin directories (as the unprivileged plugin
    # user when the tests run as root), so the plugin lives in a directory anyone may read.
    plugin_dir = Path(tempfile.mkdtemp(prefix="dutydesk-plugins-"))
    plugin_dir.chmod(0o755)
    plugin = plugin_dir / "check_ups_battery"
    plugin.write_text(
        "#!/bin/sh\n"
        "echo \"UPS OK - on mains | runtime=42min;30:;10: charge=98%;50:;20:;0;100 "
        "'battery age'=812d rta=1.5ms;100;500;0 'log size'=2KB out_octets=123456c "
        "'inlet temp'=23.5C load=U\"\n"
        "echo 'Battery cartridge: APCRBC123'\n"
        "echo 'Last self-test: passed'\n")
    plugin.chmod(0o755)
    check_id = add_check(db, "ups-battery", "", type="plugin", max_attempts=1,
                         spec={"command": [plugin.name]})
    running = Engine(db, dataclasses.replace(FAST, plugin_dirs=(str(plugin_dir),)))
    running.start()
    try:
        run_now(db, check_id)
    finally:
        running.stop()
        shutil.rmtree(plugin_dir, ignore_errors=True)

    stored = state_of(db, check_id)
    assert stored.last_long_output == "Battery cartridge: APCRBC123\nLast self-test: passed"
    by_label = {p["label"]: p for p in stored.last_perfdata}
    assert by_label["charge"] == {"label": "charge", "value": 98.0, "uom": "%", "warn": "50:",
                                  "crit": "20:", "min": 0.0, "max": 100.0}
    assert by_label["load"]["value"] is None  # "U": the plugin could not tell

    page = re.sub(r">\s+<", "><",
                  signed_in(Role.VIEWER).get(f"/checks/{check_id}").get_data(as_text=True))
    assert "Battery cartridge: APCRBC123" in page and "Last self-test: passed" in page
    assert "<td>charge</td><td>98</td><td>%</td><td>50:</td><td>20:</td>" in page

    found = client.get(f"/api/v1/checks/{check_id}",
                       headers=bearer(api_token(Role.VIEWER))).get_json()
    assert found["state"]["long_output"].startswith("Battery cartridge")
    assert {p["label"] for p in found["state"]["perfdata"]} >= {"runtime", "charge", "rta"}

    metrics = client.get("/metrics").get_data(as_text=True)
    for line in (
        'dutydesk_check_perfdata_seconds{check="ups-battery",label="rta"} 0.0015',
        'dutydesk_check_perfdata_bytes{check="ups-battery",label="log size"} 2000.0',
        'dutydesk_check_perfdata_percent{check="ups-battery",label="charge"} 98.0',
        'dutydesk_check_perfdata_total{check="ups-battery",label="out_octets"} 123456.0',
        'dutydesk_check_perfdata_value{check="ups-battery",label="inlet temp"} 23.5',
        # "min" is no UOM of the guidelines (Icinga says m): the value goes out as given
        'dutydesk_check_perfdata_value{check="ups-battery",label="runtime"} 42.0',
    ):
        assert line in metrics
    assert 'label="load"' not in metrics  # an unknown value is no sample


def test_a_cron_job_exiting_non_zero_turns_its_check_critical_with_the_status(
    db: Database, engine: Engine, client: Any
) -> None:
    check_id = add_check(db, "nightly-backup", "", type="heartbeat", max_attempts=1,
                         spec={"period": 3600, "grace": 600}, heartbeat_key="k-nightly-backup")
    before = runs_of(db, check_id)
    assert client.post("/ping/k-nightly-backup/0", data="ok").status_code == 200
    wait_for_runs(db, check_id, before + 1)
    assert state_of(db, check_id).last_status == "OK"

    before = runs_of(db, check_id)
    assert client.post("/ping/k-nightly-backup/log", data="retrying mount").status_code == 200
    assert client.post("/ping/k-nightly-backup/12", data="mount failed").status_code == 200
    wait_for_runs(db, check_id, before + 1)
    judged = state_of(db, check_id)
    assert judged.last_status == "CRITICAL"
    assert "the job reported a failure (exit status 12)" in judged.last_message
