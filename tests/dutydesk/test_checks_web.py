"""Check screens: the grouped list, the detail page, run now, the edit forms and /metrics."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from checks.config_db import ensure_group
from checks.models import (
    Check,
    CheckDependency,
    CheckResultRow,
    CheckRollup,
    CheckStateRow,
    FlipRow,
    MaintenanceWindowRow,
)
from checks.queries import creates_cycle, sparkline, uptime_from_rollups
from dutydesk.core.db import Database, utcnow
from dutydesk.models import AuditEntry, Role
from tests.conftest import form_token

HTTP_SPEC = {"url": "http://127.0.0.1:9/health"}


def add_check(db: Database, slug: str, group: str | None = None, *, status: str = "OK",
              type_: str = "http", spec: dict | None = None, **state: Any) -> int:
    """A check with a state row showing ``status`` (as the engine would leave it)."""
    now = utcnow()
    with db.session() as s:
        group_id = ensure_group(s, group).id if group else None
        check = Check(slug=slug, display_name=slug, type=type_, spec=spec or HTTP_SPEC,
                      group_id=group_id, max_attempts=3)
        s.add(check)
        s.flush()
        # the raw status of the last result: none while pending, the check's own when unreachable
        last = {"PENDING": None, "UNREACHABLE": "CRITICAL"}.get(status, status)
        s.add(CheckStateRow(
            check_id=check.id, status=status, last_status=last,
            state={"status": last, "since": (now - timedelta(minutes=5)).isoformat(),
                   "flap_percent": 12.5},
            next_due_at=now + timedelta(hours=1), last_result_at=now if last else None,
            last_message=f"{slug} says {status}", last_duration=0.042,
            state_type=state.pop("state_type", "HARD"), attempt=state.pop("attempt", 1),
            **state))
        return check.id


def page_text(response: Any) -> str:
    return response.get_data(as_text=True)


# ---- reading ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ENGINEER])
def test_viewer_and_engineer_read_checks_but_may_not_edit(signed_in: Any, db: Database,
                                                          role: Role) -> None:
    check_id = add_check(db, "ups-a", "Hall A / UPS")
    client = signed_in(role)
    assert client.get("/checks").status_code == 200
    assert client.get(f"/checks/{check_id}").status_code == 200
    token = form_token(client, "/checks")
    for path in ("/checks/new", f"/checks/{check_id}/edit", "/checks/groups"):
        assert client.get(path).status_code == 403, path
    for path in (f"/checks/{check_id}/edit", f"/checks/{check_id}/delete",
                 f"/checks/{check_id}/enabled", f"/checks/{check_id}/windows",
                 f"/checks/{check_id}/parents", "/checks/groups"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path
    with db.session() as s:
        assert s.get(Check, check_id) is not None


def test_anonymous_visitor_is_sent_to_login(client: Any) -> None:
    response = client.get("/checks")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_list_groups_checks_by_hall_and_system_with_counts(signed_in: Any, db: Database) -> None:
    add_check(db, "ups-a", "Hall A / UPS", status="CRITICAL")
    add_check(db, "ups-b", "Hall A / UPS", status="OK")
    add_check(db, "crac-1", "Hall B / Cooling", status="WARNING", in_maintenance=True)
    add_check(db, "loose", None, status="PENDING")
    html = page_text(signed_in(Role.VIEWER).get("/checks"))
    sections = re.findall(r'<section class="check-group" data-group="([^"]*)">(.*?)</section>',
                          html, re.S)
    by_group = {path: body for path, body in sections}
    assert list(by_group) == ["Hall A / UPS", "Hall B / Cooling", ""]
    ups = by_group["Hall A / UPS"]
    assert "1 CRITICAL" in ups and "1 OK" in ups
    # worst first inside the group
    assert ups.index('data-check="ups-a"') < ups.index('data-check="ups-b"')
    assert "1 maintenance" in by_group["Hall B / Cooling"]
    assert 'data-check="loose"' in by_group[""] and "PENDING" in by_group[""]


@pytest.mark.parametrize(("query", "shown", "hidden"), [
    ("state=CRITICAL", ["ups-a"], ["ups-b", "crac-1"]),           # status word
    ("state=maintenance", ["crac-1"], ["ups-a", "ups-b"]),        # badge
    ("group=Hall+A", ["ups-a", "ups-b"], ["crac-1"]),             # group and groups below it
    ("type=tcp", ["ups-b"], ["ups-a", "crac-1"]),                  # check type
    ("q=crac", ["crac-1"], ["ups-a", "ups-b"]),                    # text in the name
])
def test_list_filters(signed_in: Any, db: Database, query: str, shown: list[str],
                      hidden: list[str]) -> None:
    add_check(db, "ups-a", "Hall A / UPS", status="CRITICAL")
    add_check(db, "ups-b", "Hall A / UPS", type_="tcp", spec={"host": "127.0.0.1", "port": 9})
    add_check(db, "crac-1", "Hall B / Cooling", status="WARNING", in_maintenance=True)
    html = page_text(signed_in(Role.VIEWER).get(f"/checks?{query}"))
    for slug in shown:
        assert f'data-check="{slug}"' in html, slug
    for slug in hidden:
        assert f'data-check="{slug}"' not in html, slug


def test_detail_page_shows_state_sparkline_and_uptime_from_seeded_history(
        signed_in: Any, db: Database) -> None:
    check_id = add_check(db, "ups-a", "Hall A / UPS", status="WARNING", state_type="SOFT",
                         attempt=2)
    now = utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with db.session() as s:
        for i in range(10):
            s.add(CheckResultRow(check_id=check_id, started_at=now - timedelta(minutes=10 - i),
                                 status="WARNING" if i == 9 else "OK", message=f"run {i}",
                                 duration=0.01 * (i + 1)))
        # 3 days ago: 50 % up; 2 days ago: 100 % up; nothing measured on the other days
        s.add(CheckRollup(check_id=check_id, resolution="day",
                          bucket_start=today - timedelta(days=3), count=100, up_count=50))
        s.add(CheckRollup(check_id=check_id, resolution="day",
                          bucket_start=today - timedelta(days=2), count=100, up_count=100))
        s.add(FlipRow(check_id=check_id, kind="problem", old_status="OK",
                      new_status="CRITICAL", reason="UPS on battery", at=now))
    html = page_text(signed_in(Role.VIEWER).get(f"/checks/{check_id}"))
    assert "SOFT" in html and "2/3" in html and "ups-a says WARNING" in html
    assert "12.5 %" in html  # flapping percent
    polyline = re.search(r'<svg class="sparkline".*?<polyline points="([^"]+)"', html, re.S)
    assert polyline and len(polyline.group(1).split()) == 10
    assert re.search(r'<circle [^>]*class="st-warning"', html)  # the non-OK result is marked
    assert re.search(r'id="uptime-90d">75.00 %<', html)
    assert html.count('class="up-crit"') == 1 and html.count('class="up-ok"') == 1
    assert "UPS on battery" in html and "run 9" in html


def test_uptime_24h_prefers_the_fuller_picture_of_minutes_and_hours() -> None:
    now = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
    hour = now.replace(minute=0)
    rows = [
        # the hour row was rolled up when only 1 minute had results ...
        CheckRollup(check_id=1, resolution="hour", bucket_start=hour, count=1, up_count=1,
                    **{f"h{i}": 0 for i in range(10)}),
        # ... the minute rows since then hold 4 results, one of them down
        *[CheckRollup(check_id=1, resolution="minute", bucket_start=hour + timedelta(minutes=m),
                      count=1, up_count=0 if m == 3 else 1, duration_max=0.2,
                      **{f"h{i}": 1 if i == 3 else 0 for i in range(10)}) for m in range(4)],
    ]
    uptime = uptime_from_rollups(rows, now)
    assert uptime.percent_24h == 75.0
    assert uptime.hours[-1].count == 4
    assert uptime.p95_24h == 0.2  # the histogram bucket bound (0.25) capped by the maximum


def test_sparkline_needs_two_points_and_marks_problems() -> None:
    assert sparkline([(0.1, "OK")]) is None
    line = sparkline([(0.1, "OK"), (0.3, "CRITICAL"), (0.2, "OK")], width=100, height=20)
    assert line is not None and len(line.points.split()) == 3
    assert [status for _x, _y, status in line.dots] == ["CRITICAL"]
    ys = [float(p.split(",")[1]) for p in line.points.split()]
    assert ys[1] < ys[2] < ys[0]  # slower is higher on screen (smaller y)


# ---- run now ------------------------------------------------------------------------------


def test_run_now_makes_the_check_due_and_is_audited(signed_in: Any, db: Database) -> None:
    check_id = add_check(db, "ups-a", "Hall A / UPS")
    client = signed_in(Role.ENGINEER)
    before = utcnow()
    response = client.post(f"/checks/{check_id}/run",
                           data={"csrf_token": form_token(client, f"/checks/{check_id}")})
    assert response.status_code == 303
    with db.session() as s:
        due = s.get(CheckStateRow, check_id).next_due_at
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "check.run_now")).one()
    assert before <= due <= utcnow()
    assert entry.entity_id == str(check_id) and entry.actor == client.user.email
    assert "will run" in page_text(client.get(f"/checks/{check_id}"))


def test_run_now_without_csrf_token_is_refused(signed_in: Any, db: Database) -> None:
    check_id = add_check(db, "ups-a")
    response = signed_in(Role.ENGINEER).post(f"/checks/{check_id}/run")
    assert response.status_code == 400
    with db.session() as s:
        assert s.get(CheckStateRow, check_id).next_due_at > utcnow() + timedelta(minutes=30)


def test_viewer_cannot_run_a_check_now(signed_in: Any, db: Database) -> None:
    check_id = add_check(db, "ups-a")
    client = signed_in(Role.VIEWER)
    assert "run-now" not in page_text(client.get(f"/checks/{check_id}"))
    response = client.post(f"/checks/{check_id}/run",
                           data={"csrf_token": form_token(client, "/checks")})
    assert response.status_code == 403


# ---- editing ------------------------------------------------------------------------------


def check_form(**overrides: str) -> dict[str, str]:
    form = {"name": "ups-c", "display_name": "UPS C", "type": "http", "group": "Hall C / UPS",
            "spec": "url: http://127.0.0.1:9/status\nexpected_status: [200]\n",
            "interval": "30s", "max_attempts": "3", "timeout": "10", "impact": "1",
            "urgency": "2", "enabled": "on", "flap_detection": "on", "tags": "power, ups"}
    form.update(overrides)
    return form


def check_audit(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(AuditEntry.action).where(
            AuditEntry.entity_type == "check").order_by(AuditEntry.id)))


def count(db: Database, model: Any) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_shift_lead_creates_a_check_that_the_engine_will_run(signed_in: Any,
                                                             db: Database) -> None:
    client = signed_in(Role.SHIFT_LEAD)
    form = check_form(csrf_token=form_token(client, "/checks/new"))
    response = client.post("/checks/new", data=form)
    assert response.status_code == 303
    with db.session() as s:
        check = s.scalars(select(Check).where(Check.slug == "ups-c")).one()
        assert (check.interval, check.timeout, check.impact) == (30.0, 10.0, 1)
        assert check.spec == {"url": "http://127.0.0.1:9/status", "expected_status": [200]}
        assert check.tags == ["power", "ups"]
        assert s.get(CheckStateRow, check.id) is not None
        assert s.scalars(select(AuditEntry.action).where(
            AuditEntry.entity_type == "check")).all() == ["check.create"]
    html = page_text(client.get(response.headers["Location"]))
    assert "Hall C / UPS" in html


@pytest.mark.parametrize(("overrides", "message"), [
    ({"spec": "method: GET\n"}, "url is required for a http check"),        # spec field
    ({"interval": "0"}, "interval must be at least 5 s, got 0"),              # policy
    ({"spec": "url: [unclosed\n"}, "spec is not valid YAML or JSON"),         # unreadable
    ({"name": "bad name!"}, "name must be 1-100 letters"),                    # slug
    ({"type": "telepathy"}, "must be one of"),                                # type
])
def test_create_with_a_bad_spec_shows_the_reason_and_stores_nothing(
        signed_in: Any, db: Database, overrides: dict[str, str], message: str) -> None:
    client = signed_in(Role.SHIFT_LEAD)
    form = check_form(csrf_token=form_token(client, "/checks/new"), **overrides)
    response = client.post("/checks/new", data=form)
    assert response.status_code == 400
    html = page_text(response)
    error = re.search(r'id="form-error">(.*?)</p>', html, re.S)
    assert error and message in error.group(1).replace("&#39;", "'")
    assert 'value="UPS C"' in html  # what the person typed is kept
    assert count(db, Check) == 0 and check_audit(db) == []


def test_edit_changes_the_check_and_keeps_what_the_form_does_not_show(
        signed_in: Any, db: Database) -> None:
    check_id = add_check(db, "ups-a", "Hall A / UPS")
    with db.session() as s:
        s.get(Check, check_id).labels = {"rack": "A1"}
    client = signed_in(Role.ADMIN)
    page = page_text(client.get(f"/checks/{check_id}/edit"))
    assert "url: http://127.0.0.1:9/health" in page
    form = check_form(name="ups-a", interval="120", csrf_token=form_token(client, "/checks"))
    assert client.post(f"/checks/{check_id}/edit", data=form).status_code == 303
    with db.session() as s:
        check = s.get(Check, check_id)
        assert check.interval == 120.0 and check.labels == {"rack": "A1"}
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "check.update")).one()
        assert entry.before["interval"] == 60.0 and entry.after["interval"] == 120.0


def test_disable_and_delete_are_audited(signed_in: Any, db: Database) -> None:
    check_id = add_check(db, "ups-a")
    client = signed_in(Role.SHIFT_LEAD)
    token = form_token(client, "/checks")
    client.post(f"/checks/{check_id}/enabled", data={"csrf_token": token, "enabled": "0"})
    with db.session() as s:
        assert s.get(Check, check_id).enabled is False
    assert "disabled" in page_text(client.get("/checks?state=disabled"))
    assert client.post(f"/checks/{check_id}/delete", data={"csrf_token": token}).status_code == 303
    with db.session() as s:
        assert s.get(Check, check_id) is None
        assert s.get(Check, check_id) is None
    assert check_audit(db) == ["check.disable", "check.delete"]


def test_dependency_cycle_is_refused(signed_in: Any, db: Database) -> None:
    switch = add_check(db, "core-sw")
    pdu = add_check(db, "pdu-1")
    sensor = add_check(db, "sensor-1")
    client = signed_in(Role.SHIFT_LEAD)
    token = form_token(client, "/checks")
    client.post(f"/checks/{sensor}/parents", data={"csrf_token": token, "parent_id": pdu})
    client.post(f"/checks/{pdu}/parents", data={"csrf_token": token, "parent_id": switch})
    response = client.post(f"/checks/{switch}/parents",
                           data={"csrf_token": token, "parent_id": sensor},
                           follow_redirects=True)
    assert "would make a loop" in page_text(response)
    with db.session() as s:
        edges = set(s.execute(select(CheckDependency.child_id, CheckDependency.parent_id)))
    assert edges == {(sensor, pdu), (pdu, switch)}
    html = page_text(client.get(f"/checks/{pdu}"))
    deps = html[html.index('id="dependencies"'):html.index('id="maintenance"')]
    assert "core-sw" in deps and "sensor-1" in deps  # parent and child both listed


@pytest.mark.parametrize(("edges", "child", "parent", "cycle"), [
    ([], 1, 1, True),                        # a check cannot depend on itself
    ([(2, 1)], 1, 2, True),                  # direct loop
    ([(3, 2), (2, 1)], 1, 3, True),          # loop through a middle check
    ([(3, 2), (2, 1)], 3, 1, False),         # a shortcut is not a loop
    ([(2, 1), (4, 3)], 1, 4, False),         # unrelated chains
])
def test_creates_cycle(edges: list[tuple[int, int]], child: int, parent: int,
                       cycle: bool) -> None:
    assert creates_cycle(edges, child, parent) is cycle


def test_maintenance_window_for_a_check_is_created_and_shown(signed_in: Any,
                                                              db: Database) -> None:
    check_id = add_check(db, "ups-a", "Hall A / UPS")
    client = signed_in(Role.SHIFT_LEAD)
    token = form_token(client, "/checks")
    response = client.post(f"/checks/{check_id}/windows", data={
        "csrf_token": token, "name": "patch night", "kind": "weekly", "zone": "Europe/Kyiv",
        "weekdays": ["sun"], "start_time": "02:00", "duration": "2h",
        "start": "2030-01-01T00:00",  # a one-off input left filled: ignored for weekly
    })
    assert response.status_code == 303
    with db.session() as s:
        row = s.scalars(select(MaintenanceWindowRow)).one()
        assert (row.check_id, row.kind, row.zone) == (check_id, "weekly", "Europe/Kyiv")
        assert row.definition == {"weekdays": ["sun"], "start_time": "02:00", "duration": "2h"}
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "maintenance.create")) == 1
    html = page_text(client.get(f"/checks/{check_id}"))
    section = html[html.index('id="maintenance"'):html.index('id="flips"')]
    assert "patch night" in section and "weekly" in section and "next " in section


def test_one_off_window_on_a_group_covers_its_checks_now(signed_in: Any, db: Database) -> None:
    check_id = add_check(db, "ups-a", "Hall A / UPS")
    with db.session() as s:
        group_id = ensure_group(s, "Hall A").id
    client = signed_in(Role.SHIFT_LEAD)
    now = utcnow()
    client.post(f"/checks/groups/{group_id}/windows", data={
        "csrf_token": form_token(client, "/checks"), "name": "hall works", "kind": "one_off",
        "zone": "UTC", "start": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "end": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")})
    html = page_text(client.get(f"/checks/{check_id}"))
    section = html[html.index('id="maintenance"'):html.index('id="flips"')]
    assert "hall works" in section and "active until" in section and "Hall A" in section


def test_invalid_maintenance_window_is_refused_with_the_reason(signed_in: Any,
                                                               db: Database) -> None:
    check_id = add_check(db, "ups-a")
    client = signed_in(Role.SHIFT_LEAD)
    response = client.post(f"/checks/{check_id}/windows", data={
        "csrf_token": form_token(client, "/checks"), "kind": "weekly", "weekdays": ["sun"],
        "start_time": "02:00"}, follow_redirects=True)
    assert "needs a duration" in page_text(response)
    assert count(db, MaintenanceWindowRow) == 0


def test_groups_are_created_with_their_parents(signed_in: Any, db: Database) -> None:
    client = signed_in(Role.SHIFT_LEAD)
    client.post("/checks/groups", data={"csrf_token": form_token(client, "/checks/groups"),
                                        "path": " Hall D /  Cooling ", "description": "CRACs"})
    html = page_text(client.get("/checks/groups"))
    assert "Hall D / Cooling" in html and ">Hall D<" in html and "CRACs" in html


# ---- metrics ------------------------------------------------------------------------------


def test_metrics_expose_per_check_gauges_from_the_states(client: Any, db: Database) -> None:
    add_check(db, "ups-a", "Hall A / UPS", status="CRITICAL", attempt=3)
    add_check(db, "crac-1", None, status="OK")
    add_check(db, "never-run", None, status="PENDING")
    with db.session() as s:
        s.add(FlipRow(check_id=1, kind="problem", new_status="CRITICAL", at=utcnow()))
    text = page_text(client.get("/metrics"))
    assert 'dutydesk_check_state{check="ups-a",group="Hall A / UPS"} 2.0' in text
    assert 'dutydesk_check_state{check="crac-1",group=""} 0.0' in text
    assert 'probe_success{check="ups-a"} 0.0' in text
    assert 'probe_success{check="crac-1"} 1.0' in text
    assert 'probe_duration_seconds{check="crac-1"} 0.042' in text
    assert 'dutydesk_check_attempt{check="ups-a"} 3.0' in text
    assert 'dutydesk_check_state{check="never-run"' not in text  # no status yet
    assert "dutydesk_flips_unprocessed 1.0" in text
