"""Visitor desk screens: search as you type, check in, badge slip, check out, on site, requests.

Every screen shows visitor personal data, so every route needs the engineer role or higher
(a viewer gets 403); managing clients and authorised lists needs shift_lead. The rules live in
``shifts.visitors``; views parse the form, call ``shifts.visitors.service`` and show the rule
code and reason of any refusal.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from dutydesk.context import db_session, principal, require_role, settings
from dutydesk.db import utcnow
from dutydesk.i18n import user_zone
from dutydesk.models import Role
from dutydesk.models.visitors import AccessRequestRow, AuthorisedPersonRow, VisitorClient, VisitRow
from dutydesk.pagination import PaginationError, paginate, parse_page_args
from dutydesk.web.forms import checkbox
from shifts.visitors import rows as R
from shifts.visitors import service as svc
from shifts.visitors.checkin import CheckInAttempt
from shifts.visitors.model import SitePolicy, VisitorDataError

bp = Blueprint("visitors", __name__, url_prefix="/visitors")


def site_policy() -> SitePolicy:
    current = settings()
    try:
        return svc.policies_from_settings(current.extra.get("visitors"), current.timezone)[0]
    except svc.VisitorInputError as exc:
        abort(500, str(exc))


def parse_local_datetime(value: str | None, field: str) -> datetime | None:
    """A ``datetime-local`` value typed in the viewer's zone, as aware UTC (None if empty)."""
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise svc.VisitorInputError(field, f"expected YYYY-MM-DDTHH:MM, got {value!r}") from None
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=user_zone()).astimezone(UTC)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _refusal(code: str, reason: str) -> None:
    flash(_("Refused by rule %(code)s: %(reason)s", code=code, reason=reason), "error")


def _input_error(exc: svc.VisitorInputError | VisitorDataError) -> None:
    flash(_("Not saved: %(message)s", message=str(exc)), "error")


# --- the desk -----------------------------------------------------------------------------


def _matches(text: str) -> list[dict[str, Any]]:
    """People matching ``text``: authorised-list entries and people on today's requests."""
    s = db_session()
    now = utcnow()
    clients = dict(s.execute(select(VisitorClient.id, VisitorClient.name)).all())
    found: list[dict[str, Any]] = []
    for p in R.person_search(s, text):
        found.append(
            {
                "kind": "person",
                "id": p.id,
                "name": p.name,
                "client_id": p.client_id,
                "client": clients.get(p.client_id, ""),
                "areas": "; ".join(p.scope or []),
                "id_number": p.id_number_masked,
                "url": url_for("visitors.desk", person=p.id),
            }
        )
    start, end = now - timedelta(hours=12), now + timedelta(hours=12)
    for req, name in R.request_person_search(s, text, start, end):
        found.append(
            {
                "kind": "request",
                "id": req.id,
                "name": name,
                "client_id": req.client_id,
                "client": clients.get(req.client_id, ""),
                "areas": "; ".join(req.areas or []),
                "id_number": "",
                "url": url_for("visitors.desk", request_id=req.id, name=name),
            }
        )
    return found


@bp.route("/")
@require_role(Role.ENGINEER)
def desk() -> Any:
    s = db_session()
    now = utcnow()
    policy = site_policy()
    q = request.args.get("q", "").strip()
    prefill: dict[str, Any] = {
        "client_id": None,
        "name": "",
        "areas": "",
        "person": None,
        "request_id": None,
    }
    person_id, request_id = _int(request.args.get("person")), _int(request.args.get("request_id"))
    if person_id is not None and (p := s.get(AuthorisedPersonRow, person_id)) is not None:
        prefill.update(
            client_id=p.client_id, name=p.name, areas="; ".join(p.scope or []), person=p.id
        )
    elif request_id is not None and (r := s.get(AccessRequestRow, request_id)) is not None:
        prefill.update(
            client_id=r.client_id,
            name=request.args.get("name", ""),
            areas="; ".join(r.areas or []),
            request_id=r.id,
        )
    on_site = svc.on_site_now(s, now)
    return render_template(
        "visitors/desk.html",
        q=q,
        matches=_matches(q) if q else [],
        prefill=prefill,
        clients=list(
            s.scalars(
                select(VisitorClient).where(VisitorClient.active).order_by(VisitorClient.name)
            )
        ),
        on_site=on_site,
        expected=[e for e in svc.expected_now(s, now, policy) if not e.arrived],
        overstays=svc.overstays_now(s, now),
        policy=policy,
    )


@bp.route("/search.json")
@require_role(Role.ENGINEER)
def search_json() -> Any:
    """As-you-type search for the desk (JSON list of matches)."""
    q = request.args.get("q", "").strip()
    return jsonify(items=_matches(q) if len(q) >= 2 else [])


