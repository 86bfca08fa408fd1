"""Visitor administration screens: clients, contacts, authorised persons, access requests.

Reading needs the engineer role; creating clients and managing authorised lists needs
shift_lead. Access requests are entered and decided by engineers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from dutydesk.context import db_session, principal, require_role
from dutydesk.core.db import utcnow
from dutydesk.labels import label
from dutydesk.models import Role
from dutydesk.web.forms import checkbox
from dutydesk.web.site_select import site_choices, site_from
from shifts.visitors import service as svc
from shifts.visitors.orm import AccessRequestRow, AuthorisedPersonRow, VisitorClient

from .visitors_common import (
    bp,
    desk_site,
    input_error,
    int_or_none,
    missing,
    parse_local_datetime,
    site_policy,
)


@bp.route("/clients", methods=["GET", "POST"])
@require_role(Role.ENGINEER)
def clients() -> Any:
    s = db_session()
    if request.method == "POST":
        if not principal().can(Role.SHIFT_LEAD):
            abort(403, _("Managing clients needs the %(role)s role or higher.",
                         role=label(Role.SHIFT_LEAD, "role")))
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
            client = svc.create_client(s, principal(), name=form.get("name", ""), contacts=contacts,
                                       escort_required=checkbox(form, "escort_required"))
        except svc.VisitorInputError as exc:
            s.rollback()
            input_error(exc)
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
            abort(403, _("Managing authorised persons needs the %(role)s role or higher.",
                         role=label(Role.SHIFT_LEAD, "role")))
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
                    guest_limit=int_or_none(form.get("guest_limit")) or 0,
                    may_remove_equipment=checkbox(form, "may_remove_equipment"),
                    escort_required=checkbox(form, "escort_required"),
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
                    int_or_none(form.get("person_id")) or 0,
                    action == "activate_person",
                    now=utcnow(),
                )
            elif action in ("deactivate_client", "activate_client"):
                svc.set_client_active(s, principal(), row.id, action == "activate_client")
            elif action in ("escort_client", "unescort_client"):
                svc.set_escort_required(s, principal(), client_id=row.id,
                                        required=action == "escort_client")
            elif action in ("escort_person", "unescort_person"):
                person_id = int_or_none(form.get("person_id")) or 0
                person = s.get(AuthorisedPersonRow, person_id) if 0 < person_id < 2**31 else None
                if person is None or person.client_id != row.id:
                    abort(404, _("No such authorised person."))
                svc.set_escort_required(s, principal(), person_id=person.id,
                                        required=action == "escort_person")
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
        site = site_from(form.get("site")) or desk_site()
        try:
            req = svc.create_request(
                s,
                principal(),
                client_id=int_or_none(form.get("client_id")) or 0,
                people=form.get("people", "").replace(";", "\n").splitlines(),
                window_start=parse_local_datetime(form.get("window_start"), "window_start")
                or missing("window_start"),
                window_end=parse_local_datetime(form.get("window_end"), "window_end")
                or missing("window_end"),
                areas=form.get("areas", ""),
                purpose=form.get("purpose", ""),
                racks=form.get("racks", ""),
                vehicle_plate=form.get("vehicle_plate"),
                requested_by=form.get("requested_by", ""),
                now=utcnow(),
                site_id=site.id,
            )
        except (svc.VisitorInputError, svc.VisitorNotFound) as exc:
            s.rollback()
            flash(_("Not saved: %(message)s", message=str(exc)), "error")
            return redirect(url_for("visitors.requests", site=site.slug))
        s.commit()
        flash(_("Access request #%(id)s created; it waits for approval.", id=req.id), "ok")
        return redirect(url_for("visitors.requests", site=site.slug))
    now = utcnow()
    site = desk_site()
    rows = list(
        s.scalars(
            select(AccessRequestRow)
            .where(
                AccessRequestRow.anonymised.is_(False),
                AccessRequestRow.site_id == site.id,
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
        own={r.id for r in rows if not svc.may_approve(principal(), r, site_policy())},
        site=site,
        sites=site_choices(),
    )


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
            policy=site_policy(),
        )
    except svc.VisitorInputError as exc:
        s.rollback()
        input_error(exc)
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
