"""A BMC's Redfish EventService events reach the one alert pipeline: a failed PSU opens an
incident, the PSU's OK event resolves it, and nothing else is mistaken for an event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.db import Database
from dutydesk.facility.redfish_events import RedfishEventError, parse_payload, to_alerts
from dutydesk.incidents.alerts.model import AlertStatus, Severity
from dutydesk.incidents.integrations import create_integration
from dutydesk.incidents.models import Incident
from tests.conftest import bearer

URL = "/api/v1/integrations/redfish"
PSU2 = "/redfish/v1/Chassis/1U/Power#/PowerSupplies/1"
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def redfish_key(db: Database) -> str:
    with db.session() as s:
        _integration, key = create_integration(s, "test", type="redfish", name="bmc-hall-a")
        s.commit()
    return key


def event(severity: str, message: str, origin: str = PSU2, **extra: str) -> dict[str, Any]:
    return {"EventType": "Alert", "EventId": "4711", "MessageSeverity": severity,
            "MessageId": "PowerSupply.1.0.PowerSupplyFailed", "Message": message,
            "OriginOfCondition": {"@odata.id": origin},
            "EventTimestamp": "2026-11-23T08:00:00Z", **extra}


def payload(*events: dict[str, Any], context: str = "web-7") -> dict[str, Any]:
    return {"@odata.type": "#Event.v1_7_0.Event", "Id": "1", "Name": "Event",
            "Context": context, "Events": list(events)}


def incidents(db: Database) -> list[Incident]:
    with db.session() as s:
        return list(s.scalars(select(Incident).order_by(Incident.id)))


def test_a_failed_psu_opens_an_incident_and_its_ok_event_resolves_it(
    client: Any, db: Database, redfish_key: str,
) -> None:
    failed = client.post(URL, json=payload(event("Critical", "Power supply 2 failed.")),
                         headers=bearer(redfish_key))
    assert failed.status_code == 200, failed.get_json()
    [incident] = incidents(db)
    assert incident.title == "web-7: Power supply 2 failed."
    assert incident.priority == "P1"  # critical, through the operator's severity table
    assert failed.get_json()["opened"] == [incident.id]
    ok = client.post(URL, json=payload(event("OK", "Power supply 2 is OK.")),
                     headers=bearer(redfish_key))
    assert ok.status_code == 200
    assert ok.get_json()["resolved"] == [incident.id]
    [incident] = incidents(db)
    assert incident.status == "resolved"


def test_two_components_of_one_bmc_are_two_incidents(client: Any, db: Database,
                                                     redfish_key: str) -> None:
    body = payload(event("Critical", "PSU 2 failed."),
                   event("Warning", "Fan 3 slow.", origin="/redfish/v1/Chassis/1U/Thermal#/Fans/2"))
    assert client.post(URL, json=body, headers=bearer(redfish_key)).status_code == 200
    assert sorted(i.title for i in incidents(db)) == ["web-7: Fan 3 slow.", "web-7: PSU 2 failed."]


@pytest.mark.parametrize(("body", "status", "field"), [
    (b"not json", 400, "body"),
    (json.dumps({"Events": []}).encode(), 400, "Events"),
    (json.dumps({"Events": ["x"]}).encode(), 400, "Events[0]"),
    (json.dumps({"Events": [{"MessageSeverity": "Apocalyptic"}]}).encode(), 400,
     "Events[0].MessageSeverity"),
    (b"{" + b" " * (300 * 1024) + b"}", 413, "body"),
])
def test_what_is_not_a_redfish_event_payload_is_refused_and_stores_nothing(
    client: Any, db: Database, redfish_key: str, body: bytes, status: int, field: str,
) -> None:
    response = client.post(URL, data=body, headers={**bearer(redfish_key),
                                                     "Content-Type": "application/json"})
    assert response.status_code == status
    assert incidents(db) == []


def test_only_a_redfish_key_may_post_events(client: Any, db: Database) -> None:
    with db.session() as s:
        _integration, am_key = create_integration(s, "test", type="alertmanager", name="prom")
        s.commit()
    body = payload(event("Critical", "PSU 2 failed."))
    assert client.post(URL, json=body).status_code == 401
    assert client.post(URL, json=body, headers=bearer("f" * 32)).status_code == 401
    refused = client.post(URL, json=body, headers=bearer(am_key))
    assert refused.status_code == 403
    assert "'prom' is not a Redfish integration" in refused.get_json()["error"]
    assert incidents(db) == []


# --------------------------------------------------------------------------- the pure part


def test_events_become_alerts_keyed_by_bmc_and_component() -> None:
    events = parse_payload(json.dumps(payload(
        event("Critical", "PSU 2 failed."), event("OK", "PSU 2 OK."),
        event("Warning", "Test", MessageId="Base.1.0.TestMessage"))).encode())
    alerts = to_alerts(events, integration="bmc-hall-a", context="web-7", now=NOW)
    assert [(a.dedup_key, a.status, a.severity) for a in alerts] == [
        (f"redfish:web-7:{PSU2}", AlertStatus.FIRING, Severity.CRITICAL),
        (f"redfish:web-7:{PSU2}", AlertStatus.RESOLVED, Severity.WARNING),
    ]  # the test event opens nothing


def test_an_event_without_context_or_origin_still_has_a_stable_key() -> None:
    bare = [{"Severity": "Warning", "MessageId": "Chassis.1.0.IntrusionDetected"}]
    [alert] = to_alerts(parse_payload(json.dumps({"Events": bare}).encode()),
                        integration="bmc-hall-a", context="", now=NOW)
    assert alert.dedup_key == "redfish:bmc-hall-a:IntrusionDetected"
    assert alert.summary == "bmc-hall-a: Chassis.1.0.IntrusionDetected"


def test_the_error_names_the_field() -> None:
    with pytest.raises(RedfishEventError, match=r"Events\[0\]: must be an object"):
        parse_payload(b'{"Events": [1]}')
