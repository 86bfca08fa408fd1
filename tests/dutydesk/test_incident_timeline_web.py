"""The incident page tells its timeline in sentences, in the viewer's language and time zone
(SQLite and PostgreSQL): no raw ``key: value`` dump, and an event nobody knows still shows."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.escalation import DueNotification, notified_event
from dutydesk.incidents.events import EventKind, IncidentEvent
from dutydesk.incidents.models import Incident, IncidentEventRow
from dutydesk.incidents.store import act, add_events
from dutydesk.models import Role
from tests.conftest import login, make_user
from tests.dutydesk.test_incidents_web import open_incident
from tests.dutydesk.test_labels import shows_raw, visible_text


def busy_incident(db: Database, app: Any) -> tuple[int, datetime, str]:
    """An incident that went through most of what can happen to one; (id, when, first priority)."""
    incident_id = open_incident(db, app, "chiller-2")
    now = utcnow().replace(microsecond=0)
    with db.session() as s:
        first = s.get(Incident, incident_id).priority
        act(s, incident_id, "reassign", "ivan@dc.example", now, line="second_line",
            reason="needs the DBA")
        act(s, incident_id, "reassign", "olga@dc.example", now, line="first_line",
            reason="not a database problem")
        act(s, incident_id, "change_priority", "ivan@dc.example", now,
            priority="P4" if first != "P4" else "P3", reason="hall B is fine")
        act(s, incident_id, "note", "ivan@dc.example", now,
            text="**Fuse** replaced <script>alert(1)</script>")
        add_events(s, incident_id, [
            IncidentEvent(EventKind.SLA_WARNING, now, "sla", {
                "clock": "acknowledge", "priority": first, "elapsed_s": 450, "target_s": 600}),
            notified_event(DueNotification(0, 1, 1, 0, ("second_line",), now), now),
            IncidentEvent(EventKind.NOTIFICATION_FAILED, now, "notify", {
                "channel": "email", "target": "ivan@dc.example", "attempt": 2,
                "detail": "421 try later"}),
            IncidentEvent(EventKind.ESCALATED, now, "ivan@dc.example",
                          {"reason": "", "pager": "B12"}),
        ])
        # a kind this version does not know, as a newer one might write it
        s.add(IncidentEventRow(incident_id=incident_id, kind="power_cycled", at=now,
                               actor="pdu-b12", data={"outlet": 7}))
    return incident_id, now, first


@pytest.mark.parametrize(
    ("language", "zone", "sentences"),
    [
        ("en", "Europe/Kyiv", [
            "Reassigned from First line to Second line: needs the DBA",
            "Reassigned from Second line to First line (hand-back): not a database problem",
            "Priority changed {first} → {new}: hall B is fine",
            "SLA warning: time to acknowledge at 75 % (7 min 30 s of 10 min)",
            "Escalation step 2 notified: Second line",
            "Notification by email to ivan@dc.example failed (attempt 2): 421 try later",
            "Escalation requested",
            "Event power_cycled",
        ]),
        ("ru", "Asia/Novosibirsk", [
            "Передан: Первая линия → Вторая линия: needs the DBA",
            "Передан: Вторая линия → Первая линия (возврат): not a database problem",
            "Приоритет изменён: {first} → {new}: hall B is fine",
            "Предупреждение SLA: время до подтверждения — 75 % (7 мин 30 с из 10 мин)",
            "Эскалация, шаг 2 — оповещены: Вторая линия",
            "Не удалось отправить уведомление по эл. почте на ivan@dc.example (попытка 2): "
            "421 try later",
            "Запрошена эскалация",
            "Событие power_cycled",
        ]),
    ],
)
def test_the_timeline_reads_as_sentences_in_the_viewers_language_and_zone(
    app: Any, db: Database, language: str, zone: str, sentences: list[str]
) -> None:
    incident_id, when, first = busy_incident(db, app)
    new = "P4" if first != "P4" else "P3"
    viewer = make_user(db, Role.VIEWER, language=language, timezone=zone)
    client = app.test_client()
    assert login(client, viewer.email).status_code == 302
    html = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    timeline = html[html.index('<section class="timeline">'):]
    text = re.sub(r"\s+", " ", visible_text(timeline))
    for sentence in sentences:
        assert sentence.format(first=first, new=new) in text, sentence
    assert "outlet: 7" in text and "pager: B12" in text  # what no sentence tells still shows
    assert "<strong>Fuse</strong>" in timeline and "<script>alert(1)" not in timeline
    assert when.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S") in text
    for raw in ("first_line", "second_line", "hand_back", "from_line", "elapsed_s", "target_s",
                "clock", "channel", "sla", "notify"):
        assert not shows_raw(text, raw), raw
    if language == "ru":
        assert "Часы SLA" in text and "Уведомления" in text  # the system actors, by name
        assert "Первая линия" in visible_text(html[:html.index('<section class="sla">')])
