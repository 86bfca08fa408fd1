"""Read-only views over the stored visits: who is on site, who overstays, who is expected,
which badges are out (for the shift handoff) and the wall's first-names-only summary.

``site_id`` (``None``: every site) narrows each view to one site's desk."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shifts.visitors.orm import AccessRequestRow, VisitorClient, VisitRow

from . import rows as R
from .model import AccessRequest, SitePolicy, Visit
from .onsite import ExpectedVisitor, OnSite, Overstay, expected_today, overstays, people_on_site
from .reports import OnSiteSummary, OpenBadge, open_badges, summarise_on_site


def on_site_now(session: Session, now: datetime, site_id: int | None = None) -> list[OnSite]:
    return people_on_site([R.visit_of(v) for v in R.on_site_rows(session, site_id)], now)


def _on_site_with_requests(
    session: Session, site_id: int | None = None
) -> tuple[list[Visit], list[AccessRequest]]:
    """The on-site visits and the requests they were made under (for the request-end limit)."""
    visits = [R.visit_of(v) for v in R.on_site_rows(session, site_id)]
    ids = {v.request_id for v in visits if v.request_id is not None}
    requests = (
        session.scalars(select(AccessRequestRow).where(AccessRequestRow.id.in_(ids))) if ids else []
    )
    return visits, [R.request_of(r) for r in requests]


def overstays_now(session: Session, now: datetime, site_id: int | None = None) -> list[Overstay]:
    visits, requests = _on_site_with_requests(session, site_id)
    return overstays(visits, requests, now)


def open_badges_now(
    session: Session, now: datetime, site_id: int | None = None
) -> list[OpenBadge]:
    """Every badge out with a person on site, for the shift handoff's badge reconciliation:
    person, client, badge number, time inside, overstay flag; ordered by badge number."""
    visits, requests = _on_site_with_requests(session, site_id)
    clients = dict(session.execute(select(VisitorClient.id, VisitorClient.name)).all())
    return open_badges(visits, requests, now, clients)


def on_site_summary(
    session: Session, now: datetime, site_id: int | None = None
) -> OnSiteSummary:
    """``(count, overstays_count, first_names)`` of the people on site, for wall viewers: no
    personal data beyond first names."""
    visits, requests = _on_site_with_requests(session, site_id)
    return summarise_on_site(visits, requests, now)


def expected_now(
    session: Session, now: datetime, policy: SitePolicy, site_id: int | None = None
) -> list[ExpectedVisitor]:
    """Today's expected visitors (site time zone), with what became of them."""
    start, end = now - timedelta(days=2), now + timedelta(days=2)
    requests = [R.request_of(r) for r in R.requests_touching(session, start, end, site_id)]
    query = select(VisitRow).where(VisitRow.anonymised.is_(False), VisitRow.recorded_at >= start)
    if site_id is not None:
        query = query.where(VisitRow.site_id == site_id)
    visits = session.scalars(query)
    return expected_today(requests, [R.visit_of(v) for v in visits], now, policy.timezone)
