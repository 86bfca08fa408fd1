"""Effectiveness reports: the page, one CSV per table, and the printable monthly page.

Who may read them: shift leads and admins. The reports rank people (incidents handled, hours,
nights) and that is a manager's view, so engineers and viewers get 403; an engineer's own
figures are in the shift screens (fairness) and the incident list.

All three share one query string (period and filters, see ``dutydesk.reports.period``), so a
report is bookmarkable and its CSV and print links carry the same selection. ``site=<slug>``
narrows the incident, check, duty, status-page and visitor figures to one site (an unknown
slug is a 404); a site selector is shown when there is more than one site. ``kind=month`` /
``kind=range`` (the two buttons of the form) say which of the form's period fields to use.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext

from dutydesk.context import db_session, require_role, settings
from dutydesk.core.db import utcnow
from dutydesk.errors import ApiError
from dutydesk.models import Role
from dutydesk.reports.loader import known_services, load_people, load_report_data
from dutydesk.reports.period import ReportError, parse_filters, parse_period, query_string
from dutydesk.reports.report import Report, build_report
from dutydesk.reports.report_charts import report_charts
from dutydesk.reports.request_figures import (
    GROUPS,
    RequestReport,
    build_request_report,
    parse_request_filters,
)
from dutydesk.reports.request_loader import (
    knowledge_base_deflections,
    load_requests,
    me_too_count,
    request_choices,
)
from dutydesk.reports.request_tables import REQUEST_TABLES, request_tables
from dutydesk.reports.tables import TABLES, Table, report_tables
from dutydesk.requests.models import CHANNELS
from dutydesk.web.site_select import site_choices, site_from
from shifts.localtime import load_zone

bp = Blueprint("reports", __name__)


def _args() -> dict[str, str]:
    args = {key: value for key, value in request.args.items()}
    kind = args.pop("kind", "")
    if kind == "month":
        args.pop("from", None), args.pop("to", None)
    elif kind == "range":
        args.pop("month", None)
    return args


def _report(args: dict[str, str]) -> tuple[Report, dict[str, Table], dict[str, Any]]:
    """The report the query string asks for, its tables, and what the form needs; 400 if bad."""
    session = db_session()
    config = settings()
    now = utcnow()
    people = load_people(session)
    try:
        period = parse_period(args, load_zone(config.timezone), now)
        filters = parse_filters(args, [p.login for p in people.values()])
    except ReportError as exc:
        raise ApiError(400, gettext(exc.msgid, **exc.params)) from None
    site = site_from(filters.site)
    data = load_report_data(session, period, filters, config, now, people)
    report = build_report(data, period, filters, now)
    form = {
        "people": sorted(people.values(), key=lambda p: (p.name.casefold(), p.login)),
        "services": known_services(session, data.status_services),
        "query": query_string(period, filters),
        "requests_query": query_string(period, replace(filters, site=None)),
        "sites": site_choices(),
        "site": site,
    }
    return report, report_tables(report, gettext), form


@bp.route("/reports")
@require_role(Role.SHIFT_LEAD)
def index() -> Any:
    report, tables, form = _report(_args())
    return render_template("reports/index.html", report=report, tables=tables, form=form,
                           charts=report_charts(report, gettext))


@bp.route("/reports/<name>.csv")
@require_role(Role.SHIFT_LEAD)
def table_csv(name: str) -> Any:
    if name not in TABLES:
        abort(404, gettext("no report table named %(name)s", name=name))
    report, tables, _form = _report(_args())
    label = report.period.label.replace(" – ", "_")
    return Response(
        "\ufeff" + tables[name].csv(),  # the BOM makes spreadsheet programs read UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition":
                 f'attachment; filename="dutydesk-{name}-{label}.csv"'},
    )


@bp.route("/reports/print")
@require_role(Role.SHIFT_LEAD)
def printable() -> Any:
    args = _args()
    if args.get("from") or args.get("to"):
        raise ApiError(400, gettext("the printable report covers one month: use month=YYYY-MM"))
    report, tables, form = _report(args)
    return render_template("reports/print.html", report=report, tables=tables, form=form,
                           charts=report_charts(report, gettext))


# --- requests: the first line's effectiveness ----------------------------------------------------


def _request_report(args: dict[str, str]) -> tuple[RequestReport, dict[str, Table],
                                                   dict[str, Any]]:
    """The request report the query string asks for, its tables and its form; 400 if bad."""
    session = db_session()
    config = settings()
    now = utcnow()
    people = load_people(session)
    try:
        period = parse_period(args, load_zone(config.timezone), now)
        filters = parse_request_filters(
            args, parse_filters(args, [p.login for p in people.values()]))
    except ReportError as exc:
        raise ApiError(400, gettext(exc.msgid, **exc.params)) from None
    if filters.base.site:
        # Requests are not kept per site (they carry no site), so no figure could honour it.
        raise ApiError(400, gettext("requests are not kept per site: the request reports "
                                    "cover every site, leave out site=%(site)s",
                                    site=filters.base.site))
    records = load_requests(session, period, filters, now)
    services, categories = request_choices(records, [filters.base.service or ""])
    report = build_request_report(
        records, period, filters, now,
        me_too=me_too_count(session, period, filters.base.service),
        knowledge_base=knowledge_base_deflections(session, period, filters))
    form = {
        "people": sorted(people.values(), key=lambda p: (p.name.casefold(), p.login)),
        "services": services,
        "categories": categories,
        "channels": CHANNELS,
        "groups": GROUPS,
        "query": urlencode({**period.query(), **filters.query()}),
    }
    return report, request_tables(report, gettext), form


@bp.route("/reports/requests")
@require_role(Role.SHIFT_LEAD)
def requests_index() -> Any:
    report, tables, form = _request_report(_args())
    return render_template("reports/requests.html", report=report, tables=tables, form=form)


@bp.route("/reports/requests/<name>.csv")
@require_role(Role.SHIFT_LEAD)
def requests_csv(name: str) -> Any:
    if name not in REQUEST_TABLES:
        abort(404, gettext("no report table named %(name)s", name=name))
    report, tables, _form = _request_report(_args())
    label = report.period.label.replace(" – ", "_")
    return Response(
        "\ufeff" + tables[name].csv(), mimetype="text/csv",
        headers={"Content-Disposition":
                 f'attachment; filename="dutydesk-requests-{name}-{label}.csv"'})


@bp.route("/reports/requests/print")
@require_role(Role.SHIFT_LEAD)
def requests_printable() -> Any:
    args = _args()
    if args.get("from") or args.get("to"):
        raise ApiError(400, gettext("the printable report covers one month: use month=YYYY-MM"))
    report, tables, form = _request_report(args)
    return render_template("reports/requests_print.html", report=report, tables=tables,
                           form=form)
