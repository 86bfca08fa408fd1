"""Statuspage-compatible JSON: same field names as Statuspage, right notices in each list."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks.result import Status as C
from shifts.notices.model import (
    AffectedService,
    Impact,
    MaintenanceWindow,
    Notice,
    NoticeKind,
    Service,
    ServiceGroup,
    ServiceStatus,
    add_update,
    publish,
)
from shifts.notices.statuspage_json import (
    PageData,
    PageInfo,
    active_maintenances_json,
    components_json,
    incidents_json,
    scheduled_maintenances_json,
    status_json,
    summary_json,
    ts,
    unresolved_incidents_json,
    upcoming_maintenances_json,
)

EXAMPLE = json.loads(
    (Path(__file__).parent / "data" / "statuspage_summary_example.json").read_text("utf-8")
)
NOW = datetime(2024, 3, 1, 10, 30, tzinfo=UTC)
CREATED = datetime(2023, 1, 1, tzinfo=UTC)
PAGE = PageInfo("dd", "DutyDesk status", "https://intranet.example/status", "Europe/Kyiv", NOW)
GROUPS = (ServiceGroup("office", "Office", position=1, created_at=CREATED, updated_at=CREATED),)
SERVICES = (
    Service("mail", "Mail", group="office", position=1, description="Outlook and webmail",
            created_at=CREATED, updated_at=CREATED),
    Service("1c", "1C", group="office", position=2, created_at=CREATED, updated_at=CREATED),
    Service("vpn", "VPN", position=0, mode="auto", check_ids=("vpn-gw",),
            created_at=CREATED, updated_at=CREATED),
)


def incident(nid, started, *statuses, published=True, service="mail",
             impact=ServiceStatus.MAJOR_OUTAGE):
    n = Notice(nid, f"Trouble {nid}", NoticeKind.INCIDENT, Impact.MAJOR,
               (AffectedService(service, impact),), created_at=started)
    for i, status in enumerate(statuses):
        n = add_update(n, status, f"{status} text", "olena", started + timedelta(minutes=5 * i))
    return publish(n, started) if published else n


def maintenance(nid, start, *, service="1c"):
    n = Notice(nid, f"Work {nid}", NoticeKind.MAINTENANCE,
               affected=(AffectedService(service, ServiceStatus.UNDER_MAINTENANCE),),
               window=MaintenanceWindow(start, start + timedelta(hours=2)),
               created_at=start - timedelta(days=2))
    n = add_update(n, "scheduled", "Planned work.", "olena", start - timedelta(days=2))
    return publish(n, start - timedelta(days=2))


OPEN = incident("open", NOW - timedelta(minutes=20), "investigating", "identified")
RESOLVED = incident("old", NOW - timedelta(days=3), "investigating", "monitoring", "resolved")
DRAFT = incident("draft", NOW - timedelta(minutes=5), "investigating", published=False)
UPCOMING = maintenance("soon", NOW + timedelta(days=1))
ACTIVE = maintenance("now", NOW - timedelta(hours=1), service="vpn")
PAST = maintenance("past", NOW - timedelta(days=5))
DATA = PageData.build(PAGE, GROUPS, SERVICES, (OPEN, RESOLVED, DRAFT, UPCOMING, ACTIVE, PAST),
                      {"vpn-gw": C.CRITICAL}, NOW)


# --- Field names against the recorded example ------------------------------------------------

def keys(obj):
    return set(obj) - {"_comment"}


def test_summary_uses_statuspage_field_names_at_every_level():
    ours = summary_json(DATA)
    assert keys(ours) == keys(EXAMPLE)
    assert keys(ours["page"]) == keys(EXAMPLE["page"])
    assert keys(ours["status"]) == keys(EXAMPLE["status"])
    group = next(c for c in ours["components"] if c["group"])
    service = next(c for c in ours["components"] if not c["group"])
    assert keys(group) == keys(EXAMPLE["components"][0])
    assert keys(service) == keys(EXAMPLE["components"][1])
    inc, ex_inc = ours["incidents"][0], EXAMPLE["incidents"][0]
    assert keys(inc) == keys(ex_inc)
    assert keys(inc["incident_updates"][0]) == keys(ex_inc["incident_updates"][0])
    assert keys(inc["components"][0]) == keys(ex_inc["components"][0])
    mnt, ex_mnt = ours["scheduled_maintenances"][0], EXAMPLE["scheduled_maintenances"][0]
    assert keys(mnt) == keys(ex_mnt)
    assert keys(mnt["incident_updates"][0]) == keys(ex_mnt["incident_updates"][0])


def test_affected_components_use_statuspage_field_names():
    changed = add_update(OPEN, "monitoring", "Mail mostly back.", "olena", NOW,
                         affected=(AffectedService("mail", ServiceStatus.PARTIAL_OUTAGE),))
    data = PageData.build(PAGE, GROUPS, SERVICES, (changed,), {}, NOW)
    update = incidents_json(data)["incidents"][0]["incident_updates"][0]
    example = EXAMPLE["incidents"][0]["incident_updates"][0]["affected_components"][0]
    assert update["affected_components"] == [
        {"code": "mail", "name": "Mail", "old_status": "major_outage",
         "new_status": "partial_outage"}]
    assert keys(update["affected_components"][0]) == keys(example)


@pytest.mark.parametrize(
    ("builder", "top_keys"),
    [
        pytest.param(status_json, {"page", "status"}, id="status.json"),
        pytest.param(components_json, {"page", "components"}, id="components.json"),
        pytest.param(incidents_json, {"page", "incidents"}, id="incidents.json"),
        pytest.param(unresolved_incidents_json, {"page", "incidents"}, id="unresolved.json"),
        pytest.param(scheduled_maintenances_json, {"page", "scheduled_maintenances"},
                     id="scheduled-maintenances.json"),
        pytest.param(upcoming_maintenances_json, {"page", "scheduled_maintenances"},
                     id="upcoming.json"),
        pytest.param(active_maintenances_json, {"page", "scheduled_maintenances"},
                     id="active.json"),
    ],
)
def test_every_endpoint_has_statuspage_top_level_keys_and_is_json(builder, top_keys):
    doc = builder(DATA)
    assert set(doc) == top_keys
    assert json.loads(json.dumps(doc)) == doc


# --- Content ---------------------------------------------------------------------------------

def ids(items):
    return [i["id"] for i in items]


def test_lists_hold_the_right_notices_in_order():
    assert ids(incidents_json(DATA)["incidents"]) == ["open", "old"]          # no draft
    assert ids(unresolved_incidents_json(DATA)["incidents"]) == ["open"]
    assert ids(scheduled_maintenances_json(DATA)["scheduled_maintenances"]) == [
        "soon", "now", "past"]
    assert ids(upcoming_maintenances_json(DATA)["scheduled_maintenances"]) == ["soon"]
    assert ids(active_maintenances_json(DATA)["scheduled_maintenances"]) == ["now"]
    summary = summary_json(DATA)
    assert ids(summary["incidents"]) == ["open"]
    assert ids(summary["scheduled_maintenances"]) == ["now", "soon"]


def test_components_in_page_order_with_group_status_the_worst_of_its_services():
    comps = components_json(DATA)["components"]
    assert ids(comps) == ["vpn", "office", "mail", "1c"]
    by_id = {c["id"]: c for c in comps}
    assert by_id["office"]["components"] == ["mail", "1c"]
    assert by_id["mail"]["status"] == "major_outage"        # the open incident
    assert by_id["office"]["status"] == "major_outage"
    # VPN's check is red but a maintenance is active: planned work, not an outage.
    assert by_id["vpn"]["status"] == "under_maintenance"
    assert by_id["mail"]["group_id"] == "office" and by_id["vpn"]["group_id"] is None
    assert by_id["mail"]["start_date"] == "2023-01-01"
    assert by_id["1c"]["description"] is None


def test_incident_fields():
    inc = incidents_json(DATA)["incidents"][1]
    assert inc["status"] == "resolved"
    assert inc["impact"] == "major"
    assert inc["resolved_at"] == ts(RESOLVED.resolved_at)
    assert inc["monitoring_at"] == ts(RESOLVED.updates[1].created_at)
    assert [u["status"] for u in inc["incident_updates"]] == [
        "resolved", "monitoring", "investigating"]                 # newest first
    assert inc["incident_updates"][0]["incident_id"] == "old"
    assert inc["shortlink"] == "https://intranet.example/status/notices/old"
    assert inc["page_id"] == "dd"
    assert ids(inc["components"]) == ["mail"]


def test_maintenance_fields_and_status_by_the_clock():
    active = active_maintenances_json(DATA)["scheduled_maintenances"][0]
    assert active["impact"] == "maintenance"
    assert active["scheduled_for"] == ts(ACTIVE.window.scheduled_for)
    assert active["scheduled_until"] == ts(ACTIVE.window.scheduled_until)
    # The worker has not stored "in_progress" yet, but the window has started.
    assert active["status"] == "in_progress"
    past = scheduled_maintenances_json(DATA)["scheduled_maintenances"][2]
    assert past["status"] == "completed"


def test_status_indicator_reflects_the_open_incident():
    # Mail is in major outage by the open notice: Statuspage calls that "critical".
    assert status_json(DATA)["status"] == {"indicator": "critical",
                                           "description": "Major Service Outage"}
    quiet = PageData.build(PAGE, GROUPS, SERVICES, (RESOLVED,), {"vpn-gw": C.OK}, NOW)
    assert status_json(quiet)["status"] == {"indicator": "none",
                                            "description": "All Systems Operational"}


def test_times_are_utc_with_milliseconds():
    assert ts(datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)) == "2024-03-01T12:00:00.123Z"
    assert summary_json(DATA)["page"]["updated_at"] == "2024-03-01T10:30:00.000Z"


def test_incident_list_is_capped():
    many = tuple(incident(f"n{i:02}", NOW - timedelta(hours=i), "investigating", "resolved")
                 for i in range(60))
    data = PageData.build(PAGE, GROUPS, SERVICES, many, {}, NOW)
    listed = incidents_json(data)["incidents"]
    assert len(listed) == 50 and listed[0]["id"] == "n00" and listed[-1]["id"] == "n49"
