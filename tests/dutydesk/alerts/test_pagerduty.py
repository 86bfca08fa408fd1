"""PagerDuty Events API v2 bodies: accepted like PagerDuty accepts them, refused with its shapes."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from dutydesk.incidents.alerts.model import AlertSource, AlertStatus, Severity
from dutydesk.incidents.alerts.pagerduty import (
    MAX_BODY_BYTES,
    EventAction,
    Image,
    Link,
    PagerDutyEventError,
    parse_event,
    success_response,
)

KEY = "R0UT1NGKEY0123456789ABCDEFGHIJKL"  # 32 characters, like an integration key
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

# The trigger example from PagerDuty's developer documentation, with our routing key.
TRIGGER = {
    "payload": {
        "summary": "Example alert on host1.example.com",
        "timestamp": "2015-07-17T08:42:58.315+0000",
        "source": "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats",
        "severity": "info",
        "component": "postgres",
        "group": "prod-datapipe",
        "class": "deploy",
        "custom_details": {"ping time": "1500ms", "load avg": 0.75},
    },
    "routing_key": KEY,
    "dedup_key": "samplekeyhere",
    "images": [
        {
            "src": "https://example.com/logo.png",
            "href": "https://example.com/",
            "alt": "Example text",
        }
    ],
    "links": [{"href": "https://example.com/", "text": "Link text"}],
    "event_action": "trigger",
    "client": "Sample Monitoring Service",
    "client_url": "https://monitoring.example.com",
}


def trigger(**changes) -> dict:
    data = copy.deepcopy(TRIGGER)
    data.update(changes)
    return data


def trigger_payload(**changes) -> dict:
    data = copy.deepcopy(TRIGGER)
    for key, value in changes.items():
        if value is ...:
            del data["payload"][key]
        else:
            data["payload"][key] = value
    return data


def fixed_key() -> str:
    return "generated-0001"


class TestATriggerEvent:
    def test_is_parsed_with_every_documented_field(self):
        event = parse_event(json.dumps(TRIGGER).encode(), make_dedup_key=fixed_key)
        assert event.action is EventAction.TRIGGER
        assert event.routing_key == KEY
        assert event.dedup_key == "samplekeyhere" and not event.dedup_key_generated
        assert event.summary == "Example alert on host1.example.com"
        assert event.severity is Severity.INFO
        assert event.timestamp == datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)
        assert (event.component, event.group, event.event_class) == (
            "postgres",
            "prod-datapipe",
            "deploy",
        )
        assert event.custom_details == {"ping time": "1500ms", "load avg": 0.75}
        assert event.links == (Link(href="https://example.com/", text="Link text"),)
        assert event.images == (
            Image(
                src="https://example.com/logo.png", href="https://example.com/", alt="Example text"
            ),
        )
        assert event.client == "Sample Monitoring Service"

    @pytest.mark.parametrize(
        "dedup_key",
        [
            pytest.param(..., id="absent"),
            pytest.param(None, id="null"),
            pytest.param("  ", id="blank"),
        ],
    )
    def test_without_a_dedup_key_one_is_generated_and_answered(self, dedup_key):
        data = trigger()
        if dedup_key is ...:
            del data["dedup_key"]
        else:
            data["dedup_key"] = dedup_key
        event = parse_event(data, make_dedup_key=fixed_key)
        assert event.dedup_key == "generated-0001" and event.dedup_key_generated
        assert success_response(event) == {
            "status": "success",
            "message": "Event processed",
            "dedup_key": "generated-0001",
        }

    def test_generated_keys_differ_between_triggers_by_default(self):
        data = trigger()
        del data["dedup_key"]
        assert parse_event(data).dedup_key != parse_event(data).dedup_key

    def test_becomes_a_firing_alert_namespaced_by_integration(self):
        alert = parse_event(TRIGGER).to_alert(integration="7", now=NOW)
        assert alert is not None
        assert alert.source is AlertSource.PAGERDUTY
        assert alert.dedup_key == "pagerduty:7:samplekeyhere"
        assert alert.status is AlertStatus.FIRING
        assert alert.starts_at == datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)
        assert alert.labels["source"].startswith("monitoringtool:")
        assert alert.labels["severity"] == "info" and alert.labels["integration"] == "7"
        assert alert.group_key == "pagerduty:7:group:prod-datapipe"
        assert alert.service == "postgres"
        assert alert.details["custom_details"]["load avg"] == 0.75
        assert alert.details["links"] == [{"href": "https://example.com/", "text": "Link text"}]
        assert KEY not in alert.dedup_key  # the secret routing key never becomes an identifier

    def test_a_missing_timestamp_is_replaced_by_now(self):
        alert = parse_event(trigger_payload(timestamp=...)).to_alert(integration="7", now=NOW)
        assert alert is not None and alert.starts_at == NOW

    def test_a_very_long_dedup_key_still_fits_the_alert_key(self):
        event = parse_event(trigger(dedup_key="k" * 255))
        alert = event.to_alert(integration="integration-with-a-long-name", now=NOW)
        assert alert is not None and len(alert.dedup_key) <= 255
        other = parse_event(trigger(dedup_key="k" * 254 + "j"))
        assert other.incident_dedup_key("integration-with-a-long-name") != alert.dedup_key


class TestFollowUpEvents:
    @pytest.mark.parametrize(
        ("action", "alert_status"),
        [
            pytest.param("acknowledge", None, id="acknowledge-is-an-incident-action"),
            pytest.param("resolve", AlertStatus.RESOLVED, id="resolve-is-a-resolved-alert"),
        ],
    )
    def test_need_only_routing_and_dedup_keys(self, action, alert_status):
        event = parse_event({"routing_key": KEY, "dedup_key": "abc", "event_action": action})
        assert event.action is EventAction(action)
        alert = event.to_alert(integration="7", now=NOW)
        if alert_status is None:
            assert alert is None
            assert event.incident_dedup_key("7") == "pagerduty:7:abc"
        else:
            assert alert is not None
            assert alert.status is alert_status and alert.dedup_key == "pagerduty:7:abc"
            assert alert.ends_at == NOW

    def test_a_payload_on_a_resolve_is_ignored_like_pagerduty_does(self):
        event = parse_event(
            {
                "routing_key": KEY,
                "dedup_key": "abc",
                "event_action": "resolve",
                "payload": {"severity": "nonsense"},
            }
        )
        assert event.severity is None and event.summary == ""


class TestAnInvalidEvent:
    @pytest.mark.parametrize(
        ("raw", "expected_errors"),
        [
            pytest.param(
                trigger(routing_key="short"),
                ["Length of 'routing_key' is incorrect (should be 32 characters, got 5)"],
                id="short-routing-key",
            ),
            pytest.param(
                trigger(routing_key=None),
                ["'routing_key' is missing or blank"],
                id="no-routing-key",
            ),
            pytest.param(
                trigger(routing_key=12),
                ["'routing_key' must be a string, got a number"],
                id="numeric-routing-key",
            ),
            pytest.param(
                trigger(event_action="create"),
                ["'event_action' must be trigger, acknowledge or resolve, got 'create'"],
                id="unknown-action",
            ),
            pytest.param(
                trigger(event_action=None),
                ["'event_action' is missing; use trigger, acknowledge or resolve"],
                id="no-action",
            ),
            pytest.param(
                {"routing_key": KEY, "event_action": "resolve"},
                ["'dedup_key' is required for event_action 'resolve'"],
                id="resolve-without-dedup-key",
            ),
            pytest.param(
                {"routing_key": KEY, "event_action": "acknowledge", "dedup_key": ""},
                ["'dedup_key' is required for event_action 'acknowledge'"],
                id="ack-with-blank-dedup-key",
            ),
            pytest.param(
                trigger(dedup_key="d" * 256),
                ["'dedup_key' is too long (maximum 255 characters, got 256)"],
                id="dedup-key-too-long",
            ),
            pytest.param(
                trigger(dedup_key=5),
                ["'dedup_key' must be a string, got a number"],
                id="dedup-key-number",
            ),
            pytest.param(
                trigger(payload=None),
                ["'payload' is required for event_action 'trigger'"],
                id="no-payload",
            ),
            pytest.param(
                trigger(payload="x"),
                ["'payload' must be an object, got a string"],
                id="payload-string",
            ),
            pytest.param(
                trigger_payload(summary=...),
                ["'payload.summary' is missing or blank"],
                id="no-summary",
            ),
            pytest.param(
                trigger_payload(summary="s" * 1025),
                ["'payload.summary' is too long (maximum 1024 characters, got 1025)"],
                id="summary-too-long",
            ),
            pytest.param(
                trigger_payload(source=" "),
                ["'payload.source' is missing or blank"],
                id="blank-source",
            ),
            pytest.param(
                trigger_payload(severity="high"),
                ["'payload.severity' must be critical, error, warning or info, got 'high'"],
                id="bad-severity",
            ),
            pytest.param(
                trigger_payload(severity=...),
                ["'payload.severity' is missing; use critical, error, warning or info"],
                id="no-severity",
            ),
            pytest.param(
                trigger_payload(timestamp="soon"),
                [
                    "'payload.timestamp' must be an RFC 3339 timestamp like "
                    "\"2024-05-01T12:00:00Z\", got 'soon'"
                ],
                id="bad-timestamp",
            ),
            pytest.param(
                trigger_payload(component=3),
                ["'payload.component' must be a string, got a number"],
                id="component-number",
            ),
            pytest.param(
                trigger(links=[{"text": "no href"}]),
                ["'links[0].href' is required and must be a non-empty string"],
                id="link-without-href",
            ),
            pytest.param(
                trigger(images="logo.png"),
                ["'images' must be an array of objects, got a string"],
                id="images-string",
            ),
            pytest.param(
                trigger(images=[{"src": "x", "alt": 1}]),
                ["'images[0].alt' must be a string, got a number"],
                id="image-alt",
            ),
        ],
    )
    def test_is_refused_with_pagerduty_style_errors(self, raw, expected_errors):
        with pytest.raises(PagerDutyEventError) as caught:
            parse_event(raw)
        assert caught.value.errors == expected_errors
        assert caught.value.http_status == 400
        assert caught.value.response_body() == {
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": expected_errors,
        }

    def test_every_problem_is_listed_at_once(self):
        raw = {
            "routing_key": "x",
            "event_action": "trigger",
            "payload": {"severity": "bad", "source": "s"},
        }
        with pytest.raises(PagerDutyEventError) as caught:
            parse_event(raw)
        assert len(caught.value.errors) == 3
        assert caught.value.errors[0].startswith("Length of 'routing_key'")

    @pytest.mark.parametrize(
        ("raw", "error"),
        [
            pytest.param(b"{", "the body is not valid JSON", id="bad-json"),
            pytest.param(b"\xff", "the body is not valid UTF-8", id="bad-utf8"),
            pytest.param(b'"trigger"', "must be a JSON object, got a string", id="json-string"),
        ],
    )
    def test_an_unreadable_body_is_refused(self, raw, error):
        with pytest.raises(PagerDutyEventError, match=error) as caught:
            parse_event(raw)
        assert caught.value.http_status == 400

    def test_a_body_over_512_kb_is_refused_as_too_large(self):
        with pytest.raises(PagerDutyEventError, match="limit is 524288 bytes") as caught:
            parse_event(b" " * (MAX_BODY_BYTES + 1))
        assert caught.value.http_status == 413