@bp.route("/check-in", methods=["POST"])
@require_role(Role.ENGINEER)
def check_in() -> Any:
    s = db_session()
    form = request.form
    client_id = _int(form.get("client_id"))
    back = redirect(url_for("visitors.desk"))
    if client_id is None:
        flash(_("Not saved: choose the client the visitor comes for."), "error")
        return back
    try:
        escort_visit_id = _int(form.get("escort_visit_id"))
        attempt = CheckInAttempt(
            name_on_id=form.get("name_on_id", "").strip(),
            id_checked_by=principal().label if checkbox(form, "id_checked") else None,
            areas=tuple(a for a in form.get("areas", "").replace(",", ";").split(";") if a.strip()),
            badge_number=form.get("badge_number", "").strip() or None,
            nda_signed=checkbox(form, "nda_signed"),
            safety_form_signed=checkbox(form, "safety_form_signed"),
            authorised_person_id=_int(form.get("authorised_person_id")),
            request_id=_int(form.get("request_id")),
            escort_visit_id=escort_visit_id,
            escort_staff=None
            if escort_visit_id
            else (form.get("escort_staff", "").strip() or None),
            expected_checkout_at=parse_local_datetime(
                form.get("expected_checkout"), "expected_checkout"
            ),
            purpose=form.get("purpose", "").strip(),
        )
        outcome = svc.check_in(
            s, principal(), client_id=client_id, attempt=attempt, policy=site_policy(), now=utcnow()
        )
    except (svc.VisitorInputError, VisitorDataError, ValueError) as exc:
        s.rollback()
        flash(_("Not saved: %(message)s", message=str(exc)), "error")
        return back
    except svc.VisitorNotFound as exc:
        s.rollback()
        abort(404, str(exc))
    s.commit()
    decision = outcome.decision
    if decision.allowed and outcome.row is not None:
        flash(_("Checked in: %(reason)s", reason=decision.reason), "ok")
        return redirect(url_for("visitors.badge", visit_id=outcome.row.id))
    _refusal(decision.code.value, decision.reason)
    if outcome.row is not None:
        flash(_("Recorded as a denied visit (#%(id)s).", id=outcome.row.id), "error")
    return back


def _visit_or_404(visit_id: int) -> VisitRow:
    row = db_session().get(VisitRow, visit_id)
    if row is None or row.anonymised:
        abort(404, _("No such visit."))
    return row


@bp.route("/visits/<int:visit_id>")
@require_role(Role.ENGINEER)
def visit(visit_id: int) -> Any:
    s = db_session()
    row = _visit_or_404(visit_id)
    return render_template(
        "visitors/visit.html",
        visit=row,
        client=s.get(VisitorClient, row.client_id),
        escort=s.get(VisitRow, row.escort_visit_id) if row.escort_visit_id else None,
        movements=svc.movements_of(s, row.id),
    )


@bp.route("/visits/<int:visit_id>/badge")
@require_role(Role.ENGINEER)
def badge(visit_id: int) -> Any:
    row = _visit_or_404(visit_id)
    if row.status not in ("on_site", "left"):
        abort(404, _("This visit has no badge."))
    return render_template(
        "visitors/badge.html", visit=row, client=db_session().get(VisitorClient, row.client_id)
    )


@bp.route("/visits/<int:visit_id>/check-out", methods=["POST"])
@require_role(Role.ENGINEER)
def check_out(visit_id: int) -> Any:
    s = db_session()
    _visit_or_404(visit_id)
    lost = request.form.get("badge") == "lost"
    decision = svc.check_out(
        s,
        principal(),
        visit_id,
        badge_returned=request.form.get("badge") == "returned",
        badge_lost_recorded_by=principal().label if lost else None,
        now=utcnow(),
    )
    if not decision.allowed:
        s.rollback()
        _refusal(decision.code.value, decision.reason)
        return redirect(request.form.get("next") or url_for("visitors.visit", visit_id=visit_id))
    s.commit()
    flash(decision.reason, "ok")
    return redirect(request.form.get("next") or url_for("visitors.desk"))


@bp.route("/visits/<int:visit_id>/equipment", methods=["POST"])
@require_role(Role.ENGINEER)
def equipment(visit_id: int) -> Any:
    s = db_session()
    form = request.form
    try:
        decision, _row = svc.record_equipment(
            s,
            principal(),
            visit_id,
            direction=form.get("direction", ""),
            description=form.get("description", ""),
            serial=form.get("serial"),
            removal_approved_by=principal().label if checkbox(form, "approve_removal") else None,
            now=utcnow(),
        )
    except svc.VisitorInputError as exc:
        s.rollback()
        _input_error(exc)
        return redirect(url_for("visitors.visit", visit_id=visit_id))
    except svc.VisitorNotFound as exc:
        abort(404, str(exc))
    if decision.allowed:
        s.commit()
        flash(decision.reason, "ok")
    else:
        s.rollback()
        _refusal(decision.code.value, decision.reason)
    return redirect(url_for("visitors.visit", visit_id=visit_id))


