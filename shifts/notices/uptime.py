"""90-day uptime bars per service, computed from outage intervals.

Input: the service's outage intervals (each partial or major, possibly still open), ``now`` and
the site's time zone. Days are *local* calendar days, from local midnight to the next local
midnight, so DST days last 23 or 25 hours. Today counts only up to ``now``; days (or the part of
a day) before ``tracked_since`` are not counted at all. Planned maintenance is not an outage:
the caller does not pass maintenance intervals.

Overlaps are never counted twice: intervals of one severity are merged first, and a moment in
both a major and a partial outage counts as major only.

Uptime % = 100 × (1 − (major + ``partial_weight`` × partial) / tracked time). A partial outage
(some people affected, or the service slow) counts at 30 % of its duration by default — the
weighting Statuspage uses — so a day with an hour of partial outage is not shown as badly as an
hour of total loss.

Colour class of a day (thresholds in :class:`BarThresholds`, defaults in brackets):

========== =============================================================================
``nodata`` nothing of the day was tracked (before ``tracked_since``)
``none``   no outage at all
``minor``  only partial outage, less than ``partial_minutes`` [30] in total
``partial`` partial outage of at least ``partial_minutes``, or any major outage shorter than
           ``major_minutes`` [30]
``major``  major outage of at least ``major_minutes``
========== =============================================================================
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from .model import NoticeError, require_aware
from .status import N_, Message

Span = tuple[datetime, datetime]


class OutageSeverity(enum.StrEnum):
    PARTIAL = "partial"
    MAJOR = "major"


@dataclass(frozen=True, slots=True)
class OutageInterval:
    """One stretch of outage; ``end=None`` means it is still going on. ``label`` (e.g. the notice
    title) is shown in the tooltip of every day it touches."""

    start: datetime
    end: datetime | None
    severity: OutageSeverity
    label: str = ""

    def __post_init__(self) -> None:
        require_aware("outage start", self.start)
        require_aware("outage end", self.end)
        object.__setattr__(self, "severity", OutageSeverity(self.severity))
        if self.end is not None and self.end < self.start:
            raise NoticeError(
                f"outage end {self.end.isoformat()} is before its start {self.start.isoformat()}"
            )


@dataclass(frozen=True, slots=True)
class BarThresholds:
    partial_minutes: float = 30
    major_minutes: float = 30


DEFAULT_THRESHOLDS = BarThresholds()
DEFAULT_PARTIAL_WEIGHT = 0.3

TOOLTIP_NO_DATA = N_("No data for this day")
TOOLTIP_NO_DOWNTIME = N_("No downtime recorded on this day")
TOOLTIP_PARTIAL = N_("Partial outage for %(partial)d min")
TOOLTIP_MAJOR = N_("Major outage for %(major)d min")
TOOLTIP_BOTH = N_("Major outage for %(major)d min, partial outage for %(partial)d min")


@dataclass(frozen=True, slots=True)
class DayBar:
    """One bar: a local calendar day. Seconds are floats; ``day_seconds`` is the full local
    day's length (82 800, 86 400 or 90 000), ``tracked_seconds`` the part of it counted."""

    day: date
    day_seconds: float
    tracked_seconds: float
    major_seconds: float
    partial_seconds: float
    uptime_percent: float | None
    colour: str
    labels: tuple[str, ...]

    @property
    def major_minutes(self) -> int:
        """Whole minutes, rounded up: a 20-second outage shows as 1 min, never as 0."""
        return math.ceil(self.major_seconds / 60)

    @property
    def partial_minutes(self) -> int:
        return math.ceil(self.partial_seconds / 60)

    @property
    def tooltip(self) -> Message:
        """The tooltip sentence (untranslated); ``labels`` are listed below it by the template."""
        if self.colour == "nodata":
            return Message(TOOLTIP_NO_DATA)
        params = {"major": self.major_minutes, "partial": self.partial_minutes}
        if self.major_seconds and self.partial_seconds:
            return Message(TOOLTIP_BOTH, params)
        if self.major_seconds:
            return Message(TOOLTIP_MAJOR, params)
        if self.partial_seconds:
            return Message(TOOLTIP_PARTIAL, params)
        return Message(TOOLTIP_NO_DOWNTIME)


@dataclass(frozen=True, slots=True)
class UptimeHistory:
    """The bars oldest first, and the totals over the whole window."""

    days: tuple[DayBar, ...]
    tracked_seconds: float
    major_seconds: float
    partial_seconds: float
    uptime_percent: float | None


