"""The visit log as CSV cells and as a CSV file (times in ISO 8601 UTC)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from shifts.visitors.orm import VisitorClient, VisitRow

from .storage_common import iso

CSV_COLUMNS = (
    "visit_id",
    "client",
    "person",
    "status",
    "basis",
    "recorded_at",
    "checked_in_at",
    "checked_out_at",
    "expected_checkout_at",
    "badge",
    "badge_expires_at",
    "badge_returned",
    "escort",
    "areas",
    "purpose",
    "request_id",
    "id_checked_by",
    "denial_code",
    "denial_reason",
)


def csv_rows(session: Session, visits: Iterable[VisitRow]) -> list[list[str]]:
    """The visit log as CSV cells (times in ISO 8601 UTC); anonymised rows have empty names."""
    clients = dict(session.execute(select(VisitorClient.id, VisitorClient.name)).all())
    escorts: dict[int, str] = {}
    out = []
    for v in visits:
        escort = v.escort_staff or ""
        if v.escort_visit_id is not None:
            if v.escort_visit_id not in escorts:
                other = session.get(VisitRow, v.escort_visit_id)
                escorts[v.escort_visit_id] = (other.person_name or "") if other else ""
            escort = escorts[v.escort_visit_id]
        out.append(
            [
                str(v.id),
                clients.get(v.client_id, ""),
                v.person_name or "",
                v.status,
                v.basis or "",
                iso(v.recorded_at),
                iso(v.checked_in_at),
                iso(v.checked_out_at),
                iso(v.expected_checkout_at),
                v.badge_number or "",
                iso(v.badge_expires_at),
                "yes" if v.badge_returned else "no",
                escort,
                "; ".join(v.areas or []),
                v.purpose or "",
                str(v.request_id or ""),
                v.id_checked_by or "",
                v.denial_code or "",
                v.denial_reason or "",
            ]
        )
    return out


def export_csv(session: Session, visits: Iterable[VisitRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(session, visits))
    return buffer.getvalue()
