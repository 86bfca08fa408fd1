"""Notices with storage, on SQLite and PostgreSQL: publish, update, resolve, subscribe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dutydesk.core.db import Database
from dutydesk.models import AuditEntry, OutboxMessage
from shifts.notices import MaintenanceWindow, NoticeClosedError, PublishError
from shifts.notices import service as svc
from shifts.notices import subscriptions as subs
from shifts.notices.orm import NoticeRow, StatusSubscriber
from shifts.notices.storage import current_generation, load_notice

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
BASE = "http://status.example"


@pytest.fixture
def mail_service(db: Database) -> Database:
    with db.session() as s:
        group = svc.save_group(s, "admin", name="Office", now=NOW)
        svc.save_service(s, "admin", slug="mail", name="Mail", group_id=group.id, now=NOW)
        svc.save_service(s, "admin", slug="vpn", name="VPN", group_id=group.id, now=NOW)
    return db


def count(s, model) -> int:
    return s.scalar(select(func.count()).select_from(model))


def test_publishing_stores_notice_audits_it_and_bumps_the_page(mail_service: Database) -> None:
    with mail_service.session() as s:
        before = current_generation(s)
        row = svc.create_notice(s, "anna", kind="incident", title="Mail is down",
                                body="We are looking into it.", affected={"mail": "major_outage"},
                                now=NOW, base_url=BASE)
    with mail_service.session() as s:
        notice = load_notice(s, row.id)
        assert notice.is_published and notice.status.value == "investigating"
        assert [a.service_id for a in notice.affected] == ["mail"]
        assert current_generation(s) > before
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.entity_type == "notice")) \
            == "notice.create"


@pytest.mark.parametrize(
    ("affected", "body"),
    [({}, "text"),  # no affected service
     ({"mail": "major_outage"}, "  ")],  # no text
)
def test_notice_without_service_or_text_is_refused_and_nothing_stored(
        mail_service: Database, affected: dict, body: str) -> None:
    with pytest.raises(PublishError), mail_service.session() as s:
        svc.create_notice(s, "anna", kind="incident", title="Mail", body=body, affected=affected,
                          now=NOW)
    with mail_service.session() as s:
        assert count(s, NoticeRow) == 0
        assert count(s, AuditEntry) == 0 or s.scalar(select(func.count()).where(
            AuditEntry.entity_type == "notice")) == 0


def test_update_on_resolved_notice_is_refused(mail_service: Database) -> None:
    with mail_service.session() as s:
        row = svc.create_notice(s, "anna", kind="incident", title="Mail is down", body="Looking",
                                affected={"mail": "major_outage"}, now=NOW)
        svc.resolve(s, "anna", row.id, body="Fixed.", now=NOW + timedelta(hours=1))
    with pytest.raises(NoticeClosedError), mail_service.session() as s:
        svc.post_update(s, "anna", row.id, status="monitoring", body="again",
                        now=NOW + timedelta(hours=2))
    with mail_service.session() as s:
        assert load_notice(s, row.id).status.value == "resolved"
        reopened = svc.reopen_notice(s, "anna", row.id, status="investigating", body="Back down",
                                     now=NOW + timedelta(hours=3))
        assert reopened.resolved_at is None


def test_double_opt_in_then_subscriber_hears_of_each_update(mail_service: Database) -> None:
    with mail_service.session() as s:
        sub = subs.subscribe_email(s, "olena@dc.example", now=NOW, base_url=BASE,
                                   services=["mail"], language="ru")
        confirm_mail = s.scalar(select(OutboxMessage))
    token = confirm_mail.body_text.split("/status/subscribe/confirm/")[1].split()[0]
    with mail_service.session() as s:  # unconfirmed: nothing is sent for a notice
        row = svc.create_notice(s, "anna", kind="incident", title="Mail is down", body="Looking",
                                affected={"mail": "major_outage"}, now=NOW, base_url=BASE)
        assert count(s, OutboxMessage) == 1
        subs.confirm(s, token, now=NOW)
    with mail_service.session() as s:
        svc.post_update(s, "anna", row.id, status="identified", body="Disk full", now=NOW,
                        base_url=BASE)
        mails = list(s.scalars(select(OutboxMessage).where(OutboxMessage.source_type == "notice")))
    assert [m.target for m in mails] == ["olena@dc.example"]
    assert "Mail is down" in mails[0].subject and "Disk full" in mails[0].body_text
    assert "Причина найдена" in mails[0].subject  # the Russian "identified"
    assert f"/status/unsubscribe/{sub.id}." in mails[0].body_text


def test_subscriber_to_another_service_is_not_told(mail_service: Database) -> None:
    with mail_service.session() as s:
        sub = subs.add_webhook(s, "http://127.0.0.1:9/hook", now=NOW, services=["vpn"])
        svc.create_notice(s, "anna", kind="incident", title="Mail is down", body="Looking",
                          affected={"mail": "major_outage"}, now=NOW, base_url=BASE)
        assert sub.id and s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.source_type == "notice")) == 0


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b", "a b@c.org", "x@y.org<script>"])
def test_invalid_email_is_refused(mail_service: Database, email: str) -> None:
    with pytest.raises(subs.SubscriptionError), mail_service.session() as s:
        subs.subscribe_email(s, email, now=NOW, base_url=BASE)
    with mail_service.session() as s:
        assert count(s, StatusSubscriber) == 0 and count(s, OutboxMessage) == 0


def test_forged_unsubscribe_is_refused_and_real_one_works(mail_service: Database) -> None:
    with mail_service.session() as s:
        sub = subs.add_webhook(s, "http://127.0.0.1:9/hook", now=NOW)
        good = subs.unsubscribe_token(sub)
    forged = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    for token in (forged, "1.abc", "x", f"{sub.id + 1}.{good.split('.')[1]}"):
        with pytest.raises(subs.SubscriptionError), mail_service.session() as s:
            subs.unsubscribe(s, token, now=NOW)
    with mail_service.session() as s:
        assert s.get(StatusSubscriber, sub.id).unsubscribed_at is None
        subs.unsubscribe(s, good, now=NOW)
    with mail_service.session() as s:
        assert s.get(StatusSubscriber, sub.id).unsubscribed_at is not None


def test_maintenance_starts_completes_and_reminds_once(mail_service: Database) -> None:
    start = NOW + timedelta(hours=2)
    window = MaintenanceWindow(start, start + timedelta(hours=1),
                               reminder_leads=(timedelta(hours=1),))
    with mail_service.session() as s:
        subs.add_webhook(s, "http://127.0.0.1:9/hook", now=NOW)
        sub = subs.subscribe_email(s, "ivan@dc.example", now=NOW, base_url=BASE)
        sub.confirmed_at = NOW
        row = svc.create_notice(s, "anna", kind="maintenance", title="UPS swap",
                                body="Hall A UPS", affected={"mail": "under_maintenance"},
                                now=NOW, window=window, base_url=BASE)
    reminders = select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.idempotency_key.like("%:reminder:%"))
    for minutes in (30, 61, 62):
        with mail_service.session() as s:
            svc.run_maintenance_clock(s, NOW + timedelta(minutes=minutes), base_url=BASE)
    with mail_service.session() as s:
        assert s.scalar(reminders) == 1
        assert load_notice(s, row.id).status.value == "scheduled"
        svc.run_maintenance_clock(s, start + timedelta(minutes=1), base_url=BASE)
        assert load_notice(s, row.id).status.value == "in_progress"
        svc.run_maintenance_clock(s, start + timedelta(hours=2), base_url=BASE)
        assert load_notice(s, row.id).status.value == "completed"
        assert s.scalar(reminders) == 1