def _merge(spans: Iterable[Span]) -> list[Span]:
    """Union of spans as sorted, non-overlapping spans."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _subtract(spans: list[Span], holes: list[Span]) -> list[Span]:
    """``spans`` minus ``holes`` (both merged and sorted)."""
    result: list[Span] = []
    for start, end in spans:
        cursor = start
        for h_start, h_end in holes:
            if h_end <= cursor or h_start >= end:
                continue
            if h_start > cursor:
                result.append((cursor, h_start))
            cursor = max(cursor, h_end)
        if cursor < end:
            result.append((cursor, end))
    return result


def _overlap(spans: list[Span], lo: datetime, hi: datetime) -> float:
    return sum(
        (min(end, hi) - max(start, lo)).total_seconds()
        for start, end in spans
        if start < hi and end > lo
    )


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    # A midnight that does not exist (DST gap at 00:00) resolves to the instant the day begins.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _uptime(tracked: float, major: float, partial: float, weight: float) -> float | None:
    if tracked <= 0:
        return None
    return max(0.0, 100.0 * (1.0 - (major + weight * partial) / tracked))


def _colour(tracked: float, major: float, partial: float, t: BarThresholds) -> str:
    if tracked <= 0:
        return "nodata"
    if major >= t.major_minutes * 60:
        return "major"
    if major > 0 or partial >= t.partial_minutes * 60:
        return "partial"
    if partial > 0:
        return "minor"
    return "none"


def uptime_history(
    intervals: Iterable[OutageInterval],
    now: datetime,
    tz: tzinfo,
    *,
    days: int = 90,
    tracked_since: datetime | None = None,
    thresholds: BarThresholds = DEFAULT_THRESHOLDS,
    partial_weight: float = DEFAULT_PARTIAL_WEIGHT,
) -> UptimeHistory:
    """Bars for the last ``days`` local days (today included, up to ``now``) and window totals.

    Open intervals run until ``now``; anything after ``now`` or before the window is ignored.
    """
    require_aware("now", now)
    require_aware("tracked_since", tracked_since)
    if days < 1:
        raise NoticeError(f"days must be at least 1, got {days}")
    if not 0 <= partial_weight <= 1:
        raise NoticeError(f"partial_weight must be between 0 and 1, got {partial_weight}")
    now = now.astimezone(UTC)
    today = now.astimezone(tz).date()
    first_day = today - timedelta(days=days - 1)
    window_start = _local_midnight(first_day, tz)
    counted_from = window_start
    if tracked_since is not None:
        counted_from = max(window_start, tracked_since.astimezone(UTC))

    clipped: list[tuple[Span, OutageInterval]] = []
    for iv in intervals:
        start = max(iv.start.astimezone(UTC), window_start)
        end = min((iv.end or now).astimezone(UTC), now)
        if end > start:
            clipped.append(((start, end), iv))
    major = _merge(span for span, iv in clipped if iv.severity is OutageSeverity.MAJOR)
    partial = _subtract(
        _merge(span for span, iv in clipped if iv.severity is OutageSeverity.PARTIAL), major
    )
    clipped.sort(key=lambda item: item[0])

    bars = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        day_start, day_end = _local_midnight(day, tz), _local_midnight(day + timedelta(days=1), tz)
        lo, hi = max(day_start, counted_from), min(day_end, now)
        tracked = max(0.0, (hi - lo).total_seconds())
        m = _overlap(major, lo, hi) if tracked else 0.0
        p = _overlap(partial, lo, hi) if tracked else 0.0
        labels: list[str] = []
        for (start, end), iv in clipped:
            if tracked and iv.label and start < hi and end > lo and iv.label not in labels:
                labels.append(iv.label)
        bars.append(DayBar(
            day=day,
            day_seconds=(day_end - day_start).total_seconds(),
            tracked_seconds=tracked,
            major_seconds=m,
            partial_seconds=p,
            uptime_percent=_uptime(tracked, m, p, partial_weight),
            colour=_colour(tracked, m, p, thresholds),
            labels=tuple(labels),
        ))

    tracked_total = sum(b.tracked_seconds for b in bars)
    major_total = sum(b.major_seconds for b in bars)
    partial_total = sum(b.partial_seconds for b in bars)
    return UptimeHistory(
        days=tuple(bars),
        tracked_seconds=tracked_total,
        major_seconds=major_total,
        partial_seconds=partial_total,
        uptime_percent=_uptime(tracked_total, major_total, partial_total, partial_weight),
    )


@dataclass(frozen=True, slots=True)
class BarRun:
    """Consecutive days drawn as one shape: same colour, same tooltip sentence, no labels.

    A day with an outage (it has minutes or labels of its own) is always a run of one, so its
    tooltip stays per day; a quiet month becomes one shape instead of thirty."""

    start: int  # index of the first day in the history's ``days``
    days: tuple[DayBar, ...]

    @property
    def first(self) -> DayBar:
        return self.days[0]

    @property
    def last(self) -> DayBar:
        return self.days[-1]

    @property
    def colour(self) -> str:
        return self.first.colour

    @property
    def tooltip(self) -> Message:
        return self.first.tooltip


def bar_runs(days: tuple[DayBar, ...] | list[DayBar]) -> list[BarRun]:
    """``days`` grouped into runs (see :class:`BarRun`), oldest first, covering every day."""
    runs: list[BarRun] = []
    for i, day in enumerate(days):
        prev = runs[-1] if runs else None
        if (prev is not None and not day.labels and not prev.last.labels
                and day.colour == prev.colour and day.tooltip == prev.tooltip):
            runs[-1] = BarRun(prev.start, (*prev.days, day))
        else:
            runs.append(BarRun(i, (day,)))
    return runs
