"""Admin screen for inbound alert integrations (Alertmanager, PagerDuty Events v2).

The key is shown exactly once, right after creation (it is stored hashed); revoking an
integration makes its key stop working at the receivers at once. Every change is audited by
``dutydesk.incidents.integrations``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from dutydesk.context import db_session, principal, require_role
from dutydesk.incidents.integrations import (
    IntegrationError,
    create_integration,
    revoke_integration,
)
from dutydesk.incidents.models import INTEGRATION_TYPES, Integration
from dutydesk.models import Role

bp = Blueprint("integrations_admin", __name__, url_prefix="/admin")


@bp.route("/integrations", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def integrations() -> Any:
    s = db_session()
    created: dict[str, str] | None = None
    status = 200
    if request.method == "POST":
        try:
            row, key = create_integration(
                s,
                principal(),
                type=request.form.get("type", ""),
                name=request.form.get("name", ""),
            )
        except IntegrationError as exc:
            s.rollback()
            flash(_("Not saved: %(message)s", message=str(exc)), "error")
            status = 400
        else:
            s.commit()
            created = {"key": key, "type": row.type, "name": row.name}
    rows = list(
        s.scalars(
            select(Integration).order_by(Integration.revoked_at.is_not(None), Integration.name)
        )
    )
    return render_template(
        "admin/integrations.html", integrations=rows, created=created, types=INTEGRATION_TYPES
    ), status


@bp.route("/integrations/<int:integration_id>/revoke", methods=["POST"])
@require_role(Role.ADMIN)
def integration_revoke(integration_id: int) -> Any:
    s = db_session()
    row = s.get(Integration, integration_id) or abort(404, _("No such integration."))
    if row.active:
        revoke_integration(s, principal(), row)
        s.commit()
        flash(_("Integration %(name)s revoked; its key no longer works.", name=row.name), "ok")
    return redirect(url_for("integrations_admin.integrations"))
