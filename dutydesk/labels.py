"""Translated labels for the fixed vocabularies screens show: roles, severities, statuses,
impacts, notice states, lines and the kinds of things (journal entries, overrides, contacts).

Stored values (``shift_lead``, ``major_outage``, ``investigating``) are data, not text for people.
Every vocabulary has exactly one mapping here, stored value → label (a Flask-Babel lazy string,
translated when shown, in the viewer's language). Templates go through the ``label`` filter:
``{{ user.role|label('role') }}``; Python code through :func:`label`.

The labels of service statuses and notice states are defined once in ``shifts.notices`` (the
badge, the Atom feed and the subscriber mail translate them for a language other than the
viewer's), and wrapped here for screens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext

from checks.models import MAINTENANCE_KINDS
from checks.state import FlipKind, StateType
from dutydesk.incidents.alerts.matchers import SilenceState
from dutydesk.incidents.alerts.model import AlertSource, Severity
from dutydesk.incidents.events import IncidentStatus
from dutydesk.incidents.models import CONTACT_KINDS
from dutydesk.incidents.timeline_text import EVENT_NAMES, LINE_NAMES
from dutydesk.models import Role
from shifts.coverage import OverlapKind
from shifts.models import JOURNAL_KINDS, SWAP_STATUSES
from shifts.notices.atom import STATUS_LABELS as NOTICE_STATE_IDS
from shifts.notices.badge import STATUS_TEXTS as SERVICE_STATUS_IDS
from shifts.notices.model import Impact, NoticeKind, StatusMode
from shifts.schedule import OverrideKind
from shifts.visitors.model import RequestStatus, VisitStatus
from shifts.visitors.onsite import Limit

Labels = Mapping[str, Any]  # stored value -> lazy label

ROLE: Labels = {
    Role.VIEWER: lazy_gettext("Viewer"),
    Role.ENGINEER: lazy_gettext("Engineer"),
    Role.SHIFT_LEAD: lazy_gettext("Shift lead"),
    Role.ADMIN: lazy_gettext("Admin"),
}
#: An alert's severity (what its sender says).
SEVERITY: Labels = {
    Severity.CRITICAL: lazy_gettext("Critical"),
    Severity.ERROR: lazy_gettext("Error"),
    Severity.WARNING: lazy_gettext("Warning"),
    Severity.INFO: lazy_gettext("Info"),
}
#: A check's state word, and the badges the checks list filters by beside it.
CHECK_STATUS: Labels = {
    "OK": lazy_gettext("OK"),
    "WARNING": lazy_gettext("WARNING"),
    "CRITICAL": lazy_gettext("CRITICAL"),
    "UNKNOWN": lazy_gettext("UNKNOWN"),
    "UNREACHABLE": lazy_gettext("UNREACHABLE"),
    "PENDING": lazy_gettext("PENDING"),
    "maintenance": lazy_gettext("maintenance"),
    "flapping": lazy_gettext("flapping"),
    "disabled": lazy_gettext("disabled"),
}
INCIDENT_STATUS: Labels = {
    IncidentStatus.TRIGGERED: lazy_gettext("Triggered"),
    IncidentStatus.ACKNOWLEDGED: lazy_gettext("Acknowledged"),
    IncidentStatus.PENDING: lazy_gettext("Pending"),
    IncidentStatus.RESOLVED: lazy_gettext("Resolved"),
}
#: What happened to an incident (its timeline); the names are defined with the timeline's
#: sentences in ``dutydesk.incidents.timeline_text``.
INCIDENT_EVENT: Labels = {k: lazy_gettext(v) for k, v in EVENT_NAMES.items()}
#: A duty line (an incident's line, an escalation target naming a line or the shift lead).
LINE: Labels = {k: lazy_gettext(v) for k, v in LINE_NAMES.items()}
SILENCE_STATE: Labels = {
    SilenceState.PENDING: lazy_gettext("Not started"),
    SilenceState.ACTIVE: lazy_gettext("Active"),
    SilenceState.EXPIRED: lazy_gettext("Expired"),
}
#: A status page service's status; also the impact a notice gives each affected service.
SERVICE_STATUS: Labels = {k: lazy_gettext(v) for k, v in SERVICE_STATUS_IDS.items()}
SERVICE_MODE: Labels = {
    StatusMode.MANUAL: lazy_gettext("manual"),
    StatusMode.AUTO: lazy_gettext("automatic (follows checks)"),
}
#: A notice's overall impact (Statuspage's none/minor/major/critical).
IMPACT: Labels = {
    Impact.NONE: lazy_gettext("No impact"),
    Impact.MINOR: lazy_gettext("Minor"),
    Impact.MAJOR: lazy_gettext("Major"),
    Impact.CRITICAL: lazy_gettext("Critical"),
}
#: A notice's state: the status of its latest update (investigating ... resolved, scheduled ...).
NOTICE_STATE: Labels = {k: lazy_gettext(v) for k, v in NOTICE_STATE_IDS.items()}
NOTICE_KIND: Labels = {
    NoticeKind.INCIDENT: lazy_gettext("Incident"),
    NoticeKind.MAINTENANCE: lazy_gettext("Maintenance"),
}
SWAP_STATUS: Labels = dict(zip(SWAP_STATUSES, (
    lazy_gettext("Offered"),
    lazy_gettext("Taken"),
    lazy_gettext("Approved"),
    lazy_gettext("Rejected"),
    lazy_gettext("Withdrawn"),
), strict=True))
ACCESS_REQUEST_STATUS: Labels = {
    RequestStatus.PENDING: lazy_gettext("Pending"),
    RequestStatus.APPROVED: lazy_gettext("Approved"),
    RequestStatus.REJECTED: lazy_gettext("Rejected"),
}
VISIT_STATUS: Labels = {
    VisitStatus.EXPECTED: lazy_gettext("Expected"),
    VisitStatus.ON_SITE: lazy_gettext("On site"),
    VisitStatus.LEFT: lazy_gettext("Left the site"),
    VisitStatus.DENIED: lazy_gettext("Access denied"),
    VisitStatus.NO_SHOW: lazy_gettext("No show"),
}

#: A shift journal entry's kind.
JOURNAL_KIND: Labels = dict(zip(JOURNAL_KINDS, (
    lazy_gettext("Event"),
    lazy_gettext("Phone call"),
    lazy_gettext("Walk-round"),
    lazy_gettext("Note"),
), strict=True))
#: What an override does to who is on duty (in the order the form offers them).
OVERRIDE_KIND: Labels = {
    OverrideKind.REPLACE: lazy_gettext("Replacement"),
    OverrideKind.ADD: lazy_gettext("Extra person on duty"),
    OverrideKind.REMOVE: lazy_gettext("Taken off duty"),
}
#: Where a schedule's coverage overlaps.
OVERLAP_KIND: Labels = {
    OverlapKind.SCHEDULES: lazy_gettext("between schedules"),
    OverlapKind.LAYERS: lazy_gettext("between layers of one schedule"),
}
#: A person's contact method, and the channel a notification goes through.
CONTACT_KIND: Labels = dict(zip(CONTACT_KINDS, (
    lazy_gettext("Email"),
    lazy_gettext("Webhook"),
    lazy_gettext("Slack"),
    lazy_gettext("Telegram"),
), strict=True))
#: What a check probes (the type names of ``checks.probes.CHECK_TYPES``).
CHECK_TYPE: Labels = {
    "http": lazy_gettext("HTTP(S) request"),
    "tcp": lazy_gettext("TCP port"),
    "ping": lazy_gettext("Ping (ICMP)"),
    "dns": lazy_gettext("DNS query"),
    "tls": lazy_gettext("TLS certificate"),
    "plugin": lazy_gettext("Nagios plugin"),
    "prometheus": lazy_gettext("Prometheus query"),
    "snmp": lazy_gettext("SNMP polling"),
    "heartbeat": lazy_gettext("Heartbeat (push)"),
    "modbus": lazy_gettext("Modbus TCP device (PDU, CRAC, generator)"),
    "redfish": lazy_gettext("Redfish BMC (server health)"),
    "ipmi": lazy_gettext("IPMI BMC (server sensors)"),
}
#: Where an incident's alert came from.
ALERT_SOURCE: Labels = {
    AlertSource.CHECK: lazy_gettext("Checks"),
    AlertSource.ALERTMANAGER: lazy_gettext("Alertmanager"),
    AlertSource.PAGERDUTY: lazy_gettext("PagerDuty"),
    AlertSource.MANUAL: lazy_gettext("Manual report"),
    AlertSource.SNMP_TRAP: lazy_gettext("SNMP traps"),
    AlertSource.SYSLOG: lazy_gettext("Syslog"),
    AlertSource.REDFISH: lazy_gettext("Redfish events"),
}
#: A check's state type: a problem still being confirmed by retries (SOFT) or confirmed (HARD).
STATE_TYPE: Labels = {
    StateType.SOFT: lazy_gettext("SOFT"),
    StateType.HARD: lazy_gettext("HARD"),
}
#: What a check's state change (flip) announces.
FLIP_KIND: Labels = {
    FlipKind.PROBLEM: lazy_gettext("Problem"),
    FlipKind.RECOVERY: lazy_gettext("Recovery"),
    FlipKind.CHANGED: lazy_gettext("Problem changed"),
    FlipKind.FLAPPING_STARTED: lazy_gettext("Flapping started"),
    FlipKind.FLAPPING_STOPPED: lazy_gettext("Flapping stopped"),
    FlipKind.UNREACHABLE: lazy_gettext("Became unreachable"),
    FlipKind.REACHABLE: lazy_gettext("Reachable again"),
    FlipKind.MAINTENANCE_STARTED: lazy_gettext("Maintenance started"),
    FlipKind.MAINTENANCE_ENDED: lazy_gettext("Maintenance ended"),
}
#: What a cron job's ping said (/ping/<key>, /start, /fail, /<exit-status>, /log).
PING_KIND: Labels = {
    "success": lazy_gettext("Success"),
    "fail": lazy_gettext("Failure"),
    "start": lazy_gettext("Started"),
    "log": lazy_gettext("Log"),
}
#: A maintenance window's kind.
MAINTENANCE_KIND: Labels = dict(zip(MAINTENANCE_KINDS, (
    lazy_gettext("one-off"),
    lazy_gettext("weekly"),
    lazy_gettext("monthly"),
    lazy_gettext("cron"),
), strict=True))
#: Weekdays as maintenance windows store them.
WEEKDAY: Labels = dict(zip(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), (
    lazy_gettext("Mon"),
    lazy_gettext("Tue"),
    lazy_gettext("Wed"),
    lazy_gettext("Thu"),
    lazy_gettext("Fri"),
    lazy_gettext("Sat"),
    lazy_gettext("Sun"),
), strict=True))

#: Which limit an on-site visitor has passed (the visitor desk's overstay list).
OVERSTAY_LIMIT: Labels = {
    Limit.EXPECTED_CHECKOUT: lazy_gettext("expected check-out"),
    Limit.REQUEST_END: lazy_gettext("end of the access request"),
    Limit.BADGE_EXPIRY: lazy_gettext("badge expiry"),
}
#: A rotation's shift pattern (shifts.storage.PATTERN_CHOICES).
SHIFT_PATTERN: Labels = {
    "fixed_length": lazy_gettext("Fixed length"),
    "day_night": lazy_gettext("Day / night"),
    "two_on_two_off": lazy_gettext("Two on, two off"),
    "day_night_off_off": lazy_gettext("Day, night, off, off"),
    "crew_cycle": lazy_gettext("Crew cycle"),
}

#: A request's state (dutydesk.requests.events.RequestStatus).
REQUEST_STATUS: Labels = {
    "new": lazy_gettext("New"),
    "in_progress": lazy_gettext("In progress"),
    "waiting": lazy_gettext("Waiting for you"),
    "resolved": lazy_gettext("Resolved"),
    "closed": lazy_gettext("Closed"),
}
#: What happened to a request (dutydesk.requests.events.EventKind).
REQUEST_EVENT: Labels = {
    "created": lazy_gettext("Request registered"),
    "started": lazy_gettext("Work started"),
    "replied": lazy_gettext("Service desk replied"),
    "requester_replied": lazy_gettext("Requester replied"),
    "waiting": lazy_gettext("Waiting for the requester"),
    "resumed": lazy_gettext("Work resumed"),
    "resolved": lazy_gettext("Resolved"),
    "closed": lazy_gettext("Closed"),
    "reopened": lazy_gettext("Reopened"),
    "reassigned": lazy_gettext("Handed over"),
    "priority_changed": lazy_gettext("Priority changed"),
    "note": lazy_gettext("Internal note"),
    "linked": lazy_gettext("Linked to an incident"),
    "unlinked": lazy_gettext("Unlinked from the incident"),
    "incident_update": lazy_gettext("News about the outage"),
    "sla_warning": lazy_gettext("SLA warning"),
    "sla_breached": lazy_gettext("SLA breached"),
}
#: Through which door a request came in (dutydesk.requests.models.CHANNELS).
REQUEST_CHANNEL: Labels = {
    "web": lazy_gettext("Web form"),
    "email": lazy_gettext("Email"),
    "phone": lazy_gettext("Phone"),
    "walk_in": lazy_gettext("Walk-in"),
    "client_api": lazy_gettext("Client API"),
}
#: A request's type (dutydesk.requests.models.REQUEST_TYPES).
REQUEST_TYPE: Labels = {
    "fault": lazy_gettext("Fault"),
    "service_request": lazy_gettext("Service request"),
    "question": lazy_gettext("Question"),
}
#: Who may read a knowledge-base article (dutydesk.requests.kb.models.VISIBILITIES).
KB_VISIBILITY: Labels = {
    "public": lazy_gettext("Public"),
    "internal": lazy_gettext("Internal"),
}

#: Where a request for a catalog item that needs approval stands
#: (``service_requests.approval_state``).
APPROVAL_STATE: Labels = {
    "pending": lazy_gettext("awaiting approval"),
    "approved": lazy_gettext("approved"),
    "rejected": lazy_gettext("rejected"),
}

#: The requester's rating of a resolved request (dutydesk.requests.models.RATINGS).
REQUEST_RATING: Labels = {
    "good": lazy_gettext("Good"),
    "bad": lazy_gettext("Bad"),
}

VOCABULARIES: dict[str, Labels] = {
    "approval_state": APPROVAL_STATE,
    "kb_visibility": KB_VISIBILITY,
    "role": ROLE,
    "severity": SEVERITY,
    "check_status": CHECK_STATUS,
    "check_type": CHECK_TYPE,
    "incident_status": INCIDENT_STATUS,
    "incident_event": INCIDENT_EVENT,
    "line": LINE,
    "silence_state": SILENCE_STATE,
    "service_status": SERVICE_STATUS,
    "service_mode": SERVICE_MODE,
    "impact": IMPACT,
    "notice_state": NOTICE_STATE,
    "notice_kind": NOTICE_KIND,
    "swap_status": SWAP_STATUS,
    "access_request_status": ACCESS_REQUEST_STATUS,
    "visit_status": VISIT_STATUS,
    "journal_kind": JOURNAL_KIND,
    "override_kind": OVERRIDE_KIND,
    "overlap_kind": OVERLAP_KIND,
    "contact_kind": CONTACT_KIND,
    "alert_source": ALERT_SOURCE,
    "state_type": STATE_TYPE,
    "flip_kind": FLIP_KIND,
    "ping_kind": PING_KIND,
    "maintenance_kind": MAINTENANCE_KIND,
    "weekday": WEEKDAY,
    "overstay_limit": OVERSTAY_LIMIT,
    "shift_pattern": SHIFT_PATTERN,
    "request_status": REQUEST_STATUS,
    "request_event": REQUEST_EVENT,
    "request_channel": REQUEST_CHANNEL,
    "request_type": REQUEST_TYPE,
    "request_rating": REQUEST_RATING,
}


def label(value: Any, vocabulary: str) -> str:
    """The label of a stored ``value`` (an enum member or its string) in the viewer's language.

    A value the vocabulary does not know is shown as it is, so a screen never fails over a value
    newer than this table (a test keeps the tables complete); ``None`` shows as an empty string.
    An unknown ``vocabulary`` is a programming error and raises ``KeyError``.
    """
    table = VOCABULARIES[vocabulary]
    if value is None:
        return ""
    found = table.get(value)
    if found is None:
        found = table.get(getattr(value, "value", value))
    return str(found) if found is not None else str(getattr(value, "value", value))


def schedule_title(schedule: Any) -> str:
    """"Первая линия (Kyiv)": a schedule's line label in the viewer's language and its name (the
    screens' form of ``Schedule.title``, which stays English for logs and the API)."""
    return f"{label(schedule.line, 'line')} ({schedule.name})"


def choices(vocabulary: str) -> list[tuple[str, str]]:
    """(stored value, label) for every value of a vocabulary, in its order: for ``<select>``."""
    return [(str(getattr(k, "value", k)), str(v)) for k, v in VOCABULARIES[vocabulary].items()]
