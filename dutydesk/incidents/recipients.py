"""Who an incident's pages go to: escalation policies, the routing directory, contacts.

The reads behind paging (``dutydesk.incidents.paging``): the incident's escalation policy
(``policy_for``), the people a target routes to at an instant (``Directory`` /
``resolve_people``), each person's contact methods, notification rules and quiet hours
(``load_contacts``), the one definition of "can be paged" (``is_reachable``) and
``PagingCache``, which reads all of it once per batch. ``disable_contact`` switches off a
method that fails permanently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.models.accounts import Role, User
from dutydesk.core.sites import DEFAULT_SITE, Site
from dutydesk.incidents.escalation import (
    DEFAULT_REPAGE_MINUTES,
    EscalationPolicy,
    EscalationStep,
)
from dutydesk.incidents.models import (
    ContactMethod,
    EscalationPolicyRow,
    Incident,
    NotificationRule,
    QuietHoursRow,
)
from dutydesk.incidents.quiet import QuietHours
from dutydesk.incidents.routing import parse_fallback_group, route
from shifts.site_duty import duty_for_site

DEFAULT_POLICY = EscalationPolicy(
    steps=(
        EscalationStep(("first_line",), 10),
        EscalationStep(("second_line",), 20),
        EscalationStep(("shift_lead",), 30),
    ),
    repeat=0,
)


def policy_for(
    session: Session, incident: Incident, cache: PagingCache | None = None
) -> EscalationPolicy:
    """The incident's policy, else the default stored policy, else ``DEFAULT_POLICY``."""
    if cache is not None:
        return cache.policy(incident)
    row = None
    if incident.escalation_policy_id is not None:
        row = session.get(EscalationPolicyRow, incident.escalation_policy_id)
    if row is None:
        row = session.scalar(
            select(EscalationPolicyRow).where(EscalationPolicyRow.is_default).limit(1)
        )
    if row is None:
        return DEFAULT_POLICY
    return policy_from_row(row)


def policy_from_row(row: EscalationPolicyRow) -> EscalationPolicy:
    steps = tuple(
        EscalationStep(tuple(step["targets"]), int(step["delay_minutes"])) for step in row.steps
    )
    return EscalationPolicy(steps, repeat=row.repeat, ack_timeout_minutes=row.ack_timeout_minutes,
                            repage_minutes=row.repage_minutes or DEFAULT_REPAGE_MINUTES)


@dataclass(frozen=True, slots=True)
class Directory:
    """Everything ``routing.route`` needs at one instant, read once: active engineers, shift
    leads, who is on duty per site and line, the default site and the fallback group."""

    engineers: tuple[str, ...]
    leads: tuple[str, ...]
    on_duty_by_site: dict[int, dict[str, tuple[str, ...]]]
    default_site_id: int | None
    fallback_group: tuple[str, ...]

    def people(self, target: str, site_id: int | None = None) -> tuple[str, ...]:
        """Logins for ``target`` for an incident at ``site_id`` (``None``: not about one site);
        the site's own duty rotation, else the default site's (``shifts.site_duty``)."""
        return route(
            target,
            on_duty=duty_for_site(self.on_duty_by_site, site_id, self.default_site_id),
            fallback_group=self.fallback_group,
            active_engineers=self.engineers,
            shift_leads=self.leads,
        ).people


def load_directory(session: Session, settings: Settings, now: datetime) -> Directory:
    """The routing population at ``now`` (users in one query, the shift board in a few)."""
    from shifts.storage import on_duty_logins_by_site

    engineers: list[str] = []
    leads: list[str] = []
    for login, role in session.execute(
        select(func.lower(User.email), User.role)
        .where(User.active, User.role.in_([Role.ENGINEER, Role.SHIFT_LEAD]))
        .order_by(User.id)
    ):
        engineers.append(login)
        if role == Role.SHIFT_LEAD:
            leads.append(login)
    return Directory(
        engineers=tuple(engineers),
        leads=tuple(leads),
        on_duty_by_site=on_duty_logins_by_site(session, now),
        default_site_id=session.scalar(select(Site.id).where(Site.slug == DEFAULT_SITE)),
        fallback_group=parse_fallback_group(settings.fallback_group),
    )


