"""The visit log screen and its CSV export (same filters, same columns); ``?site=<slug>``
narrows both to one site's desk (default: every site)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, abort, render_template, request
from sqlalchemy import select

from dutydesk.context import db_session, require_role
from dutydesk.core.db import utcnow
from dutydesk.models import Role
from dutydesk.pagination import PaginationError, paginate, parse_page_args
from dutydesk.web.site_select import site_choices, site_from
from shifts.visitors import rows as R
from shifts.visitors import service as svc
from shifts.visitors.orm import VisitorClient

from .visitors_common import bp, int_or_none, parse_local_datetime


def log_query() -> tuple[Any, dict[str, str]]:
    """The log's SELECT from the query string (shared by the page and its CSV)."""
    args = request.args
    filters = {
        k: args.get(k, "").strip()
        for k in ("person", "client_id", "badge", "status", "since", "until", "site")
    }
    site = site_from(filters["site"])
    try:
        since = parse_local_datetime(
            filters["since"] + "T00:00" if filters["since"] else None, "since"
        )
        until = parse_local_datetime(
            filters["until"] + "T00:00" if filters["until"] else None, "until"
        )
    except svc.VisitorInputError as exc:
        abort(400, str(exc))
    query = R.visit_search(
        person=filters["person"] or None,
        client_id=int_or_none(filters["client_id"]),
        badge=filters["badge"] or None,
        status=filters["status"] or None,
        since=since,
        until=until + timedelta(days=1) if until else None,
        site_id=site.id if site is not None else None,
    )
    return query, filters


@bp.route("/log")
@require_role(Role.ENGINEER)
def log() -> Any:
    s = db_session()
    query, filters = log_query()
    try:
        page_no, per_page = parse_page_args(request.args, default_per_page=100)
    except PaginationError as exc:
        abort(400, str(exc))
    page = paginate(s, query, page_no, per_page)
    return render_template(
        "visitors/log.html",
        page=page,
        rows=svc.csv_rows(s, page.items),
        columns=svc.CSV_COLUMNS,
        filters=filters,
        clients=list(s.scalars(select(VisitorClient).order_by(VisitorClient.name))),
        sites=site_choices(),
    )


@bp.route("/log.csv")
@require_role(Role.ENGINEER)
def log_csv() -> Any:
    s = db_session()
    query, _filters = log_query()
    body = svc.export_csv(s, s.scalars(query))
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="visits-{stamp}.csv"'},
    )
