"""Incident screens: list with filters and search, detail with timeline and SLA clocks, actions by
role (viewers read only), manual report, silences. Also registers the incident API and the alert
receivers (``register_incident_blueprints``, called from the app factory).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFProtect
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from checks.queries import recent_results, sparkline
from dutydesk.context import app_state, db_session, principal, require_role, settings
from dutydesk.core.db import utcnow
from dutydesk.core.sites import Site
from dutydesk.core.validation import ValidationError, record_id
from dutydesk.incidents import service
from dutydesk.incidents import sources as alert_sources
from dutydesk.incidents.alerts.matchers import MatcherError, SilenceError
from dutydesk.incidents.events import EventKind, IncidentEvent
from dutydesk.incidents.lifecycle import Action, InvalidAction, LifecycleError
from dutydesk.incidents.models import (
    EscalationPolicyRow,
    Incident,
    IncidentEventRow,
    SilenceRow,
)
from dutydesk.incidents.pipeline import metrics_for
from dutydesk.incidents.policies import choose_policy
from dutydesk.incidents.store import IncidentNotFound, NewerIncidentOpen
from dutydesk.incidents.timeline_text import Phrase, describe, describe_actor
from dutydesk.models import Role
from dutydesk.pagination import PaginationError, paginate, parse_page_args
from dutydesk.requests import service as requests_service
from dutydesk.web.incident_urgency import urgency_page

bp = Blueprint("incidents", __name__)
EVENT_KINDS = frozenset(kind.value for kind in EventKind)

# Form action name -> (lifecycle action, form fields it takes)
FORM_ACTIONS: dict[str, tuple[Action, tuple[str, ...]]] = {
    "ack": (Action.ACKNOWLEDGE, ()),
    "pending": (Action.PENDING, ("reason",)),
    "resume": (Action.RESUME, ()),
    "resolve": (Action.RESOLVE, ("note",)),
    "reopen": (Action.REOPEN, ("reason",)),
    "reassign": (Action.REASSIGN, ("line", "assignee", "reason")),
    "escalate": (Action.ESCALATE, ("reason",)),
    "priority": (Action.CHANGE_PRIORITY, ("priority", "reason")),
    "note": (Action.NOTE, ("text",)),
}


def register_incident_blueprints(app: Flask, csrf: CSRFProtect) -> None:
    from dutydesk.web.account_quiet import bp as account_quiet_bp
    from dutydesk.web.chat_account import bp as chat_account_bp
    from dutydesk.web.chat_hooks import bp as chat_hooks_bp
    from dutydesk.web.escalation_admin import bp as escalation_bp
    from dutydesk.web.incidents_api import bp as api_bp
    from dutydesk.web.integrations import bp as receivers_bp
    from dutydesk.web.integrations_admin import bp as integrations_admin_bp
    from dutydesk.web.page_actions import bp as page_actions_bp

    app.register_blueprint(bp)
    app.register_blueprint(page_actions_bp)  # /act/<token>: a page's signed action links
    app.register_blueprint(account_quiet_bp)  # a person's quiet hours (P3/P4 wait)
    app.register_blueprint(integrations_admin_bp)  # /admin/integrations
    app.register_blueprint(escalation_bp)  # /incidents/escalation
    app.register_blueprint(chat_account_bp)  # /account/chat: link Telegram/Slack/Mattermost
    for blueprint in (api_bp, receivers_bp, chat_hooks_bp):
        csrf.exempt(blueprint)  # token-authenticated; cookie sessions are CSRF-checked in the API
        app.register_blueprint(blueprint)
    app.jinja_env.filters.setdefault("render_note", service.render_note)
    from dutydesk.web.incident_metrics import register_incident_metrics

    state = app.extensions["dutydesk"]
    metrics_for(state.metrics.registry)  # dutydesk_alerts_suppressed_total, from the first scrape
    register_incident_metrics(state.metrics.registry, state.db)  # figures read at scrape time


def _date_args(args: Any) -> dict[str, str]:
    """Date inputs give ``2026-11-23``; the filter wants an instant (start/end of day, UTC)."""
    values = args.to_dict()
    if len(values.get("since", "")) == 10:
        values["since"] += "T00:00:00Z"
    if len(values.get("until", "")) == 10:
        values["until"] += "T23:59:59Z"
    return values


@bp.route("/incidents")
@require_role(Role.VIEWER)
def incident_list() -> Any:
    try:
        page, per_page = parse_page_args(request.args, max_per_page=200)
        filters = service.IncidentFilters.from_args(_date_args(request.args))
    except (PaginationError, service.FilterError) as exc:
        flash(_("Filter ignored: %(message)s", message=str(exc)), "error")
        page, per_page, filters = 1, 50, service.IncidentFilters()
    args = request.args
    if service.unknown_site(db_session(), filters):
        flash(_("Filter ignored: there is no site “%(value)s”.", value=filters.site), "error")
        filters = replace(filters, site=None)
        args = MultiDict([(k, v) for k, v in request.args.items(multi=True) if k != "site"])
    sites = list(db_session().scalars(select(Site).order_by(Site.name)))
    now = utcnow()
    query = service.incidents_query(filters)
    clocks: dict[int, Any] = {}
    if request.args.get("sort") == "newest":
        result = paginate(db_session(), query, page, per_page)
    else:  # by urgency: breached first, then the least SLA time left
        result, clocks = urgency_page(db_session(), query, page, per_page, now)
    return render_template(
        "incidents/list.html", page=result, filters=args, now=now, clocks=clocks,
        sites=sites, site_names={site.id: site.name for site in sites},
    )


@bp.route("/incidents/<int:incident_id>")
@require_role(Role.VIEWER)
def incident_detail(incident_id: int) -> Any:
    return _detail_page(incident_id)


def _detail_page(incident_id: int, status: int = 200) -> Any:
    s = db_session()
    incident = s.get(Incident, incident_id)
    if incident is None:
        abort(404)
    now = utcnow()
    rows = service.timeline_rows(s, incident.id)
    # A kind this version does not know (written by a newer one) cannot move a clock: the SLA
    # replay skips it, the timeline still shows it.
    known = [IncidentEvent(EventKind(r.kind), r.at, r.actor, r.data or {})
             for r in rows if r.kind in EVENT_KINDS]
    sla = service.sla_as_dict(incident, known, settings(), now)
    notice_link = "/notices/new?" + urlencode({"incident": incident.id, "title": incident.title})
    policies = list(s.scalars(select(EscalationPolicyRow).order_by(EscalationPolicyRow.name)))
    results = recent_results(s, incident.check_id) if incident.check_id else []
    samples = [(r.duration, r.status) for r in reversed(results)]
    return render_template(
        "incidents/detail.html",
        incident=incident,
        now=now,
        results=results,
        spark=sparkline(samples),
        events=[_timeline_entry(row) for row in rows],
        sla=sla,
        can_act=principal().can(Role.ENGINEER),
        notice_link=notice_link,
        policies=policies,
        default_policy=next((p for p in policies if p.is_default), None),
        current_policy=next((p for p in policies if p.id == incident.escalation_policy_id), None),
        alert_sources=alert_sources.shown(incident.alert_sources, now),
        affected=requests_service.affected_count(s, incident.id),
        linked_requests=requests_service.linked_requests(s, incident.id),
    ), status


def _timeline_entry(row: IncidentEventRow) -> dict[str, Any]:
    """One timeline line for the page: the event told as a sentence in the viewer's language."""
    told = describe(row.kind, row.data)
    actor = describe_actor(row.actor)
    return {
        "kind": row.kind,
        "at": row.at,
        "actor": actor.render(_) if isinstance(actor, Phrase) else actor,
        "text": told.summary.render(_),
        "note": told.markdown,
        "extras": told.extras,
    }


