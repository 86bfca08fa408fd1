"""The employees' door: ``/help`` (what is already known, "me too", a new request) and
"my requests" behind the signed link every mail carries.

Who asks is known by being signed in, or by the link: the address is confirmed by opening a
link mailed to it (``/help/link`` → ``/help/my/<token>``); no password, nothing to remember.
Works without JavaScript: choosing a service is a GET form; everything else is plain POSTs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from dutydesk.context import db_session, principal, settings
from dutydesk.core.db import utcnow
from dutydesk.core.notify.outbox import enqueue
from dutydesk.incidents.lifecycle import LifecycleError
from dutydesk.incidents.lookup import open_incidents_for_service
from dutydesk.requests import mail, ratings
from dutydesk.requests import service as req
from dutydesk.requests.lifecycle import Action
from dutydesk.requests.models import REQUEST_TYPES, ServiceRequest
from dutydesk.requests.rules import RequestInputError, normalise_email
from dutydesk.requests.store import RequestNotFound
from shifts.notices.storage import load_notices, load_services

bp = Blueprint("help", __name__, url_prefix="/help")


def _language() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "en")


def _signed_in_requester() -> req.Requester | None:
    who = principal()
    if who.user is None:
        return None
    user = who.user
    return req.Requester(user.email, user.name or "", user.language or _language(),
                         user_id=user.id)


def _token_requester(token: str) -> req.Requester:
    try:
        email = mail.read_requester_token(settings().secret_key, token)
    except mail.BadRequesterToken as exc:
        abort(403, str(exc))
    return req.Requester(email, "", _language())


def known_problems(service: str) -> dict[str, Any]:
    """Active outage notices and open incidents for ``service`` (a status page service id)."""
    s = db_session()
    notices = [n for n in load_notices(s, published_only=True)
               if not n.is_closed and any(a.service_id == service for a in n.affected)]
    return {"notices": notices, "incidents": open_incidents_for_service(s, service)}


def _page(requester: req.Requester | None, token: str | None, status: int = 200,
          **extra: Any) -> Any:
    s = db_session()
    _groups, services = load_services(s)
    chosen = (request.values.get("service") or "").strip()
    mine: list[ServiceRequest] = []
    if requester is not None:
        mine = list(s.scalars(select(ServiceRequest)
                              .where(ServiceRequest.requester_email == requester.email.lower())
                              .order_by(ServiceRequest.id.desc()).limit(50)))
    return render_template(
        "help/form.html", services=services, chosen=chosen, requester=requester, token=token,
        known=known_problems(chosen) if chosen else None, mine=mine, types=REQUEST_TYPES,
        form=request.form, **extra), status


@bp.route("", methods=["GET", "POST"])
def help_page() -> Any:
    requester = _signed_in_requester()
    if request.method == "POST":
        if requester is None:
            abort(403, gettext("Sign in or ask for your link first."))
        return _submit(requester, None)
    return _page(requester, None)


@bp.route("/my/<token>", methods=["GET", "POST"])
def my_requests(token: str) -> Any:
    requester = _token_requester(token)
    if request.method == "POST":
        return _submit(requester, token)
    return _page(requester, token)


def _back(token: str | None, **args: Any) -> Any:
    if token:
        return redirect(url_for("help.my_requests", token=token, **args))
    return redirect(url_for("help.help_page", **args))


def _submit(requester: req.Requester, token: str | None) -> Any:
    s = db_session()
    form = request.form
    try:
        if form.get("follow"):
            incident = form["follow"]
            if not incident.isdigit():
                raise RequestInputError(gettext("Choose the problem you are affected by."))
            added = req.follow_incident(s, int(incident), requester, utcnow())
            s.commit()
            flash(gettext("Thank you: we will keep you informed.") if added else
                  gettext("You are already being kept informed about this problem."), "ok")
            return _back(token, service=form.get("service", ""))
        row = req.create_request(
            s, settings(), requester.email, requester, service=form.get("service"),
            subject=form.get("subject", ""), description=form.get("description"),
            category=form.get("category", ""), request_type=form.get("type", "fault"),
            urgency=form.get("urgency", "2"), impact=3, channel="web", now=utcnow())
        s.commit()
    except (RequestInputError, LifecycleError, req.IncidentMissing) as exc:
        s.rollback()
        return _page(requester, token, 400, error=str(exc))
    flash(gettext("Request %(number)s is registered; we sent you a confirmation.",
                  number=row.number), "ok")
    return _back(token)


@bp.route("/my/<token>/<int:request_id>", methods=["GET", "POST"])
def my_request(token: str, request_id: int) -> Any:
    requester = _token_requester(token)
    s = db_session()
    row = s.get(ServiceRequest, request_id) if request_id < 2**63 else None
    if row is None or row.requester_email != requester.email.lower():
        abort(404)
    error = None
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "confirm":
                req.perform(s, settings(), requester.email, row.id, Action.CLOSE, utcnow(),
                            reason="confirmed by the requester")
            else:
                req.perform(s, settings(), requester.email, row.id, Action.REQUESTER_REPLY,
                            utcnow(), text=request.form.get("text", ""))
            s.commit()
            return redirect(url_for("help.my_request", token=token, request_id=row.id))
        except (RequestInputError, LifecycleError, RequestNotFound) as exc:
            s.rollback()
            error = str(exc)
    from dutydesk.requests.store import timeline

    public = [e for e in timeline(s, row.id)
              if e.kind.value in ("created", "replied", "requester_replied", "resolved",
                                  "closed", "incident_update", "waiting")]
    return render_template("help/request.html", row=row, token=token, events=public,
                           error=error), 400 if error else 200


@bp.route("/link", methods=["POST"])
def send_link() -> Any:
    """Mail the requester's link to the address typed (at most one mail per address an hour,
    so the form cannot be used to flood someone's mailbox)."""
    s = db_session()
    try:
        email = normalise_email(request.form.get("email", ""))
    except RequestInputError as exc:
        return _page(None, None, 400, error=str(exc))
    link = mail.my_requests_url(settings().base_url, settings().secret_key, email)
    if request.form.get("service"):
        link += "?service=" + request.form["service"]
    message = mail.confirm_mail(_language(), link)
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    enqueue(s, channel="email", target=email, subject=message.subject, body_text=message.text,
            idempotency_key=f"help-link:{email}:{hour:%Y%m%d%H}", source_type="request_link",
            source_id=email, not_before=None)
    s.commit()
    return render_template("help/sent.html", email=email, next_at=hour + timedelta(hours=1))


