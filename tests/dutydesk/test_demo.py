"""`dutydesk demo` builds a living data center: people, checks, status page, a visitor on site."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from sqlalchemy import func, select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.demo.seed import DemoCredentials, seed_demo
from dutydesk.demo.targets import HttpService, start_targets


def test_demo_seed_creates_people_checks_services_and_a_visitor(
    db: Database, settings: Settings, app: Any
) -> None:
    from checks.models import Check, CheckGroup
    from dutydesk.models import User

    targets = start_targets(
        [HttpService(n) for n in ("mail", "1c", "fileshare", "vpn", "intranet", "bms")],
        ["smtp-relay"],
    )
    try:
        summary = seed_demo(db, settings, targets, DemoCredentials("a" * 12, "l" * 12, "e" * 12))
    finally:
        targets.stop()
    assert "admin@dc.example    aaaaaaaaaaaa" in summary
    assert "/kiosk/kiosk_" in summary
    with db.session() as s:
        assert s.scalar(select(func.count(User.id))) == 7
        paths = set(s.scalars(select(CheckGroup.path)))
        assert {"Hall A / UPS", "Hall B / Sensors", "Core / Switches"} <= paths
        types = set(s.scalars(select(Check.type)))
        assert {"http", "tcp", "heartbeat", "modbus", "snmp"} <= types
        # nothing the demo runs needs a program the plugin user (nobody, when run as root)
        # must execute: a venv under /root would leave such checks UNKNOWN
        assert "plugin" not in types
        switch = s.scalar(select(Check).where(Check.slug == "core-sw-b"))
        assert switch.type == "snmp" and switch.spec["profile"] == "interfaces"
        ups = s.scalar(select(Check).where(Check.slug == "ups-b"))
        assert ups.type == "snmp" and ups.spec["port"] == targets.snmp_port
        assert ups.spec["profile"] == "ups"
        aisle = s.scalar(select(Check).where(Check.slug == "temp-hall-b"))
        assert aisle.type == "modbus" and aisle.spec["port"] == targets.modbus_port
    client = app.test_client()
    status = client.get("/status").get_data(as_text=True)
    assert "Power in hall B" in status and "Mail" in status
    with db.session() as s:
        from shifts.visitors.orm import VisitRow

        on_site = list(s.scalars(select(VisitRow).where(VisitRow.status == "on_site")))
    assert [(v.person_name, v.badge_number) for v in on_site] == [("Yurii Lysenko", "V017")]
    from shifts.storage import on_duty_now

    with db.session() as s:
        duty = {d.line.value: d.people for d in on_duty_now(s, utcnow())}
    assert set(duty) == {"first_line", "second_line", "shift_lead"}
    assert duty["shift_lead"] == ("Taras Lead",)
    assert len(duty["first_line"]) == 1
    from dutydesk.requests.models import ServiceRequest

    with db.session() as s:
        linked = s.scalars(select(ServiceRequest.incident_id)).all()
    # the outage's people, a VPN question, a new mailbox from the catalog awaiting approval
    assert len(linked) == 5 and len([i for i in linked if i]) == 2
    assert "/help" in summary


def test_simulated_ups_reports_battery_like_a_nagios_plugin() -> None:
    on_line = subprocess.run(
        [sys.executable, "-m", "dutydesk.demo.device", "ups", "--name", "UPS A"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert on_line.returncode == 0
    assert on_line.stdout.startswith("UPS A: on line") and "|load=" in on_line.stdout


def test_the_demo_ups_b_goes_on_battery_for_a_minute_every_ten() -> None:
    from dutydesk.demo.modbus_site import ups_registers

    on_battery, _load, runtime, volts = ups_registers(6000.0 + 30, battery_every=600)[:4]
    assert (on_battery, runtime, volts) == (1, 28, 0)
    assert ups_registers(6000.0 + 90, battery_every=600)[0] == 0
    assert ups_registers(6000.0 + 30, battery_every=0)[3] == 2290  # UPS A: always on line


def test_the_engine_polls_the_demo_gateway_and_sees_the_values_of_the_moment() -> None:
    import asyncio
    from datetime import UTC, datetime

    from checks.probes import build_spec, run_probe
    from dutydesk.demo.modbus_site import SENSOR_MAP, ModbusSite, Unit

    readings = iter(range(200, 300, 10))  # a warming aisle: each poll is 1 °C warmer
    site = ModbusSite((Unit(7, lambda now: [next(readings), 40]),)).start()
    try:
        spec = build_spec("modbus", {"host": "127.0.0.1", "port": site.port, "unit_id": 7,
                                     "points": SENSOR_MAP})
        now = datetime.now(UTC)
        first = asyncio.run(run_probe("modbus", spec, now, timeout=5))
        second = asyncio.run(run_probe("modbus", spec, now, timeout=5))
    finally:
        site.stop()
    assert first.metrics["temperature"] < second.metrics["temperature"]
    assert "humidity = 40 %" in second.message


def _poll_demo_ups(community: str, devices: dict, profile: str = "ups") -> Any:
    import asyncio
    from datetime import UTC, datetime

    from checks.probes import build_spec, run_probe
    from dutydesk.demo.snmp_ups import SnmpUpsAgent

    agent = SnmpUpsAgent(devices).start()
    try:
        spec = build_spec("snmp", {"host": "127.0.0.1", "port": agent.port, "version": "2c",
                                   "community": community, "timeout": "2s",
                                   "profile": profile})
        return asyncio.run(run_probe("snmp", spec, datetime.now(UTC), timeout=10))
    finally:
        agent.stop()


def test_the_engine_polls_the_demo_snmp_ups_b_and_sees_it_on_battery() -> None:
    from checks.result import Status
    from dutydesk.demo.snmp_ups import ups_mib

    # 30 s into UPS B's battery minute (the moment its trap was sent)
    devices = {"ups-b": lambda now: ups_mib(6030.0, name="UPS B (hall B)", battery_every=600)}
    result = _poll_demo_ups("ups-b", devices)
    assert result.status is Status.CRITICAL
    assert "ON BATTERY for 30 s" in result.message
    assert result.metrics["output_source"] == 5 and result.metrics["minutes_remaining"] == 28
    assert "on battery" in result.message  # the alarm table names it too


def test_the_demo_snmp_ups_a_is_healthy_and_a_wrong_community_gets_no_answer() -> None:
    from checks.result import Status
    from dutydesk.demo.snmp_ups import DEMO_UPSES

    healthy = _poll_demo_ups("ups-a", DEMO_UPSES)
    assert healthy.status is Status.OK, healthy.message
    assert "on mains" in healthy.message and healthy.metrics["input_l1_voltage"] == 229
    assert _poll_demo_ups("public", DEMO_UPSES).status is Status.CRITICAL  # no answer


def test_the_demo_core_switch_b_loses_its_uplink_now_and_then() -> None:
    from checks.result import Status
    from dutydesk.demo.snmp_ups import DEMO_DEVICES, switch_mib

    flapping = {"core-sw-b": lambda now: switch_mib(1230.0, flap_every=1200)}  # 30 s into it
    down = _poll_demo_ups("core-sw-b", flapping, profile="interfaces")
    assert down.status is Status.CRITICAL
    assert "Te1/0/48 (uplink to hall B)" in down.message
    steady = {"core-sw-b": lambda now: switch_mib(1300.0, flap_every=1200)}  # after the flap
    up = _poll_demo_ups("core-sw-b", steady, profile="interfaces")
    assert up.status is Status.OK, up.message
    assert "3 up, 1 admin down" in up.message
    assert _poll_demo_ups("core-sw-a", DEMO_DEVICES, profile="interfaces").status is Status.OK


def test_the_demo_has_a_second_site_whose_checks_its_remote_probe_pulls(
    db: Database, settings: Settings, app: Any
) -> None:
    """Lviv DC2's checks belong to it and run in its probe: the token the demo hands its probe
    process enrols, and the probe's pull lists exactly the site's checks."""
    from dutydesk.demo.remote_site import REMOTE_SERVICES, SITE_SLUG, prepare_probe

    targets = start_targets(
        [HttpService(n) for n in ("mail", "1c", "fileshare", "vpn", "intranet", "bms")]
        + [HttpService(s.name) for s in REMOTE_SERVICES], ["smtp-relay"])
    try:
        summary = seed_demo(db, settings, targets, DemoCredentials("a" * 12, "l" * 12, "e" * 12))
        with db.session() as s:
            token = prepare_probe(s)
    finally:
        targets.stop()
    assert "Lviv DC2" in summary
    assert summary.count("/kiosk/kiosk_") == 2  # both sites, and Lviv DC2 alone
    client = app.test_client()
    enrolled = client.post("/api/probe/v1/enrol", json={"token": token, "version": "test"})
    assert enrolled.status_code == 200, enrolled.get_data(as_text=True)
    assert enrolled.get_json()["site"] == SITE_SLUG
    pulled = client.get("/api/probe/v1/checks", headers={
        "Authorization": f"Bearer {enrolled.get_json()['credential']}"})
    assert pulled.status_code == 200
    assert sorted(c["slug"] for c in pulled.get_json()["checks"]) == [
        "http-lviv-cctv", "http-lviv-erp"]
    with db.session() as s:  # a second start of the demo (--keep) gives the probe a new token
        again = prepare_probe(s)
    assert again != token