@bp.route("/incidents/<int:incident_id>/escalation-policy", methods=["POST"])
@require_role(Role.ENGINEER)
def incident_policy(incident_id: int) -> Any:
    """Choose the incident's escalation policy (empty ``policy_id``: the default policy)."""
    s = db_session()
    try:
        policy_id = record_id(request.form.get("policy_id"), "policy_id", optional=True)
    except ValidationError as exc:
        flash(_("Not changed: %(reason)s", reason=str(exc)), "error")
        return _detail_page(incident_id, 400)
    try:
        choose_policy(
            s,
            principal(),
            incident_id,
            policy_id,
            utcnow(),
            reason=request.form.get("reason", ""),
        )
    except IncidentNotFound:
        s.rollback()
        abort(404)
    except LifecycleError as exc:
        s.rollback()
        flash(_("Not changed: %(reason)s", reason=str(exc)), "error")
        return _detail_page(incident_id, 400 if isinstance(exc, InvalidAction) else 409)
    s.commit()
    flash(_("Escalation policy changed."), "success")
    return redirect(url_for("incidents.incident_detail", incident_id=incident_id))


@bp.route("/incidents/<int:incident_id>/<name>", methods=["POST"])
@require_role(Role.ENGINEER)
def incident_action(incident_id: int, name: str) -> Any:
    if name not in FORM_ACTIONS:
        abort(404)
    action, names = FORM_ACTIONS[name]
    fields = {n: request.form.get(n) for n in names if request.form.get(n) is not None}
    s = db_session()
    version = request.form.get("version", "")
    try:
        service.perform(
            s,
            principal(),
            incident_id,
            action,
            utcnow(),
            expected_version=int(version) if version.isdigit() and name == "ack" else None,
            settings=settings(),
            **fields,
        )
    except IncidentNotFound:
        s.rollback()
        abort(404)
    except NewerIncidentOpen as exc:
        s.rollback()
        link = Markup('<a href="{}">#{}</a>').format(
            url_for("incidents.incident_detail", incident_id=exc.newer_id), exc.newer_id
        )
        flash(Markup(_("Not reopened: the same alert fired again and is tracked by the newer "
                       "incident %(link)s. Continue there.", link=link)), "error")
        return redirect(url_for("incidents.incident_detail", incident_id=incident_id))
    except LifecycleError as exc:
        s.rollback()
        flash(_("Refused: %(message)s", message=str(exc)), "error")
        return redirect(url_for("incidents.incident_detail", incident_id=incident_id))
    if action is Action.RESOLVE:  # its requests are resolved now, not at the next job run
        requests_service.resolve_linked(s, settings(), incident_id, utcnow(), principal())
    s.commit()
    flash(_done(action), "success")
    return redirect(url_for("incidents.incident_detail", incident_id=incident_id))