@bp.route("/rate/<token>/<choice>", methods=["GET", "POST"])
def rate(token: str, choice: str) -> Any:
    """The rating link of the resolution mail. GET only asks (mail scanners open links and
    must change nothing); the POST of that page records the rating, once per request."""
    if choice not in ("good", "bad"):
        abort(404)
    try:
        request_id, email = mail.read_rating_token(settings().secret_key, token)
    except mail.BadRequesterToken as exc:
        abort(403, str(exc))
    s = db_session()
    row = s.get(ServiceRequest, request_id) if 0 < request_id < 2**63 else None
    if row is None or row.requester_email != email:
        abort(404)
    existing = ratings.rating_of(s, row.id)
    refused = ratings.refusal(row, existing)
    error = None
    if request.method == "POST" and refused is None:
        chosen = request.form.get("rating", "")
        try:
            ratings.rate_request(s, settings(), row, chosen, request.form.get("comment", ""),
                                 utcnow())
            s.commit()
            return render_template("help/rated.html", row=row, rating=chosen)
        except RequestInputError as exc:
            s.rollback()
            error, choice = str(exc), chosen if chosen in ("good", "bad") else choice
        except LifecycleError as exc:
            s.rollback()
            refused = exc
    status = 409 if request.method == "POST" and refused is not None else 400 if error else 200
    return render_template("help/rate.html", row=row, choice=choice, error=error,
                           refused=refused, existing=existing,
                           comment=request.form.get("comment", "")), status
