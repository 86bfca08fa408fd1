"""The remote probes' API (``/api/probe/v1``): enrol, pull checks, push results.

The probe authenticates with its bearer credential (``dutydesk.sites.service``: stored hashed,
compared in constant time, revocable); only the enrolment call is anonymous and takes the
one-time token instead. The probe only ever connects out to these three endpoints.

- ``POST /enrol``    ``{"token", "version"}`` -> ``{"probe_id", "credential", "site"}`` (once)
- ``GET /checks``    the probe's checks; ``ETag`` is their version, ``If-None-Match`` -> 304;
                     ``?wait=N`` (long-poll, N <= 30 s) holds the 304 until the version changes
                     (then 200 at once) or N seconds passed (see :class:`LongPolls`)
- ``POST /results``  a batch (``dutydesk.sites.ingest``) -> ``{"acked", "stored", "replayed"}``;
                     409 when another push of the same probe won (send again), 400 if malformed;
                     ``acked`` is the highest number the centre stored (the probe's buffer is
                     behind when it is above any number the probe gave: a lost or restored
                     buffer file, see :mod:`dutydesk.sites.buffer`)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from dutydesk.context import app_state, db_session
from dutydesk.core.db import utcnow
from dutydesk.errors import ApiError
from dutydesk.openapi import operation, query_param
from dutydesk.sites.models import Probe, Site

bp = Blueprint("probes_api", __name__, url_prefix="/api/probe/v1")
MAX_BODY = 8 * 1024 * 1024
MAX_WAIT = 30.0  # seconds a long-poll is held at most
POLL_EVERY = 0.5  # how often a held long-poll reads the version


class LongPolls:
    """Long-polls of ``GET /checks`` held in this process, at most ``limit`` at once (each holds
    a web thread; 0 turns long-polling off). A held request holds no database connection: every
    ``POLL_EVERY`` seconds it reads the version through a short read-only connection (no write
    lock on SQLite) and gives it back. A version changed by another process (the CLI, another
    web worker) is seen within ``POLL_EVERY``; no in-process signal could see those."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()

    def try_hold(self) -> bool:
        with self._lock:
            if self.held >= self.limit:
                return False
            self.held += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.held -= 1

    @staticmethod
    def wait_for_change(version: Callable[[], str], seen: str, seconds: float,
                        every: float = POLL_EVERY) -> str:
        """Read ``version()`` every ``every`` seconds until it differs from ``seen`` or
        ``seconds`` passed; returns the last version read."""
        ends = time.monotonic() + seconds
        current = seen
        while current == seen:
            left = ends - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(every, left))
            current = version()
        return current


def _long_polls() -> LongPolls:
    polls = current_app.extensions.get("dutydesk_probe_long_polls")
    if polls is None:
        polls = current_app.extensions.setdefault(
            "dutydesk_probe_long_polls", LongPolls(app_state().settings.probe_long_polls))
    return polls


def _wait_arg() -> float:
    raw = request.args.get("wait")
    if raw is None or raw == "":
        return 0.0
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= MAX_WAIT:  # NaN too
        raise ApiError(400, f"wait must be 0..{MAX_WAIT:g} seconds, got {raw[:20]!r}")
    return wait


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
    "while nothing changed). With ``wait`` (long-poll) and an ``If-None-Match`` that is still "
    "current, the answer is held until the checks change (200 at once) or ``wait`` seconds "
    "passed (304); held at most half the probe's grace, and answered 304 at once when the "
    "server already holds its limit of long-polls (``DUTYDESK_PROBE_LONG_POLLS``); the header "
    "``X-Long-Poll`` says which (``held`` or ``busy``: poll again later). Bearer: the "
    "probe's credential.",
    tags=["probes"],
    parameters=[query_param("wait", {"type": "number", "minimum": 0, "maximum": MAX_WAIT},
                            "Long-poll: seconds to hold a 304 while nothing changed")],
    responses={"200": "The probe's checks, their version and the last sequence stored",
               "304": "Unchanged since the ETag sent (after the wait, if one was asked)"})
@_probe_view
def checks_view() -> Any:
    from dutydesk.sites.ingest import touch
    from dutydesk.sites.service import checks_version, probe_checks

    probe = _authenticated()
    wait = _wait_arg()
    s = db_session()
    probe_id, grace = probe.id, probe.grace_seconds
    probe.last_contact_at = utcnow()
    etag = checks_version(s, probe_id)
    s.commit()
    polls = _long_polls()
    held = ""
    if request.if_none_match.contains(etag) and wait > 0:
        held = "held" if polls.try_hold() else "busy"
    if held == "held":
        s.close()  # the connection goes back to the pool for the whole wait
        db = app_state().db

        def version() -> str:
            with db.read_connection() as conn:
                return checks_version(conn, probe_id)

        try:
            etag = polls.wait_for_change(version, etag, min(wait, grace / 2))
        finally:
            polls.release()
        touch(db, probe_id, utcnow())  # heard from it until now
    if request.if_none_match.contains(etag):
        response = current_app.response_class(status=304)
    else:
        probe = s.get(Probe, probe_id)
        etag, checks = probe_checks(s, probe)
        site = s.get(Site, probe.site_id)
        response = jsonify(version=etag, site=site.slug, name=probe.name, checks=checks,
                           last_seq=probe.last_seq)
        s.rollback()
    response.set_etag(etag)
    if held:  # the probe pulls again at once after a held poll, later after a busy one
        response.headers["X-Long-Poll"] = held
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
