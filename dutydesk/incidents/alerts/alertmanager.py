"""Parse and validate an Alertmanager webhook notification (payload version 4) into Alerts.

The body Alertmanager POSTs (``notify/webhook``: ``template.Data`` plus ``version``,
``groupKey`` and ``truncatedAlerts``)::

    {
      "version": "4",
      "groupKey": "{}/{severity=\\"critical\\"}:{alertname=\\"ProbeFailure\\"}",
      "truncatedAlerts": 0,
      "status": "firing",                      # "firing" | "resolved" (of the group)
      "receiver": "dutydesk",
      "groupLabels": {...}, "commonLabels": {...}, "commonAnnotations": {...},
      "externalURL": "http://alertmanager:9093",
      "alerts": [
        {"status": "firing", "labels": {...}, "annotations": {...},
         "startsAt": "2024-05-01T12:00:00.123456789Z",
         "endsAt": "0001-01-01T00:00:00Z",     # Go zero time: not set
         "generatorURL": "http://prometheus:9090/graph?...", "fingerprint": "1a30ba71cca2921f"}
      ]
    }

Rules we apply (a violation raises ``PayloadError`` naming the field, which the endpoint answers
with 400 so Alertmanager does not retry a body that will never be accepted):

- the body is at most ``MAX_PAYLOAD_BYTES`` and a JSON object; ``version`` is ``"4"``;
- ``groupKey``, ``status`` and a non-empty ``alerts`` array are required; label and annotation
  maps are objects of strings; timestamps are RFC 3339 with a zone;
- each alert becomes one ``Alert`` with ``dedup_key = "alertmanager:<fingerprint>"`` (the
  fingerprint is computed from the labels when an old Alertmanager did not send one) and
  ``group_key`` = the payload's ``groupKey``; a ``resolved`` alert closes its incident.

Unknown extra fields are ignored (Grafana adds some), so a newer sender does not break us.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dutydesk.core.timeutil import TimestampError, json_type, parse_timestamp
from dutydesk.incidents.alerts.model import (
    MAX_SUMMARY_LENGTH,
    Alert,
    AlertError,
    AlertSource,
    AlertStatus,
    Severity,
    labels_fingerprint,
)

MAX_PAYLOAD_BYTES = 2 * 1024 * 1024
"""Largest body we accept (2 MiB ≈ 2,000 alerts of ordinary size). Larger bodies get 413; set
``max_alerts`` in Alertmanager's webhook_config to stay below it."""

SUPPORTED_VERSION = "4"


class PayloadError(ValueError):
    """The webhook body is malformed. ``field`` is the JSON path of the offending value."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


class PayloadTooLarge(PayloadError):
    """The body exceeds ``MAX_PAYLOAD_BYTES`` (answer 413)."""


@dataclass(frozen=True, slots=True)
class AlertmanagerNotification:
    """A validated webhook notification: the group's metadata and its alerts."""

    version: str
    group_key: str
    status: AlertStatus
    receiver: str
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    truncated_alerts: int
    alerts: tuple[Alert, ...]


def parse_webhook(body: bytes | str | Mapping[str, Any]) -> AlertmanagerNotification:
    """Validate a webhook body (raw bytes/str, or already-decoded JSON) and build its alerts.

    Raises ``PayloadTooLarge`` over ``MAX_PAYLOAD_BYTES`` and ``PayloadError`` for anything
    malformed, e.g. ``alerts[2].startsAt: must be an RFC 3339 timestamp ..., got 'yesterday'``.
    """
    data = _decode(body)
    if not isinstance(data, dict):
        raise PayloadError("", f"the body must be a JSON object, got {json_type(data)}")

    version = data.get("version")
    if version is None:
        raise PayloadError("version", 'is missing; expected "4" (Alertmanager webhook v4)')
    if str(version) != SUPPORTED_VERSION or isinstance(version, bool):
        raise PayloadError(
            "version", f'must be "4" (Alertmanager webhook payload version 4), got {version!r}'
        )
    group_key = _required_string(data, "groupKey", allow_empty=False)
    status = _status(data, "status", "status")
    receiver = _optional_string(data, "receiver")
    external_url = _optional_string(data, "externalURL")
    truncated = data.get("truncatedAlerts", 0)
    if truncated is None:
        truncated = 0
    if isinstance(truncated, bool) or not isinstance(truncated, int) or truncated < 0:
        raise PayloadError("truncatedAlerts", f"must be a whole number >= 0, got {truncated!r}")
    group_labels = _string_map(data.get("groupLabels"), "groupLabels")
    common_labels = _string_map(data.get("commonLabels"), "commonLabels")
    common_annotations = _string_map(data.get("commonAnnotations"), "commonAnnotations")

    raw_alerts = data.get("alerts")
    if raw_alerts is None:
        raise PayloadError("alerts", "is missing; expected an array of alerts")
    if not isinstance(raw_alerts, list):
        raise PayloadError("alerts", f"must be an array, got {json_type(raw_alerts)}")
    if not raw_alerts:
        raise PayloadError("alerts", "must contain at least one alert, got an empty array")

    alerts = tuple(
        _alert(
            raw,
            f"alerts[{index}]",
            group_key=group_key,
            receiver=receiver,
            external_url=external_url,
        )
        for index, raw in enumerate(raw_alerts)
    )
    return AlertmanagerNotification(
        version=SUPPORTED_VERSION,
        group_key=group_key,
        status=status,
        receiver=receiver,
        group_labels=group_labels,
        common_labels=common_labels,
        common_annotations=common_annotations,
        external_url=external_url,
        truncated_alerts=truncated,
        alerts=alerts,
    )


