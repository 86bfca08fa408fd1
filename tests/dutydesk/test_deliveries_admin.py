"""The deliveries screen: an admin sees failed and waiting messages with every attempt, and
retries one; the retry is audited, needs the form token, and leaves sent messages alone."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.db import Database, utcnow
from dutydesk.core.notify.outbox import enqueue
from dutydesk.models import AuditEntry, DeliveryAttempt, OutboxMessage
from tests.conftest import form_token

PAGE = "/admin/deliveries"
SLACK = "https://hooks.slack.com/services/T000/B000/SECRETTOKEN"


def message(db: Database, key: str, status: str, **fields: Any) -> int:
    with db.session() as s:
        row = enqueue(s, channel=fields.pop("channel", "webhook"),
                      target=fields.pop("target", SLACK), subject=f"[P1] #{key} UPS on battery",
                      body_text="x", idempotency_key=key, source_type="incident", source_id=1)
        assert row is not None
        s.flush()
        row.status, row.attempts = status, 2
        row.last_error = "gave up after 2 attempts: HTTP 404" if status == "failed" else None
        s.add_all([
            DeliveryAttempt(message_id=row.id, number=1, at=utcnow(), ok=False,
                            duration_ms=10003, detail="timed out", permanent=False),
            DeliveryAttempt(message_id=row.id, number=2, at=utcnow(), ok=False,
                            duration_ms=12, detail="HTTP 404", permanent=True),
        ])
        return row.id


def test_an_admin_sees_a_failed_page_with_its_attempts_and_no_secret_url(
    signed_in: Any, db: Database
) -> None:
    message(db, "failed-page", "failed")
    message(db, "done", "sent")
    admin = signed_in("admin")
    html = admin.get(PAGE).get_data(as_text=True)
    assert "#failed-page UPS on battery" in html
    assert "#done" not in html  # delivered messages are not in the default view
    assert "timed out" in html and "HTTP 404" in html and "10003 ms" in html
    assert "SECRETTOKEN" not in html and "https://hooks.slack.com/…" in html
    assert "#done" in admin.get(PAGE + "?view=sent").get_data(as_text=True)


def test_an_admin_retries_a_failed_message_and_it_is_audited(
    signed_in: Any, db: Database
) -> None:
    message_id = message(db, "failed-page", "failed")
    admin = signed_in("admin")
    answer = admin.post(f"{PAGE}/{message_id}/retry",
                        data={"csrf_token": form_token(admin, PAGE), "view": "failed"})
    assert answer.status_code == 302
    with db.session() as s:
        row = s.get(OutboxMessage, message_id)
        assert (row.status, row.last_error) == ("pending", None)
        assert row.next_attempt_at <= utcnow()
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "outbox.retry"))
    assert entry is not None and entry.entity_id == str(message_id)
    assert "SECRETTOKEN" not in entry.summary


def test_a_sent_message_is_not_sent_again_by_a_retry(signed_in: Any, db: Database) -> None:
    message_id = message(db, "done", "sent")
    admin = signed_in("admin")
    answer = admin.post(f"{PAGE}/{message_id}/retry",
                        data={"csrf_token": form_token(admin, PAGE)}, follow_redirects=True)
    assert "nothing to retry" in answer.get_data(as_text=True)
    with db.session() as s:
        assert s.get(OutboxMessage, message_id).status == "sent"
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "outbox.retry")) is None


def test_a_retry_without_the_form_token_changes_nothing(signed_in: Any, db: Database) -> None:
    message_id = message(db, "failed-page", "failed")
    admin = signed_in("admin")
    answer = admin.post(f"{PAGE}/{message_id}/retry", data={})
    assert answer.status_code == 400
    with db.session() as s:
        assert s.get(OutboxMessage, message_id).status == "failed"


@pytest.mark.parametrize("role", ["viewer", "engineer", "shift_lead"])
def test_only_admins_see_deliveries(signed_in: Any, db: Database, role: str) -> None:
    message_id = message(db, "failed-page", "failed")
    client = signed_in(role)
    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}/{message_id}/retry").status_code in (400, 403)


def test_bad_view_or_page_is_a_400(signed_in: Any) -> None:
    admin = signed_in("admin")
    assert admin.get(PAGE + "?view=everything").status_code == 400
    assert admin.get(PAGE + "?page=zero").status_code == 400
    assert admin.post(f"{PAGE}/999999/retry",
                      data={"csrf_token": form_token(admin, PAGE)}).status_code == 404


def test_the_screen_reads_in_russian(signed_in: Any, db: Database) -> None:
    message(db, "failed-page", "failed")
    admin = signed_in("admin")
    html = admin.get(PAGE, headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Доставки" in html and "Повторить сейчас" in html
