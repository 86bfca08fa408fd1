"""No-shows on the stored log: people named on an approved request whose window ended without
them arriving get a NO_SHOW visit (so today's expected list, the log and the CSV say so).

The decision is the pure ``onsite.no_shows``; this stores one visit row per no-show and audits
it (by visit, request and client id: no names in the audit log, which outlives the purge).
Running it again is harmless: a person already recorded as a no-show is not listed again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dutydesk.core import audit
from shifts.visitors.orm import AccessRequestRow, VisitRow

from . import rows as R
from .model import RequestStatus, Visit, VisitStatus, require_aware
from .onsite import no_shows
from .storage_common import actor_label

# How far back the job looks for ended windows; a request that ended longer ago than this
# (e.g. while the worker was down for weeks) is left as it is.
NO_SHOW_LOOKBACK = timedelta(days=7)


def mark_no_shows(
    session: Session, actor: Any, *, now: datetime, lookback: timedelta = NO_SHOW_LOOKBACK
) -> list[VisitRow]:
    """Record a NO_SHOW visit for every person on an approved request whose window ended in
    ``(now - lookback, now]`` and who neither checked in nor was denied; returns the new rows."""
    require_aware("now", now)
    request_rows = list(
        session.scalars(
            select(AccessRequestRow)
            .where(
                AccessRequestRow.anonymised.is_(False),
                AccessRequestRow.status == RequestStatus.APPROVED.value,
                AccessRequestRow.window_end <= now,
                AccessRequestRow.window_end > now - lookback,
            )
            .order_by(AccessRequestRow.window_start, AccessRequestRow.id)
        )
    )
    if not request_rows:
        return []
    # A person may have come on another basis (e.g. the authorised list) during the window:
    # those visits have no request id, so also load the clients' visits since the first window.
    earliest = min(r.window_start for r in request_rows)
    visit_rows = session.scalars(
        select(VisitRow).where(
            VisitRow.anonymised.is_(False),
            or_(
                VisitRow.request_id.in_([r.id for r in request_rows]),
                VisitRow.client_id.in_(sorted({r.client_id for r in request_rows}))
                & (VisitRow.recorded_at >= earliest),
            ),
        )
    )
    missing = no_shows(
        [R.request_of(r) for r in request_rows], [R.visit_of(v) for v in visit_rows], now
    )
    stored = []
    for expected in missing:
        request = expected.request
        visit = Visit(
            client_id=request.client_id,
            person_name=expected.person_name,
            status=VisitStatus.NO_SHOW,
            recorded_at=now,
            request_id=request.id,
            areas=request.areas,
            purpose=request.purpose,
        )
        row = VisitRow(**R.visit_values(visit), recorded_by=actor_label(actor))
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            "visitors.visit.no_show",
            "visitor_visit",
            row.id,
            summary=f"visit #{row.id} for client #{request.client_id}: no-show on request "
            f"#{request.id} (window ended {request.window_end.isoformat()})",
            after={"status": row.status, "request_id": request.id},
        )
        stored.append(row)
    return stored
