"""Device checks (Modbus, Redfish, IPMI) in the check editor and as code: their credentials are
kept, used and audited without ever being shown again."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from checks.config import parse_config
from checks.config_db import apply, export, plan
from checks.models import Check
from checks.secrets import PLACEHOLDER
from dutydesk.core.db import Database
from dutydesk.models import AuditEntry, Role
from tests.conftest import form_token
from tests.dutydesk.test_checks_web import check_form, page_text

BMC_PASSWORD = "Bmc-Pa55-w0rd"
REDFISH_SPEC = f"url: https://10.30.0.21\nusername: monitor\npassword: {BMC_PASSWORD}\n"


def create(client: Any, **overrides: str) -> Any:
    form = check_form(csrf_token=form_token(client, "/checks/new"), **overrides)
    return client.post("/checks/new", data=form)


def stored(db: Database, slug: str) -> Check:
    with db.session() as s:
        check = s.scalars(select(Check).where(Check.slug == slug)).one()
        s.expunge(check)
        return check


def test_a_bmc_password_is_stored_but_never_shown_or_audited(signed_in: Any,
                                                              db: Database) -> None:
    client = signed_in(Role.SHIFT_LEAD)
    response = create(client, name="web-7-bmc", type="redfish", spec=REDFISH_SPEC)
    assert response.status_code == 303, page_text(response)
    check = stored(db, "web-7-bmc")
    assert check.spec["password"] == BMC_PASSWORD  # the engine needs it
    detail = client.get(f"/checks/{check.id}").get_data(as_text=True)
    edit = client.get(f"/checks/{check.id}/edit").get_data(as_text=True)
    for page in (detail, edit):
        assert BMC_PASSWORD not in page
        assert PLACEHOLDER in page
    with db.session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.entity_type == "check")).all()
        assert entries and all(BMC_PASSWORD not in json.dumps([e.before, e.after])
                               for e in entries)


def test_an_edit_that_leaves_the_placeholder_keeps_the_password(signed_in: Any,
                                                                db: Database) -> None:
    client = signed_in(Role.SHIFT_LEAD)
    assert create(client, name="web-7-bmc", type="redfish", spec=REDFISH_SPEC).status_code == 303
    check_id = stored(db, "web-7-bmc").id
    edited = REDFISH_SPEC.replace("10.30.0.21", "10.30.0.99").replace(BMC_PASSWORD, PLACEHOLDER)
    form = check_form(name="web-7-bmc", type="redfish", spec=edited,
                      csrf_token=form_token(client, "/checks"))
    assert client.post(f"/checks/{check_id}/edit", data=form).status_code == 303
    check = stored(db, "web-7-bmc")
    assert check.spec["url"] == "https://10.30.0.99"
    assert check.spec["password"] == BMC_PASSWORD
    with db.session() as s:
        update = s.scalars(select(AuditEntry).where(AuditEntry.action == "check.update")).one()
        assert BMC_PASSWORD not in json.dumps([update.before, update.after])
    form["spec"] = REDFISH_SPEC.replace(BMC_PASSWORD, "a-new-one")
    assert client.post(f"/checks/{check_id}/edit", data=form).status_code == 303
    assert stored(db, "web-7-bmc").spec["password"] == "a-new-one"


@pytest.mark.parametrize(("type_name", "spec", "message"), [
    ("modbus", "host: 10.20.0.30\npoints: []\n", "points must list at least one"),
    ("modbus", "host: pdu\npoints: [{name: a, address: 1, type: int128}]\n",
     "points[0].type must be one of"),
    ("redfish", "url: https://bmc\nusername: u\n", "password must be a non-empty text"),
    ("ipmi", "host: bmc\nusername: u\npassword: p\nprivilege: root\n",
     "privilege must be one of"),
])
def test_bad_device_specs_are_refused_with_the_reason(signed_in: Any, db: Database,
                                                      type_name: str, spec: str,
                                                      message: str) -> None:
    client = signed_in(Role.SHIFT_LEAD)
    response = create(client, name="dev", type=type_name, spec=spec)
    assert response.status_code == 400
    error = re.search(r'id="form-error">(.*?)</p>', page_text(response), re.S)
    assert error and message in error.group(1).replace("&#39;", "'")


def test_the_editor_offers_the_device_types_by_name(signed_in: Any) -> None:
    page = signed_in(Role.SHIFT_LEAD).get("/checks/new").get_data(as_text=True)
    for value, label in (("modbus", "Modbus TCP device (PDU, CRAC, generator)"),
                         ("redfish", "Redfish BMC (server health)"),
                         ("ipmi", "IPMI BMC (server sensors)")):
        assert re.search(rf'<option value="{value}"[^>]*>{re.escape(label)}</option>', page)


DEVICES = """
checks:
  - name: pdu-a1
    type: modbus
    spec:
      host: 10.20.0.30
      points:
        - {name: outlet_current, address: 0, scale: 0.01, unit: A, crit: "~:20"}
  - name: web-7-bmc
    type: redfish
    spec: {url: "https://10.30.0.21", username: monitor, password: "${BMC_PASSWORD}"}
  - name: db-3-bmc
    type: ipmi
    spec: {host: 10.30.0.22, username: monitor, password: "${BMC_PASSWORD}"}
"""


def test_device_checks_as_code_apply_and_export_round_trip(
    db: Database, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BMC_PASSWORD", BMC_PASSWORD)
    with db.session() as s:
        apply(s, parse_config(DEVICES), "test")
        s.commit()
    with db.session() as s:
        assert s.scalar(select(Check.spec).where(Check.slug == "db-3-bmc"))["password"] \
            == BMC_PASSWORD
        exported = export(s)
        audit = json.dumps([e.after for e in s.scalars(select(AuditEntry)).all()])
    assert BMC_PASSWORD not in audit
    with db.session() as s:
        assert plan(s, parse_config(exported)).empty
