"""Storm control's ledger and digests (the decisions are ``dutydesk.incidents.storm``).

``storm_allows`` / ``ledger`` are called by ``paging.notify_people`` for every page, in the
transaction that creates it; ``send_digests`` (a worker job) folds held pages into one outbox
message per channel once they waited a window, and drops ledger rows older than a day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.notify.outbox import enqueue
from dutydesk.incidents.models import ContactMethod, Incident, PageLedgerRow
from dutydesk.incidents.priority import Priority
from dutydesk.incidents.storm import StormPolicy, digest_due, digest_message, page_now

LEDGER_KEEP = timedelta(days=1)


def storm_policy(settings: Settings) -> StormPolicy:
    """Storm control's limit from the settings (``DUTYDESK_PAGE_LIMIT``/``_MINUTES``)."""
    return StormPolicy(settings.page_limit, timedelta(minutes=settings.page_limit_minutes))


def storm_allows(
    session: Session, settings: Settings, channel: str, target: str, priority: Priority,
    at: datetime,
) -> bool:
    """Storm control's verdict for one page to one channel at ``at``."""
    if priority is Priority.P1:
        return True  # never held; no need to read the ledger
    policy = storm_policy(settings)
    sent = list(
        session.scalars(
            select(PageLedgerRow.at).where(
                PageLedgerRow.channel == channel,
                PageLedgerRow.target == target,
                PageLedgerRow.held.is_(False),
                PageLedgerRow.at > at - policy.window,
                PageLedgerRow.at <= at,
            )
        )
    )
    return page_now(policy, sent, priority, at)


def ledger(
    session: Session, incident: Incident, channel: str, target: str, ref: str | None,
    subject: str, at: datetime, *, held: bool,
) -> None:
    """Record one page (sent or held) for the channel's count."""
    session.add(
        PageLedgerRow(
            channel=channel,
            target=target,
            channel_ref=ref,
            incident_id=incident.id,
            priority=str(incident.priority),
            subject=subject[:500],
            at=at,
            held=held,
        )
    )
    session.flush()  # the next decision in this transaction counts it


def send_digests_in(session: Session, settings: Settings, now: datetime) -> int:
    """Fold every channel's held pages into one digest when due; returns digests enqueued."""
    policy = storm_policy(settings)
    held: dict[tuple[str, str], list[PageLedgerRow]] = {}
    for row in session.scalars(
        select(PageLedgerRow)
        .where(PageLedgerRow.held.is_(True), PageLedgerRow.folded_at.is_(None))
        .order_by(PageLedgerRow.at, PageLedgerRow.id)
    ):
        held.setdefault((row.channel, row.target), []).append(row)
    sent = 0
    for (channel, target), rows in held.items():
        if not digest_due(policy, [r.at for r in rows], now):
            continue
        subject, body = digest_message([r.subject for r in rows])
        options = None
        ref = rows[-1].channel_ref
        if ref and ref.startswith("contact:") and ref[8:].isdigit():
            method = session.get(ContactMethod, int(ref[8:]))
            if method is not None and method.secret:
                options = {"signing_secret": method.secret}
        enqueue(
            session,
            channel=channel,
            target=target,
            subject=subject,
            body_text=body,
            payload={
                "digest": True,
                "count": len(rows),
                "incidents": sorted({r.incident_id for r in rows if r.incident_id}),
                "alerts": [r.subject for r in rows],
            },
            options=options,
            idempotency_key=f"digest:{channel}:{rows[0].id}:{rows[-1].id}"[:200],
            source_type="digest",
            source_id=rows[0].id,
            channel_ref=ref,
        )
        session.execute(
            update(PageLedgerRow)
            .where(PageLedgerRow.id.in_([r.id for r in rows]), PageLedgerRow.folded_at.is_(None))
            .values(folded_at=now)
            .execution_options(synchronize_session=False)
        )
        sent += 1
    session.execute(
        delete(PageLedgerRow).where(
            PageLedgerRow.at < now - LEDGER_KEEP,
            (PageLedgerRow.held.is_(False)) | (PageLedgerRow.folded_at.is_not(None)),
        )
    )
    return sent


def send_digests(db: Database, settings: Settings, *, now: datetime | None = None) -> int:
    """The worker job: ``send_digests_in`` in its own transaction."""
    with db.session() as s:
        return send_digests_in(s, settings, now or utcnow())
