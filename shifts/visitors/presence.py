"""Read-only views over the stored visits: who is on site, who overstays, who is expected."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.models.visitors import AccessRequestRow, VisitRow

from . import rows as R
from .model import SitePolicy
from .onsite import ExpectedVisitor, OnSite, Overstay, expected_today, overstays, people_on_site


def on_site_now(session: Session, now: datetime) -> list[OnSite]:
    return people_on_site([R.visit_of(v) for v in R.on_site_rows(session)], now)


def overstays_now(session: Session, now: datetime) -> list[Overstay]:
    visits = [R.visit_of(v) for v in R.on_site_rows(session)]
    ids = {v.request_id for v in visits if v.request_id is not None}
    requests = (
        session.scalars(select(AccessRequestRow).where(AccessRequestRow.id.in_(ids))) if ids else []
    )
    return overstays(visits, [R.request_of(r) for r in requests], now)


def expected_now(session: Session, now: datetime, policy: SitePolicy) -> list[ExpectedVisitor]:
    """Today's expected visitors (site time zone), with what became of them."""
    start, end = now - timedelta(days=2), now + timedelta(days=2)
    requests = [R.request_of(r) for r in R.requests_touching(session, start, end)]
    visits = session.scalars(
        select(VisitRow).where(VisitRow.anonymised.is_(False), VisitRow.recorded_at >= start)
    )
    return expected_today(requests, [R.visit_of(v) for v in visits], now, policy.timezone)
