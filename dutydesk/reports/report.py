"""The whole report for one period and set of filters, computed from loaded data (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from dutydesk.reports import incident_figures as figures
from dutydesk.reports.availability import AvailabilityRow, RollupRecord, availability
from dutydesk.reports.people import EngineerRow, Person, engineer_workload
from dutydesk.reports.period import Filters, Period
from dutydesk.reports.records import IncidentRecord
from dutydesk.reports.visitors import VisitorRow, VisitRecord, visitors_per_client
from shifts.notices.uptime import OutageInterval
from shifts.oncall import Shift


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the figures need, as the loader read it for the period."""

    incidents: Sequence[IncidentRecord] = ()
    duties: Sequence[Shift] = ()
    people: Mapping[int, Person] = field(default_factory=dict)
    rollups: Sequence[RollupRecord] = ()
    #: Measured minutes per service, when ``rollups`` holds only the buckets with failures.
    measured_minutes: Mapping[str, float] | None = None
    status_services: Sequence[str] = ()
    outages: Mapping[str, Sequence[OutageInterval]] = field(default_factory=dict)
    visits: Sequence[VisitRecord] = ()


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    filters: Filters
    now: datetime
    incidents: tuple[IncidentRecord, ...]
    sla: figures.SlaFigures
    response: tuple[figures.ResponseRow, ...]
    trend: tuple[figures.WeekPoint, ...]
    sources: tuple[tuple[str, int], ...]
    services: tuple[tuple[str, int], ...]
    heat: tuple[tuple[int, ...], ...]
    reassignments: figures.Reassignments
    engineers: tuple[EngineerRow, ...]
    availability: tuple[AvailabilityRow, ...]
    visitors: tuple[VisitorRow, ...]


def build_report(data: ReportData, period: Period, filters: Filters, now: datetime) -> Report:
    """Every figure of the report; incident figures cover the incidents opened in the period."""
    chosen = figures.select(data.incidents, period, filters)
    return Report(
        period=period,
        filters=filters,
        now=now,
        incidents=tuple(chosen),
        sla=figures.sla_compliance(chosen),
        response=figures.response_times(chosen),
        trend=figures.weekly_trend(chosen, period),
        sources=figures.by_source(chosen),
        services=figures.by_service(chosen),
        heat=figures.hour_weekday(chosen, period),
        reassignments=figures.reassignments(chosen),
        engineers=engineer_workload(chosen, data.duties, data.people, period, filters.engineer),
        availability=availability(data.rollups, data.status_services, data.outages, chosen,
                                  period, now, filters.service, data.measured_minutes),
        visitors=visitors_per_client(data.visits, period, now),
    )
