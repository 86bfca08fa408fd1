"""Scheduled maintenance by the clock: start, end, reminders, and who is under maintenance."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shifts.notices.maintenance import (
    apply_due_transition,
    current_status,
    due_transition,
    is_active,
    is_upcoming,
    reminders_due,
    services_under_maintenance,
)
from shifts.notices.model import (
    AffectedService,
    MaintenanceWindow,
    Notice,
    NoticeError,
    NoticeKind,
    ServiceStatus,
    UpdateStatus,
    add_update,
    publish,
)

PUBLISHED = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
START = datetime(2024, 3, 3, 22, 0, tzinfo=UTC)   # Sunday night
END = START + timedelta(hours=3)
H = timedelta(hours=1)


def planned(*, auto_start=True, auto_complete=True, published=True, nid="m1", service="1c",
            leads=(timedelta(hours=24), H), start=START, publish_at=PUBLISHED) -> Notice:
    window = MaintenanceWindow(start, start + timedelta(hours=3), leads, auto_start, auto_complete)
    n = Notice(nid, "1C server upgrade", NoticeKind.MAINTENANCE,
               affected=(AffectedService(service, ServiceStatus.UNDER_MAINTENANCE),),
               window=window)
    n = add_update(n, "scheduled", "We will upgrade the 1C server.", "olena", publish_at)
    return publish(n, publish_at) if published else n


def by_person(n: Notice, status: str, at: datetime) -> Notice:
    return add_update(n, status, "Update from the duty engineer.", "olena", at)


@pytest.mark.parametrize(
    ("notice", "now", "expected"),
    [
        pytest.param(planned(), START - timedelta(seconds=1), None, id="before-start"),
        pytest.param(planned(), START, UpdateStatus.IN_PROGRESS, id="at-start"),
        pytest.param(planned(), START + H, UpdateStatus.IN_PROGRESS, id="worker-late-for-start"),
        pytest.param(apply_due_transition(planned(), START), START + H, None,
                     id="already-started-by-clock"),
        pytest.param(apply_due_transition(planned(), START), END, UpdateStatus.COMPLETED,
                     id="at-end"),
        pytest.param(planned(), END + H, UpdateStatus.COMPLETED,
                     id="worker-missed-whole-window"),
        pytest.param(planned(published=False), START, None, id="draft-never-moves"),
        pytest.param(planned(auto_start=False), START + H, None, id="auto-start-off"),
        pytest.param(planned(auto_start=False), END, UpdateStatus.COMPLETED,
                     id="auto-start-off-still-completes-past-window"),
        pytest.param(apply_due_transition(planned(auto_complete=False), START), END + H, None,
                     id="auto-complete-off"),
        pytest.param(by_person(planned(), "in_progress", START - H), END + H, None,
                     id="started-early-by-person-then-person-decides-end"),
        pytest.param(by_person(apply_due_transition(planned(), START), "verifying", START + H),
                     END + H, None, id="person-verifying-is-not-cut-short"),
        pytest.param(by_person(planned(), "scheduled", START - H), START, UpdateStatus.IN_PROGRESS,
                     id="person-reminder-update-keeps-clock"),
        pytest.param(by_person(planned(), "completed", START - H), END, None,
                     id="cancelled-before-start"),
    ],
)
def test_clock_moves_maintenance_unless_a_person_took_over(notice, now, expected):
    assert due_transition(notice, now) is expected


def test_applying_the_due_transition_adds_one_automatic_update_and_is_idempotent():
    started = apply_due_transition(planned(), START + timedelta(minutes=1))
    assert started.status is UpdateStatus.IN_PROGRESS
    last = started.updates[-1]
    assert last.automatic and last.author == "DutyDesk"
    assert apply_due_transition(started, START + timedelta(minutes=2)) is started
    done = apply_due_transition(started, END)
    assert done.status is UpdateStatus.COMPLETED and done.resolved_at == END


def test_incident_notices_are_never_moved_by_the_clock():
    n = Notice("n1", "Mail down", NoticeKind.INCIDENT, affected=(AffectedService("mail"),))
    n = publish(add_update(n, "investigating", "Looking.", "olena", PUBLISHED), PUBLISHED)
    assert due_transition(n, END) is None and not is_active(n, END) and not is_upcoming(n, END)


@pytest.mark.parametrize(
    ("notice", "now", "active", "upcoming"),
    [
        pytest.param(planned(), START - H, False, True, id="before"),
        pytest.param(planned(), START, True, False, id="started-by-clock-before-worker-ran"),
        pytest.param(by_person(planned(), "in_progress", START - H), START - H, True, False,
                     id="started-early"),
        pytest.param(by_person(planned(), "in_progress", START - H), END + H, True, False,
                     id="overrunning-under-manual-control"),
        pytest.param(planned(), END, False, False, id="over"),
        pytest.param(planned(published=False), START, False, False, id="draft"),
    ],
)
def test_active_and_upcoming(notice, now, active, upcoming):
    assert is_active(notice, now) is active
    assert is_upcoming(notice, now) is upcoming


def test_services_under_maintenance_are_those_of_active_windows():
    notices = [planned(nid="m1", service="1c"),
               planned(nid="m2", service="mail", start=START + timedelta(days=1)),
               by_person(planned(nid="m3", service="vpn"), "in_progress", START - H)]
    assert services_under_maintenance(notices, START + H) == {"1c", "vpn"}
    assert current_status(notices[1], START + H) is UpdateStatus.SCHEDULED


DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("notice", "last_run", "now", "leads"),
    [
        pytest.param(planned(), START - DAY - H, START - DAY, [DAY], id="day-before"),
        pytest.param(planned(), START - DAY, START - DAY + H, [],
                     id="moment-equal-last-run-was-sent"),
        pytest.param(planned(), START - 2 * DAY, START - timedelta(minutes=30), [DAY, H],
                     id="worker-down-sends-both-in-order"),
        pytest.param(planned(), START - H - H, START + timedelta(minutes=1), [],
                     id="too-late-once-started"),
        pytest.param(planned(publish_at=START - 2 * H), START - 3 * H,
                     START - timedelta(minutes=30), [H], id="published-late-skips-earlier"),
        pytest.param(planned(published=False), START - 2 * DAY, START - H, [], id="draft"),
        pytest.param(by_person(planned(), "completed", PUBLISHED + H), START - 2 * DAY, START - H,
                     [], id="cancelled"),
        pytest.param(planned(leads=()), START - 2 * DAY, START - H, [], id="no-reminders-wanted"),
    ],
)
def test_reminders_due_between_last_run_and_now(notice, last_run, now, leads):
    due = reminders_due([notice], last_run, now)
    assert [r.lead for r in due] == leads
    assert all(r.due_at == START - r.lead and r.notice is notice for r in due)


def test_reminders_refuse_a_last_run_in_the_future():
    with pytest.raises(NoticeError, match=r"last_run .* is after now"):
        reminders_due([planned()], START, START - H)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=6 * 60), min_size=1, max_size=60))
def test_a_worker_that_runs_at_any_times_sends_each_reminder_exactly_once(gaps_minutes):
    """Whatever the gaps between runs, a reminder is sent exactly once, by the first run at or
    after its moment, provided that run is still before the start; otherwise never."""
    notices = [planned(nid="a", leads=(DAY, 3 * H, H)),
               planned(nid="b", start=START + timedelta(minutes=37), leads=(2 * H, H))]
    runs = [PUBLISHED]
    while runs[-1] < START + DAY:
        gap = gaps_minutes[(len(runs) - 1) % len(gaps_minutes)]
        runs.append(runs[-1] + timedelta(minutes=gap))
    sent = []
    for last, now in itertools.pairwise(runs):
        sent += [(r.notice.id, r.lead) for r in reminders_due(notices, last, now)]
    expected = []
    for n in notices:
        for lead in n.window.reminder_leads:
            moment = n.window.scheduled_for - lead
            first_run = next(t for t in runs[1:] if t >= moment)
            if first_run < n.window.scheduled_for:
                expected.append((n.id, lead))
    assert sorted(sent) == sorted(expected)
