"""Admin screen of the facility inputs: the applied SNMP trap / syslog rules (read from the
database; changed as code with ``dutydesk facility apply``) and what the listeners heard that
became no alert — unknown senders, unmatched traps and lines, rejected packets, floods — with
counts. Secrets (communities, SNMPv3 keys) are never shown: user names and counts only."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from dutydesk.context import db_session, require_role
from dutydesk.facility.rules import EMPTY, RulesError, parse_rules
from dutydesk.facility.store import current_rules, recent_heard
from dutydesk.models import Role

bp = Blueprint("facility_admin", __name__, url_prefix="/admin")


@bp.route("/facility")
@require_role(Role.ADMIN)
def facility() -> Any:
    s = db_session()
    applied = current_rules(s)
    problems: list[str] = []
    try:
        rules = parse_rules(applied.document) if applied.document.strip() else EMPTY
    except RulesError as exc:  # stored by an older release with looser rules
        rules, problems = EMPTY, exc.problems
    return render_template("admin/facility.html", applied=applied, rules=rules,
                           problems=problems, heard=recent_heard(s, 200))
