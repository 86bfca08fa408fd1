"""The first line's screens: the queue (``/requests``), a request (reply, note, state changes,
hand-over, link to an incident) and the keyboard-first "log a call" form for phone and walk-in.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from sqlalchemy import select

from dutydesk.context import db_session, principal, require_role, settings
from dutydesk.core.db import utcnow
from dutydesk.core.models.accounts import User
from dutydesk.core.validation import ValidationError
from dutydesk.i18n import current_language
from dutydesk.incidents.lifecycle import LifecycleError
from dutydesk.incidents.lookup import open_incidents_for_service
from dutydesk.incidents.service import render_note
from dutydesk.models import Role
from dutydesk.pagination import PaginationError, parse_page_args
from dutydesk.requests import service as req
from dutydesk.requests.attachments import (
    MAX_FILE_BYTES,
    AttachmentRefused,
    add_attachment,
    attachment,
    attachments_of,
)
from dutydesk.requests.catalog import approval
from dutydesk.requests.catalog.store import (
    CatalogItemMissing,
    get_item,
    item_for_request,
    list_items,
)
from dutydesk.requests.kb.store import ArticleMissing, search_articles
from dutydesk.requests.kb.use import resolve_with_article
from dutydesk.requests.lifecycle import Action
from dutydesk.requests.models import CHANNELS, REQUEST_TYPES, RequestAttachment, ServiceRequest
from dutydesk.requests.queue import QueueFilters, entry_for, queue
from dutydesk.requests.ratings import rating_of
from dutydesk.requests.rules import RequestInputError
from dutydesk.requests.store import RequestNotFound, get_request, timeline
from shifts.notices.storage import load_services

bp = Blueprint("requests", __name__)

FORM_ACTIONS = {  # the request page's buttons → lifecycle action and the form fields it takes
    "start": (Action.START, ()),
    "reply": (Action.REPLY, ("text",)),
    "note": (Action.NOTE, ("text",)),
    "wait": (Action.WAIT, ("reason",)),
    "resume": (Action.RESUME, ()),
    "resolve": (Action.RESOLVE, ("note",)),
    "reopen": (Action.REOPEN, ("reason",)),
    "reassign": (Action.REASSIGN, ("line", "assignee", "reason")),
    "change_priority": (Action.CHANGE_PRIORITY, ("priority", "reason")),
    "link": (Action.LINK, ("incident_id",)),
    "unlink": (Action.UNLINK, ()),
}


@bp.route("/requests")
@require_role(Role.ENGINEER)
def request_queue() -> Any:
    try:
        filters = QueueFilters.from_args(request.args)
        page, per_page = parse_page_args(request.args, default_per_page=50, max_per_page=200)
    except (RequestInputError, PaginationError) as exc:
        abort(400, str(exc))
    entries, total = queue(db_session(), filters, utcnow(), page, per_page)
    pages = max(1, -(-total // per_page))
    return render_template("requests/queue.html", entries=entries, total=total, page=page,
                           pages=pages, per_page=per_page, filters=filters,
                           services=load_services(db_session())[1])


@bp.route("/requests/<int:request_id>", methods=["GET", "POST"])
@require_role(Role.ENGINEER)
def request_detail(request_id: int) -> Any:
    s = db_session()
    try:
        row = get_request(s, request_id)
    except RequestNotFound:
        abort(404)
    error = None
    if request.method == "POST":
        name = request.form.get("action", "")
        if name not in FORM_ACTIONS and name not in ("resolve_with_article", "approve",
                                                     "reject"):
            abort(400, gettext("Unknown action."))
        version = request.form.get("version", "")
        expected = int(version) if version.isdigit() else None
        try:
            if name in ("approve", "reject"):
                approval.decide(s, settings(), principal(), row.id, utcnow(),
                                approve=name == "approve",
                                reason=request.form.get("approval_reason", ""))
            elif name == "resolve_with_article":
                resolve_with_article(s, settings(), principal(), row.id,
                                     request.form.get("article_id", ""), utcnow(),
                                     expected_version=expected)
            else:
                action, names = FORM_ACTIONS[name]
                fields = {n: request.form[n] for n in names if request.form.get(n, "").strip()}
                req.perform(s, settings(), principal(), row.id, action, utcnow(),
                            expected_version=expected, **fields)
            s.commit()
            flash(gettext("Saved."), "ok")
            return redirect(url_for("requests.request_detail", request_id=row.id))
        except ArticleMissing:
            s.rollback()
            error = gettext("Choose an article to resolve with.")
        except approval.NotTheApprover:
            s.rollback()
            abort(403)
        except (RequestInputError, LifecycleError, req.IncidentMissing, ValidationError) as exc:
            s.rollback()
            error = str(exc)
        row = get_request(s, request_id)
    events = timeline(s, row.id)
    entry = entry_for(row, events, utcnow())
    incidents = open_incidents_for_service(s, row.service)
    others = [i for i in open_incidents_for_service(s, None, limit=20) if i not in incidents]
    kb_query = request.args.get("kb", "").strip()[:300]
    articles = search_articles(s, kb_query or row.subject, language=row.requester_language,
                               public_only=True, service=row.service, limit=5) \
        if row.status in ("new", "in_progress", "waiting") else []
    return render_template("requests/detail.html", row=row, events=events, entry=entry,
                           incidents=incidents, other_incidents=others, error=error,
                           render_note=render_note, files=attachments_of(s, row.id),
                           max_upload=current_app.config["MAX_CONTENT_LENGTH"],
                           articles=articles, kb_query=kb_query,
                           item=_item(row), approver=approval.approver_role(s, row),
                           rating=rating_of(s, row.id)
                           ), 400 if error else 200


def attachment_download(row: RequestAttachment) -> Response:
    """A stored file as a download only: its sniffed type, ``attachment`` disposition,
    ``nosniff`` and a sandboxing CSP, never cached by a shared cache."""
    response = Response(row.data, mimetype=row.content_type)
    ascii_name = row.filename.encode("ascii", "replace").decode().replace("?", "_")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(row.filename)}')
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/requests/<int:request_id>/attachments", methods=["POST"])
@require_role(Role.ENGINEER)
def request_attach(request_id: int) -> Any:
    s = db_session()
    try:
        row = get_request(s, request_id)
    except RequestNotFound:
        abort(404)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        abort(400, gettext("Choose a file to attach."))
    try:
        add_attachment(s, row.id, upload.filename, upload.read(MAX_FILE_BYTES + 1),
                       source="web", actor=principal().label, now=utcnow())
        s.commit()
    except AttachmentRefused as exc:
        s.rollback()
        abort(400, str(exc))
    flash(gettext("File attached."), "ok")
    return redirect(url_for("requests.request_detail", request_id=row.id))


@bp.route("/requests/<int:request_id>/attachments/<int:attachment_id>")
@require_role(Role.ENGINEER)
def request_attachment(request_id: int, attachment_id: int) -> Any:
    if max(request_id, attachment_id) >= 2**63:
        abort(404)
    row = attachment(db_session(), request_id, attachment_id)
    if row is None:
        abort(404)
    return attachment_download(row)


def _item(row: ServiceRequest) -> Any:
    """The catalog item the request was written for (``None``: "other")."""
    if row.catalog_item_id is None:
        return None
    try:
        return get_item(db_session(), row.catalog_item_id)
    except CatalogItemMissing:
        return None


@bp.route("/requests/new", methods=["GET", "POST"])
@require_role(Role.ENGINEER)
def log_call() -> Any:
    s = db_session()
    form = request.form if request.method == "POST" else request.args
    error = None
    item = _form_item(form)
    if request.method == "POST":
        incident = form.get("incident", "")
        try:
            if form.get("catalog_item", "") not in ("", "other") and item is None:
                raise ValidationError("catalog_item", gettext(
                    "Choose an item of this service's catalog, or 'other'."))
            row = req.create_request(
                s, settings(), principal(),
                req.Requester(form.get("email", ""), form.get("name", ""),
                              form.get("language", "en")),
                service=form.get("service"), subject=form.get("subject", ""),
                description=form.get("description"), category=form.get("category", ""),
                request_type=form.get("type", "fault"), channel=form.get("channel", "phone"),
                impact=form.get("impact", "3"), urgency=form.get("urgency", "2"),
                incident_id=int(incident) if incident.isdigit() else None, now=utcnow(),
                catalog_item=item, fields=item_fields(form))
            s.commit()
            flash(gettext("Request %(number)s is registered.", number=row.number), "ok")
            return redirect(url_for("requests.request_detail", request_id=row.id))
        except (RequestInputError, LifecycleError, req.IncidentMissing, ValidationError) as exc:
            s.rollback()
            error = str(exc)
    service = form.get("service", "")
    people = list(s.scalars(select(User).where(User.active).order_by(User.name).limit(500)))
    recent = list(s.scalars(select(ServiceRequest.requester_email).distinct().limit(500)))
    return render_template(
        "requests/new.html", form=form, error=error, services=load_services(s)[1],
        incidents=open_incidents_for_service(s, service) if service else [],
        people=people, recent=recent, channels=[c for c in CHANNELS if c != "client_api"],
        types=REQUEST_TYPES, items=list_items(s, service or None), item=item,
        language=current_language()), 400 if error else 200


def item_fields(form: Any) -> dict[str, str]:
    """A catalog item's form fields from a form: inputs named ``field_<name>`` (so an item's
    field can never clash with the form's own inputs)."""
    return {k.removeprefix("field_"): v for k, v in form.items() if k.startswith("field_")}


def _form_item(form: Any) -> Any:
    """The active catalog item of the chosen service picked on "log a call", if any."""
    wanted = form.get("catalog_item", "")
    if not wanted.isdigit():
        return None
    try:
        return item_for_request(db_session(), wanted, form.get("service") or None)
    except (CatalogItemMissing, ValidationError):
        return None


@bp.route("/incidents/<int:incident_id>/people-affected", methods=["POST"])
@require_role(Role.ENGINEER)
def incident_people_update(incident_id: int) -> Any:
    """A public update on an incident, mailed to everyone affected (each address once)."""
    s = db_session()
    now = utcnow()
    try:
        sent = req.notify_incident_update(s, settings(), incident_id,
                                          request.form.get("text", ""),
                                          f"{now:%Y%m%dT%H%M%S%f}", now, principal())
    except req.IncidentMissing:
        abort(404)
    except RequestInputError as exc:
        s.rollback()
        flash(gettext("Not sent: %(message)s", message=str(exc)), "error")
        return redirect(url_for("incidents.incident_detail", incident_id=incident_id))
    s.commit()
    flash(gettext("Update sent to %(count)d people.", count=sent), "success")
    return redirect(url_for("incidents.incident_detail", incident_id=incident_id))