def _decode(body: bytes | str | Mapping[str, Any]) -> Any:
    if isinstance(body, Mapping):
        return dict(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, bytes | bytearray):
        raise PayloadError("", f"the body must be JSON bytes, got {type(body).__name__}")
    if len(body) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(
            "", f"the body is {len(body)} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes"
        )
    if not body.strip():
        raise PayloadError("", "the body is empty; expected a JSON object")
    try:
        return json.loads(bytes(body).decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadError("", "the body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(
            "", f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def _alert(raw: Any, path: str, *, group_key: str, receiver: str, external_url: str) -> Alert:
    if not isinstance(raw, dict):
        raise PayloadError(path, f"must be an object, got {json_type(raw)}")
    status = _status(raw, "status", f"{path}.status")
    labels = _string_map(raw.get("labels"), f"{path}.labels", required=True)
    annotations = _string_map(raw.get("annotations"), f"{path}.annotations")
    starts_at = _timestamp(raw, "startsAt", path, required=True)
    ends_at = _timestamp(raw, "endsAt", path, required=False)
    if starts_at is None:
        raise PayloadError(f"{path}.startsAt", "must be a real time, got the zero time")
    if ends_at is not None and ends_at < starts_at:
        raise PayloadError(
            f"{path}.endsAt",
            f"({ends_at.isoformat()}) is before startsAt ({starts_at.isoformat()})",
        )
    generator_url = _optional_string(raw, "generatorURL", path)
    fingerprint = _optional_string(raw, "fingerprint", path) or labels_fingerprint(labels)

    summary = (
        annotations.get("summary")
        or annotations.get("description")
        or annotations.get("message")
        or labels.get("alertname")
        or "Alertmanager alert"
    ).strip() or "Alertmanager alert"
    source_ids = {"fingerprint": fingerprint}
    if generator_url:
        source_ids["generator_url"] = generator_url
    if external_url:
        source_ids["external_url"] = external_url
    if receiver:
        source_ids["receiver"] = receiver
    try:
        return Alert(
            source=AlertSource.ALERTMANAGER,
            dedup_key=f"alertmanager:{fingerprint}",
            status=status,
            starts_at=starts_at,
            ends_at=ends_at,
            summary=summary[:MAX_SUMMARY_LENGTH],
            severity=Severity.from_label(labels.get("severity")),
            group_key=group_key,
            labels=labels,
            annotations=annotations,
            service=labels.get("service") or None,
            source_ids=source_ids,
        )
    except AlertError as exc:  # e.g. a fingerprint longer than a dedup key may be
        raise PayloadError(path, str(exc)) from None


def _status(data: Mapping[str, Any], key: str, path: str) -> AlertStatus:
    value = data.get(key)
    if value is None:
        raise PayloadError(path, 'is missing; expected "firing" or "resolved"')
    if value not in ("firing", "resolved"):
        raise PayloadError(path, f'must be "firing" or "resolved", got {value!r}')
    return AlertStatus(value)


def _required_string(data: Mapping[str, Any], key: str, *, allow_empty: bool) -> str:
    value = data.get(key)
    if value is None:
        raise PayloadError(key, "is missing; expected a string")
    if not isinstance(value, str):
        raise PayloadError(key, f"must be a string, got {json_type(value)}")
    if not allow_empty and not value.strip():
        raise PayloadError(key, "must not be empty")
    return value


def _optional_string(data: Mapping[str, Any], key: str, parent: str = "") -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        path = f"{parent}.{key}" if parent else key
        raise PayloadError(path, f"must be a string, got {json_type(value)}")
    return value


def _string_map(value: Any, path: str, *, required: bool = False) -> dict[str, str]:
    if value is None:
        if required:
            raise PayloadError(path, "is missing; expected an object of string values")
        return {}
    if not isinstance(value, dict):
        raise PayloadError(path, f"must be an object of string values, got {json_type(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise PayloadError(f"{path}.{key}", f"must be a string, got {json_type(item)}")
    return dict(value)


def _timestamp(
    data: Mapping[str, Any], key: str, parent: str, *, required: bool
) -> datetime | None:
    path = f"{parent}.{key}"
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise PayloadError(path, "is missing; expected an RFC 3339 timestamp")
        return None
    try:
        return parse_timestamp(value, path)
    except TimestampError as exc:
        # The message already starts with the path; keep PayloadError's "field: problem" shape.
        raise PayloadError(path, str(exc).removeprefix(f"{path} ")) from None
