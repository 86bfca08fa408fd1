"""The report as tables of text: the page shows them and the CSV files carry the same cells.

Both the HTML tables and ``/reports/<name>.csv`` are rendered from ``report_tables``, so a
figure cannot differ between the page and the download. Numbers are written with a dot and a
fixed number of decimals (minutes and hours 1, SLA % 1, availability % 2); an empty cell means
"no data" (the page draws it as a dash with CSS, the CSV leaves it empty).

``gettext`` translates headers and words; it defaults to English (the identity).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from dutydesk.reports.incident_figures import HOURS, TimeStats
from dutydesk.reports.report import Report

Gettext = Callable[[str], str]
#: Table names in page order; ``/reports/<name>.csv`` serves each.
TABLES = ("sla", "breaches", "response", "trend", "sources", "services", "heatmap",
          "reassignments", "ping_pong", "engineers", "availability", "visitors")


def _identity(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    link_column: int | None = None  # cells "#12" link to the incident ("REQ-12": the request)

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.headers)
        writer.writerows(self.rows)
        return out.getvalue()


def count(value: int) -> str:
    return str(value)


def one(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def two(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.1f}"


def share(part: int, whole: int) -> str:
    return "" if whole == 0 else f"{100.0 * part / whole:.1f}"


def _stats(stats: TimeStats) -> tuple[str, str, str]:
    return count(stats.count), minutes(stats.median_s), minutes(stats.p90_s)


def report_tables(report: Report, gettext: Gettext = _identity) -> dict[str, Table]:
    """Every table of the report by name (``TABLES`` order)."""
    _ = gettext
    every = _("All priorities")
    no_service = _("(no service)")
    clock_names = {"acknowledge": _("acknowledge"), "resolve": _("resolve")}
    tables: dict[str, Table] = {}

    tables["sla"] = Table("sla", (
        _("Priority"), _("Incidents"), _("Acknowledged in time"), _("Acknowledge breached"),
        _("Acknowledge open"), _("Acknowledge met %"), _("Resolved in time"),
        _("Resolve breached"), _("Resolve open"), _("Resolve met %"),
    ), tuple(
        (row.priority or every, count(row.incidents),
         count(row.acknowledge.met), count(row.acknowledge.breached),
         count(row.acknowledge.open), one(row.acknowledge.percent_met),
         count(row.resolve.met), count(row.resolve.breached), count(row.resolve.open),
         one(row.resolve.percent_met))
        for row in report.sla.rows
    ))
    tables["breaches"] = Table("breaches", (
        _("Incident"), _("Title"), _("Priority"), _("Service"), _("SLA clock"),
        _("SLA time, min"), _("Target, min"), _("Over by, min"),
    ), tuple(
        (f"#{b.incident_id}", b.title, b.priority, b.service or no_service,
         clock_names[b.clock], minutes(b.elapsed_s), minutes(b.target_s), minutes(b.over_s))
        for b in report.sla.breaches
    ), link_column=0)
    tables["response"] = Table("response", (
        _("Priority"), _("Incidents"), _("Acknowledged"), _("MTTA median, min"),
        _("MTTA p90, min"), _("Resolved"), _("MTTR median, min"), _("MTTR p90, min"),
    ), tuple(
        (row.priority or every, count(row.incidents), *_stats(row.mtta), *_stats(row.mttr))
        for row in report.response
    ))
    tables["trend"] = Table("trend", (
        _("Week of"), _("Incidents"), _("MTTA median, min"), _("MTTA p90, min"),
        _("MTTR median, min"), _("MTTR p90, min"),
    ), tuple(
        (w.start.isoformat(), count(w.incidents), minutes(w.mtta.median_s),
         minutes(w.mtta.p90_s), minutes(w.mttr.median_s), minutes(w.mttr.p90_s))
        for w in report.trend
    ))
    total = len(report.incidents)
    source_names = {"check": _("Checks"), "alertmanager": _("Alertmanager"),
                    "pagerduty": _("PagerDuty"), "manual": _("Manual reports")}
    tables["sources"] = Table("sources", (_("Source"), _("Incidents"), _("Share %")), tuple(
        (source_names.get(source, source), count(n), share(n, total))
        for source, n in report.sources
    ))
    tables["services"] = Table("services", (_("Service"), _("Incidents"), _("Share %")), tuple(
        (service or no_service, count(n), share(n, total)) for service, n in report.services
    ))
    days = (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"),
            _("Saturday"), _("Sunday"))
    tables["heatmap"] = Table(
        "heatmap",
        (_("Weekday"), *(f"{hour:02d}" for hour in range(HOURS)), _("Total")),
        tuple((day, *(count(n) for n in row), count(sum(row)))
              for day, row in zip(days, report.heat, strict=True)),
    )
    moves = report.reassignments
    tables["reassignments"] = Table("reassignments", (_("Figure"), _("Value")), (
        (_("Incidents"), count(moves.incidents)),
        (_("Incidents moved between lines"), count(moves.reassigned)),
        (_("Moves between lines"), count(moves.reassignments)),
        (_("First line → second line"), count(moves.escalations)),
        (_("Second line → first line"), count(moves.returns)),
        (_("Incidents with ping-pong"), count(moves.with_ping_pong)),
        (_("Hand-backs (ping-pong)"), count(moves.hand_backs)),
    ))
    tables["ping_pong"] = Table("ping_pong", (
        _("Incident"), _("Title"), _("Priority"), _("Service"), _("Moves between lines"),
        _("Hand-backs"),
    ), tuple(
        (f"#{p.incident_id}", p.title, p.priority, p.service or no_service,
         count(p.reassignments), count(p.hand_backs))
        for p in moves.top
    ), link_column=0)
    tables["engineers"] = Table("engineers", (
        _("Engineer"), _("Login"), _("Acknowledged"), _("Resolved"), _("Hours on duty"),
        _("Night hours"), _("Weekend hours"), _("Duties"),
    ), tuple(
        (e.name, e.login, count(e.acknowledged), count(e.resolved), one(e.duty_hours),
         one(e.night_hours), one(e.weekend_hours), count(e.shifts))
        for e in report.engineers
    ))
    unit = _("min")
    tables["availability"] = Table("availability", (
        _("Service"), _("Uptime (checks) %"), _("Down (checks), min"),
        _("Measured, min"), _("Major outage (notices), min"),
        _("Partial outage (notices), min"), _("Uptime (notices) %"), _("Incidents"),
        _("Worst incidents"),
    ), tuple(
        (a.service, two(a.checks_uptime), one(a.down_minutes if a.measured_minutes else None),
         one(a.measured_minutes or None), one(a.major_minutes), one(a.partial_minutes),
         two(a.notices_uptime), count(a.incidents),
         "; ".join(f"#{w.incident_id} {w.title} ({w.priority}, {w.minutes:.1f} {unit})"
                   for w in a.worst))
        for a in report.availability
    ))
    tables["visitors"] = Table("visitors", (
        _("Month"), _("Client"), _("Visits"), _("Hours on site"), _("Denied"),
    ), tuple(
        (v.month, v.client, count(v.visits), one(v.hours_on_site), count(v.denied))
        for v in report.visitors
    ))
    return tables
