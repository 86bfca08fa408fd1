"""Parse and validate PagerDuty Events API v2 bodies (``POST /v2/enqueue``) the way PagerDuty does.

So that anything able to page PagerDuty can page DutyDesk by changing only the host, we accept
the same body and answer with the same shapes:

- success (202): ``{"status": "success", "message": "Event processed", "dedup_key": "..."}``
  (``success_response``);
- a bad event (400): ``{"status": "invalid event", "message": "Event object is invalid",
  "errors": ["...", ...]}`` (``PagerDutyEventError.response_body``), listing *every* problem.

Body (alert events)::

    {"routing_key": "<32 chars>", "event_action": "trigger" | "acknowledge" | "resolve",
     "dedup_key": "<= 255 chars; required for acknowledge/resolve, generated for trigger",
     "payload": {"summary": "<= 1024 chars", "source": "...",
                 "severity": "critical" | "error" | "warning" | "info",
                 "timestamp": "ISO 8601", "component": "...", "group": "...", "class": "...",
                 "custom_details": {...}},
     "client": "...", "client_url": "...",
     "links": [{"href": "...", "text": "..."}], "images": [{"src": "...", "href": "...",
     "alt": "..."}]}

``payload`` is required for ``trigger`` only; PagerDuty ignores it on acknowledge/resolve, as do
we. Whether the routing key belongs to a known integration is the endpoint's check (it needs the
database); this module only checks its shape.
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dutydesk.core.timeutil import TimestampError, ensure_utc, json_type, parse_timestamp
from dutydesk.incidents.alerts.model import (
    MAX_DEDUP_KEY_LENGTH,
    MAX_SUMMARY_LENGTH,
    Alert,
    AlertSource,
    AlertStatus,
    Severity,
)

MAX_BODY_BYTES = 512 * 1024
"""PagerDuty's documented size limit for an Events API v2 body (512 KB)."""

ROUTING_KEY_LENGTH = 32
MAX_EVENT_DEDUP_KEY_LENGTH = 255
SEVERITIES = ("critical", "error", "warning", "info")


