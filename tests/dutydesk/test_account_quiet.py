"""Taras sets his quiet hours on his notification settings and sees them there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dutydesk.core.db import Database
from dutydesk.core.models.audit import AuditEntry
from dutydesk.incidents.models import QuietHoursRow
from tests.conftest import form_token

PAGE = "/account/notifications"


def test_quiet_hours_are_set_shown_and_removed(signed_in: Any, db: Database) -> None:
    taras = signed_in("engineer")
    assert "No quiet hours" in taras.get(PAGE).get_data(as_text=True)
    token = form_token(taras, PAGE)
    saved = taras.post(PAGE + "/quiet", data={"csrf_token": token, "start": "22:00",
                                              "end": "07:00"}, follow_redirects=True)
    text = saved.get_data(as_text=True)
    assert "Your quiet hours: 22:00–07:00 (Europe/Kyiv)" in text
    with db.session() as s:
        row = s.get(QuietHoursRow, taras.user.id)
        assert (row.start_minute, row.end_minute) == (22 * 60, 7 * 60)
        assert s.scalar(select(AuditEntry.summary).where(
            AuditEntry.action == "quiet_hours.set")) == "22:00–07:00"
    removed = taras.post(PAGE + "/quiet", data={"csrf_token": token, "action": "remove"},
                         follow_redirects=True)
    assert "No quiet hours" in removed.get_data(as_text=True)


def test_a_bad_time_is_refused_and_nothing_is_saved(signed_in: Any, db: Database) -> None:
    taras = signed_in("viewer")
    token = form_token(taras, PAGE)
    answer = taras.post(PAGE + "/quiet", data={"csrf_token": token, "start": "25:00",
                                               "end": "07:00"}, follow_redirects=True)
    assert "start must be a time of day like 22:00" in answer.get_data(as_text=True)
    with db.session() as s:
        assert s.get(QuietHoursRow, taras.user.id) is None
