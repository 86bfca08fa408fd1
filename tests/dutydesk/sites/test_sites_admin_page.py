"""An admin sees every site with its checks and probes on ``/admin/sites``, creates one, changes
its name or zone and deletes an empty one; a bad field is refused with a message (4xx), nobody
but an admin sees the page."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.db import Database
from dutydesk.core.models.audit import AuditEntry
from dutydesk.core.sites import Site
from dutydesk.models import Role
from tests.conftest import form_token


def _post(client: Any, path: str, **data: str) -> Any:
    return client.post(path, data={"csrf_token": form_token(client, "/admin/sites"), **data})


def test_an_admin_creates_edits_and_deletes_a_site(signed_in: Any, db: Database) -> None:
    admin = signed_in(Role.ADMIN)
    made = _post(admin, "/admin/sites", slug="kyiv-dc2", name="Kyiv DC2", zone="Europe/Kyiv")
    assert made.status_code == 302
    page = admin.get("/admin/sites").get_data(as_text=True)
    assert "Kyiv DC2" in page and "Europe/Kyiv" in page and "Site Kyiv DC2 created." in page
    form = admin.get("/admin/sites?edit=kyiv-dc2").get_data(as_text=True)
    assert 'value="Europe/Kyiv"' in form and "Edit site Kyiv DC2" in form
    saved = _post(admin, "/admin/sites/kyiv-dc2", name="Kyiv DC-2", zone="Europe/Warsaw")
    assert saved.status_code == 302
    with db.session() as s:
        site = s.scalar(select(Site).where(Site.slug == "kyiv-dc2"))
        assert (site.name, site.time_zone) == ("Kyiv DC-2", "Europe/Warsaw")
    assert _post(admin, "/admin/sites/kyiv-dc2/delete").status_code == 302
    with db.session() as s:
        assert s.scalar(select(Site).where(Site.slug == "kyiv-dc2")) is None
        assert list(s.scalars(select(AuditEntry.action).where(
            AuditEntry.entity_type == "site").order_by(AuditEntry.id))) == [
            "site.create", "site.edit", "site.delete"]


@pytest.mark.parametrize(("path", "data", "status", "message"), [
    ("/admin/sites", {"slug": "Kyiv DC2", "name": "Kyiv", "zone": "UTC"}, 400,
     "A site slug is 1-64 of a-z, 0-9 and -"),
    ("/admin/sites", {"slug": "kyiv", "name": "Kyiv", "zone": "Europe/Nowhere"}, 400,
     "“Europe/Nowhere” is not a known IANA time zone"),
    ("/admin/sites", {"slug": "default", "name": "Again", "zone": "UTC"}, 409,
     "A site “default” already exists."),
    ("/admin/sites/default", {"name": "", "zone": "UTC"}, 400,
     "A site name is 1-200 printable characters."),
    ("/admin/sites/nowhere", {"name": "x", "zone": "UTC"}, 404, "There is no site “nowhere”."),
    ("/admin/sites/default/delete", {}, 409, "The default site cannot be deleted"),
])
def test_a_refused_change_says_why(signed_in: Any, path: str, data: dict[str, str],
                                   status: int, message: str) -> None:
    admin = signed_in(Role.ADMIN)
    answer = _post(admin, path, **data)
    assert answer.status_code == status and message in answer.get_data(as_text=True)


def test_a_site_with_checks_shows_them_and_is_not_deleted(signed_in: Any, db: Database) -> None:
    from checks.models import Check
    from tests.checks.engine_helpers import add_check

    admin = signed_in(Role.ADMIN)
    _post(admin, "/admin/sites", slug="lviv", name="Lviv", zone="Europe/Kyiv")
    check_id = add_check(db, "ups-lviv", "http://127.0.0.1:9/")
    with db.session() as s:
        s.get(Check, check_id).site_id = s.scalar(select(Site.id).where(Site.slug == "lviv"))
    page = admin.get("/admin/sites").get_data(as_text=True)
    assert 'href="/checks?site=lviv">1</a>' in page
    refused = _post(admin, "/admin/sites/lviv/delete")
    assert refused.status_code == 409
    assert "Site “lviv” still has 1 check. Move or delete them first." in refused.get_data(
        as_text=True)
    in_ukrainian = admin.post("/admin/sites/lviv/delete", headers={"Accept-Language": "uk"},
                              data={"csrf_token": form_token(admin, "/admin/sites")})
    assert "На майданчику «lviv» ще є: 1 перевірка." in in_ukrainian.get_data(as_text=True)


def test_a_form_without_its_csrf_token_changes_nothing(signed_in: Any, db: Database) -> None:
    admin = signed_in(Role.ADMIN)
    answer = admin.post("/admin/sites", data={"slug": "x", "name": "X", "zone": "UTC"})
    assert answer.status_code == 400
    with db.session() as s:
        assert s.scalar(select(Site.id).where(Site.slug == "x")) is None


@pytest.mark.parametrize("role", [Role.SHIFT_LEAD, Role.ENGINEER, Role.VIEWER])
def test_only_admins_manage_sites(signed_in: Any, role: Role) -> None:
    client = signed_in(role)
    assert client.get("/admin/sites").status_code == 403
    assert client.post("/admin/sites/default/delete").status_code in (400, 403)


def test_the_page_speaks_russian_and_ukrainian(signed_in: Any) -> None:
    admin = signed_in(Role.ADMIN)
    assert 'href="/admin/sites"' in admin.get("/admin/sites").get_data(as_text=True)
    for lang, word in (("ru", "Создать площадку"), ("uk", "Створити майданчик")):
        body = admin.get("/admin/sites", headers={"Accept-Language": lang}).get_data(
            as_text=True)
        assert word in body, lang
