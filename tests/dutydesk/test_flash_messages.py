"""Screen messages after an action speak the person's language (SQLite and PostgreSQL).

The reason of a refusal comes from the domain code in English (as the API gives it); the frame
around it ("Refused: ...") is translated.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from dutydesk.core.db import Database
from dutydesk.models import Role
from tests.conftest import form_token, login, make_user
from tests.dutydesk.test_incidents_web import open_incident


def person(app: Any, db: Database, role: Role, language: str | None) -> Any:
    user = make_user(db, role, language=language)
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    return client


@pytest.mark.parametrize(
    ("language", "done", "refused"),
    [
        (None, "Acknowledged.", "Refused: already acknowledged by"),
        ("ru", "Подтверждено.", "Отказано: already acknowledged by"),
        ("uk", "Підтверджено.", "Відмовлено: already acknowledged by"),
    ],
)
def test_acting_on_an_incident_is_answered_in_the_engineers_language(
    app: Any, db: Database, language: str | None, done: str, refused: str
) -> None:
    incident_id = open_incident(db, app, f"ups-{language}")
    engineer = person(app, db, Role.ENGINEER, language)
    page = f"/incidents/{incident_id}"
    url = f"{page}/ack"
    first = engineer.post(url, data={"csrf_token": form_token(engineer, page)},
                          follow_redirects=True)
    assert done in first.get_data(as_text=True)
    again = engineer.post(url, data={"csrf_token": form_token(engineer, page)},
                          follow_redirects=True)
    assert refused in again.get_data(as_text=True)


def test_a_silence_is_confirmed_in_ukrainian(app: Any, db: Database) -> None:
    engineer = person(app, db, Role.ENGINEER, "uk")
    answer = engineer.post(
        "/silences",
        data={"csrf_token": form_token(engineer, "/silences"), "matchers": 'service="mail"',
              "duration_minutes": "30", "comment": "планові роботи"},
        follow_redirects=True,
    )
    assert "Заглушення створено." in answer.get_data(as_text=True)


def test_escalation_policy_messages_speak_russian(app: Any, db: Database) -> None:
    lead = person(app, db, Role.SHIFT_LEAD, "ru")
    page = "/incidents/escalation"
    bad = lead.post(page, data={"csrf_token": form_token(lead, page), "name": ""})
    assert "Не сохранено: name must say which policy" in bad.get_data(as_text=True)
    saved = lead.post(
        page,
        data={"csrf_token": form_token(lead, page), "name": "night", "targets_1": "first_line",
              "delay_1": "10", "repeat": "0"},
        follow_redirects=True,
    )
    html = saved.get_data(as_text=True)
    assert "Политика эскалации сохранена." in html
    assert "По ней идут 0 открытых инцидентов." in html
    policy_id = html.split("/incidents/escalation/")[1].split("/delete")[0]
    deleted = lead.post(f"{page}/{policy_id}/delete",
                        data={"csrf_token": form_token(lead, page)}, follow_redirects=True)
    assert ("Политика эскалации night удалена; 0 открытых инцидентов теперь идут по политике "
            "по умолчанию.") in deleted.get_data(as_text=True)


def test_outage_notice_refusals_are_framed_in_the_persons_language(app: Any,
                                                                   db: Database) -> None:
    from dutydesk.core.db import utcnow
    from shifts.notices import service as notices
    from shifts.notices.storage import load_notice

    with db.session() as s:
        group = notices.save_group(s, "admin", name="Office", now=utcnow())
        notices.save_service(s, "admin", slug="mail", name="Mail", group_id=group.id,
                             now=utcnow())
        notice_id = notices.create_notice(s, "anna", kind="incident", title="Mail is down",
                                          body="We are on it.", affected={"mail": "major_outage"},
                                          now=utcnow()).id
    engineer = person(app, db, Role.ENGINEER, "ru")
    new = engineer.post("/notices/new", data={
        "csrf_token": form_token(engineer, "/notices/new"), "kind": "incident", "title": "",
        "body": "x", "services": "mail"})
    assert new.status_code == 400
    assert re.search(r"Не сохранено: \S", new.get_data(as_text=True))
    page = f"/notices/{notice_id}"
    update = engineer.post(page, data={"csrf_token": form_token(engineer, page),
                                       "status": "exploded", "body": "x"},
                           follow_redirects=True)
    assert re.search(r"Не сохранено: \S[^<]*exploded", update.get_data(as_text=True))
    admin = person(app, db, Role.ADMIN, "uk")
    services = "/notices/services"
    bad = admin.post(services, data={"csrf_token": form_token(admin, services),
                                     "slug": "Bad Slug!", "name": "x"}, follow_redirects=True)
    assert re.search(r"Не збережено: \S", bad.get_data(as_text=True))
    with db.session() as s:  # nothing changed
        assert [u.status for u in load_notice(s, notice_id).updates] == ["investigating"]
