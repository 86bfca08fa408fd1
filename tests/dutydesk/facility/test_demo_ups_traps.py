"""The demo's UPS B sends a trap the second it goes on battery: the real trap listener with the
demo's facility rules opens the P1 for "Power in hall B", and the powerRestored trap resolves it."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry

from dutydesk.core.db import Database
from dutydesk.demo.ups_traps import (
    DEMO_RULES,
    POWER_RESTORED,
    UPS_ON_BATTERY,
    UpsTrapSender,
    transition,
)
from dutydesk.facility.decide import decide_trap
from dutydesk.facility.receiver import Receiver
from dutydesk.facility.snmp import TrapListener, describe_trap
from dutydesk.incidents.alerts.model import AlertSource
from tests.dutydesk.facility.conftest import apply, free_port, incidents, wait_until


def test_only_a_change_of_state_sends_a_trap() -> None:
    assert transition(None, True) is None  # the demo starts: nothing happened yet
    assert transition(False, False) is None
    assert transition(False, True) == UPS_ON_BATTERY
    assert transition(True, False) == POWER_RESTORED


def test_ups_b_on_battery_opens_a_p1_before_any_poll_and_power_back_resolves_it(
    settings: Any, db: Database,
) -> None:
    apply(db, DEMO_RULES)
    receiver = Receiver(AlertSource.SNMP_TRAP, db, settings, decide_trap, describe_trap,
                        registry=CollectorRegistry(), interval=0.1)
    port = free_port()
    listener = TrapListener("127.0.0.1", port, receiver)
    listener.start()
    power = {"lost": False}
    sender = UpsTrapSender(("127.0.0.1", port), lambda now: power["lost"]).start()
    try:
        time.sleep(1.5)  # the sender has seen the UPS on line
        power["lost"] = True
        opened = wait_until(lambda: [i for i in incidents(db) if i.status != "resolved"])
        assert opened, "no incident from the on-battery trap"
        [incident] = opened
        assert incident.title.startswith("UPS B (hall B) is on battery: input power lost")
        assert incident.priority == "P1" and incident.service == "Power in hall B"
        power["lost"] = False
        resolved = wait_until(lambda: all(i.status == "resolved" for i in incidents(db)))
        assert resolved, "powerRestored did not resolve the incident"
    finally:
        sender.stop()
        listener.stop()


def test_the_trap_and_the_ups_b_check_are_one_incident(settings: Any, db: Database) -> None:
    from checks.models import Check
    from dutydesk.core.db import utcnow
    from dutydesk.incidents.alerts.model import check_alert
    from dutydesk.incidents.pipeline import process_alerts

    with db.session() as s:
        check = Check(slug="ups-b", display_name="UPS B (hall B)", type="snmp", spec={},
                      service="Power in hall B")
        s.add(check)
        s.flush()
        check_id = check.id
    apply(db, DEMO_RULES)
    receiver = Receiver(AlertSource.SNMP_TRAP, db, settings, decide_trap, describe_trap,
                        registry=CollectorRegistry(), interval=0.1)
    port = free_port()
    listener = TrapListener("127.0.0.1", port, receiver)
    listener.start()
    power = {"lost": False}
    sender = UpsTrapSender(("127.0.0.1", port), lambda now: power["lost"]).start()
    try:
        time.sleep(1.5)
        power["lost"] = True
        assert wait_until(lambda: incidents(db)), "no incident from the on-battery trap"
        # the next poll of ups-b sees the UPS on battery: its alert joins the trap's incident
        with db.session() as s:
            process_alerts(s, [check_alert(check_id=check_id, check_name="UPS B (hall B)",
                                           status_name="CRITICAL", message="UPS: ON BATTERY",
                                           at=utcnow(), service="Power in hall B")],
                           settings=settings, now=utcnow())
        [incident] = incidents(db)
        assert incident.check_id == check_id and incident.status != "resolved"
        assert incident.title.startswith("UPS B (hall B) is on battery: input power lost")
        power["lost"] = False
        assert wait_until(lambda: all(i.status == "resolved" for i in incidents(db)))
        assert len(incidents(db)) == 1
    finally:
        sender.stop()
        listener.stop()
