"""The remote probes' API (``/api/probe/v1``): enrol, pull checks, push results.

The probe authenticates with its bearer credential (``dutydesk.sites.service``: stored hashed,
compared in constant time, revocable); only the enrolment call is anonymous and takes the
one-time token instead. The probe only ever connects out to these three endpoints.

- ``POST /enrol``    ``{"token", "version"}`` -> ``{"probe_id", "credential", "site"}`` (once)
- ``GET /checks``    the probe's checks; ``ETag`` is their version, ``If-None-Match`` -> 304
- ``POST /results``  a batch (``dutydesk.sites.ingest``) -> ``{"acked", "stored", "replayed"}``;
                     409 when another push of the same probe won (send again), 400 if malformed
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from dutydesk.context import app_state, db_session
from dutydesk.core.db import utcnow
from dutydesk.errors import ApiError
from dutydesk.openapi import operation
from dutydesk.sites.models import Probe, Site

bp = Blueprint("probes_api", __name__, url_prefix="/api/probe/v1")
MAX_BODY = 8 * 1024 * 1024


def _probe_view(view: Callable[..., Any]) -> Callable[..., Any]:
    # The app's bearer-token loader leaves these requests to the view (as for integration keys).
    view._dutydesk_integration_key = True  # type: ignore[attr-defined]
    return view


def _store() -> Any:
    from checks.store import CheckStore

    store = current_app.extensions.get("dutydesk_probe_store")
    if store is None:
        store = current_app.extensions["dutydesk_probe_store"] = CheckStore(app_state().db)
    return store


def _authenticated() -> Probe:
    from dutydesk.sites.service import authenticate

    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    probe = (authenticate(db_session(), credential.strip()) if scheme.lower() == "bearer"
             else None)
    if probe is None:
        raise ApiError(401, "invalid or revoked probe credential")
    return probe


def _json_body() -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, f"body too large: at most {MAX_BODY} bytes")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "the body must be JSON (Content-Type: application/json)")
    return body


_RESULT = {
    "type": "object",
    "required": ["seq", "check_id", "status", "started_at"],
    "properties": {
        "seq": {"type": "integer", "minimum": 1}, "check_id": {"type": "integer"},
        "status": {"type": "string"}, "message": {"type": "string"},
        "started_at": {"type": "string", "format": "date-time"},
        "duration": {"type": "number"}, "metrics": {"type": "object"},
    },
}


@bp.post("/enrol")
@operation(
    "A remote probe trades its one-time enrolment token for its own credential (once; the "
    "credential is shown only in this answer). Authenticated by the token in the body.",
    tags=["probes"],
    request_body={"type": "object", "required": ["token"],
                  "properties": {"token": {"type": "string"}, "version": {"type": "string"}}},
    responses={"200": "The probe's id, credential, site and name", "413": "Body too large"})
@_probe_view
def enrol_view() -> Any:
    from dutydesk.sites.service import ProbeError, enrol

    body = _json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object with 'token'")
    version = body.get("version", "")
    s = db_session()
    try:
        issued = enrol(s, body.get("token"), utcnow(),
                       version if isinstance(version, str) else "")
    except ProbeError as exc:
        s.rollback()
        raise ApiError(401, str(exc)) from None
    probe = s.get(Probe, issued.probe_id)
    site = s.get(Site, probe.site_id)
    from dutydesk.core.audit import record

    record(s, f"probe:{probe.name}", "probe.enrol", "probe", probe.id,
           summary=f"probe {probe.name} of site {site.slug} enrolled")
    s.commit()
    return jsonify(probe_id=issued.probe_id, credential=issued.secret, site=site.slug,
                   name=probe.name)


@bp.get("/checks")
@operation(
    "The checks this probe runs (``ETag`` is their version; ``If-None-Match`` answers 304 "
    "while nothing changed). Bearer: the probe's credential.",
    tags=["probes"],
    responses={"200": "The probe's checks, their version and the last sequence stored",
               "304": "Unchanged since the ETag sent"})
@_probe_view
def checks_view() -> Any:
    from dutydesk.sites.service import probe_checks

    probe = _authenticated()
    s = db_session()
    etag, checks = probe_checks(s, probe)
    site = s.get(Site, probe.site_id)
    probe.last_contact_at = utcnow()
    s.commit()
    if request.if_none_match.contains(etag):
        response = current_app.response_class(status=304)
    else:
        response = jsonify(version=etag, site=site.slug, name=probe.name, checks=checks,
                           last_seq=probe.last_seq)
    response.set_etag(etag)
    return response


@bp.post("/results")
@operation(
    "A batch of results made by the probe, each with its sequence number: stored once and "
    "judged in order (a replayed batch is acknowledged, not stored again). Bearer: the probe's "
    "credential.",
    tags=["probes"],
    request_body={"type": "object", "required": ["results"],
                  "properties": {"results": {"type": "array", "items": _RESULT},
                                 "dropped": {"type": "integer", "minimum": 0},
                                 "buffered": {"type": "integer", "minimum": 0},
                                 "version": {"type": "string"}}},
    responses={"200": "Sequence numbers acknowledged, stored and replayed",
               "409": "Another push of this probe is being stored: send again",
               "413": "Body too large"})
@_probe_view
def results_view() -> Any:
    from dutydesk.sites.ingest import BatchConflict, BatchError, ingest

    probe_id = _authenticated().id
    body = _json_body()
    db_session().rollback()  # the ingest runs its own transaction
    try:
        done = ingest(app_state().db, _store(), probe_id, body, utcnow())
    except BatchError as exc:
        raise ApiError(400, str(exc)) from None
    except BatchConflict as exc:
        raise ApiError(409, str(exc)) from None
    return jsonify(acked=done.acked, stored=done.stored, replayed=done.replayed)
