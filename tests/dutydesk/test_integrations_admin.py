"""The admin integrations screen: create shows the key once, revoke stops it; both audited."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from dutydesk.core.db import Database
from dutydesk.incidents.models import Integration
from dutydesk.models import AuditEntry
from tests.conftest import form_token
from tests.dutydesk.test_integrations import am_alert, am_payload, pd_event


def create(admin: Any, kind: str, name: str) -> tuple[Any, str]:
    token = form_token(admin, "/admin/integrations")
    page = admin.post(
        "/admin/integrations", data={"csrf_token": token, "type": kind, "name": name}
    )
    match = re.search(r'<code class="token">([0-9a-f]{32})</code>', page.get_data(as_text=True))
    assert match, page.get_data(as_text=True)
    return page, match.group(1)


def audit_actions(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_created_pagerduty_key_is_shown_once_and_works_until_revoked(
    signed_in: Any, client: Any, db: Database
) -> None:
    admin = signed_in("admin")
    _page, key = create(admin, "pagerduty", "zabbix-dc1")
    assert key not in admin.get("/admin/integrations").get_data(as_text=True)  # shown once

    assert client.post("/v2/enqueue", json=pd_event(key, "trigger")).status_code == 202

    with db.session() as s:
        integration = s.scalar(select(Integration).where(Integration.name == "zabbix-dc1"))
        assert integration is not None
        integration_id = integration.id
    revoke = admin.post(
        f"/admin/integrations/{integration_id}/revoke",
        data={"csrf_token": form_token(admin, "/admin/integrations")},
    )
    assert revoke.status_code == 302

    refused = client.post("/v2/enqueue", json=pd_event(key, "trigger", dedup_key="other"))
    assert refused.status_code == 400
    assert refused.get_json()["status"] == "invalid event"
    assert audit_actions(db)[-2:] == ["integration.create", "integration.revoke"]


def test_alertmanager_key_is_accepted_as_bearer_then_refused_after_revoke(
    signed_in: Any, client: Any, db: Database
) -> None:
    admin = signed_in("admin")
    _page, key = create(admin, "alertmanager", "prom-dc2")
    body = am_payload(am_alert("bbb2", service="cooling"))
    headers = {"Authorization": f"Bearer {key}"}
    accepted = client.post("/api/v1/integrations/alertmanager", json=body, headers=headers)
    assert accepted.status_code == 200
    with db.session() as s:
        integration_id = s.scalar(select(Integration.id).where(Integration.name == "prom-dc2"))
    admin.post(
        f"/admin/integrations/{integration_id}/revoke",
        data={"csrf_token": form_token(admin, "/admin/integrations")},
    )
    answer = client.post("/api/v1/integrations/alertmanager", json=body, headers=headers)
    assert answer.status_code == 401


def test_unknown_type_is_refused_and_nothing_is_created(signed_in: Any, db: Database) -> None:
    admin = signed_in("admin")
    token = form_token(admin, "/admin/integrations")
    page = admin.post(
        "/admin/integrations", data={"csrf_token": token, "type": "nagios", "name": "x"}
    )
    assert page.status_code == 400
    assert "type must be one of alertmanager, pagerduty, redfish" in page.get_data(as_text=True)
    with db.session() as s:
        assert list(s.scalars(select(Integration))) == []


def test_engineers_cannot_open_the_integrations_screen(signed_in: Any) -> None:
    assert signed_in("engineer").get("/admin/integrations").status_code == 403


def test_an_integration_created_with_a_service_on_the_screen_passes_it_to_its_incidents(
    signed_in: Any, client: Any, db: Database
) -> None:
    from tests.dutydesk.test_integrations import incidents

    admin = signed_in("admin")
    token = form_token(admin, "/admin/integrations")
    page = admin.post("/admin/integrations", data={
        "csrf_token": token, "type": "alertmanager", "name": "prom-vpn", "service": "vpn"})
    key = re.search(r'<code class="token">([0-9a-f]{32})</code>', page.get_data(as_text=True))
    assert key is not None
    answer = client.post("/api/v1/integrations/alertmanager", json=am_payload(am_alert("vpn1")),
                         headers={"Authorization": f"Bearer {key.group(1)}"})
    assert answer.status_code == 200
    [incident] = incidents(db)
    assert incident.service == "vpn"
    assert ">vpn</td>" in admin.get("/admin/integrations").get_data(as_text=True)
