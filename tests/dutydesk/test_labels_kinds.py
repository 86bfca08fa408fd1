"""Kinds of things on screens in Russian (SQLite and PostgreSQL): shift journal entries,
overrides, contact methods, check state types, state changes and maintenance windows, the form
fields of the incident page, and the refusal that names roles — labels, never the stored key."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from checks.models import FlipRow, MaintenanceWindowRow
from dutydesk.core.db import Database, utcnow
from dutydesk.core.security import Principal
from dutydesk.models import Role
from shifts import service
from tests.conftest import bearer, form_token, login, make_user
from tests.dutydesk.test_checks_web import add_check
from tests.dutydesk.test_incidents_web import open_incident
from tests.dutydesk.test_labels import russian, shows_raw, visible_text

LEAD = Principal(kind="user", role=Role.SHIFT_LEAD, label="lead@dc.example")


def test_journal_entries_and_overrides_show_their_kinds(app: Any, db: Database) -> None:
    lead = make_user(db, Role.SHIFT_LEAD, language="ru")
    client = app.test_client()
    assert login(client, lead.email).status_code == 302
    now = utcnow()
    with db.session() as s:
        row = service.create_schedule(s, LEAD, name="Kyiv", line="first_line",
                                      time_zone="Europe/Kyiv")
        service.add_journal_entry(s, LEAD, kind="round", text="Hall A: CRAC-2 filter dirty",
                                  at=now, schedule_id=row.id)
        service.add_journal_entry(s, LEAD, kind="call", text="Acme asks about rack 12", at=now,
                                  schedule_id=row.id)
        service.add_override(s, LEAD, row.id, kind="add", person_id=lead.id,
                             starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=5),
                             now=now)
        s.commit()
        schedule_id = row.id
    journal = client.get("/shifts/journal").get_data(as_text=True)
    rows = visible_text(journal[journal.index('<table class="table" id="journal">'):])
    assert "Обход" in rows and "Звонок" in rows
    assert "Первая линия (Kyiv)" in rows and "First line" not in visible_text(journal)
    assert '<option value="round">Обход</option>' in journal  # the form still posts the key
    editor = client.get(f"/shifts/schedules/{schedule_id}").get_data(as_text=True)
    overrides = editor[editor.index('id="overrides"'):editor.index("<h2", editor.index(
        'id="overrides"'))]
    assert "Дополнительный дежурный" in visible_text(overrides)
    assert '<option value="replace">Замена</option>' in overrides
    for text, raw in ((rows, "round"), (rows, "call"), (visible_text(overrides), "add")):
        assert not shows_raw(text, raw), raw


def test_contact_methods_show_their_kinds(app: Any, db: Database) -> None:
    client = russian(app, db, Role.ENGINEER)
    page = "/account/notifications"
    for kind, target in (("telegram", "-100123456789"), ("webhook", "https://hooks.dc.example/p")):
        answer = client.post(f"{page}/methods", data={
            "csrf_token": form_token(client, page), "kind": kind, "target": target})
        assert answer.status_code == 302, kind
    html = client.get(page).get_data(as_text=True)
    text = visible_text(html)
    assert "Telegram" in text and "Вебхук" in text
    assert '<option value="email">Эл. почта</option>' in html
    for raw in ("telegram", "webhook", "email", "slack"):
        assert not shows_raw(text, raw), raw


def test_check_screens_show_state_type_state_changes_and_window_kinds(
        app: Any, db: Database) -> None:
    check_id = add_check(db, "ups-a", "Hall A", status="CRITICAL", state_type="SOFT", attempt=2)
    with db.session() as s:
        s.add(FlipRow(check_id=check_id, kind="flapping_started", old_status="OK",
                      new_status="CRITICAL", reason="12 changes in 21 results", at=utcnow()))
        s.add(MaintenanceWindowRow(name="patch night", kind="weekly", zone="Europe/Kyiv",
                                   check_id=check_id, definition={
                                       "weekdays": ["sun"], "start_time": "02:00",
                                       "duration": "2h"}))
    client = russian(app, db, Role.SHIFT_LEAD)
    listing = visible_text(client.get("/checks").get_data(as_text=True))
    assert "не подтверждено 2/3" in listing
    html = client.get(f"/checks/{check_id}").get_data(as_text=True)
    windows = visible_text(html[html.index('id="maintenance"'):html.index('id="flips"')])
    flips = visible_text(html[html.index('id="flips"'):])
    facts = visible_text(html[:html.index('id="maintenance"')])
    assert "не подтверждено" in facts and "Началась нестабильность" in flips
    assert "еженедельно" in windows
    assert '<option value="one_off">разовое</option>' in html
    assert re.search(r'value="sun">\s*Вс</label>', html)  # the new window's weekday boxes
    for text, raw in ((listing, "SOFT"), (facts, "SOFT"), (flips, "flapping_started"),
                      (windows.replace("weekdays", ""), "weekly")):
        assert not shows_raw(text, raw), raw


def test_incident_form_fields_are_named_in_the_viewers_language(app: Any, db: Database) -> None:
    incident_id = open_incident(db, app)
    html = russian(app, db, Role.ENGINEER).get(f"/incidents/{incident_id}").get_data(
        as_text=True)
    assert 'placeholder="Причина"' in html and 'placeholder="Как устранено"' in html
    assert 'placeholder="Исполнитель"' in html
    assert not re.search(r'placeholder="(reason|note|assignee)"', html)


def test_a_refusal_names_the_roles_by_their_labels(app: Any, db: Database,
                                                   api_token: Any) -> None:
    engineer = russian(app, db, Role.ENGINEER)
    page = engineer.get("/admin/users")
    assert page.status_code == 403
    assert ("Для этого нужна роль «Администратор» или выше; ваша роль — «Инженер»."
            in visible_text(page.get_data(as_text=True)))
    refusals = {
        "/visitors/clients": "Для управления клиентами нужна роль «Старший смены» или выше.",
        "/notices/services": "Для управления сервисами нужна роль «Администратор».",
    }
    for url, message in refusals.items():
        answer = engineer.post(url, data={"csrf_token": form_token(engineer, "/"), "name": "x"})
        assert answer.status_code == 403, url
        assert message in visible_text(answer.get_data(as_text=True)), url
    viewer = russian(app, db, Role.VIEWER)
    with db.session() as s:
        notice = service_notice(s)
    answer = viewer.post(f"/notices/{notice}", data={"csrf_token": form_token(viewer, "/")})
    assert answer.status_code == 403
    assert "Для публикации обновлений нужна роль «Инженер» или выше." in visible_text(
        answer.get_data(as_text=True))
    # API clients keep the English message with the stored keys, as every API error
    api = app.test_client().get("/api/v1/users", headers=bearer(api_token(Role.ENGINEER)))
    assert api.status_code == 403
    assert api.get_json()["error"] == "this needs the admin role or higher; you are engineer"


def service_notice(s: Any) -> int:
    from shifts.notices import service as notices

    group = notices.save_group(s, "admin", name="Office", now=utcnow())
    notices.save_service(s, "admin", slug="mail", name="Mail", group_id=group.id, now=utcnow())
    return notices.create_notice(s, "anna", kind="incident", title="Mail is down",
                                 body="We are on it.", affected={"mail": "major_outage"},
                                 now=utcnow()).id