@bp.route("/on-site")
@require_role(Role.ENGINEER)
def on_site() -> Any:
    """The evacuation list: everyone inside now, with time inside (printable)."""
    s = db_session()
    now = utcnow()
    clients = dict(s.execute(select(VisitorClient.id, VisitorClient.name)).all())
    return render_template(
        "visitors/onsite.html",
        on_site=svc.on_site_now(s, now),
        overstays={o.visit.id: o for o in svc.overstays_now(s, now)},
        clients=clients,
        now=now,
    )


# --- clients and authorised persons -------------------------------------------------------


@bp.route("/clients", methods=["GET", "POST"])
@require_role(Role.ENGINEER)
def clients() -> Any:
    s = db_session()
    if request.method == "POST":
        if not principal().can(Role.SHIFT_LEAD):
            abort(403, _("Managing clients needs the shift_lead role or higher."))
        form = request.form
        contacts = []
        if form.get("contact_name", "").strip():
            contacts.append(
                {
                    "name": form["contact_name"],
                    "email": form.get("contact_email", ""),
                    "phone": form.get("contact_phone", ""),
                    "primary": True,
                }
            )
        try:
            client = svc.create_client(s, principal(), name=form.get("name", ""), contacts=contacts)
        except svc.VisitorInputError as exc:
            s.rollback()
            _input_error(exc)
            return redirect(url_for("visitors.clients"))
        s.commit()
        flash(_("Client %(name)s created.", name=client.name), "ok")
        return redirect(url_for("visitors.client", client_id=client.id))
    rows = list(
        s.scalars(select(VisitorClient).order_by(VisitorClient.active.desc(), VisitorClient.name))
    )
    return render_template(
        "visitors/clients.html", clients=rows, can_manage=principal().can(Role.SHIFT_LEAD)
    )


@bp.route("/clients/<int:client_id>", methods=["GET", "POST"])
@require_role(Role.ENGINEER)
def client(client_id: int) -> Any:
    s = db_session()
    row = s.get(VisitorClient, client_id) or abort(404, _("No such client."))
    if request.method == "POST":
        if not principal().can(Role.SHIFT_LEAD):
            abort(403, _("Managing authorised persons needs the shift_lead role or higher."))
        form = request.form
        try:
            action = form.get("action", "add_person")
            if action == "add_person":
                briefing = form.get("safety_briefing_on") or None
                svc.add_authorised_person(
                    s,
                    principal(),
                    client_id=row.id,
                    name=form.get("name", ""),
                    id_document_type=form.get("id_document_type", "passport"),
                    id_number=form.get("id_number", ""),
                    scope=form.get("scope", ""),
                    valid_from=parse_local_datetime(form.get("valid_from"), "valid_from")
                    or utcnow(),
                    valid_until=parse_local_datetime(form.get("valid_until"), "valid_until"),
                    may_bring_guests=checkbox(form, "may_bring_guests"),
                    guest_limit=_int(form.get("guest_limit")) or 0,
                    may_remove_equipment=checkbox(form, "may_remove_equipment"),
                    safety_briefing_on=(
                        datetime.fromisoformat(briefing).date() if briefing else None
                    ),
                )
            elif action == "add_contact":
                svc.add_contact(
                    s,
                    principal(),
                    row,
                    name=form.get("name", ""),
                    email=form.get("email", ""),
                    phone=form.get("phone", ""),
                )
            elif action in ("deactivate_person", "activate_person"):
                svc.set_person_active(
                    s,
                    principal(),
                    _int(form.get("person_id")) or 0,
                    action == "activate_person",
                    now=utcnow(),
                )
            elif action in ("deactivate_client", "activate_client"):
                svc.set_client_active(s, principal(), row.id, action == "activate_client")
        except (svc.VisitorInputError, ValueError) as exc:
            s.rollback()
            flash(_("Not saved: %(message)s", message=str(exc)), "error")
            return redirect(url_for("visitors.client", client_id=row.id))
        except svc.VisitorNotFound as exc:
            s.rollback()
            abort(404, str(exc))
        s.commit()
        flash(_("Saved."), "ok")
        return redirect(url_for("visitors.client", client_id=row.id))
    persons = list(
        s.scalars(
            select(AuthorisedPersonRow)
            .where(AuthorisedPersonRow.client_id == row.id)
            .order_by(AuthorisedPersonRow.active.desc(), AuthorisedPersonRow.name)
        )
    )
    return render_template(
        "visitors/client.html",
        client=row,
        persons=persons,
        can_manage=principal().can(Role.SHIFT_LEAD),
    )


