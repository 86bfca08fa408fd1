"""An admin sees every probe with its state and creates or revokes one from the page; nobody
else sees the page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.db import Database
from dutydesk.models import Role
from dutydesk.sites.models import Probe
from tests.conftest import form_token


def test_an_admin_creates_a_probe_and_sees_its_token_once(signed_in: Any, db: Database) -> None:
    admin = signed_in(Role.ADMIN)
    page = admin.post("/admin/probes", data={"csrf_token": form_token(admin, "/admin/probes"),
                                             "site": "default", "name": "kyiv-dc2"})
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and re.search(r"ddpe_[\w-]{43}", body)
    assert "kyiv-dc2" in body and "awaiting enrolment" in body
    again = admin.get("/admin/probes").get_data(as_text=True)
    assert "ddpe_" not in again  # shown once
    with db.session() as s:
        probe_id = s.scalar(select(Probe.id))
    revoked = admin.post(f"/admin/probes/{probe_id}/revoke",
                         data={"csrf_token": form_token(admin, "/admin/probes")},
                         follow_redirects=True)
    assert "revoked" in revoked.get_data(as_text=True)


def test_a_bad_name_is_refused_with_a_message(signed_in: Any) -> None:
    admin = signed_in(Role.ADMIN)
    answer = admin.post("/admin/probes", data={"csrf_token": form_token(admin, "/admin/probes"),
                                               "site": "default", "name": "Bad name"},
                        follow_redirects=True)
    assert answer.status_code == 200 and "probe name must be" in answer.get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.SHIFT_LEAD, Role.ENGINEER])
def test_only_admins_see_the_probes(signed_in: Any, role: Role) -> None:
    assert signed_in(role).get("/admin/probes").status_code == 403


def test_the_page_speaks_russian_and_ukrainian(signed_in: Any) -> None:
    admin = signed_in(Role.ADMIN)
    for lang, word in (("ru", "Удалённые пробы"), ("uk", "Віддалені проби")):
        body = admin.get("/admin/probes", headers={"Accept-Language": lang}).get_data(
            as_text=True)
        assert word in body, lang


def test_a_check_page_says_which_probe_runs_it(signed_in: Any, db: Database) -> None:
    from dutydesk.core.db import utcnow
    from dutydesk.sites.service import assign_check, create_probe, find_probe
    from tests.checks.engine_helpers import add_check

    check_id = add_check(db, "ups-a", "http://127.0.0.1:9/")
    with db.session() as s:
        create_probe(s, "default", "kyiv-dc2", utcnow())
        assign_check(s, check_id, find_probe(s, "default", "kyiv-dc2"))
    body = signed_in(Role.VIEWER).get(f"/checks/{check_id}").get_data(as_text=True)
    assert "default/kyiv-dc2: no result yet" in body
    assert "down when 1 of 1 locations with fresh results see it down" in body


def test_the_page_shows_each_probes_lag_and_buffer(signed_in: Any, db: Database) -> None:
    from datetime import timedelta

    from tests.dutydesk.wall.sites_data import add_probe, default_site

    add_probe(db, default_site(db), "kyiv-dc2-a", silent=timedelta(minutes=7, seconds=5),
              buffered=1234, dropped=12)
    add_probe(db, default_site(db), "kyiv-dc2-b", silent=timedelta(seconds=4))
    body = signed_in(Role.ADMIN).get("/admin/probes").get_data(as_text=True)
    rows = {name: row for row in re.findall(r"<tr[^>]*>.*?</tr>", body, re.S)
            for name in ("kyiv-dc2-a", "kyiv-dc2-b") if f"<td>{name}</td>" in row}
    assert re.search(r'class="probe-lag">7 min<', rows["kyiv-dc2-a"])
    assert "<td>1234</td><td>12</td>" in rows["kyiv-dc2-a"] and "offline" in rows["kyiv-dc2-a"]
    assert re.search(r'class="probe-lag">[45] s<', rows["kyiv-dc2-b"])
