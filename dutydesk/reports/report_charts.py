"""Which chart shows which figure of a report (``charts`` draws them as inline SVG).

One entry per report section, keyed like the page's sections; a section with several charts
gets them one after the other. Charts show the same numbers as the section's table, rounded the
same way, so a tooltip never disagrees with the table next to it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from markupsafe import Markup

from dutydesk.reports.charts import Series, bar_chart, heat_map, line_chart
from dutydesk.reports.incident_figures import HOURS, TimeStats
from dutydesk.reports.report import Report

Gettext = Callable[[str], str]
TOP = 15  # bars on one chart; the table lists them all


def _identity(text: str) -> str:
    return text


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _trend(report: Report, title: str, stats: Callable[[object], TimeStats],
           _: Gettext) -> Markup:
    weeks = report.trend
    points = [stats(w) for w in weeks]
    return line_chart(
        [Series(_("median"), [_minutes(p.median_s) for p in points]),
         Series(_("p90"), [_minutes(p.p90_s) for p in points])],
        [w.start.strftime("%d.%m") for w in weeks], title=title, y_unit=_("min"))


def report_charts(report: Report, gettext: Gettext = _identity) -> dict[str, Markup]:
    """The charts of every section of ``report``, by section name."""
    _ = gettext
    charts: dict[str, Markup] = {}
    bars = []
    for row in report.sla.rows[:-1]:
        for clock, tally in ((_("acknowledge"), row.acknowledge), (_("resolve"), row.resolve)):
            if tally.percent_met is not None:
                bars.append((f"{row.priority} {clock}", round(tally.percent_met, 1)))
    charts["sla"] = bar_chart(bars, title=_("SLA targets met"), y_unit="%")
    charts["trend"] = Markup("").join([
        _trend(report, _("Time to acknowledge per week"), lambda w: w.mtta, _),  # type: ignore
        _trend(report, _("Time to resolve per week"), lambda w: w.mttr, _),  # type: ignore
    ])
    names = {"check": _("Checks"), "alertmanager": _("Alertmanager"),
             "pagerduty": _("PagerDuty"), "manual": _("Manual reports")}
    charts["sources"] = bar_chart([(names.get(s, s), n) for s, n in report.sources],
                                  title=_("Incidents by source"))
    charts["services"] = bar_chart(
        [(s or _("(no service)"), n) for s, n in report.services[:TOP]],
        title=_("Incidents by service"), horizontal=True)
    days = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]
    charts["heatmap"] = heat_map(report.heat, days, [f"{h:02d}" for h in range(HOURS)],
                                 title=_("Incidents opened by hour and weekday"))
    charts["reassignments"] = bar_chart(
        [(f"#{p.incident_id} {p.title}", p.hand_backs) for p in report.reassignments.top
         if p.hand_backs],
        title=_("Hand-backs per incident"), horizontal=True)
    people = report.engineers
    charts["engineers"] = Markup("").join([
        bar_chart([(e.name, round(e.duty_hours, 1)) for e in people], title=_("Hours on duty"),
                  y_unit=_("h"), horizontal=True),
        bar_chart([(e.name, e.acknowledged) for e in people],
                  title=_("Incidents acknowledged"), horizontal=True),
    ])
    charts["availability"] = bar_chart(
        [(a.service, round(a.checks_uptime, 2)) for a in report.availability
         if a.checks_uptime is not None][:TOP],
        title=_("Uptime measured by the checks"), y_unit="%", horizontal=True)
    visits: dict[str, int] = defaultdict(int)
    for row in report.visitors:
        visits[row.client] += row.visits
    charts["visitors"] = bar_chart(
        sorted(visits.items(), key=lambda item: (-item[1], item[0].casefold()))[:TOP],
        title=_("Visits per client"), horizontal=True)
    return charts
