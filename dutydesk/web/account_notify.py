"""A person's own contact methods and notification rules (``/account/notifications``).

Contact methods are how paging reaches someone (email, webhook, Slack-compatible hook,
Telegram chat); rules pick methods by incident priority with a delay (``incidents.paging``
reads both). Every change is audited; "send test" goes through the outbox like any page, so it
proves the whole delivery path, not just the form.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dutydesk.accounts import ValidationError
from dutydesk.context import db_session, principal, require_role, settings
from dutydesk.core import netguard
from dutydesk.core.audit import record
from dutydesk.core.db import utcnow
from dutydesk.core.notify.outbox import enqueue
from dutydesk.errors import ApiError
from dutydesk.incidents.models import CONTACT_KINDS, ContactMethod, NotificationRule
from dutydesk.incidents.priority import Priority, PriorityError
from dutydesk.incidents.recipients import Contact, is_reachable
from dutydesk.models import Role, User
from dutydesk.web.account_quiet import quiet_hours_of
from dutydesk.web.forms import flash_validation

bp = Blueprint("account_notify", __name__)

PAGE = "/account/notifications"
MAX_DELAY_MINUTES = 24 * 60
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CHAT_ID = re.compile(r"^-?\d{1,20}$")
_SLACK_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{6,20}$")  # posted by the bot (chat.postMessage)


class ContactError(ValidationError):
    """A contact method or rule typed on the page is not acceptable."""


def validate_contact(kind: str, target: str, allowed: Iterable[str] = ()) -> str:
    """The cleaned ``target`` for a contact method of ``kind``, or ``ContactError``.

    email: one address; webhook/slack: an absolute http(s) URL with a host whose addresses
    outgoing webhooks may reach (``netguard``; ``allowed`` is ``outbound_allow``), or for slack
    a Slack channel id (``C0123ABCD``: the bot posts there); telegram: a numeric chat id
    (negative for groups).
    """
    kind, target = (kind or "").strip(), (target or "").strip()
    if kind not in CONTACT_KINDS:
        raise ContactError(
            "kind", f"must be one of {', '.join(CONTACT_KINDS)}, got {kind!r}")
    if not target:
        raise ContactError("target", f"a {kind} contact needs an address, URL or chat id")
    if len(target) > 1000:
        raise ContactError("target", f"must be at most 1000 characters, got {len(target)}")
    if kind == "email":
        if not _EMAIL.match(target):
            raise ContactError(
                "target", f"expected an email address like a@b.example, got {target!r}"
            )
        return target
    if kind == "slack" and _SLACK_CHANNEL.match(target):
        return target
    if kind in ("webhook", "slack"):
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ContactError("target", f"expected an http(s):// URL, got {target!r}")
        refused = netguard.url_problem(target, allowed)
        if refused:
            raise ContactError("target", refused)
        return target
    if not _CHAT_ID.match(target):
        raise ContactError("target", f"expected a numeric Telegram chat id, got {target!r}")
    return target


def validate_rule(min_priority: str, delay_minutes: str | int) -> tuple[str, int]:
    """``(priority, delay)`` for a rule, or ``ContactError``: P1–P4 and 0..1440 minutes."""
    try:
        priority = str(Priority.parse(min_priority))
    except PriorityError:
        raise ContactError(
            "min_priority", f"must be one of P1, P2, P3, P4, got {min_priority!r}"
        ) from None
    try:
        delay = int(str(delay_minutes).strip())
    except ValueError:
        raise ContactError(
            "delay_minutes", f"must be a whole number of minutes, got {delay_minutes!r}"
        ) from None
    if delay < 0 or delay > MAX_DELAY_MINUTES:
        raise ContactError(
            "delay_minutes", f"must be between 0 and {MAX_DELAY_MINUTES}, got {delay}"
        )
    return priority, delay


def _method_snapshot(method: ContactMethod) -> dict[str, Any]:
    return {"kind": method.kind, "target": method.target, "enabled": method.enabled}


def _me() -> User:
    who = principal()
    if who.user is None:
        raise ApiError(403, _("Kiosk screens have no account settings."))
    return who.user


def _own_method(session: Session, user: User, method_id: int) -> ContactMethod:
    method = session.get(ContactMethod, method_id)
    if method is None or method.user_id != user.id:  # someone else's id looks like a missing one
        raise ApiError(404, _("No such contact method."))
    return method


def _saved(message: str) -> Any:
    db_session().commit()
    flash(message, "ok")
    return redirect(PAGE)


@bp.route(PAGE, methods=["GET"])
@require_role(Role.VIEWER)
def notifications() -> Any:
    user = _me()
    s = db_session()
    methods = list(
        s.scalars(
            select(ContactMethod).where(ContactMethod.user_id == user.id).order_by(ContactMethod.id)
        )
    )
    rules = list(
        s.scalars(
            select(NotificationRule)
            .where(NotificationRule.user_id == user.id)
            .order_by(NotificationRule.id)
        )
    )
    return render_template(
        "account/notifications.html",
        methods=methods,
        by_id={m.id: m for m in methods},
        rules=rules,
        priorities=[str(p) for p in Priority],
        # The same rule routing uses: with every method disabled, pages skip this person.
        reachable=is_reachable(Contact(user, tuple(methods), tuple(rules))),
        quiet=quiet_hours_of(user),
        zone=user.timezone or settings().timezone,
    )


@bp.route(PAGE + "/methods", methods=["POST"])
@require_role(Role.VIEWER)
def add_method() -> Any:
    user, s = _me(), db_session()
    kind = request.form.get("kind", "")
    try:
        target = validate_contact(kind, request.form.get("target", ""),
                                  settings().outbound_allow)
    except ContactError as exc:
        flash_validation(exc)
        return notifications(), 400  # the page again, with the reason
    secret = (request.form.get("secret") or "").strip()[:200] or None
    method = ContactMethod(
        user_id=user.id,
        kind=kind.strip(),
        target=target,
        secret=secret if kind.strip() == "webhook" else None,
        enabled=True,
    )
    s.add(method)
    s.flush()
    record(s, principal(), "contact_method.add", "contact_method", method.id,
           summary=f"{method.kind} {method.target}", after=_method_snapshot(method))
    return _saved(_("Contact method added."))


@bp.route(PAGE + "/methods/<int:method_id>/toggle", methods=["POST"])
@require_role(Role.VIEWER)
def toggle_method(method_id: int) -> Any:
    user, s = _me(), db_session()
    method = _own_method(s, user, method_id)
    before = _method_snapshot(method)
    method.enabled = not method.enabled
    method.disabled_reason = None if method.enabled else "disabled by its owner"
    action = "contact_method.enable" if method.enabled else "contact_method.disable"
    record(s, principal(), action, "contact_method", method.id,
           summary=f"{method.kind} {method.target}", before=before, after=_method_snapshot(method))
    return _saved(_("Contact method enabled.") if method.enabled else _("Contact method disabled."))


@bp.route(PAGE + "/methods/<int:method_id>/delete", methods=["POST"])
@require_role(Role.VIEWER)
def delete_method(method_id: int) -> Any:
    user, s = _me(), db_session()
    method = _own_method(s, user, method_id)
    before = _method_snapshot(method)
    # Rules first and explicitly: a database without enforced foreign keys would keep orphans.
    s.execute(delete(NotificationRule).where(NotificationRule.contact_method_id == method.id))
    s.delete(method)
    record(s, principal(), "contact_method.delete", "contact_method", method_id,
           summary=f"{before['kind']} {before['target']}", before=before)
    return _saved(_("Contact method deleted."))


@bp.route(PAGE + "/methods/<int:method_id>/test", methods=["POST"])
@require_role(Role.VIEWER)
def test_method(method_id: int) -> Any:
    """Enqueue one test message to this method (each press is a new message)."""
    user, s = _me(), db_session()
    method = _own_method(s, user, method_id)
    if not method.enabled:
        flash(_("This contact method is disabled; enable it to send a test."), "error")
        return redirect(PAGE)
    now = utcnow()
    enqueue(
        s,
        channel=method.kind,
        target=method.target,
        subject="[DutyDesk] Test notification",
        body_text=(
            f"This is a test from DutyDesk for {user.email}, sent {now:%Y-%m-%d %H:%M} UTC.\n"
            "If you can read it, incidents can reach you here.\n"
        ),
        payload={"test": True, "user": user.email, "text": "DutyDesk test notification"},
        options={"signing_secret": method.secret} if method.secret else None,
        idempotency_key=f"test:contact:{method.id}:{uuid.uuid4().hex}",
        source_type="contact_test",
        source_id=method.id,
        channel_ref=f"contact:{method.id}",
    )
    record(s, principal(), "contact_method.test", "contact_method", method.id,
           summary=f"{method.kind} {method.target}")
    return _saved(_("Test message queued; it should arrive within a minute."))


@bp.route(PAGE + "/rules", methods=["POST"])
@require_role(Role.VIEWER)
def add_rule() -> Any:
    user, s = _me(), db_session()
    try:
        raw_id = request.form.get("contact_method_id", "")
        if not raw_id.isdigit():
            raise ContactError("contact_method_id", f"choose one of your methods, got {raw_id!r}")
        method = _own_method(s, user, int(raw_id))
        priority, delay = validate_rule(
            request.form.get("min_priority", ""), request.form.get("delay_minutes", "0")
        )
    except ContactError as exc:
        flash_validation(exc)
        return redirect(PAGE)
    rule = NotificationRule(
        user_id=user.id, contact_method_id=method.id, min_priority=priority, delay_minutes=delay
    )
    s.add(rule)
    s.flush()
    after = {"contact_method_id": method.id, "min_priority": priority, "delay_minutes": delay}
    record(s, principal(), "notification_rule.add", "notification_rule", rule.id,
           summary=f"{priority} or worse via {method.kind} after {delay} min", after=after)
    return _saved(_("Rule added."))


@bp.route(PAGE + "/rules/<int:rule_id>/delete", methods=["POST"])
@require_role(Role.VIEWER)
def delete_rule(rule_id: int) -> Any:
    user, s = _me(), db_session()
    rule = s.get(NotificationRule, rule_id)
    if rule is None or rule.user_id != user.id:
        raise ApiError(404, _("No such rule."))
    before = {
        "contact_method_id": rule.contact_method_id,
        "min_priority": rule.min_priority,
        "delay_minutes": rule.delay_minutes,
    }
    s.delete(rule)
    record(s, principal(), "notification_rule.delete", "notification_rule", rule_id,
           before=before)
    return _saved(_("Rule deleted."))