# --- access requests ----------------------------------------------------------------------


@bp.route("/requests", methods=["GET", "POST"])
@require_role(Role.ENGINEER)
def requests() -> Any:
    s = db_session()
    if request.method == "POST":
        form = request.form
        try:
            req = svc.create_request(
                s,
                principal(),
                client_id=_int(form.get("client_id")) or 0,
                people=form.get("people", "").replace(";", "\n").splitlines(),
                window_start=parse_local_datetime(form.get("window_start"), "window_start")
                or _missing("window_start"),
                window_end=parse_local_datetime(form.get("window_end"), "window_end")
                or _missing("window_end"),
                areas=form.get("areas", ""),
                purpose=form.get("purpose", ""),
                racks=form.get("racks", ""),
                vehicle_plate=form.get("vehicle_plate"),
                requested_by=form.get("requested_by", ""),
                now=utcnow(),
            )
        except (svc.VisitorInputError, svc.VisitorNotFound) as exc:
            s.rollback()
            flash(_("Not saved: %(message)s", message=str(exc)), "error")
            return redirect(url_for("visitors.requests"))
        s.commit()
        flash(_("Access request #%(id)s created; it waits for approval.", id=req.id), "ok")
        return redirect(url_for("visitors.requests"))
    now = utcnow()
    rows = list(
        s.scalars(
            select(AccessRequestRow)
            .where(
                AccessRequestRow.anonymised.is_(False),
                AccessRequestRow.window_end > now - timedelta(days=7),
            )
            .order_by(AccessRequestRow.window_start)
        )
    )
    clients_ = list(s.scalars(select(VisitorClient).order_by(VisitorClient.name)))
    return render_template(
        "visitors/requests.html",
        requests=rows,
        clients=clients_,
        client_names={c.id: c.name for c in clients_},
    )


def _missing(field: str) -> datetime:
    raise svc.VisitorInputError(field, "is required")


@bp.route("/requests/<int:request_id>/decide", methods=["POST"])
@require_role(Role.ENGINEER)
def decide(request_id: int) -> Any:
    s = db_session()
    approve = request.form.get("decision") == "approve"
    try:
        svc.decide_request(
            s,
            principal(),
            request_id,
            approve=approve,
            note=request.form.get("note", ""),
            now=utcnow(),
        )
    except svc.VisitorInputError as exc:
        s.rollback()
        _input_error(exc)
        return redirect(url_for("visitors.requests"))
    except svc.VisitorNotFound as exc:
        abort(404, str(exc))
    s.commit()
    flash(
        _("Request #%(id)s approved.", id=request_id)
        if approve
        else _("Request #%(id)s rejected.", id=request_id),
        "ok",
    )
    return redirect(url_for("visitors.requests"))


# --- the visit log ------------------------------------------------------------------------


def log_query() -> tuple[Any, dict[str, str]]:
    """The log's SELECT from the query string (shared by the page and its CSV)."""
    args = request.args
    filters = {
        k: args.get(k, "").strip()
        for k in ("person", "client_id", "badge", "status", "since", "until")
    }
    try:
        since = parse_local_datetime(
            filters["since"] + "T00:00" if filters["since"] else None, "since"
        )
        until = parse_local_datetime(
            filters["until"] + "T00:00" if filters["until"] else None, "until"
        )
    except svc.VisitorInputError as exc:
        abort(400, str(exc))
    query = R.visit_search(
        person=filters["person"] or None,
        client_id=_int(filters["client_id"]),
        badge=filters["badge"] or None,
        status=filters["status"] or None,
        since=since,
        until=until + timedelta(days=1) if until else None,
    )
    return query, filters


@bp.route("/log")
@require_role(Role.ENGINEER)
def log() -> Any:
    s = db_session()
    query, filters = log_query()
    try:
        page_no, per_page = parse_page_args(request.args, default_per_page=100)
    except PaginationError as exc:
        abort(400, str(exc))
    page = paginate(s, query, page_no, per_page)
    return render_template(
        "visitors/log.html",
        page=page,
        rows=svc.csv_rows(s, page.items),
        columns=svc.CSV_COLUMNS,
        filters=filters,
        clients=list(s.scalars(select(VisitorClient).order_by(VisitorClient.name))),
    )


@bp.route("/log.csv")
@require_role(Role.ENGINEER)
def log_csv() -> Any:
    s = db_session()
    query, _filters = log_query()
    body = svc.export_csv(s, s.scalars(query))
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="visits-{stamp}.csv"'},
    )