class EventAction(enum.StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class PagerDutyEventError(ValueError):
    """The event is invalid; ``errors`` lists every problem, in PagerDuty's wording style."""

    status = "invalid event"
    message = "Event object is invalid"

    def __init__(self, errors: list[str], *, too_large: bool = False) -> None:
        self.errors = list(errors)
        self.too_large = too_large
        super().__init__(f"{self.message}: " + "; ".join(self.errors))

    @property
    def http_status(self) -> int:
        return 413 if self.too_large else 400

    def response_body(self) -> dict[str, Any]:
        """The JSON body to answer with (PagerDuty's 400 shape)."""
        return {"status": self.status, "message": self.message, "errors": list(self.errors)}


@dataclass(frozen=True, slots=True)
class Link:
    href: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class Image:
    src: str
    href: str = ""
    alt: str = ""


@dataclass(frozen=True, slots=True)
class PagerDutyEvent:
    """A validated alert event.

    ``dedup_key_generated`` is True when the sender gave none and we generated one (trigger
    only); answer it back so the sender can acknowledge/resolve later. Payload fields are
    empty/None for acknowledge and resolve.
    """

    routing_key: str
    action: EventAction
    dedup_key: str
    dedup_key_generated: bool = False
    summary: str = ""
    source: str = ""
    severity: Severity | None = None
    timestamp: datetime | None = None
    component: str = ""
    group: str = ""
    event_class: str = ""
    custom_details: Any = None
    client: str = ""
    client_url: str = ""
    links: tuple[Link, ...] = ()
    images: tuple[Image, ...] = ()

    def incident_dedup_key(self, integration: str) -> str:
        """The ``Alert.dedup_key`` of this event's problem within one integration.

        PagerDuty applies follow-up events only through the same routing key, so the key is
        namespaced by integration (an id, never the secret routing key itself). A key too long
        to fit ``Alert.dedup_key`` after namespacing is replaced by its SHA-256.
        """
        key = f"pagerduty:{integration}:{self.dedup_key}"
        if len(key) > MAX_DEDUP_KEY_LENGTH:
            digest = hashlib.sha256(self.dedup_key.encode()).hexdigest()
            key = f"pagerduty:{integration}:sha256:{digest}"
        return key

    def to_alert(self, *, integration: str, now: datetime) -> Alert | None:
        """The pipeline alert for a trigger (firing) or resolve (resolved) event.

        Returns ``None`` for ``acknowledge``: an acknowledgement is an action on the incident,
        not an observation of the problem; the endpoint acknowledges the open incident whose key
        is ``incident_dedup_key(integration)``. ``now`` stands in for a missing timestamp.
        """
        now = ensure_utc(now, "now")
        if self.action is EventAction.ACKNOWLEDGE:
            return None
        at = self.timestamp or now
        labels = {"integration": integration}
        for name, value in (
            ("source", self.source),
            ("component", self.component),
            ("group", self.group),
            ("class", self.event_class),
        ):
            if value:
                labels[name] = value
        if self.severity is not None:
            labels["severity"] = self.severity.value
        details: dict[str, Any] = {}
        if self.custom_details is not None:
            details["custom_details"] = self.custom_details
        if self.links:
            details["links"] = [{"href": link.href, "text": link.text} for link in self.links]
        if self.images:
            details["images"] = [
                {"src": image.src, "href": image.href, "alt": image.alt} for image in self.images
            ]
        source_ids = {"dedup_key": self.dedup_key, "integration": integration}
        if self.client:
            source_ids["client"] = self.client
        if self.client_url:
            source_ids["client_url"] = self.client_url
        firing = self.action is EventAction.TRIGGER
        return Alert(
            source=AlertSource.PAGERDUTY,
            dedup_key=self.incident_dedup_key(integration),
            status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
            starts_at=at,
            ends_at=None if firing else at,
            summary=self.summary,
            severity=self.severity or Severity.INFO,
            group_key=f"pagerduty:{integration}:group:{self.group}" if self.group else "",
            labels=labels,
            service=self.component or None,
            source_ids=source_ids,
            details=details,
        )


def success_response(event: PagerDutyEvent) -> dict[str, str]:
    """The 202 body PagerDuty answers with."""
    return {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key}


def new_dedup_key() -> str:
    """A fresh dedup key for a trigger without one (PagerDuty also uses a random UUID)."""
    return uuid.uuid4().hex


def parse_event(
    body: bytes | str | Mapping[str, Any],
    *,
    make_dedup_key: Callable[[], str] = new_dedup_key,
) -> PagerDutyEvent:
    """Validate an Events API v2 alert event and return it.

    ``body`` is the raw request body (bytes/str, checked against ``MAX_BODY_BYTES``) or the
    decoded JSON object. ``make_dedup_key`` is called only for a trigger without ``dedup_key``
    (inject a fixed function in tests). Raises ``PagerDutyEventError`` with *all* problems found.
    """
    data = _decode(body)
    errors: list[str] = []

    routing_key = data.get("routing_key")
    if routing_key is None or (isinstance(routing_key, str) and not routing_key.strip()):
        errors.append("'routing_key' is missing or blank")
    elif not isinstance(routing_key, str):
        errors.append(f"'routing_key' must be a string, got {json_type(routing_key)}")
    elif len(routing_key) != ROUTING_KEY_LENGTH:
        errors.append(
            "Length of 'routing_key' is incorrect (should be 32 characters, "
            f"got {len(routing_key)})"
        )

    action_text = data.get("event_action")
    action: EventAction | None = None
    if action_text is None:
        errors.append("'event_action' is missing; use trigger, acknowledge or resolve")
    elif action_text not in tuple(EventAction):
        errors.append(
            f"'event_action' must be trigger, acknowledge or resolve, got {action_text!r}"
        )
    else:
        action = EventAction(action_text)

    dedup_key = data.get("dedup_key")
    generated = False
    if dedup_key is not None and not isinstance(dedup_key, str):
        errors.append(f"'dedup_key' must be a string, got {json_type(dedup_key)}")
        dedup_key = None
    elif isinstance(dedup_key, str) and len(dedup_key) > MAX_EVENT_DEDUP_KEY_LENGTH:
        errors.append(
            f"'dedup_key' is too long (maximum {MAX_EVENT_DEDUP_KEY_LENGTH} characters, "
            f"got {len(dedup_key)})"
        )
    elif isinstance(dedup_key, str) and not dedup_key.strip():
        dedup_key = None  # blank counts as absent, as it does for PagerDuty
    if dedup_key is None and action in (EventAction.ACKNOWLEDGE, EventAction.RESOLVE):
        errors.append(f"'dedup_key' is required for event_action {action.value!r}")

    fields: dict[str, Any] = {}
    if action is EventAction.TRIGGER:
        fields = _trigger_fields(data, errors)

    if errors:
        raise PagerDutyEventError(errors)
    assert action is not None and isinstance(routing_key, str)
    if dedup_key is None:
        dedup_key = make_dedup_key()
        generated = True
    return PagerDutyEvent(
        routing_key=routing_key,
        action=action,
        dedup_key=dedup_key,
        dedup_key_generated=generated,
        **fields,
    )


def _decode(body: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(body, Mapping):
        return dict(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, bytes | bytearray):
        raise PagerDutyEventError([f"the body must be JSON bytes, got {type(body).__name__}"])
    if len(body) > MAX_BODY_BYTES:
        raise PagerDutyEventError(
            [f"the body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes (512 KB)"],
            too_large=True,
        )
    try:
        data = json.loads(bytes(body).decode("utf-8"))
    except UnicodeDecodeError:
        raise PagerDutyEventError(["the body is not valid UTF-8"]) from None
    except json.JSONDecodeError as exc:
        raise PagerDutyEventError(
            [f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from None
    if not isinstance(data, dict):
        raise PagerDutyEventError([f"the event must be a JSON object, got {json_type(data)}"])
    return data


def _trigger_fields(data: Mapping[str, Any], errors: list[str]) -> dict[str, Any]:
    payload = data.get("payload")
    if payload is None:
        errors.append("'payload' is required for event_action 'trigger'")
        return {}
    if not isinstance(payload, dict):
        errors.append(f"'payload' must be an object, got {json_type(payload)}")
        return {}

    summary = _text(payload, "summary", "payload.summary", errors, required=True)
    if len(summary) > MAX_SUMMARY_LENGTH:
        errors.append(
            f"'payload.summary' is too long (maximum {MAX_SUMMARY_LENGTH} characters, "
            f"got {len(summary)})"
        )
    source = _text(payload, "source", "payload.source", errors, required=True)

    severity_text = payload.get("severity")
    severity: Severity | None = None
    if severity_text is None:
        errors.append("'payload.severity' is missing; use critical, error, warning or info")
    elif severity_text not in SEVERITIES:
        errors.append(
            f"'payload.severity' must be critical, error, warning or info, got {severity_text!r}"
        )
    else:
        severity = Severity(severity_text)

    timestamp = None
    raw_timestamp = payload.get("timestamp")
    if raw_timestamp is not None:
        try:
            timestamp = parse_timestamp(raw_timestamp, "'payload.timestamp'")
        except TimestampError as exc:
            errors.append(str(exc))

    return {
        "summary": summary,
        "source": source,
        "severity": severity,
        "timestamp": timestamp,
        "component": _text(payload, "component", "payload.component", errors),
        "group": _text(payload, "group", "payload.group", errors),
        "event_class": _text(payload, "class", "payload.class", errors),
        # PagerDuty documents an object but stores any JSON value; so do we.
        "custom_details": payload.get("custom_details"),
        "client": _text(data, "client", "client", errors),
        "client_url": _text(data, "client_url", "client_url", errors),
        "links": tuple(
            Link(**item) for item in _objects(data, "links", ("href",), ("text",), errors)
        ),
        "images": tuple(
            Image(**item) for item in _objects(data, "images", ("src",), ("href", "alt"), errors)
        ),
    }


def _text(
    data: Mapping[str, Any], key: str, path: str, errors: list[str], *, required: bool = False
) -> str:
    value = data.get(key)
    if value is None:
        if required:
            errors.append(f"'{path}' is missing or blank")
        return ""
    if not isinstance(value, str):
        errors.append(f"'{path}' must be a string, got {json_type(value)}")
        return ""
    if required and not value.strip():
        errors.append(f"'{path}' is missing or blank")
    return value


def _objects(
    data: Mapping[str, Any],
    key: str,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    errors: list[str],
) -> list[dict[str, str]]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(f"'{key}' must be an array of objects, got {json_type(value)}")
        return []
    result: list[dict[str, str]] = []
    for index, item in enumerate(value):
        path = f"{key}[{index}]"
        if not isinstance(item, dict):
            errors.append(f"'{path}' must be an object, got {json_type(item)}")
            continue
        fields: dict[str, str] = {}
        ok = True
        for name in required:
            text = item.get(name)
            if not isinstance(text, str) or not text.strip():
                errors.append(f"'{path}.{name}' is required and must be a non-empty string")
                ok = False
            else:
                fields[name] = text
        for name in optional:
            text = item.get(name)
            if text is None:
                continue
            if not isinstance(text, str):
                errors.append(f"'{path}.{name}' must be a string, got {json_type(text)}")
                ok = False
            else:
                fields[name] = text
        if ok:
            result.append(fields)
    return result
