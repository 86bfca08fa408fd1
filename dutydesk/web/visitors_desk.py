"""Visitor desk screens: search as you type, check in, badge slip, visit, check out, on site.

The rules live in ``shifts.visitors``; views parse the form, call ``shifts.visitors.service``
and show the rule code and reason of any refusal.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from dutydesk.context import db_session, principal, require_role
from dutydesk.core.db import utcnow
from dutydesk.models import Role
from dutydesk.web.forms import checkbox
from dutydesk.web.site_select import site_choices, site_from
from shifts.visitors import rows as R
from shifts.visitors import service as svc
from shifts.visitors.checkin import CheckInAttempt
from shifts.visitors.model import VisitorDataError
from shifts.visitors.orm import AccessRequestRow, AuthorisedPersonRow, VisitorClient, VisitRow

from .visitors_common import (
    bp,
    desk_site,
    input_error,
    int_or_none,
    parse_local_datetime,
    refusal,
    site_policy,
    visit_or_404,
)


def _matches(text: str, site_id: int) -> list[dict[str, Any]]:
    """People matching ``text``: authorised-list entries and people on today's requests for
    the desk's site."""
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
    for req, name in R.request_person_search(s, text, start, end, site_id=site_id):
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
    site = desk_site()
    q = request.args.get("q", "").strip()
    prefill: dict[str, Any] = {
        "client_id": None,
        "name": "",
        "areas": "",
        "person": None,
        "request_id": None,
        "escort_required": False,
    }
    # ids beyond storage (typed or fuzzed) name nobody
    person_id, request_id = (
        i if i is not None and 0 < i < 2**31 else None
        for i in (int_or_none(request.args.get("person")),
                  int_or_none(request.args.get("request_id")))
    )
    if person_id is not None and (p := s.get(AuthorisedPersonRow, person_id)) is not None:
        client_row = s.get(VisitorClient, p.client_id)
        prefill.update(
            client_id=p.client_id, name=p.name, areas="; ".join(p.scope or []), person=p.id,
            escort_required=p.escort_required or bool(client_row and client_row.escort_required),
        )
    elif request_id is not None and (r := s.get(AccessRequestRow, request_id)) is not None:
        client_row = s.get(VisitorClient, r.client_id)
        prefill["escort_required"] = bool(client_row and client_row.escort_required)
        prefill.update(
            client_id=r.client_id,
            name=request.args.get("name", ""),
            areas="; ".join(r.areas or []),
            request_id=r.id,
        )
    on_site = svc.on_site_now(s, now, site.id)
    return render_template(
        "visitors/desk.html",
        q=q,
        matches=_matches(q, site.id) if q else [],
        prefill=prefill,
        clients=list(
            s.scalars(
                select(VisitorClient).where(VisitorClient.active).order_by(VisitorClient.name)
            )
        ),
        on_site=on_site,
        expected=[e for e in svc.expected_now(s, now, policy, site.id) if not e.arrived],
        overstays=svc.overstays_now(s, now, site.id),
        policy=policy,
        site=site,
        sites=site_choices(),
    )


@bp.route("/search.json")
@require_role(Role.ENGINEER)
def search_json() -> Any:
    """As-you-type search for the desk (JSON list of matches)."""
    q = request.args.get("q", "").strip()
    return jsonify(items=_matches(q, desk_site().id) if len(q) >= 2 else [])


@bp.route("/check-in", methods=["POST"])
@require_role(Role.ENGINEER)
def check_in() -> Any:
    s = db_session()
    form = request.form
    site = site_from(form.get("site")) or desk_site()
    client_id = int_or_none(form.get("client_id"))
    back = redirect(url_for("visitors.desk", site=site.slug))
    if client_id is None:
        flash(_("Not saved: choose the client the visitor comes for."), "error")
        return back
    try:
        escort_visit_id = int_or_none(form.get("escort_visit_id"))
        attempt = CheckInAttempt(
            name_on_id=form.get("name_on_id", "").strip(),
            id_checked_by=principal().label if checkbox(form, "id_checked") else None,
            areas=tuple(a for a in form.get("areas", "").replace(",", ";").split(";") if a.strip()),
            badge_number=form.get("badge_number", "").strip() or None,
            nda_signed=checkbox(form, "nda_signed"),
            safety_form_signed=checkbox(form, "safety_form_signed"),
            authorised_person_id=int_or_none(form.get("authorised_person_id")),
            request_id=int_or_none(form.get("request_id")),
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
            s, principal(), client_id=client_id, attempt=attempt, policy=site_policy(),
            now=utcnow(), site_id=site.id,
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
    refusal(decision.code.value, decision.reason)
    if outcome.row is not None:
        flash(_("Recorded as a denied visit (#%(id)s).", id=outcome.row.id), "error")
    return back


@bp.route("/visits/<int:visit_id>")
@require_role(Role.ENGINEER)
def visit(visit_id: int) -> Any:
    s = db_session()
    row = visit_or_404(visit_id)
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
    row = visit_or_404(visit_id)
    if row.status not in ("on_site", "left"):
        abort(404, _("This visit has no badge."))
    s = db_session()
    escort = s.get(VisitRow, row.escort_visit_id) if row.escort_visit_id else None
    return render_template(
        "visitors/badge.html", visit=row, client=s.get(VisitorClient, row.client_id),
        escort=escort,
    )


@bp.route("/visits/<int:visit_id>/check-out", methods=["POST"])
@require_role(Role.ENGINEER)
def check_out(visit_id: int) -> Any:
    s = db_session()
    visit_or_404(visit_id)
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
        refusal(decision.code.value, decision.reason)
        return redirect(request.form.get("next") or url_for("visitors.visit", visit_id=visit_id))
    s.commit()
    flash(_("Done: %(message)s", message=decision.reason), "ok")
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
        input_error(exc)
        return redirect(url_for("visitors.visit", visit_id=visit_id))
    except svc.VisitorNotFound as exc:
        abort(404, str(exc))
    if decision.allowed:
        s.commit()
        flash(_("Done: %(message)s", message=decision.reason), "ok")
    else:
        s.rollback()
        refusal(decision.code.value, decision.reason)
    return redirect(url_for("visitors.visit", visit_id=visit_id))


@bp.route("/on-site")
@require_role(Role.ENGINEER)
def on_site() -> Any:
    """The evacuation list of the desk's site: everyone inside now, with time inside
    (printable)."""
    s = db_session()
    now = utcnow()
    site = desk_site()
    clients = dict(s.execute(select(VisitorClient.id, VisitorClient.name)).all())
    return render_template(
        "visitors/onsite.html",
        on_site=svc.on_site_now(s, now, site.id),
        overstays={o.visit.id: o for o in svc.overstays_now(s, now, site.id)},
        clients=clients,
        now=now,
        site=site,
        sites=site_choices(),
    )
