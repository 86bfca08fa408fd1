"""Alert receivers: Alertmanager webhook v4 and PagerDuty Events API v2 (``POST /v2/enqueue``).

Answers, so senders retry exactly when retrying can help:

- 2xx: stored (Alertmanager 200; PagerDuty 202 with PagerDuty's body);
- 400: the body is malformed, with a message naming the field (PagerDuty's ``invalid event``
  shape on ``/v2/enqueue``), or the routing key is unknown;
- 401: Alertmanager without a valid Bearer key (an integration key, or an engineer's API token);
- 403: a Bearer credential that is neither (a viewer's token, a PagerDuty routing key);
- 413: the body is larger than we accept;
- 503: we could not store it (database down or locked): the sender retries later.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dutydesk.context import app_state, db_session, principal, settings
from dutydesk.core.db import utcnow
from dutydesk.errors import ApiError
from dutydesk.facility import redfish_events as redfish
from dutydesk.incidents.alerts.alertmanager import PayloadError, PayloadTooLarge, parse_webhook
from dutydesk.incidents.alerts.pagerduty import (
    MAX_BODY_BYTES,
    EventAction,
    PagerDutyEventError,
    parse_event,
    success_response,
)
from dutydesk.incidents.integrations import find_active_key, find_by_key
from dutydesk.incidents.lifecycle import LifecycleError
from dutydesk.incidents.models import Incident, Integration
from dutydesk.incidents.pipeline import metrics_for, process_alerts
from dutydesk.incidents.store import act
from dutydesk.models import Role
from dutydesk.openapi import operation
from dutydesk.web.auth import accepts_integration_key

log = logging.getLogger("dutydesk.integrations")
bp = Blueprint("integrations", __name__)


def _storage_failed(exc: Exception) -> Any:
    db_session().rollback()
    log.exception("could not store alerts", exc_info=exc)
    response = jsonify(
        error="could not store the alerts (storage unavailable); retry later", detail=str(exc)[:300]
    )
    response.headers["Retry-After"] = "5"
    return response, 503


@bp.route("/api/v1/integrations/alertmanager", methods=["POST"])
@operation(
    "Receive an Alertmanager webhook notification (payload version 4)",
    tags=["integrations"],
    request_body={
        "type": "object",
        "required": ["version", "groupKey", "status", "alerts"],
        "properties": {
            "version": {"const": "4"},
            "groupKey": {"type": "string"},
            "status": {"enum": ["firing", "resolved"]},
            "alerts": {"type": "array", "items": {"type": "object"}},
        },
    },
    responses={
        "200": "Stored: how many alerts, which incidents opened, attached, resolved",
        "413": "Body too large (set max_alerts in the webhook_config)",
        "503": "Could not store; Alertmanager retries",
    },
)
@accepts_integration_key
def alertmanager() -> Any:
    s = db_session()
    integration = _alertmanager_integration(s)
    try:
        notification = parse_webhook(request.get_data(cache=False))
    except PayloadTooLarge as exc:
        raise ApiError(413, str(exc)) from None
    except PayloadError as exc:
        raise ApiError(
            400, f"malformed Alertmanager payload: {exc}", {"field": exc.field}
        ) from None
    now = utcnow()
    try:
        result = process_alerts(
            s,
            notification.alerts,
            settings=settings(),
            now=now,
            metrics=metrics_for(app_state().metrics.registry),
            integration_id=integration.id if integration else None,
        )
        if integration is not None:
            integration.last_used_at = now
        s.commit()
    except SQLAlchemyError as exc:
        return _storage_failed(exc)
    return jsonify(
        status="success",
        alerts=len(notification.alerts),
        group_key=notification.group_key,
        opened=result.opened,
        attached=result.attached,
        resolved=result.resolved,
        muted=[{"dedup_key": k, "reason": r} for k, r in result.muted],
    )


def _alertmanager_integration(s: Session) -> Integration | None:
    return _bearer_integration(s, "alertmanager", "an Alertmanager")


def _bearer_integration(s: Session, kind: str, title: str) -> Integration | None:
    """Who posts: the integration of ``kind`` whose key is the Bearer credential, or ``None``
    for an engineer's (or stronger) API token or session. Anything else is refused (401/403);
    ``title`` ("an Alertmanager") names the kind in those messages."""
    who = principal()
    if who.authenticated:  # an API token or a signed-in person: engineers may post by hand
        if not who.can(Role.ENGINEER):
            raise ApiError(
                403, f"this token is not {title} integration key (or an engineer's token)"
            )
        return None
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(
            401, "authentication required: send 'Authorization: Bearer <integration key>'"
        )
    integration = find_active_key(s, key.strip())
    if integration is None:
        raise ApiError(401, "invalid or revoked integration key")
    if integration.type != kind:
        raise ApiError(403, f"integration {integration.name!r} is not {title} integration")
    return integration


@bp.route("/api/v1/integrations/redfish", methods=["POST"])
@operation(
    "Receive Redfish EventService events from a BMC (DSP0268 Event payload)",
    tags=["integrations"],
    request_body={
        "type": "object",
        "required": ["Events"],
        "properties": {
            "Context": {"type": "string"},
            "Events": {"type": "array", "minItems": 1, "maxItems": 100,
                       "items": {"type": "object"}},
        },
    },
    responses={
        "200": "Stored: which incidents opened, attached, resolved",
        "413": "Body too large",
        "503": "Could not store; the BMC retries",
    },
)
@accepts_integration_key
def redfish_events() -> Any:
    s = db_session()
    integration = _bearer_integration(s, "redfish", "a Redfish")
    body = request.get_data(cache=False)
    try:
        events = redfish.parse_payload(body)
    except redfish.RedfishEventError as exc:
        status = 413 if len(body) > redfish.MAX_BODY_BYTES else 400
        raise ApiError(status, f"malformed Redfish event payload: {exc}",
                       {"field": exc.field}) from None
    try:
        payload_context = str(json.loads(body).get("Context") or "")[:120]
    except (ValueError, AttributeError):
        payload_context = ""
    now = utcnow()
    name = integration.name if integration is not None else principal().label
    alerts = redfish.to_alerts(events, integration=name, context=payload_context, now=now)
    try:
        result = process_alerts(
            s, alerts, settings=settings(), now=now,
            metrics=metrics_for(app_state().metrics.registry),
            integration_id=integration.id if integration else None,
        )
        if integration is not None:
            integration.last_used_at = now
        s.commit()
    except SQLAlchemyError as exc:
        return _storage_failed(exc)
    return jsonify(status="success", events=len(events), alerts=len(alerts),
                   opened=result.opened, attached=result.attached, resolved=result.resolved)


#: PagerDuty's error body, which PagerDuty clients parse (not our usual ``Error``).
PAGERDUTY_ERROR = {
    "type": "object",
    "required": ["status", "message", "errors"],
    "properties": {
        "status": {"type": "string"},
        "message": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "string"}},
    },
}


@bp.route("/v2/enqueue", methods=["POST"])
@operation(
    "PagerDuty Events API v2 compatible: trigger, acknowledge or resolve an alert",
    tags=["integrations"],
    auth=False,
    request_body={
        "type": "object",
        "required": ["routing_key", "event_action"],
        "properties": {
            "routing_key": {"type": "string", "minLength": 32, "maxLength": 32},
            "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
            "dedup_key": {"type": "string", "maxLength": 255},
            "payload": {"type": "object"},
        },
    },
    responses={
        "202": 'Accepted: {"status": "success", "message": "Event processed", "dedup_key": ...}',
        "400": {
            "description": "Invalid event (PagerDuty's shape, `errors` says what is wrong)",
            "content": {"application/json": {"schema": PAGERDUTY_ERROR}},
        },
        "413": {
            "description": "Body too large (PagerDuty's shape)",
            "content": {"application/json": {"schema": PAGERDUTY_ERROR}},
        },
        "503": "Could not store; retry",
    },
)
def pagerduty_enqueue() -> Any:
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY_BYTES:
        error = PagerDutyEventError(
            [f"the request body is larger than {MAX_BODY_BYTES} bytes"], too_large=True
        )
        return jsonify(error.response_body()), error.http_status
    try:
        event = parse_event(body)
    except PagerDutyEventError as exc:
        return jsonify(exc.response_body()), exc.http_status
    s = db_session()
    integration = find_by_key(s, event.routing_key, "pagerduty")
    if integration is None:
        error = PagerDutyEventError(["Invalid routing key: no active integration has this key"])
        return jsonify(error.response_body()), 400
    now = utcnow()
    ident = str(integration.id)
    try:
        if event.action is EventAction.ACKNOWLEDGE:
            key = event.incident_dedup_key(ident)
            incident = s.query(Incident).filter(Incident.open_key == key).one_or_none()
            if incident is not None:
                # Already acknowledged is fine: PagerDuty accepts a repeated ack as well.
                with contextlib.suppress(LifecycleError):
                    act(s, incident.id, "acknowledge", f"pagerduty:{integration.name}", now)
        else:
            alert = event.to_alert(integration=ident, now=now)
            assert alert is not None
            process_alerts(
                s,
                [alert],
                settings=settings(),
                now=now,
                metrics=metrics_for(app_state().metrics.registry),
                integration_id=integration.id,
            )
        integration.last_used_at = now
        s.commit()
    except SQLAlchemyError as exc:
        return _storage_failed(exc)
    return jsonify(success_response(event)), 202
