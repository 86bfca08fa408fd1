"""90-day uptime bars: local days, DST, overlaps, ongoing outages, colours and tooltips."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shifts.notices.model import NoticeError
from shifts.notices.uptime import (
    BarThresholds,
    OutageInterval,
    uptime_history,
)

KYIV = ZoneInfo("Europe/Kyiv")
MIN = timedelta(minutes=1)


def local(y, mo, d, h=0, mi=0, tz=KYIV) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


def major(start, end, label=""):
    return OutageInterval(start, end, "major", label)


def partial(start, end, label=""):
    return OutageInterval(start, end, "partial", label)


NOW = local(2024, 6, 15, 12, 0)  # noon in Kyiv (UTC+3 in summer)


def on_june_12(rows):
    """(severity, start minute, end minute[, label]) rows, minutes after 08:00 on 12 June."""
    base = local(2024, 6, 12, 8)
    return [OutageInterval(base + r[1] * MIN, base + r[2] * MIN, r[0], *r[3:]) for r in rows]


def bar(history, day):
    return next(b for b in history.days if b.day == day)


def test_no_outages_gives_ninety_clean_days_ending_today():
    h = uptime_history([], NOW, KYIV)
    assert len(h.days) == 90
    assert h.days[-1].day == date(2024, 6, 15) and h.days[0].day == date(2024, 3, 18)
    assert {b.colour for b in h.days} == {"none"}
    assert h.uptime_percent == 100.0
    # Today only counts up to now: 12 hours of it.
    assert h.days[-1].tracked_seconds == 12 * 3600


def test_outage_across_local_midnight_is_split_between_the_two_days():
    # 23:30 on the 10th to 00:45 on the 11th, Kyiv time. In UTC both ends are on the 10th,
    # so a UTC day split would put all of it on one day.
    h = uptime_history([major(local(2024, 6, 10, 23, 30), local(2024, 6, 11, 0, 45))], NOW, KYIV)
    assert bar(h, date(2024, 6, 10)).major_minutes == 30
    assert bar(h, date(2024, 6, 11)).major_minutes == 45


def test_ongoing_outage_runs_until_now():
    h = uptime_history([partial(local(2024, 6, 15, 11, 0), None)], NOW, KYIV)
    today = bar(h, date(2024, 6, 15))
    assert today.partial_minutes == 60
    assert today.uptime_percent == pytest.approx(100 * (1 - 0.3 * 3600 / (12 * 3600)))


def test_overlapping_outages_are_not_counted_twice():
    day = date(2024, 6, 12)
    h = uptime_history([
        major(local(2024, 6, 12, 10), local(2024, 6, 12, 11)),
        major(local(2024, 6, 12, 10, 30), local(2024, 6, 12, 11, 30)),  # overlaps the first
        partial(local(2024, 6, 12, 9), local(2024, 6, 12, 12)),        # around both
    ], NOW, KYIV)
    b = bar(h, day)
    assert b.major_minutes == 90           # 10:00–11:30
    assert b.partial_minutes == 90         # 09:00–10:00 and 11:30–12:00; major time is major
    assert b.colour == "major"


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        pytest.param(date(2024, 3, 31), 23, id="spring-forward-23h"),
        pytest.param(date(2024, 10, 27), 25, id="fall-back-25h"),
        pytest.param(date(2024, 6, 1), 24, id="ordinary-day"),
    ],
)
def test_dst_days_have_their_real_length(day, hours):
    now = local(2024, 12, 1, 12)
    start = datetime.combine(day, datetime.min.time(), tzinfo=KYIV)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=KYIV)
    h = uptime_history([major(start - timedelta(hours=2), end + timedelta(hours=2))],
                       now, KYIV, days=365)
    b = bar(h, day)
    assert b.day_seconds == hours * 3600
    assert b.major_minutes == hours * 60
    assert b.uptime_percent == 0.0


def test_days_before_tracking_started_have_no_data():
    h = uptime_history([], NOW, KYIV, tracked_since=local(2024, 6, 13, 18, 0))
    assert [b.colour for b in h.days[-4:]] == ["nodata", "none", "none", "none"]
    assert bar(h, date(2024, 6, 13)).tracked_seconds == 6 * 3600
    assert h.tracked_seconds == (6 + 24 + 12) * 3600
    assert h.days[0].uptime_percent is None
    assert h.days[0].tooltip.render() == "No data for this day"


def test_intervals_outside_the_window_are_ignored():
    h = uptime_history([
        major(local(2023, 1, 1), local(2023, 1, 2)),            # long before the window
        major(local(2024, 6, 15, 13), local(2024, 6, 15, 14)),  # after now (clock skew)
    ], NOW, KYIV)
    assert h.major_seconds == 0 and h.uptime_percent == 100.0


@pytest.mark.parametrize(
    ("intervals", "colour"),
    [
        pytest.param([], "none", id="clean"),
        pytest.param([("partial", 0, 29)], "minor", id="short-partial"),
        pytest.param([("partial", 0, 30)], "partial", id="partial-at-threshold"),
        pytest.param([("major", 0, 1)], "partial", id="one-minute-major"),
        pytest.param([("major", 0, 29)], "partial", id="major-below-threshold"),
        pytest.param([("major", 0, 30)], "major", id="major-at-threshold"),
        pytest.param([("major", 0, 10), ("major", 100, 120)], "major", id="major-adds-up"),
    ],
)
def test_colour_thresholds(intervals, colour):
    assert bar(uptime_history(on_june_12(intervals), NOW, KYIV), date(2024, 6, 12)).colour == colour


def test_custom_thresholds():
    h = uptime_history([partial(local(2024, 6, 12, 8), local(2024, 6, 12, 8, 5))], NOW, KYIV,
                       thresholds=BarThresholds(partial_minutes=5, major_minutes=60))
    assert bar(h, date(2024, 6, 12)).colour == "partial"


@pytest.mark.parametrize(
    ("intervals", "sentence", "labels"),
    [
        pytest.param([], "No downtime recorded on this day", (), id="clean"),
        pytest.param([("partial", 0, 20, "Mail slow")], "Partial outage for 20 min",
                     ("Mail slow",), id="partial"),
        pytest.param([("major", 0, 0.25, "Blip")], "Major outage for 1 min", ("Blip",),
                     id="seconds-round-up"),
        pytest.param([("major", 0, 45, "Mail down"), ("partial", 45, 60, "Mail down")],
                     "Major outage for 45 min, partial outage for 15 min", ("Mail down",),
                     id="both-one-label"),
    ],
)
def test_tooltip(intervals, sentence, labels):
    b = bar(uptime_history(on_june_12(intervals), NOW, KYIV), date(2024, 6, 12))
    assert b.tooltip.render() == sentence
    assert b.labels == labels


def test_tooltip_translates():
    h = uptime_history([major(local(2024, 6, 12, 8), local(2024, 6, 12, 9))], NOW, KYIV)
    ru = {"Major outage for %(major)d min": "Серьёзный сбой %(major)d мин"}
    tooltip = bar(h, date(2024, 6, 12)).tooltip
    # render() takes Flask-Babel's gettext contract: translate, then fill the variables
    assert tooltip.render(lambda s, **v: ru.get(s, s) % v) == "Серьёзный сбой 60 мин"


def test_window_uptime_weights_partial_outage():
    day = local(2024, 6, 12, 8)
    h = uptime_history([major(day, day + timedelta(hours=1)),
                        partial(day + timedelta(hours=2), day + timedelta(hours=4))],
                       NOW, KYIV, days=2)  # yesterday (24 h) and today until noon (12 h)
    assert h.days[0].day == date(2024, 6, 14)
    assert h.uptime_percent == 100.0  # both outages are before the 2-day window
    h = uptime_history([major(day, day + timedelta(hours=1)),
                        partial(day + timedelta(hours=2), day + timedelta(hours=4))],
                       NOW, KYIV, days=4)
    tracked = (3 * 24 + 12) * 3600
    assert h.uptime_percent == pytest.approx(100 * (1 - (3600 + 0.3 * 7200) / tracked))


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        pytest.param({"days": 0}, "days must be at least 1", id="no-days"),
        pytest.param({"partial_weight": 2}, "partial_weight must be between 0 and 1", id="weight"),
    ],
)
def test_bad_arguments_are_refused(kwargs, words):
    with pytest.raises(NoticeError, match=words):
        uptime_history([], NOW, KYIV, **kwargs)


def test_interval_ending_before_it_starts_is_refused():
    with pytest.raises(NoticeError, match="is before its start"):
        major(local(2024, 6, 12, 9), local(2024, 6, 12, 8))


def test_naive_now_is_refused():
    with pytest.raises(NoticeError, match="timezone-aware"):
        uptime_history([], datetime(2024, 6, 15, 12), KYIV)


# A property checked against a brute-force count: intervals on whole minutes, so counting the
# minutes covered by each kind of outage is exact.
MINUTES_IN_WINDOW = 7 * 24 * 60
minute = st.integers(min_value=-600, max_value=MINUTES_IN_WINDOW + 600)
interval = st.tuples(minute, st.integers(min_value=0, max_value=3000), st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.lists(interval, max_size=12))
def test_totals_match_a_minute_by_minute_count(raw):
    tz = ZoneInfo("Europe/Kyiv")
    # Eight bars, 27 March to 3 April; "now" is the first moment of 3 April, so seven whole
    # days are tracked, one of them the 23-hour spring DST day.
    now = datetime(2024, 4, 3, 0, 0, tzinfo=tz)
    origin = datetime(2024, 3, 27, 0, 0, tzinfo=tz).astimezone(UTC)
    intervals = [OutageInterval(origin + s * MIN, origin + (s + length) * MIN,
                                "major" if is_major else "partial")
                 for s, length, is_major in raw]
    h = uptime_history(intervals, now, tz, days=8)
    window_minutes = int((now - origin).total_seconds() // 60)
    major_set, partial_set = set(), set()
    for s, length, is_major in raw:
        covered = {m for m in range(s, s + length) if 0 <= m < window_minutes}
        (major_set if is_major else partial_set).update(covered)
    assert h.major_seconds == len(major_set) * 60
    assert h.partial_seconds == len(partial_set - major_set) * 60
    assert h.tracked_seconds == window_minutes * 60
    assert window_minutes == 7 * 24 * 60 - 60
    assert sum(b.day_seconds for b in h.days[:-1]) == window_minutes * 60
    assert h.days[-1].colour == "nodata"
