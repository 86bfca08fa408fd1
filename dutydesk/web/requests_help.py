"""The employees' door: ``/help`` (what is already known, "me too", a new request) and
"my requests" behind the signed link every mail carries.

Who asks is known by being signed in, or by the link: the address is confirmed by opening a
link mailed to it (``/help/link`` → ``/help/my/<token>``); no password, nothing to remember.
Employees whom the company directory or the OpenID Connect provider signs in as *requesters*
(in no mapped group, but allowed by ``requesters:``) get no account: their session names their
verified address, opens ``/help`` and ``/help/mine/<id>`` and nothing else.
Works without JavaScript: choosing a service is a GET form; everything else is plain POSTs.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from sqlalchemy import select

from dutydesk.context import db_session, principal, settings
from dutydesk.core import audit
from dutydesk.core.db import utcnow
from dutydesk.core.directory import Person
from dutydesk.core.notify.outbox import enqueue
from dutydesk.core.validation import ValidationError
from dutydesk.i18n import current_language as _language
from dutydesk.incidents.lifecycle import LifecycleError
from dutydesk.incidents.lookup import open_incidents_for_service
from dutydesk.requests import mail, ratings
from dutydesk.requests import service as req
from dutydesk.requests.catalog.items import CatalogItem
from dutydesk.requests.catalog.store import CatalogItemMissing, item_for_request, list_items
from dutydesk.requests.kb.store import articles_for_item
from dutydesk.requests.lifecycle import Action
from dutydesk.requests.models import REQUEST_TYPES, ServiceRequest
from dutydesk.requests.rules import RequestInputError, normalise_email
from dutydesk.requests.store import RequestNotFound
from dutydesk.web.kb_help import MAX_QUERY, suggestions
from dutydesk.web.requests_desk import item_fields
from shifts.notices.storage import load_notices, load_services

bp = Blueprint("help", __name__, url_prefix="/help")


REQUESTER_KEY = "requester"


def sign_in_requester(person: Person, via: str, next_url: str = "") -> Any:
    """Start a requester's session (a fresh one: no account, their verified address only) and
    send them to the help desk; the caller has checked who they are."""
    session.clear()  # a fresh session on sign-in (prevents session fixation)
    session.permanent = True
    session[REQUESTER_KEY] = {"email": person.email.lower(), "name": person.name,
                              "lang": person.language or "", "via": via, "at": int(time.time())}
    s = db_session()
    audit.record(s, f"requester:{person.email}", "login", "requester", None,
                 summary=f"{person.email} signed in to the help desk via {via}")
    s.commit()
    return redirect(next_url if next_url.startswith("/help") else url_for("help.help_page"))


def session_requester() -> req.Requester | None:
    """The requester this browser's session names, while it is young enough."""
    data = session.get(REQUESTER_KEY)
    if not isinstance(data, dict) or not isinstance(data.get("email"), str):
        return None
    if time.time() - data.get("at", 0) > settings().session_lifetime_hours * 3600:
        session.pop(REQUESTER_KEY, None)
        return None
    return req.Requester(data["email"], str(data.get("name") or ""),
                         str(data.get("lang") or "") or _language())


def _signed_in_requester() -> req.Requester | None:
    who = principal()
    if who.user is None:
        return session_requester() if who.kind == "anonymous" else None
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
    query = (request.values.get("q") or "").strip()[:MAX_QUERY]
    item = _chosen_item(chosen)
    return render_template(
        "help/form.html", services=services, chosen=chosen, requester=requester, token=token,
        known=known_problems(chosen) if chosen else None, mine=mine, types=REQUEST_TYPES,
        form=request.form, query=query, language=_language(),
        suggested=suggestions(query, chosen, _language()) if query else [],
        items=list_items(s, chosen) if chosen else [], item=item,
        item_articles=articles_for_item(s, item.id) if item else [], **extra), status


def _chosen_item(service: str) -> CatalogItem | None:
    """The catalog item picked (``?item=`` in the first step, or the form's), if it is one of
    ``service``'s active items; anything else means "other"."""
    wanted = request.values.get("catalog_item") or request.values.get("item") or ""
    if not wanted.isdigit() or not service:
        return None
    try:
        return item_for_request(db_session(), wanted, service)
    except (CatalogItemMissing, ValidationError):
        return None


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
        wanted = form.get("catalog_item", "")
        item = item_for_request(s, wanted, form.get("service") or None) \
            if wanted and wanted != "other" else None
        row = req.create_request(
            s, settings(), requester.email, requester, service=form.get("service"),
            subject=form.get("subject", ""), description=form.get("description"),
            category=form.get("category", ""), request_type=form.get("type", "fault"),
            urgency=form.get("urgency", "2"), impact=3, channel="web", now=utcnow(),
            catalog_item=item, fields=item_fields(form))
        upload = request.files.get("attachment")
        if upload is not None and upload.filename:
            from dutydesk.requests.attachments import MAX_FILE_BYTES, add_attachment

            add_attachment(s, row.id, upload.filename, upload.read(MAX_FILE_BYTES + 1),
                           source="web", actor=requester.email, now=utcnow())
        s.commit()
    except (RequestInputError, LifecycleError, req.IncidentMissing, ValidationError,
            CatalogItemMissing) as exc:
        s.rollback()
        return _page(requester, token, 400, error=str(exc))
    flash(gettext("Request %(number)s is registered; we sent you a confirmation.",
                  number=row.number), "ok")
    return _back(token)


@bp.route("/my/<token>/<int:request_id>/files/<int:attachment_id>")
def my_request_file(token: str, request_id: int, attachment_id: int) -> Any:
    """A file the requester sent on one of their own requests (their signed link), as a
    download; the desk's files stay internal like its notes."""
    from dutydesk.requests.attachments import attachment
    from dutydesk.web.requests_desk import attachment_download

    requester = _token_requester(token)
    s = db_session()
    row = s.get(ServiceRequest, request_id) if max(request_id, attachment_id) < 2**63 else None
    if row is None or row.requester_email != requester.email.lower():
        abort(404)
    file = attachment(s, row.id, attachment_id)
    if file is None or file.added_by != row.requester_email:
        abort(404)
    return attachment_download(file)


@bp.route("/my/<token>/<int:request_id>", methods=["GET", "POST"])
def my_request(token: str, request_id: int) -> Any:
    return _request_page(_token_requester(token), token, request_id)


@bp.route("/mine/<int:request_id>", methods=["GET", "POST"])
def mine(request_id: int) -> Any:
    """One of the signed-in person's own requests (no link needed)."""
    requester = _signed_in_requester()
    if requester is None:
        return redirect(url_for("auth.login", next=request.path))
    return _request_page(requester, None, request_id)


def _request_page(requester: req.Requester, token: str | None, request_id: int) -> Any:
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
            if token is None:
                return redirect(url_for("help.mine", request_id=row.id))
            return redirect(url_for("help.my_request", token=token, request_id=row.id))
        except (RequestInputError, LifecycleError, RequestNotFound) as exc:
            s.rollback()
            error = str(exc)
    from dutydesk.requests.store import timeline

    public = [e for e in timeline(s, row.id)
              if e.kind.value in ("created", "replied", "requester_replied", "resolved",
                                  "closed", "incident_update", "waiting")]
    from dutydesk.requests.attachments import attachments_of

    files = [f for f in attachments_of(s, row.id) if f.added_by == row.requester_email]
    return render_template("help/request.html", row=row, token=token, events=public,
                           files=files, error=error), 400 if error else 200


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
