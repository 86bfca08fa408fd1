"""Notice update rules, publishing and safe Markdown, as a duty engineer meets them."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shifts.notices.model import (
    AffectedChange,
    AffectedService,
    Impact,
    InvalidStatusError,
    MaintenanceWindow,
    NaiveDatetimeError,
    Notice,
    NoticeClosedError,
    NoticeError,
    NoticeKind,
    PublishError,
    ServiceStatus,
    StatusTransitionError,
    UpdateStatus,
    add_update,
    publish,
    render_markdown,
    reopen,
)

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
MAIL_DOWN = (AffectedService("mail", ServiceStatus.MAJOR_OUTAGE),)


def incident(*statuses: str, affected=MAIL_DOWN) -> Notice:
    """A published incident whose timeline went through ``statuses``, one minute apart."""
    n = Notice("n1", "Mail is down", NoticeKind.INCIDENT, Impact.MAJOR, affected, created_at=T0)
    for i, status in enumerate(statuses):
        n = add_update(n, status, f"update {i}", "olena", T0 + timedelta(minutes=i))
    return n


def maintenance(*statuses: str) -> Notice:
    window = MaintenanceWindow(T0 + timedelta(hours=2), T0 + timedelta(hours=4))
    n = Notice("m1", "1C upgrade", NoticeKind.MAINTENANCE, affected=MAIL_DOWN, window=window)
    for i, status in enumerate(statuses):
        n = add_update(n, status, f"update {i}", "olena", T0 + timedelta(minutes=i))
    return n


LATER = T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("history", "new"),
    [
        pytest.param(("investigating",), "investigating", id="repeat-still-investigating"),
        pytest.param(("investigating",), "identified", id="forward-one-step"),
        pytest.param(("investigating",), "resolved", id="forward-skipping-stages"),
        pytest.param(("investigating", "monitoring"), "investigating", id="fix-did-not-hold"),
        pytest.param(("investigating", "monitoring"), "identified",
                     id="monitoring-back-to-identified"),
        pytest.param(("identified",), "investigating", id="cause-was-wrong"),
        pytest.param((), "monitoring", id="first-update-may-be-any-open-status"),
    ],
)
def test_incident_update_moves_that_are_allowed(history, new):
    notice = incident(*history)
    updated = add_update(notice, new, "We know more now.", "olena", LATER)
    assert updated.status is UpdateStatus(new)
    assert len(updated.updates) == len(history) + 1
    assert updated.updates[-1].body == "We know more now."


@pytest.mark.parametrize(
    ("history", "new"),
    [
        pytest.param(("scheduled",), "in_progress", id="start"),
        pytest.param(("scheduled",), "completed", id="cancelled-before-start"),
        pytest.param(("in_progress", "verifying"), "in_progress", id="verification-failed"),
        pytest.param(("in_progress",), "in_progress", id="still-working"),
    ],
)
def test_maintenance_update_moves_that_are_allowed(history, new):
    assert add_update(maintenance(*history), new, "ok", "olena", LATER).status is UpdateStatus(new)


@pytest.mark.parametrize(
    ("notice", "new", "error", "words"),
    [
        pytest.param(incident("investigating", "resolved"), "investigating", NoticeClosedError,
                     "this notice is resolved; reopen it or create a new one", id="after-resolved"),
        pytest.param(incident("resolved"), "resolved", NoticeClosedError, "resolved",
                     id="resolved-twice"),
        pytest.param(maintenance("in_progress", "completed"), "in_progress", NoticeClosedError,
                     "this notice is completed; reopen it", id="after-completed"),
        pytest.param(maintenance("in_progress"), "scheduled", StatusTransitionError,
                     "cannot go back from 'in_progress' to 'scheduled'", id="unstart-maintenance"),
        pytest.param(maintenance("verifying"), "scheduled", StatusTransitionError,
                     "'verifying' to 'scheduled'", id="verifying-to-scheduled"),
        pytest.param(incident("investigating"), "in_progress", InvalidStatusError,
                     "investigating, identified, monitoring, resolved",
                     id="maintenance-status-on-incident"),
        pytest.param(maintenance(), "resolved", InvalidStatusError,
                     "scheduled, in_progress, verifying, completed",
                     id="incident-status-on-maintenance"),
        pytest.param(incident(), "fixed", InvalidStatusError, "got 'fixed'", id="unknown-status"),
    ],
)
def test_refused_update_says_why_and_changes_nothing(notice, new, error, words):
    before = notice
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        add_update(notice, new, "text", "olena", LATER)
    assert notice == before


@pytest.mark.parametrize("body", ["", "   \n\t"], ids=["empty", "only-whitespace"])
def test_update_without_text_is_refused(body):
    with pytest.raises(NoticeError, match=r"update text \(body\) is required"):
        add_update(incident("investigating"), "identified", body, "olena", LATER)


def test_update_without_author_is_refused():
    with pytest.raises(NoticeError, match="author is required"):
        add_update(incident(), "investigating", "text", " ", LATER)


def test_update_with_naive_time_is_refused():
    with pytest.raises(NaiveDatetimeError, match="now must be timezone-aware"):
        add_update(incident(), "investigating", "text", "olena", datetime(2024, 3, 1, 9, 0))


def test_update_dated_before_the_previous_one_is_refused():
    with pytest.raises(NoticeError, match="earlier than the previous update"):
        add_update(incident("investigating", "identified"), "monitoring", "x", "olena", T0)


def test_resolving_records_when_and_reopening_clears_it():
    resolved = add_update(incident("investigating"), "resolved", "Mail works.", "olena", LATER)
    assert resolved.resolved_at == LATER and resolved.is_closed
    again = reopen(resolved, "investigating", "Failing again.", "olena", LATER + timedelta(1))
    assert again.resolved_at is None and again.status is UpdateStatus.INVESTIGATING
    assert [u.status.value for u in again.updates] == ["investigating", "resolved", "investigating"]
    # Once reopened, the normal rules apply again.
    later = add_update(again, "identified", "x", "olena", LATER + timedelta(2))
    assert later.status is UpdateStatus.IDENTIFIED


@pytest.mark.parametrize(
    ("notice", "status", "error"),
    [
        pytest.param(incident("investigating"), "investigating", StatusTransitionError,
                     id="not-closed"),
        pytest.param(incident("resolved"), "resolved", InvalidStatusError, id="to-final-status"),
        pytest.param(incident("resolved"), "in_progress", InvalidStatusError, id="wrong-kind"),
    ],
)
def test_reopen_is_refused_when_it_makes_no_sense(notice, status, error):
    with pytest.raises(error):
        reopen(notice, status, "text", "olena", LATER)


def test_changing_affected_services_is_recorded_on_the_update():
    n = incident("investigating", affected=(AffectedService("mail", "major_outage"),
                                            AffectedService("vpn", "degraded_performance")))
    n = add_update(n, "identified", "Mail partly back, VPN fine, 1C slow.", "olena", LATER,
                   affected=(AffectedService("mail", "partial_outage"),
                             AffectedService("1c", "degraded_performance")))
    assert n.updates[-1].affected_changes == (
        AffectedChange("mail", ServiceStatus.MAJOR_OUTAGE, ServiceStatus.PARTIAL_OUTAGE),
        AffectedChange("vpn", ServiceStatus.DEGRADED_PERFORMANCE, ServiceStatus.OPERATIONAL),
        AffectedChange("1c", ServiceStatus.OPERATIONAL, ServiceStatus.DEGRADED_PERFORMANCE),
    )
    assert [a.service_id for a in n.affected] == ["mail", "1c"]


def test_same_service_twice_in_one_notice_is_refused():
    with pytest.raises(NoticeError, match="'mail' is listed twice"):
        add_update(incident(), "investigating", "x", "olena", LATER,
                   affected=(AffectedService("mail"), AffectedService("mail", "partial_outage")))


def test_update_ids_count_up_per_notice():
    assert [u.id for u in incident("investigating", "identified").updates] == ["n1-1", "n1-2"]


@pytest.mark.parametrize(
    ("notice", "problems"),
    [
        pytest.param(incident(affected=()), ("no affected service is selected",
                                             "there is no text (add a first update)"),
                     id="nothing-filled-in"),
        pytest.param(incident(), ("there is no text (add a first update)",), id="no-text"),
        pytest.param(incident("investigating", affected=()), ("no affected service is selected",),
                     id="no-service"),
        pytest.param(replace(incident("investigating"), title="  "), ("the title is empty",),
                     id="no-title"),
        pytest.param(publish(incident("investigating"), T0), ("it is already published",),
                     id="twice"),
    ],
)
def test_publishing_an_incomplete_notice_lists_every_problem(notice, problems):
    with pytest.raises(PublishError) as caught:
        publish(notice, LATER)
    assert caught.value.problems == problems
    assert "cannot publish notice 'n1'" in str(caught.value)


def test_publishing_a_complete_notice_stamps_the_time():
    published = publish(incident("investigating"), LATER)
    assert published.published_at == LATER and published.started_at == LATER
    backdated = publish(replace(incident("investigating"), started_at=T0), LATER)
    assert backdated.started_at == T0


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        pytest.param({"scheduled_until": T0}, "must end after it starts", id="ends-at-start"),
        pytest.param({"reminder_leads": (timedelta(0),)}, "must be positive", id="zero-lead"),
        pytest.param({"scheduled_until": datetime(2024, 3, 2)}, "timezone-aware", id="naive"),
    ],
)
def test_bad_maintenance_window_is_refused(kwargs, words):
    with pytest.raises(NoticeError, match=words):
        MaintenanceWindow(**{"scheduled_for": T0, "scheduled_until": T0 + timedelta(hours=1)}
                          | kwargs)


def test_reminder_leads_are_sorted_longest_first_without_duplicates():
    hour, day = timedelta(hours=1), timedelta(days=1)
    w = MaintenanceWindow(T0, T0 + hour, reminder_leads=(hour, day, hour))
    assert w.reminder_leads == (timedelta(days=1), timedelta(hours=1))


@pytest.mark.parametrize(
    ("kind", "window", "words"),
    [
        pytest.param("maintenance", None, "needs a window", id="maintenance-without-window"),
        pytest.param("incident", MaintenanceWindow(T0, LATER), "cannot have a maintenance window",
                     id="incident-with-window"),
        pytest.param("outage", None, "notice kind must be one of incident, maintenance",
                     id="unknown-kind"),
    ],
)
def test_notice_kind_and_window_must_agree(kind, window, words):
    with pytest.raises(NoticeError, match=words):
        Notice("x", "t", kind, window=window)


# --- Markdown -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "present", "absent"),
    [
        pytest.param("Mail is **down**", ["<strong>down</strong>"], [], id="bold"),
        pytest.param("- one\n- two", ["<li>one</li>", "<li>two</li>"], [], id="list"),
        pytest.param("hi <script>alert(1)</script>", ["hi"], ["<script", "alert(1)"],
                     id="script-dropped-with-content"),
        pytest.param('<p onclick="steal()">x</p>', ["<p>x</p>"], ["onclick", "steal"],
                     id="event-handler-attribute"),
        pytest.param('<img src=x onerror="alert(1)">', [], ["<img", "onerror"], id="image"),
        pytest.param("[docs](javascript:alert(1))", [">docs</a>"], ["javascript"],
                     id="javascript-link"),
        pytest.param("[wiki](https://wiki.example/vpn)",
                     ['href="https://wiki.example/vpn"', 'rel="nofollow noopener"'], [],
                     id="link-gets-rel"),
        pytest.param('<a href="https://x.example" rel="opener" target="_blank">x</a>',
                     ['rel="nofollow noopener"'], ["target", 'rel="opener"'], id="raw-link-rel"),
        pytest.param("<style>body{display:none}</style>ok", ["ok"], ["display", "<style"],
                     id="style-block"),
        pytest.param('<span style="position:fixed">x</span>', ["x"], ["style", "<span"],
                     id="style-attribute"),
        pytest.param("```\n<b>literal</b>\n```", ["&lt;b&gt;literal&lt;/b&gt;"], ["<b>"],
                     id="html-in-code-is-text"),
        pytest.param("<iframe src=https://evil.example></iframe>", [], ["iframe", "evil"],
                     id="iframe"),
    ],
)
def test_markdown_renders_safe_html(text, present, absent):
    html = render_markdown(text)
    for fragment in present:
        assert fragment in html
    for fragment in absent:
        assert fragment not in html


def test_lists_from_a_form_become_tuples_so_notices_stay_immutable():
    n = Notice("n1", "Mail", "incident", "minor", [AffectedService("mail")], incident_ids=["42"])
    assert n.affected == (AffectedService("mail"),) and n.incident_ids == ("42",)
    assert n.kind is NoticeKind.INCIDENT and n.impact is Impact.MINOR
    hash(n)
