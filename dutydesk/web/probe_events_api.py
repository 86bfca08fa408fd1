"""``POST /api/probe/v1/events``: the traps and syslog a remote probe heard at its site.

The shell ties two domains that know nothing of each other in one transaction: the sites'
``store_once`` (each (probe, event seq) stored once, compare-and-set on the probe's last event
number) and the facility's ``feed_events`` (the centre's rules, the ONE alert pipeline, the
"heard" counters), marked with the probe's site. A failure anywhere rolls everything back and
the probe sends the batch again; nothing is half-stored.

Answers ``{"acked", "fed", "replayed", "alerts", "counted"}``; an empty batch (``{"events": []}``)
just tells the probe the last number stored (``acked``), which it numbers its events above.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify

from dutydesk.context import app_state, db_session
from dutydesk.core.db import utcnow
from dutydesk.errors import ApiError
from dutydesk.openapi import operation
from dutydesk.web.probes_api import _authenticated, _json_body, _probe_view

bp = Blueprint("probe_events_api", __name__, url_prefix="/api/probe/v1")

_EVENT = {
    "type": "object",
    "required": ["seq", "at", "input", "kind", "source"],
    "properties": {
        "seq": {"type": "integer", "minimum": 1},
        "at": {"type": "string", "format": "date-time"},
        "input": {"type": "string", "enum": ["snmp", "syslog"]},
        "kind": {"type": "string", "enum": ["trap", "message", "rejected", "flood"]},
        "source": {"type": "string", "description": "The sender's IP address at the site"},
        "version": {"type": "string", "enum": ["1", "2c", "3"]},
        "var_binds": {"type": "array", "maxItems": 128,
                      "items": {"type": "array", "minItems": 3, "maxItems": 3},
                      "description": "[numeric OID, value as text, value is an OID]"},
        "host": {"type": "string"}, "facility": {"type": "string"},
        "level": {"type": "string"}, "app": {"type": "string"}, "text": {"type": "string"},
        "structured": {"type": "object", "additionalProperties": {"type": "string"}},
        "reason": {"type": "string"}, "sample": {"type": "string"},
        "dropped": {"type": "integer", "minimum": 0}, "ongoing": {"type": "boolean"},
        "limit": {"type": "integer", "minimum": 1},
    },
}


def _remote_rules() -> Any:
    from dutydesk.facility.remote import RemoteRules

    rules = current_app.extensions.get("dutydesk_probe_event_rules")
    if rules is None:
        rules = current_app.extensions["dutydesk_probe_event_rules"] = RemoteRules(
            app_state().settings)
    return rules


@bp.post("/events")
@operation(
    "Traps and syslog messages a probe heard at its site, each with its own sequence number: "
    "fed once, in order, into the facility rules and the alert pipeline, marked with the "
    "probe's site (a replayed batch is acknowledged, not fed again). An empty list answers the "
    "last number stored. Bearer: the probe's credential.",
    tags=["probes"],
    request_body={"type": "object", "required": ["events"],
                  "properties": {"events": {"type": "array", "maxItems": 5000, "items": _EVENT},
                                 "dropped": {"type": "integer", "minimum": 0},
                                 "buffered": {"type": "integer", "minimum": 0}}},
    responses={"200": "Sequence numbers acknowledged, events fed, replayed, alerts raised",
               "409": "Another push of this probe's events is being stored: send again",
               "413": "Body too large"})
@_probe_view
def events_view() -> Any:
    from dutydesk.facility.receiver import facility_metrics
    from dutydesk.facility.remote import EventsError, feed_events, parse_events
    from dutydesk.incidents.pipeline import metrics_for
    from dutydesk.sites.events import EventsConflict, store_once
    from dutydesk.sites.models import Site

    probe = _authenticated()
    body = _json_body()
    try:
        events = parse_events(body)
    except EventsError as exc:
        raise ApiError(400, str(exc)) from None
    s = db_session()
    site = s.get(Site, probe.site_id).slug
    now, state = utcnow(), app_state()
    rules, translator = _remote_rules().current(s)
    registry = state.metrics.registry

    def feed(fresh: set[int]) -> Any:
        return feed_events(s, [e for e in events if e.seq in fresh], site=site, probe=probe.name,
                           rules=rules, translator=translator, settings=state.settings, now=now,
                           metrics=facility_metrics(registry),
                           pipeline_metrics=metrics_for(registry))

    try:
        stored, report = store_once(s, probe.id, [e.seq for e in events], now, feed)
        s.commit()
    except EventsConflict as exc:
        s.rollback()
        raise ApiError(409, str(exc)) from None
    except Exception:
        s.rollback()
        raise
    return jsonify(acked=stored.acked, fed=stored.fresh, replayed=stored.replayed,
                   alerts=report.alerts, counted=report.counted)
