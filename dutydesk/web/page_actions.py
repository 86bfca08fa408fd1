"""The action links of a page: ``/act/<token>`` (no sign-in: the signed token is the authority).

GET only shows what the link will do and a button (mail scanners and link previews open links:
a GET never changes anything). The POST from that page, CSRF-checked like every form, acts once
as the person the link was made for (``dutydesk.incidents.page_actions``). A link that cannot be
used says why, in the reader's language: altered or made up (400), expired or already used
(410), the person may no longer act (403), the incident is gone (404); acting on an incident
someone already acknowledged or resolved says who (409).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from dutydesk.context import db_session, settings
from dutydesk.core.db import utcnow
from dutydesk.core.security import Principal
from dutydesk.incidents.action_tokens import LINK_ACTIONS, BadActionToken, read_token
from dutydesk.incidents.models import Incident, PageTokenUse
from dutydesk.incidents.page_actions import (
    Outcome,
    act_with_claim,
    link_max_age,
    person_for,
)

bp = Blueprint("page_actions", __name__)
MAX_NOTE = 20000


def _resolve_linked(session: Any, cfg: Any, incident_id: int, now: Any, who: Principal) -> None:
    from dutydesk.requests import service as requests_service

    requests_service.resolve_linked(session, cfg, incident_id, now, who)


def _titles() -> dict[str, str]:
    return {
        "ack": _("Acknowledge"),
        "resolve": _("Resolve"),
        "escalate": _("Escalate"),
        "snooze": _("Snooze for 30 minutes"),
        "open": _("Open"),
    }


def _page(template_args: dict[str, Any], status: int) -> Any:
    response = make_response(render_template("incidents/act.html", **template_args), status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the address
    return response


def _refusal(code: str, detail: str = "", outcome: Outcome | None = None) -> Any:
    """The page for a link that cannot act, with the status code and words for ``code``."""
    who = outcome.by if outcome else None
    at = outcome.at.strftime("%Y-%m-%d %H:%M") if outcome and outcome.at else "?"
    words = {
        "forged": (400, _("This link is not valid"),
                   _("The link was altered or is not one of ours. Open the incident from "
                     "DutyDesk instead.")),
        "expired": (410, _("This link has expired"),
                    _("Action links work for %(hours)s hours after the page was sent. Open the "
                      "incident in DutyDesk to act on it.", hours=settings().page_link_hours)),
        "used": (410, _("This link was already used"),
                 _("Each action link works once, and this one has already acted. Open the "
                   "incident in DutyDesk to see where it stands.")),
        "not_allowed": (403, _("You may not act on incidents"),
                        _("The account this link was made for is deactivated or may no longer "
                          "act on incidents.")),
        "not_found": (404, _("Incident not found"),
                      _("The incident this link was made for no longer exists.")),
        "already_acknowledged": (409, _("Already acknowledged"),
                                 _("%(who)s acknowledged this incident at %(at)s UTC.",
                                   who=who or "?", at=at)),
        "resolved": (409, _("Already resolved"),
                     _("%(who)s resolved this incident at %(at)s UTC.",
                       who=who or "?", at=at)),
        "refused": (409, _("Not done"), detail),
    }
    status, title, message = words.get(code, words["refused"])
    incident_id = outcome.incident_id if outcome else None
    return _page({"title": title, "message": message, "incident_id": incident_id,
                  "state": "refused"}, status)


def _claim(token: str) -> Any:
    try:
        return read_token(settings().secret_key, token, utcnow(), link_max_age(settings()))
    except BadActionToken as exc:
        return exc


@bp.route("/act/<token>", methods=["GET"])
def confirm(token: str) -> Any:
    claim = _claim(token)
    if isinstance(claim, BadActionToken):
        return _refusal(claim.reason)
    if claim.action not in LINK_ACTIONS:
        return _refusal("forged")  # a reply token is not a link
    if claim.action == "open":
        return redirect(url_for("incidents.incident_detail", incident_id=claim.incident_id))
    s = db_session()
    incident = s.get(Incident, claim.incident_id)
    if incident is None:
        return _refusal("not_found", outcome=Outcome("not_found", claim.incident_id, ""))
    user = person_for(s, claim)
    if user is None:
        return _refusal("not_allowed")
    if s.get(PageTokenUse, claim.use_key) is not None:
        return _refusal("used", outcome=Outcome("used", claim.incident_id, claim.action))
    if incident.status == "resolved":
        return _refusal("resolved", outcome=Outcome("resolved", incident.id, claim.action,
                                                    by=incident.resolved_by,
                                                    at=incident.resolved_at))
    if claim.action in ("ack", "snooze") and incident.status == "acknowledged":
        return _refusal("already_acknowledged", outcome=Outcome(
            "already_acknowledged", incident.id, claim.action, by=incident.acknowledged_by,
            at=incident.acknowledged_at))
    return _page(_confirm_args(token, claim.action, incident, user.email), 200)


def _confirm_args(token: str, action: str, incident: Incident, person: str,
                  error: str = "") -> dict[str, Any]:
    return {"title": _titles()[action], "state": "confirm", "action": action, "token": token,
            "incident": incident, "incident_id": incident.id, "person": person, "error": error}


@bp.route("/act/<token>", methods=["POST"])
def perform(token: str) -> Any:
    claim = _claim(token)
    if isinstance(claim, BadActionToken):
        return _refusal(claim.reason)
    if claim.action not in LINK_ACTIONS or claim.action == "open":
        return _refusal("forged")
    s = db_session()
    note = (request.form.get("note") or "").strip()
    if len(note) > MAX_NOTE:
        note = ""
    now = utcnow()
    outcome = act_with_claim(s, settings(), claim, claim.action, via="link", now=now,
                             note=note or None, after_resolve=_resolve_linked)
    if outcome.code == "needs_note":
        s.rollback()
        incident = s.get(Incident, claim.incident_id)
        user = person_for(s, claim)
        if incident is None or user is None:
            return _refusal("not_found", outcome=outcome)
        error = _("Write what you did to resolve it (up to %(n)s characters).", n=MAX_NOTE)
        return _page(_confirm_args(token, claim.action, incident, user.email, error), 422)
    if not outcome.done:
        s.rollback()
        return _refusal(outcome.code, outcome.detail, outcome)
    s.commit()
    done = {
        "ack": _("Acknowledged. Escalation stopped; the others who were paged are told."),
        "resolve": _("Resolved. Thank you."),
        "escalate": _("Escalated: the next step of the escalation policy is paged now."),
        "snooze": _("Snoozed: acknowledged for 30 minutes; then you are paged again unless "
                    "it is resolved."),
    }[claim.action]
    return _page({"title": _titles()[claim.action], "message": done, "state": "done",
                  "incident_id": claim.incident_id}, 200)
