"""Stored values (roles, severities, statuses, impacts, notice states, lines, kinds) reach screens
as labels in the viewer's language, never as the raw key: one mapping per vocabulary, complete and
translated. (The kinds of journal entries, overrides, contacts, flips: test_labels_kinds.py.)
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale

from checks.models import MAINTENANCE_KINDS
from checks.probes import CHECK_TYPES
from checks.queries import STATE_FILTERS
from checks.state import FlipKind, StateType
from dutydesk import labels
from dutydesk.core.db import Database, utcnow
from dutydesk.core.notify.outbox import CHANNELS
from dutydesk.incidents.alerts.matchers import SilenceState
from dutydesk.incidents.alerts.model import AlertSource, Severity
from dutydesk.incidents.events import EventKind, IncidentStatus
from dutydesk.incidents.lifecycle import Line as IncidentLine
from dutydesk.incidents.models import CONTACT_KINDS
from dutydesk.models import Role
from dutydesk.requests.events import EventKind as RequestEventKind
from dutydesk.requests.events import RequestStatus as RequestState
from dutydesk.requests.models import CHANNELS as REQUEST_CHANNELS
from dutydesk.requests.models import RATINGS, REQUEST_TYPES
from shifts.coverage import OverlapKind
from shifts.models import JOURNAL_KINDS, SWAP_STATUSES
from shifts.notices import service as svc
from shifts.notices.model import Impact, NoticeKind, ServiceStatus, StatusMode, UpdateStatus
from shifts.schedule import Line as ScheduleLine
from shifts.schedule import OverrideKind
from shifts.storage import PATTERN_CHOICES
from shifts.visitors.model import RequestStatus, VisitStatus
from shifts.visitors.onsite import Limit
from tests.conftest import bearer, form_token, login, make_user
from tests.dutydesk.test_checks_web import add_check
from tests.dutydesk.test_incidents_web import open_incident
from tests.dutydesk.test_translations import LOCALES, po_path

VALUES = {  # vocabulary -> every value it must label
    "role": list(Role),
    "severity": list(Severity),
    "check_status": list(STATE_FILTERS),
    "check_type": list(CHECK_TYPES),
    "incident_status": list(IncidentStatus),
    "incident_event": list(EventKind),
    "line": [*IncidentLine, ScheduleLine.SHIFT_LEAD],
    "silence_state": list(SilenceState),
    "service_status": list(ServiceStatus),
    "service_mode": list(StatusMode),
    "impact": list(Impact),
    "notice_state": list(UpdateStatus),
    "notice_kind": list(NoticeKind),
    "swap_status": list(SWAP_STATUSES),
    "access_request_status": list(RequestStatus),
    "visit_status": list(VisitStatus),
    "journal_kind": list(JOURNAL_KINDS),
    "override_kind": list(OverrideKind),
    "overlap_kind": list(OverlapKind),
    "contact_kind": [*CONTACT_KINDS, *CHANNELS],
    "alert_source": list(AlertSource),
    "state_type": list(StateType),
    "flip_kind": list(FlipKind),
    "ping_kind": ["success", "fail", "start", "log"],
    "maintenance_kind": list(MAINTENANCE_KINDS),
    "weekday": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "overstay_limit": list(Limit),
    "shift_pattern": list(PATTERN_CHOICES),
    "request_status": list(RequestState),
    "request_event": list(RequestEventKind),
    "request_channel": list(REQUEST_CHANNELS),
    "request_type": list(REQUEST_TYPES),
    "kb_visibility": ["public", "internal"],
    "approval_state": ["pending", "approved", "rejected"],
    "request_rating": list(RATINGS),
}


def visible_text(html: str) -> str:
    """What a person reads: the page without tags and attribute values."""
    return unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", html,
                                                    flags=re.S)))


def shows_raw(text: str, key: str) -> bool:
    """Whether ``key`` stands as a word of its own (not inside an e-mail or a slug)."""
    return re.search(rf"(?<![\w@.-]){re.escape(key)}(?![\w@.-])", text) is not None


def russian(app: Any, db: Database, role: Role) -> Any:
    """A client signed in as a new user who reads DutyDesk in Russian."""
    user = make_user(db, role, language="ru")
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    return client


# --------------------------------------------------------------------------- the mappings


def test_every_vocabulary_is_tested_and_labels_every_value() -> None:
    assert sorted(VALUES) == sorted(labels.VOCABULARIES)
    for vocabulary, values in VALUES.items():
        missing = [v for v in values if v not in labels.VOCABULARIES[vocabulary]]
        assert missing == [], f"{vocabulary} has no label for {missing}"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_label_is_translated_in_the_catalog(app: Any, locale: str) -> None:
    with po_path(locale).open("rb") as f:
        catalog = read_po(f, locale=locale)
    with app.app_context(), force_locale("en"):  # English shows the message id itself
        ids = {str(text) for table in labels.VOCABULARIES.values() for text in table.values()}
    for msgid in sorted(ids):
        entry = catalog.get(msgid)
        assert entry is not None and entry.string and not entry.fuzzy, (locale, msgid)


def test_label_takes_enums_and_their_strings_and_shows_unknown_values_as_they_are(
        app: Any) -> None:
    with app.app_context(), force_locale("ru"):
        assert labels.label(Role.SHIFT_LEAD, "role") == "Старший смены"
        assert labels.label("shift_lead", "role") == "Старший смены"
        assert labels.label("major_outage", "service_status") == "серьёзный сбой"
        assert labels.label("investigating", "notice_state") == "Выясняем причину"
        assert labels.label("superuser", "role") == "superuser"
        assert labels.label(None, "role") == ""
        assert ("critical", "Критично") in labels.choices("severity")
    with pytest.raises(KeyError):
        labels.label("admin", "no-such-vocabulary")


# --------------------------------------------------------------------------- screens in Russian


def test_people_and_tokens_show_role_labels(app: Any, db: Database, api_token: Any) -> None:
    make_user(db, Role.SHIFT_LEAD, email="lead@dc.example")
    api_token(Role.VIEWER)
    admin = russian(app, db, Role.ADMIN)
    for url in ("/admin/users", "/admin/tokens", "/"):
        text = visible_text(admin.get(url).get_data(as_text=True))
        assert "Администратор" in text, url  # the signed-in person's role, in the header
        for raw in ("admin", "shift_lead", "viewer", "engineer"):
            assert not shows_raw(text, raw), (url, raw)
    users = admin.get("/admin/users").get_data(as_text=True)
    assert "Старший смены" in visible_text(users)
    assert '<option value="engineer" selected>Инженер</option>' in users  # still posts the key


def test_notice_screens_and_the_status_page_show_state_status_and_mode_labels(
        app: Any, db: Database) -> None:
    with db.session() as s:
        group = svc.save_group(s, "admin", name="Office", now=utcnow())
        svc.save_service(s, "admin", slug="mail", name="Mail", group_id=group.id, now=utcnow())
        notice = svc.create_notice(s, "anna", kind="incident", title="Mail is down",
                                   body="We are on it.", affected={"mail": "major_outage"},
                                   now=utcnow())
    admin = russian(app, db, Role.ADMIN)
    screens = {
        "/notices": ["Выясняем причину", "Инцидент"],
        f"/notices/{notice.id}": ["Выясняем причину", "Причина найдена"],
        "/notices/services": ["работает", "вручную", "серьёзный сбой"],
        "/notices/new": ["серьёзный сбой", "частичный сбой"],
    }
    for url, expected in screens.items():
        text = visible_text(admin.get(url).get_data(as_text=True))
        for word in expected:
            assert word in text, (url, word)
        for raw in ("investigating", "identified", "operational", "major_outage", "manual",
                    "incident"):
            assert not shows_raw(text, raw), (url, raw)
    public = app.test_client().get("/status", headers={"Accept-Language": "ru"})
    assert "серьёзный сбой" in visible_text(public.get_data(as_text=True))


def test_incident_screens_show_status_severity_and_silence_state_labels(
        app: Any, db: Database, api_token: Any) -> None:
    incident = open_incident(db, app)
    made = app.test_client().post(
        "/api/v1/silences", headers=bearer(api_token(Role.ENGINEER)),
        json={"matchers": 'service="cooling"', "comment": "chiller", "duration_minutes": 60})
    assert made.status_code == 201
    engineer = russian(app, db, Role.ENGINEER)
    screens = {
        "/incidents": ["Сработал", "Alertmanager", "Первая линия"],
        f"/incidents/{incident}": ["Сработал", "Alertmanager", "Первая линия"],
        "/incidents/new": ["Критично", "Предупреждение", "Информация"],
        "/silences": ["Активен"],
    }
    for url, expected in screens.items():
        page = engineer.get(url)
        assert page.status_code == 200, url
        text = visible_text(page.get_data(as_text=True))
        for word in expected:
            assert word in text, (url, word)
        for raw in ("triggered", "critical", "warning", "active", "first_line", "reason"):
            assert not shows_raw(text, raw), (url, raw)
    reported = engineer.post("/incidents/new", data={
        "title": "Rack B12 has no power", "severity": "critical",
        "csrf_token": form_token(engineer, "/incidents/new")})
    assert reported.status_code == 302  # the options still post the stored key


def test_checks_list_shows_check_status_labels(app: Any, db: Database) -> None:
    add_check(db, "ups-a", "Hall A", status="CRITICAL")
    add_check(db, "core-sw", "Hall A", status="UNREACHABLE")
    viewer = russian(app, db, Role.VIEWER)
    text = visible_text(viewer.get("/checks").get_data(as_text=True))
    text = re.sub(r"\S+ says \w+", "", text)  # the checks' own output is data, shown as is
    assert "КРИТИЧНО" in text and "НЕДОСТУПНО" in text and "нестабильно" in text
    for raw in ("CRITICAL", "UNREACHABLE", "flapping"):
        assert not shows_raw(text, raw), raw
