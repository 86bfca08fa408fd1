"""Read-only views over the stored visits: who is on site, who overstays, who is expected,
which badges are out (for the shift handoff) and the wall's first-names-only summary."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shifts.visitors.orm import AccessRequestRow, VisitorClient, VisitRow

from . import rows as R
from .model import AccessRequest, SitePolicy, Visit
from .onsite import ExpectedVisitor, OnSite, Overstay, expected_today, overstays, people_on_site
from .reports import OnSiteSummary, OpenBadge, open_badges, summarise_on_site


def on_site_now(session: Session, now: datetime) -> list[OnSite]:
    return people_on_site([R.visit_of(v) for v in R.on_site_rows(session)], now)


def _on_site_with_requests(session: Session) -> tuple[list[Visit], list[AccessRequest]]:
    """The on-site visits and the requests they were made under (for the request-end limit)."""
    visits = [R.visit_of(v) for v in R.on_site_rows(session)]
    ids = {v.request_id for v in visits if v.request_id is not None}
    requests = (
        session.scalars(select(AccessRequestRow).where(AccessRequestRow.id.in_(ids))) if ids else []
    )
    return visits, [R.request_of(r) for r in requests]


def overstays_now(session: Session, now: datetime) -> list[Overstay]:
    visits, requests = _on_site_with_requests(session)
    return overstays(visits, requests, now)


def open_badges_now(session: Session, now: datetime) -> list[OpenBadge]:
    """Every badge out with a person on site, for the shift handoff's badge reconciliation:
    person, client, badge number, time inside, overstay flag; ordered by badge number."""
    visits, requests = _on_site_with_requests(session)
    clients = dict(session.execute(select(VisitorClient.id, VisitorClient.name)).all())
    return open_badges(visits, requests, now, clients)


def on_site_summary(session: Session, now: datetime) -> OnSiteSummary:
    """``(count, overstays_count, first_names)`` of the people on site, for wall viewers: no
    personal data beyond first names."""
    visits, requests = _on_site_with_requests(session)
    return summarise_on_site(visits, requests, now)


def expected_now(session: Session, now: datetime, policy: SitePolicy) -> list[ExpectedVisitor]:
    """Today's expected visitors (site time zone), with what became of them."""
    start, end = now - timedelta(days=2), now + timedelta(days=2)
    requests = [R.request_of(r) for r in R.requests_touching(session, start, end)]
    visits = session.scalars(
        select(VisitRow).where(VisitRow.anonymised.is_(False), VisitRow.recorded_at >= start)
    )
    return expected_today(requests, [R.visit_of(v) for v in visits], now, policy.timezone)
