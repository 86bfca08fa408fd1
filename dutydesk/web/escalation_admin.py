"""Escalation policy screen (``/incidents/escalation``, shift lead and up).

Form input is turned into the pure ``EscalationPolicy`` before anything is stored, so a policy the
pager could not run is refused with the validator's message and nothing is saved. Changes are
audited with the before and after values. A policy other than the default can be deleted; the open
incidents that followed it go over to the default (``dutydesk.incidents.policies``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dutydesk.context import db_session, principal, require_role
from dutydesk.core import audit
from dutydesk.core.db import utcnow
from dutydesk.incidents.escalation import (
    DEFAULT_REPAGE_MINUTES,
    ROLE_TARGETS,
    EscalationError,
    EscalationPolicy,
    EscalationStep,
)
from dutydesk.incidents.models import EscalationPolicyRow, Incident
from dutydesk.incidents.policies import PolicyDeleteRefused, delete_policy, policy_as_dict
from dutydesk.incidents.told import DEFAULT_TELL_PAGED, TELL_PAGED_CHOICES
from dutydesk.models import Role

bp = Blueprint("escalation", __name__)

FORM_STEP_ROWS = 6  # blank rows offered on the form; blank rows are ignored


@dataclass(frozen=True, slots=True)
class PolicyForm:
    """A validated policy as the form described it."""

    name: str
    policy: EscalationPolicy
    is_default: bool
    tell_paged: str = DEFAULT_TELL_PAGED


def _whole_number(field: str, raw: str, *, optional: bool = False) -> int | None:
    text = (raw or "").strip()
    if not text and optional:
        return None
    try:
        return int(text)
    except ValueError:
        raise EscalationError(f"{field} must be a whole number, got {raw!r}") from None


def parse_policy_form(form: Any) -> PolicyForm:
    """Read name, steps (``targets_N``/``delay_N``), repeat, ack timeout and the default flag.

    Raises ``EscalationError`` naming the field for anything the pure policy would refuse.
    """
    name = (form.get("name") or "").strip()
    if not name:
        raise EscalationError("name must say which policy this is, e.g. 'default'")
    if len(name) > 120:
        raise EscalationError(f"name must be at most 120 characters, got {len(name)}")
    steps: list[EscalationStep] = []
    for index in range(1, FORM_STEP_ROWS + 1):
        targets_raw = form.get(f"targets_{index}", "") or ""
        delay_raw = form.get(f"delay_{index}", "") or ""
        targets = tuple(t for t in targets_raw.replace(",", " ").split() if t)
        if not targets and not delay_raw.strip():
            continue
        delay = _whole_number(f"step {index} delay (minutes)", delay_raw)
        try:
            steps.append(EscalationStep(targets, delay))  # type: ignore[arg-type]
        except EscalationError as exc:
            raise EscalationError(f"step {index}: {exc}") from None
    policy = EscalationPolicy(
        tuple(steps),
        repeat=_whole_number("repeat", form.get("repeat", "0") or "0"),  # type: ignore[arg-type]
        ack_timeout_minutes=_whole_number(
            "acknowledgement timeout (minutes)", form.get("ack_timeout_minutes", ""), optional=True
        ),
        repage_minutes=_whole_number(  # type: ignore[arg-type]
            "keep paging every (minutes)",
            form.get("repage_minutes", "") or str(DEFAULT_REPAGE_MINUTES)),
    )
    tell = form.get("tell_paged") or DEFAULT_TELL_PAGED
    if tell not in TELL_PAGED_CHOICES:
        raise EscalationError(
            f"who is told must be one of {', '.join(TELL_PAGED_CHOICES)}, got {tell!r}")
    return PolicyForm(name=name, policy=policy, is_default=form.get("is_default") in ("on", "1"),
                      tell_paged=tell)


def save_policy(
    session: Session, actor: Any, row: EscalationPolicyRow | None, parsed: PolicyForm
) -> EscalationPolicyRow:
    """Store ``parsed`` into ``row`` (a new row when ``None``); at most one default policy."""
    if session.scalar(
        select(EscalationPolicyRow.id).where(
            EscalationPolicyRow.name == parsed.name,
            EscalationPolicyRow.id != (row.id if row is not None else -1),
        )
    ):
        raise EscalationError(f"name {parsed.name!r} is already used by another policy")
    before = policy_as_dict(row) if row is not None else None
    if row is None:
        row = EscalationPolicyRow(name=parsed.name)
        session.add(row)
    row.name = parsed.name
    row.steps = [
        {"targets": list(step.targets), "delay_minutes": step.delay_minutes}
        for step in parsed.policy.steps
    ]
    row.repeat = parsed.policy.repeat
    row.ack_timeout_minutes = parsed.policy.ack_timeout_minutes
    row.repage_minutes = parsed.policy.repage_minutes
    row.is_default = parsed.is_default
    row.tell_paged = parsed.tell_paged
    session.flush()
    if parsed.is_default:
        session.execute(
            update(EscalationPolicyRow)
            .where(EscalationPolicyRow.id != row.id)
            .values(is_default=False)
        )
    audit.record(
        session,
        actor,
        "escalation_policy.create" if before is None else "escalation_policy.update",
        "escalation_policy",
        row.id,
        summary=f"{'created' if before is None else 'updated'} escalation policy {row.name!r}",
        before=before,
        after=policy_as_dict(row),
    )
    return row


@bp.route("/incidents/escalation", methods=["GET", "POST"])
@require_role(Role.SHIFT_LEAD)
def escalation_policies() -> Any:
    s = db_session()
    status = 200
    if request.method == "POST":
        raw_id = request.form.get("policy_id", "")
        row = None
        if raw_id:
            row = s.get(EscalationPolicyRow, int(raw_id)) if raw_id.isdigit() else None
            if row is None:
                abort(404)
        try:
            save_policy(s, principal(), row, parse_policy_form(request.form))
        except EscalationError as exc:
            s.rollback()
            flash(_("Not saved: %(message)s", message=str(exc)), "error")
            status = 400
        else:
            s.commit()
            flash(_("Escalation policy saved."), "success")
            return redirect(url_for("escalation.escalation_policies"))
    return _page(status, request.form if status != 200 else {})


@bp.route("/incidents/escalation/<int:policy_id>/delete", methods=["POST"])
@require_role(Role.SHIFT_LEAD)
def escalation_policy_delete(policy_id: int) -> Any:
    s = db_session()
    row = s.get(EscalationPolicyRow, policy_id)
    if row is None:
        abort(404)
    name = row.name
    try:
        moved = delete_policy(s, principal(), row, utcnow())
    except PolicyDeleteRefused as exc:
        s.rollback()
        flash(_("Not deleted: %(reason)s", reason=str(exc)), "error")
        return _page(409, {})
    s.commit()
    flash(
        ngettext(
            "Escalation policy %(name)s deleted; %(num)d open incident now follows the default "
            "policy.",
            "Escalation policy %(name)s deleted; %(num)d open incidents now follow the default "
            "policy.",
            len(moved),
            name=name,
        ),
        "success",
    )
    return redirect(url_for("escalation.escalation_policies"))


def _page(status: int, form: Any) -> Any:
    s = db_session()
    rows = list(s.scalars(select(EscalationPolicyRow).order_by(EscalationPolicyRow.name)))
    in_use = dict(
        s.execute(
            select(Incident.escalation_policy_id, func.count(Incident.id))
            .where(Incident.escalation_policy_id.is_not(None), Incident.status != "resolved")
            .group_by(Incident.escalation_policy_id)
        ).all()
    )
    return render_template(
        "incidents/escalation.html",
        policies=rows,
        open_incidents=in_use,
        step_rows=FORM_STEP_ROWS,
        role_targets=ROLE_TARGETS,
        form=form,
    ), status