def _done(action: Action) -> str:
    """What the person sees after an action on the incident page, in their language."""
    messages = {
        Action.ACKNOWLEDGE: _("Acknowledged."),
        Action.PENDING: _("Set pending."),
        Action.RESUME: _("Resumed."),
        Action.RESOLVE: _("Resolved."),
        Action.REOPEN: _("Reopened."),
        Action.REASSIGN: _("Reassigned."),
        Action.ESCALATE: _("Escalated."),
        Action.CHANGE_PRIORITY: _("Priority changed."),
        Action.NOTE: _("Note added."),
    }
    return messages.get(action, _("Done."))


@bp.route("/incidents/new", methods=["GET", "POST"])
@require_role(Role.ENGINEER)
def incident_report() -> Any:
    form = request.form
    if request.method == "POST":
        s = db_session()
        try:
            incident_id = service.report_manually(
                s,
                principal(),
                title=form.get("title", ""),
                service=form.get("service") or None,
                severity=form.get("severity", "warning"),
                details=form.get("details", ""),
                settings=settings(),
                now=utcnow(),
                metrics=metrics_for(app_state().metrics.registry),
            )
        except ValueError as exc:
            s.rollback()
            flash(_("Not saved: %(message)s", message=str(exc)), "error")
            return render_template("incidents/new.html", form=form), 400
        s.commit()
        return redirect(url_for("incidents.incident_detail", incident_id=incident_id))
    return render_template("incidents/new.html", form=form)


@bp.route("/silences", methods=["GET", "POST"])
@require_role(Role.VIEWER)
def silences() -> Any:
    s = db_session()
    now = utcnow()
    status = 200
    if request.method == "POST":
        if not principal().can(Role.ENGINEER):
            abort(403)
        try:
            service.create_silence(
                s,
                principal(),
                matchers=request.form.get("matchers", ""),
                starts_at=None,
                ends_at=None,
                duration_minutes=request.form.get("duration_minutes"),
                comment=request.form.get("comment", ""),
                now=now,
            )
            s.commit()
            flash(_("Silence created."), "success")
            return redirect(url_for("incidents.silences"))
        except (MatcherError, SilenceError, ValueError) as exc:
            s.rollback()
            flash(_("Not saved: %(message)s", message=str(exc)), "error")
            status = 400
    rows = list(s.scalars(select(SilenceRow).order_by(SilenceRow.ends_at.desc()).limit(200)))
    items = [service.silence_as_dict(r, now) for r in rows]
    return render_template(
        "incidents/silences.html",
        items=items,
        can_act=principal().can(Role.ENGINEER),
        form=request.form,
    ), status


@bp.route("/silences/<int:silence_id>/expire", methods=["POST"])
@require_role(Role.ENGINEER)
def silence_expire(silence_id: int) -> Any:
    s = db_session()
    row = s.get(SilenceRow, silence_id)
    if row is None:
        abort(404)
    service.expire_silence(s, principal(), row, utcnow())
    s.commit()
    return redirect(url_for("incidents.silences"))
