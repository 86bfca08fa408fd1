"""Webhook subscribers of the status page: an admin screen and the API.

Webhook subscribers are added by staff (no opt-in); they receive every publish/update of the
notices affecting their services through the outbox (channel ``webhook``, body from
:func:`shifts.notices.mail.webhook_payload`). The routes hang on the blueprints of
:mod:`dutydesk.web.notices` (imported at its end), so no extra registration is needed.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext

from dutydesk.context import db_session, principal, require_role
from dutydesk.core import audit
from dutydesk.core.db import utcnow
from dutydesk.errors import ApiError
from dutydesk.models import Role
from dutydesk.openapi import operation
from dutydesk.web.notices import _body, api_bp, bp
from shifts.notices.orm import StatusSubscriber
from shifts.notices.storage import load_services
from shifts.notices.subscriptions import (
    SubscriberNotFoundError,
    SubscriptionError,
    add_webhook,
    remove_webhook,
    webhooks,
)


def as_json(sub: StatusSubscriber) -> dict[str, Any]:
    return {"id": sub.id, "url": sub.target, "services": sub.service_ids,
            "created_at": sub.created_at.isoformat()}


def _add(url: str, services: list[str] | None) -> StatusSubscriber:
    s = db_session()
    sub = add_webhook(s, url, now=utcnow(), services=services)
    audit.record(s, principal(), "status_subscriber.add", "status_subscriber", sub.id,
                 summary=f"webhook {sub.target}", after={"services": sub.service_ids})
    return sub


def _remove(subscriber_id: int) -> StatusSubscriber:
    s = db_session()
    sub = remove_webhook(s, subscriber_id, now=utcnow())
    audit.record(s, principal(), "status_subscriber.remove", "status_subscriber", sub.id,
                 summary=f"webhook {sub.target}")
    return sub


@bp.route("/notices/subscribers", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def subscribers_admin() -> Any:
    s = db_session()
    if request.method == "POST":
        try:
            if request.form.get("action") == "remove":
                _remove(int(request.form.get("subscriber_id") or 0))
                message = gettext("Webhook removed.")
            else:
                _add(request.form.get("url", ""), request.form.getlist("services") or None)
                message = gettext("Webhook added.")
        except (SubscriptionError, ValueError) as exc:
            s.rollback()
            flash(gettext("Not saved: %(message)s", message=str(exc)), "error")
        else:
            s.commit()
            flash(message, "ok")
        return redirect(url_for("notices.subscribers_admin"))
    _, services = load_services(s)
    return render_template("notices/subscribers.html", subscribers=webhooks(s),
                           services=services, names={x.id: x.name for x in services})


SUBSCRIBER_SCHEMA = {
    "type": "object", "required": ["url"],
    "properties": {
        "url": {"type": "string", "format": "uri", "description": "http(s) URL receiving POSTs"},
        "services": {"type": "array", "items": {"type": "string"},
                     "description": "service slugs; omitted or empty: every service"},
        "remove": {"type": "boolean",
                   "description": "true: stop sending to this URL instead of adding it"},
    },
}


@api_bp.route("/status/subscribers", methods=["GET"])
@operation("List the status page's webhook subscribers", tags=["notices"],
           responses={"200": "Active webhook subscribers"})
@require_role(Role.ADMIN)
def api_subscribers() -> Any:
    return {"subscribers": [as_json(x) for x in webhooks(db_session())]}


@api_bp.route("/status/subscribers", methods=["POST"])
@operation("Add a webhook subscriber (or remove one with \"remove\": true)", tags=["notices"],
           request_body=SUBSCRIBER_SCHEMA,
           responses={"201": "Added", "200": "Removed", "404": "No such webhook subscriber"})
@require_role(Role.ADMIN)
def api_subscribers_change() -> Any:
    data, s = _body(), db_session()
    services = data.get("services")
    if services is not None and (not isinstance(services, list)
                                 or not all(isinstance(x, str) for x in services)):
        raise ApiError(400, f"services must be a list of service slugs, got {services!r}")
    try:
        if data.get("remove") is True:
            url = str(data.get("url", "")).strip()
            found = next((x for x in webhooks(s) if x.target == url), None)
            if found is None:
                raise SubscriberNotFoundError(f"no active webhook subscriber with URL {url!r}")
            sub, code = _remove(found.id), 200
        else:
            sub, code = _add(str(data.get("url", "")), services or None), 201
    except SubscriberNotFoundError as exc:
        s.rollback()
        raise ApiError(404, str(exc)) from None
    except SubscriptionError as exc:
        s.rollback()
        raise ApiError(400, str(exc)) from None
    s.commit()
    return {**as_json(sub), "active": sub.unsubscribed_at is None}, code


@api_bp.route("/status/subscribers/<int:subscriber_id>", methods=["DELETE"])
@operation("Remove a webhook subscriber", tags=["notices"],
           responses={"204": "Removed", "404": "No such webhook subscriber"})
@require_role(Role.ADMIN)
def api_subscriber_delete(subscriber_id: int) -> Any:
    s = db_session()
    try:
        _remove(subscriber_id)
    except SubscriberNotFoundError as exc:
        s.rollback()
        raise ApiError(404, str(exc)) from None
    s.commit()
    return "", 204
