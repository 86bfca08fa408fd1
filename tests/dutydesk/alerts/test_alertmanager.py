"""Alertmanager webhook v4 payloads: what a receiver accepts, and the 4xx messages it gives."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from dutydesk.incidents.alerts.alertmanager import (
    MAX_PAYLOAD_BYTES,
    PayloadError,
    PayloadTooLarge,
    parse_webhook,
)
from dutydesk.incidents.alerts.model import AlertSource, AlertStatus, Severity

# Shaped like a real notification from Alertmanager 0.27 (notify/webhook Message).
PAYLOAD = {
    "receiver": "dutydesk",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "ProbeFailure",
                "instance": "https://mail.example.org",
                "job": "blackbox",
                "service": "mail",
                "severity": "critical",
            },
            "annotations": {
                "summary": "Probe failure: https://mail.example.org",
                "description": "down for 5m",
            },
            "startsAt": "2024-05-01T12:00:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=probe_success+%3D%3D+0",
            "fingerprint": "1a30ba71cca2921f",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "DiskFull", "instance": "db1", "severity": "warning"},
            "annotations": {},
            "startsAt": "2024-05-01T13:00:00+03:00",
            "endsAt": "2024-05-01T10:30:00Z",
            "generatorURL": "",
            "fingerprint": "bc97ff14869b13e3",
        },
    ],
    "groupLabels": {"alertname": "ProbeFailure"},
    "commonLabels": {"job": "blackbox"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager:9093",
    "version": "4",
    "groupKey": '{}/{severity="critical"}:{alertname="ProbeFailure"}',
    "truncatedAlerts": 0,
}


def body(**changes) -> dict:
    data = copy.deepcopy(PAYLOAD)
    data.update(changes)
    return data


def alert_body(index: int = 0, **changes) -> dict:
    data = copy.deepcopy(PAYLOAD)
    data["alerts"][index].update(changes)
    return data


def without(path: str) -> dict:
    data = copy.deepcopy(PAYLOAD)
    *parents, last = path.split(".")
    target = data
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    del target[last]
    return data


class TestAValidNotification:
    def test_each_alert_becomes_one_pipeline_alert(self):
        note = parse_webhook(json.dumps(PAYLOAD).encode())
        assert note.group_key == PAYLOAD["groupKey"]
        assert note.status is AlertStatus.FIRING
        assert note.receiver == "dutydesk" and note.truncated_alerts == 0
        assert note.group_labels == {"alertname": "ProbeFailure"}

        firing, resolved = note.alerts
        assert firing.source is AlertSource.ALERTMANAGER
        assert firing.dedup_key == "alertmanager:1a30ba71cca2921f"
        assert firing.group_key == PAYLOAD["groupKey"]
        assert firing.status is AlertStatus.FIRING
        assert firing.severity is Severity.CRITICAL
        assert firing.summary == "Probe failure: https://mail.example.org"
        assert firing.service == "mail"
        assert firing.starts_at == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
        assert firing.ends_at is None  # Go's zero time means "not set"
        assert firing.source_ids["generator_url"].startswith("http://prometheus:9090/")
        assert firing.source_ids["external_url"] == "http://alertmanager:9093"

        assert resolved.status is AlertStatus.RESOLVED
        assert resolved.starts_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
        assert resolved.ends_at == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
        assert resolved.severity is Severity.WARNING
        assert resolved.summary == "DiskFull"  # no annotations: the alert name stands in
        assert resolved.service is None

    @pytest.mark.parametrize(
        "raw",
        [
            pytest.param(json.dumps(PAYLOAD), id="str"),
            pytest.param(json.dumps(PAYLOAD).encode(), id="bytes"),
            pytest.param(PAYLOAD, id="decoded-dict"),
        ],
    )
    def test_raw_or_decoded_bodies_are_accepted(self, raw):
        assert len(parse_webhook(raw).alerts) == 2

    def test_the_same_alert_in_two_notifications_has_the_same_dedup_key(self):
        first = parse_webhook(PAYLOAD).alerts[0]
        again = parse_webhook(alert_body(0, startsAt="2024-05-01T12:05:00Z")).alerts[0]
        assert first.dedup_key == again.dedup_key

    def test_an_old_alertmanager_without_fingerprints_gets_one_from_the_labels(self):
        first = parse_webhook(without("alerts.0.fingerprint")).alerts[0]
        again = parse_webhook(without("alerts.0.fingerprint")).alerts[0]
        other = parse_webhook(without("alerts.1.fingerprint")).alerts[1]
        assert first.dedup_key.startswith("alertmanager:")
        assert first.dedup_key == again.dedup_key != other.dedup_key

    @pytest.mark.parametrize(
        ("path", "check"),
        [
            pytest.param("receiver", lambda n: n.receiver == "", id="receiver"),
            pytest.param("truncatedAlerts", lambda n: n.truncated_alerts == 0, id="truncated"),
            pytest.param("groupLabels", lambda n: n.group_labels == {}, id="groupLabels"),
            pytest.param("externalURL", lambda n: n.external_url == "", id="externalURL"),
            pytest.param("alerts.0.endsAt", lambda n: n.alerts[0].ends_at is None, id="endsAt"),
            pytest.param(
                "alerts.0.annotations",
                lambda n: n.alerts[0].summary == "ProbeFailure",
                id="annotations",
            ),
        ],
    )
    def test_optional_fields_may_be_missing(self, path, check):
        assert check(parse_webhook(without(path)))

    def test_extra_fields_from_newer_senders_are_ignored(self):
        data = body(orgId=1)
        data["alerts"][0]["silenceURL"] = "http://grafana/silence"
        assert len(parse_webhook(data).alerts) == 2

    def test_the_version_may_arrive_as_a_number(self):
        assert parse_webhook(body(version=4)).version == "4"


class TestAMalformedNotification:
    @pytest.mark.parametrize(
        ("raw", "field", "message"),
        [
            pytest.param(b"", "", "the body is empty", id="empty-body"),
            pytest.param(b"{not json", "", "not valid JSON: .* line 1 column 2", id="bad-json"),
            pytest.param(b"\xff\xfe", "", "not valid UTF-8", id="bad-utf8"),
            pytest.param(b"[1, 2]", "", "must be a JSON object, got an array", id="array"),
            pytest.param(without("version"), "version", "is missing", id="no-version"),
            pytest.param(body(version="3"), "version", "must be \"4\".*got '3'", id="version-3"),
            pytest.param(body(version=True), "version", 'must be "4"', id="version-bool"),
            pytest.param(without("groupKey"), "groupKey", "is missing", id="no-groupKey"),
            pytest.param(body(groupKey=""), "groupKey", "must not be empty", id="empty-groupKey"),
            pytest.param(
                body(groupKey=5), "groupKey", "must be a string, got a number", id="groupKey-number"
            ),
            pytest.param(body(status="pending"), "status", "got 'pending'", id="bad-status"),
            pytest.param(without("status"), "status", "is missing", id="no-status"),
            pytest.param(body(truncatedAlerts=-1), "truncatedAlerts", ">= 0", id="negative-trunc"),
            pytest.param(
                body(commonLabels=[]),
                "commonLabels",
                "object of string values, got an",
                id="labels-array",
            ),
            pytest.param(
                body(commonLabels={"a": 1}), "commonLabels.a", "must be a string", id="label-number"
            ),
            pytest.param(body(externalURL=1), "externalURL", "must be a string", id="url-number"),
            pytest.param(without("alerts"), "alerts", "is missing", id="no-alerts"),
            pytest.param(
                body(alerts={}), "alerts", "must be an array, got an object", id="alerts-object"
            ),
            pytest.param(body(alerts=[]), "alerts", "at least one alert", id="alerts-empty"),
            pytest.param(
                body(alerts=["x"]),
                "alerts[0]",
                "must be an object, got a string",
                id="alert-string",
            ),
            pytest.param(
                alert_body(1, status="ok"), "alerts[1].status", "got 'ok'", id="alert-bad-status"
            ),
            pytest.param(
                without("alerts.0.labels"), "alerts[0].labels", "is missing", id="alert-no-labels"
            ),
            pytest.param(
                alert_body(0, labels={"x": None}),
                "alerts[0].labels.x",
                "must be a string, got null",
                id="alert-label-null",
            ),
            pytest.param(
                without("alerts.0.startsAt"), "alerts[0].startsAt", "is missing", id="no-startsAt"
            ),
            pytest.param(
                alert_body(0, startsAt="yesterday"),
                "alerts[0].startsAt",
                "RFC 3339 timestamp.*got 'yesterday'",
                id="startsAt-words",
            ),
            pytest.param(
                alert_body(0, startsAt="2024-05-01T12:00:00"),
                "alerts[0].startsAt",
                "RFC 3339",
                id="startsAt-without-zone",
            ),
            pytest.param(
                alert_body(0, startsAt="2024-02-30T12:00:00Z"),
                "alerts[0].startsAt",
                "not a real date",
                id="february-30",
            ),
            pytest.param(
                alert_body(0, startsAt="0001-01-01T00:00:00Z"),
                "alerts[0].startsAt",
                "zero time",
                id="startsAt-zero",
            ),
            pytest.param(
                alert_body(1, endsAt="2024-05-01T09:00:00Z"),
                "alerts[1].endsAt",
                "is before startsAt",
                id="ends-before-start",
            ),
            pytest.param(
                alert_body(0, fingerprint=7),
                "alerts[0].fingerprint",
                "must be a string",
                id="fingerprint-number",
            ),
            pytest.param(
                alert_body(0, fingerprint="f" * 300),
                "alerts[0]",
                "at most 255",
                id="fingerprint-too-long",
            ),
        ],
    )
    def test_is_refused_naming_the_field(self, raw, field, message):
        with pytest.raises(PayloadError, match=message) as caught:
            parse_webhook(raw)
        assert caught.value.field == field
        assert str(caught.value).startswith(f"{field}: " if field else "")

    def test_an_oversized_body_is_refused_before_it_is_parsed(self):
        raw = b" " * (MAX_PAYLOAD_BYTES + 1)
        with pytest.raises(PayloadTooLarge, match=f"limit is {MAX_PAYLOAD_BYTES} bytes"):
            parse_webhook(raw)

    def test_a_body_at_the_limit_is_still_parsed(self):
        raw = json.dumps(PAYLOAD).encode()
        raw = raw + b" " * (MAX_PAYLOAD_BYTES - len(raw))
        assert len(parse_webhook(raw).alerts) == 2