def resolve_people(
    session: Session, settings: Settings, target: str, now: datetime | None = None,
    site_id: int | None = None,
) -> tuple[str, ...]:
    """Logins for one escalation target (see ``routing.route``) for an incident at
    ``site_id`` (``None``: not about one site, routed as the default site's).

    The people on duty come from the stored shift schedules at ``now`` (``None``: the
    current instant): the site's own schedule for the line, else the default site's
    (``shifts.site_duty``); a line without either falls back as ``route`` describes.
    """
    from dutydesk.core.db import utcnow

    return load_directory(session, settings, now or utcnow()).people(target, site_id)


@dataclass(frozen=True, slots=True)
class Contact:
    """One active person's account, contact methods (by id) and notification rules."""

    user: User
    methods: tuple[ContactMethod, ...]
    rules: tuple[NotificationRule, ...]
    quiet: QuietHours | None = None


def is_reachable(contact: Contact | None) -> bool:
    """The one definition of "this person can be paged" (routing, paging and screens use it).

    An active person is reachable through any enabled contact method, or, having no contact
    methods at all, through their account's email address. A person whose every method is
    disabled (e.g. switched off after a permanent delivery failure: a webhook answering 4xx)
    is *not* reachable: paging them would reach nobody. Unknown or deactivated logins
    (``None``) are not reachable either.
    """
    if contact is None:
        return False
    return not contact.methods or any(method.enabled for method in contact.methods)


def load_contacts(session: Session, logins: Iterable[str]) -> dict[str, Contact]:
    """``{login: Contact}`` for the active users among ``logins``, in 3 queries however many."""
    wanted = sorted({login.lower() for login in logins})
    if not wanted:
        return {}
    users = {
        user.id: user
        for user in session.scalars(
            select(User).where(func.lower(User.email).in_(wanted), User.active)
        )
    }
    if not users:
        return {}
    methods: dict[int, list[ContactMethod]] = {uid: [] for uid in users}
    for method in session.scalars(
        select(ContactMethod)
        .where(ContactMethod.user_id.in_(list(users)))
        .order_by(ContactMethod.id)
    ):
        methods[method.user_id].append(method)
    rules: dict[int, list[NotificationRule]] = {uid: [] for uid in users}
    for rule in session.scalars(
        select(NotificationRule)
        .where(NotificationRule.user_id.in_(list(users)))
        .order_by(NotificationRule.id)
    ):
        rules[rule.user_id].append(rule)
    quiet = {
        row.user_id: QuietHours(row.start_minute, row.end_minute)
        for row in session.scalars(
            select(QuietHoursRow).where(QuietHoursRow.user_id.in_(list(users))))
    }
    return {
        user.email.lower(): Contact(user, tuple(methods[uid]), tuple(rules[uid]), quiet.get(uid))
        for uid, user in users.items()
    }


class PagingCache:
    """Reads shared by every incident paged at one instant (one pipeline batch): the routing
    directory, escalation policies and people's contacts are read once, not per incident.

    Only for the length of one transaction: it holds rows of the caller's session.
    """

    def __init__(self, session: Session, settings: Settings, now: datetime) -> None:
        self.session, self.settings, self.now = session, settings, now
        self._directory: Directory | None = None
        self._policies: dict[int | None, EscalationPolicy] = {}
        self._contacts: dict[str, Contact | None] = {}

    @property
    def directory(self) -> Directory:
        if self._directory is None:
            self._directory = load_directory(self.session, self.settings, self.now)
        return self._directory

    def policy(self, incident: Incident) -> EscalationPolicy:
        key = incident.escalation_policy_id
        if key not in self._policies:
            self._policies[key] = policy_for(self.session, incident)
        return self._policies[key]

    def contacts(self, logins: Iterable[str]) -> dict[str, Contact]:
        wanted = [login for login in logins if login not in self._contacts]
        if wanted:
            found = load_contacts(self.session, wanted)
            for login in wanted:
                self._contacts[login] = found.get(login.lower())
        return {
            login: contact
            for login in logins
            if (contact := self._contacts.get(login)) is not None
        }


def disable_contact(session: Session, channel_ref: str) -> None:
    """Sender callback (``disablers["contact"]``): a permanently failing method is switched off."""
    _prefix, _, ident = channel_ref.partition(":")
    if not ident.isdigit():
        return
    method = session.get(ContactMethod, int(ident))
    if method is not None and method.enabled:
        method.enabled = False
        method.disabled_reason = "disabled after a permanent delivery failure"
