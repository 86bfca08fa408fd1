"""Redfish EventService events (DSP0268 ``Event``) → alerts for the one pipeline. Pure.

A BMC subscribed to ``POST /api/v1/integrations/redfish`` (an ``EventDestination`` with
``HttpHeaders: [{"Authorization": "Bearer <integration key>"}]`` and a ``Context`` naming the
server) sends ``{"Events": [...]}``. Each event becomes one alert:

- severity from ``MessageSeverity`` (Redfish 1.x: ``Severity``): Critical → critical,
  Warning → warning; **OK resolves** the alert of the same component;
- dedup key ``redfish:<context or integration>:<OriginOfCondition>`` — so "PSU 2 failed" and
  the later "PSU 2 OK" from the same BMC meet on one incident, and one BMC's two PSUs do not;
- summary ``<context>: <Message>`` (or the ``MessageId`` when the BMC sends no text).

A body that is not a Redfish event payload raises ``RedfishEventError`` naming the field, so
the receiver answers 400 and stores nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dutydesk.incidents.alerts.model import (
    MAX_DEDUP_KEY_LENGTH,
    MAX_SUMMARY_LENGTH,
    Alert,
    AlertSource,
    AlertStatus,
    Severity,
)

MAX_BODY_BYTES = 256 * 1024
MAX_EVENTS = 100
SEVERITIES = {"critical": Severity.CRITICAL, "warning": Severity.WARNING}
#: Message ids of the Redfish test event (SubmitTestEvent): they open nothing.
TEST_MESSAGES = ("TestMessage", "Base.1.0.TestMessage")


class RedfishEventError(ValueError):
    """The payload is not a Redfish event payload; ``field`` says where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _text(event: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = event.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _origin(event: Mapping[str, Any]) -> str:
    origin = event.get("OriginOfCondition")
    if isinstance(origin, Mapping):
        origin = origin.get("@odata.id")
    if isinstance(origin, str) and origin.strip():
        return origin.strip()
    message_id = _text(event, "MessageId")
    return message_id.rsplit(".", 1)[-1] if message_id else "event"


def parse_payload(body: bytes) -> list[Mapping[str, Any]]:
    """The events of a payload (``{"Events": [...]}``), or RedfishEventError."""
    if len(body) > MAX_BODY_BYTES:
        raise RedfishEventError("body", f"larger than {MAX_BODY_BYTES // 1024} KB")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise RedfishEventError("body", "not JSON") from None
    if not isinstance(payload, Mapping):
        raise RedfishEventError("body", "must be a JSON object with Events")
    events = payload.get("Events")
    if not isinstance(events, list) or not events:
        raise RedfishEventError("Events", "must be a non-empty list of events")
    if len(events) > MAX_EVENTS:
        raise RedfishEventError("Events", f"at most {MAX_EVENTS} events per payload")
    for index, event in enumerate(events):
        if not isinstance(event, Mapping):
            raise RedfishEventError(f"Events[{index}]", "must be an object")
        severity = _text(event, "MessageSeverity", "Severity")
        if severity and severity.lower() not in (*SEVERITIES, "ok"):
            raise RedfishEventError(f"Events[{index}].MessageSeverity",
                                    "must be OK, Warning or Critical")
    return events


def to_alerts(
    events: list[Mapping[str, Any]], *, integration: str, context: str, now: datetime,
) -> list[Alert]:
    """One alert per event (test events are skipped); OK events resolve."""
    alerts = []
    for event in events:
        message_id = _text(event, "MessageId")
        if message_id in TEST_MESSAGES:
            continue
        who = _text(event, "Context") or context or integration
        origin = _origin(event)
        severity = _text(event, "MessageSeverity", "Severity").lower() or "warning"
        firing = severity != "ok"
        message = _text(event, "Message") or message_id or "Redfish event"
        alerts.append(Alert(
            source=AlertSource.REDFISH,
            dedup_key=f"redfish:{who}:{origin}"[:MAX_DEDUP_KEY_LENGTH],
            status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
            starts_at=now,
            ends_at=None if firing else now,
            summary=f"{who}: {message}"[:MAX_SUMMARY_LENGTH],
            severity=SEVERITIES.get(severity, Severity.WARNING),
            group_key=f"redfish:{who}",
            labels={"input": "redfish", "bmc": who[:200], "origin": origin[:200],
                    "message_id": message_id[:200]},
            details={"event_type": _text(event, "EventType"),
                     "event_id": _text(event, "EventId"),
                     "event_timestamp": _text(event, "EventTimestamp")},
        ))
    return alerts
