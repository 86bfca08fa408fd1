"""Every /api/v2 document over HTTP: Statuspage field names, caching headers, filtering.

The field names are checked against the recorded Statuspage example in
tests/shifts/notices/data, at every level (page, component, group, incident, update, affected
component), so existing aggregators and chat integrations can read us.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dutydesk.core.db import Database, utcnow
from shifts.notices import MaintenanceWindow
from shifts.notices import service as svc

EXAMPLE = json.loads((Path(__file__).parents[1] / "shifts" / "notices" / "data"
                      / "statuspage_summary_example.json").read_text())
GROUP_KEYS = set(next(c for c in EXAMPLE["components"] if "components" in c))
COMPONENT_KEYS = set(next(c for c in EXAMPLE["components"] if "components" not in c))
INCIDENT_KEYS = set(EXAMPLE["incidents"][0])
UPDATE_KEYS = set(EXAMPLE["incidents"][0]["incident_updates"][0])
AFFECTED_KEYS = set(EXAMPLE["incidents"][0]["incident_updates"][0]["affected_components"][0])
MAINTENANCE_KEYS = set(EXAMPLE["scheduled_maintenances"][0])
PAGE_KEYS, STATUS_KEYS = set(EXAMPLE["page"]), set(EXAMPLE["status"])

DOCUMENTS = {
    "/api/v2/status.json": {"page", "status"},
    "/api/v2/summary.json": {"page", "components", "incidents", "scheduled_maintenances",
                             "status"},
    "/api/v2/components.json": {"page", "components"},
    "/api/v2/incidents.json": {"page", "incidents"},
    "/api/v2/incidents/unresolved.json": {"page", "incidents"},
    "/api/v2/scheduled-maintenances.json": {"page", "scheduled_maintenances"},
    "/api/v2/scheduled-maintenances/upcoming.json": {"page", "scheduled_maintenances"},
    "/api/v2/scheduled-maintenances/active.json": {"page", "scheduled_maintenances"},
}


@pytest.fixture
def world(db: Database) -> dict[str, int]:
    """Office/Mail+VPN; an open outage, a resolved one, running and upcoming maintenance."""
    now = utcnow()
    with db.session() as s:
        group = svc.save_group(s, "admin", name="Office", now=now)
        for slug, name in (("mail", "Mail"), ("vpn", "VPN"), ("files", "File share")):
            svc.save_service(s, "admin", slug=slug, name=name, group_id=group.id, now=now)
        open_ = svc.create_notice(s, "anna", kind="incident", title="Mail is down",
                                  body="Looking.", affected={"mail": "major_outage"}, now=now)
        svc.post_update(s, "anna", open_.id, status="identified", body="Disk full.", now=now,
                        affected={"mail": "partial_outage"})
        closed = svc.create_notice(s, "anna", kind="incident", title="VPN was slow",
                                   body="Slow.", affected={"vpn": "degraded_performance"},
                                   now=now - timedelta(hours=3))
        svc.resolve(s, "anna", closed.id, body="Fine.", now=now - timedelta(hours=2))
        running = svc.create_notice(
            s, "anna", kind="maintenance", title="Share migration", body="Moving files.",
            affected={"files": "under_maintenance"}, now=now - timedelta(hours=1),
            window=MaintenanceWindow(now - timedelta(minutes=30), now + timedelta(hours=2)))
        soon = svc.create_notice(
            s, "anna", kind="maintenance", title="VPN upgrade", body="New firmware.",
            affected={"vpn": "under_maintenance"}, now=now,
            window=MaintenanceWindow(now + timedelta(days=1), now + timedelta(days=1, hours=1)))
    return {"open": open_.id, "closed": closed.id, "running": running.id, "soon": soon.id}


@pytest.mark.parametrize("path", list(DOCUMENTS))
def test_every_document_has_statuspage_keys_at_every_level(client: Any, world: dict,
                                                           path: str) -> None:
    doc = client.get(path).get_json()
    assert set(doc) == DOCUMENTS[path]
    assert set(doc["page"]) == PAGE_KEYS
    if "status" in doc:
        assert set(doc["status"]) == STATUS_KEYS
    for c in doc.get("components", []):
        assert set(c) == (GROUP_KEYS if c.get("group") else COMPONENT_KEYS), c["name"]
    items = ([(i, INCIDENT_KEYS) for i in doc.get("incidents", [])]
             + [(m, MAINTENANCE_KEYS) for m in doc.get("scheduled_maintenances", [])])
    assert items or path in ("/api/v2/status.json", "/api/v2/components.json")
    for item, keys in items:
        assert set(item) == keys, item["name"]
        for u in item["incident_updates"]:
            assert set(u) == UPDATE_KEYS
            for a in u["affected_components"] or []:
                assert set(a) == AFFECTED_KEYS
        for c in item["components"]:
            assert set(c) == COMPONENT_KEYS


@pytest.mark.parametrize("path", list(DOCUMENTS))
def test_every_document_is_cacheable_and_answers_304(client: Any, world: dict,
                                                     path: str) -> None:
    first = client.get(path)
    assert first.status_code == 200 and first.mimetype == "application/json"
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    assert first.headers["ETag"].startswith('"') and first.headers["Last-Modified"]
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    stale = client.get(path, headers={"If-None-Match": '"somethingelse"'})
    assert stale.status_code == 200 and stale.data == first.data


def names(client: Any, path: str, key: str) -> list[str]:
    return [x["name"] for x in client.get(path).get_json()[key]]


def test_lists_filter_unresolved_upcoming_and_active(client: Any, world: dict) -> None:
    assert names(client, "/api/v2/incidents.json", "incidents") == ["Mail is down",
                                                                    "VPN was slow"]
    assert names(client, "/api/v2/incidents/unresolved.json", "incidents") == ["Mail is down"]
    assert sorted(names(client, "/api/v2/scheduled-maintenances.json",
                        "scheduled_maintenances")) == ["Share migration", "VPN upgrade"]
    assert names(client, "/api/v2/scheduled-maintenances/upcoming.json",
                 "scheduled_maintenances") == ["VPN upgrade"]
    assert names(client, "/api/v2/scheduled-maintenances/active.json",
                 "scheduled_maintenances") == ["Share migration"]
    summary = client.get("/api/v2/summary.json").get_json()
    assert [i["name"] for i in summary["incidents"]] == ["Mail is down"]
    assert sorted(m["name"] for m in summary["scheduled_maintenances"]) == [
        "Share migration", "VPN upgrade"]


def test_values_follow_the_statuspage_vocabulary(client: Any, world: dict) -> None:
    summary = client.get("/api/v2/summary.json").get_json()
    by_name = {c["name"]: c for c in summary["components"]}
    assert by_name["Mail"]["status"] == "partial_outage"  # the update narrowed the impact
    assert by_name["File share"]["status"] == "under_maintenance"
    assert by_name["Office"]["group"] is True
    assert sorted(by_name["Office"]["components"]) == sorted(
        by_name[n]["id"] for n in ("Mail", "VPN", "File share"))
    assert by_name["Mail"]["group_id"] == by_name["Office"]["id"]
    incident = summary["incidents"][0]
    assert incident["status"] == "identified" and incident["impact"] == "critical"
    assert [u["status"] for u in incident["incident_updates"]] == ["identified", "investigating"]
    change = incident["incident_updates"][0]["affected_components"][0]
    assert (change["code"], change["old_status"], change["new_status"]) == (
        "mail", "major_outage", "partial_outage")
    assert summary["status"]["indicator"] in ("major", "critical")
    active = client.get("/api/v2/scheduled-maintenances/active.json").get_json()
    assert active["scheduled_maintenances"][0]["status"] == "in_progress"
