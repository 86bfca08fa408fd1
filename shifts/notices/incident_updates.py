"""What other areas may read about notices: the published updates of notices that are about
DutyDesk incidents (so the requests area can tell the people affected by those incidents)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .orm import NoticeIncidentLink, NoticeRow, NoticeUpdateRow


@dataclass(frozen=True, slots=True)
class IncidentNoticeUpdate:
    update_id: int
    notice_id: int
    title: str
    status: str
    body: str
    created_at: datetime
    incident_ids: tuple[int, ...]


def incident_notice_updates(session: Session, since: datetime, *, after_id: int = 0,
                            limit: int = 500) -> list[IncidentNoticeUpdate]:
    """Updates (oldest first, id > ``after_id``, written at or after ``since``) of published
    notices linked to at least one incident, with those incidents' ids."""
    rows = session.execute(
        select(NoticeUpdateRow.id, NoticeUpdateRow.notice_id, NoticeRow.title,
               NoticeUpdateRow.status, NoticeUpdateRow.body, NoticeUpdateRow.created_at,
               NoticeIncidentLink.incident_id)
        .join(NoticeRow, NoticeRow.id == NoticeUpdateRow.notice_id)
        .join(NoticeIncidentLink, NoticeIncidentLink.notice_id == NoticeRow.id)
        .where(NoticeRow.published_at.is_not(None), NoticeUpdateRow.created_at >= since,
               NoticeUpdateRow.id > after_id)
        .order_by(NoticeUpdateRow.id).limit(limit * 4)).all()
    found: dict[int, IncidentNoticeUpdate] = {}
    for uid, nid, title, status, body, at, incident in rows:
        seen = found.get(uid)
        ids = (*seen.incident_ids, int(incident)) if seen else (int(incident),)
        found[uid] = IncidentNoticeUpdate(uid, nid, title, status, body, at, ids)
    return list(found.values())[:limit]
