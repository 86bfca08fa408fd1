"""The admin sees the applied trap/syslog rules and who sent what that became no alert —
never the communities or SNMPv3 keys; other roles are refused."""

from __future__ import annotations

from typing import Any

from dutydesk.core.db import Database, utcnow
from dutydesk.facility.store import record_heard
from dutydesk.models import Role
from tests.conftest import login, make_user
from tests.dutydesk.facility.conftest import apply

RULES = r"""
snmp:
  communities: [s3cret-community]
  users: [{name: upsuser, auth_protocol: SHA, auth_key: s3cret-auth, priv_protocol: AES,
           priv_key: s3cret-priv}]
  sources: [10.20.0.0/16]
rules:
  - {name: link, input: snmp, trap: linkDown, clear: linkUp, key: [ifIndex], severity: error}
  - {name: pdu-breaker, input: syslog, pattern: 'breaker (?P<n>\d+) tripped', key: [n]}
"""


def test_the_admin_page_lists_rules_and_unknown_senders_without_secrets(
    signed_in: Any, db: Database
) -> None:
    apply(db, RULES)
    with db.session() as s:
        record_heard(s, {("snmp", "192.0.2.7", "unknown_source", "coldStart"): (12, "v2c")},
                     utcnow())
    page = signed_in("admin").get("/admin/facility")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "linkDown" in html and "linkUp" in html and "pdu-breaker" in html
    assert "10.20.0.0/16" in html and "upsuser" in html and "1 community" in html
    assert "192.0.2.7" in html and "Unknown sender" in html and ">12<" in html
    assert "s3cret" not in html and "sealed:" not in html


def test_the_page_speaks_russian_and_ukrainian(app: Any, db: Database) -> None:
    for language, heading, empty in (
        ("ru", "Входы оборудования", "Ещё ничего не услышано."),
        ("uk", "Входи обладнання", "Ще нічого не почуто."),
    ):
        make_user(db, Role.ADMIN, email=f"{language}@dc.example", language=language)
        client = app.test_client()
        login(client, f"{language}@dc.example")
        html = client.get("/admin/facility").get_data(as_text=True)
        assert heading in html and empty in html


def test_engineers_and_shift_leads_are_refused(signed_in: Any) -> None:
    for role in (Role.ENGINEER, Role.SHIFT_LEAD):
        assert signed_in(role).get("/admin/facility").status_code == 403
