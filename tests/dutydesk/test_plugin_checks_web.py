"""Plugin checks run programs on the server, so they are the operator's: only admins create or
change them, and only plugins from the configured ``plugin_dirs`` may be chosen, by name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from checks.models import Check
from dutydesk.app import create_app
from dutydesk.core.config import load_settings
from dutydesk.core.db import Database
from dutydesk.models import Role

from ..conftest import form_token, login, make_user
from .test_checks_web import add_check, check_form, page_text


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    path = tmp_path / "plugins"
    path.mkdir()
    plugin = path / "check_ups"
    plugin.write_text("#!/bin/sh\necho 'UPS OK'\n")
    plugin.chmod(0o755)
    return path


@pytest.fixture
def client_as(settings: Any, db: Database, plugin_dir: Path) -> Any:
    overrides = {"env": "testing", "database_url": settings.database_url,
                 "secret_key": settings.secret_key, "instance_path": settings.instance_path,
                 "plugin_dirs": [str(plugin_dir)]}
    app = create_app(load_settings(overrides, environ={}), db=db)

    def factory(role: Role) -> Any:
        client = app.test_client()
        assert login(client, make_user(db, role).email).status_code == 302
        return client

    return factory


def plugin_form(client: Any, command: str) -> dict[str, str]:
    return check_form(type="plugin", spec=f"command: {command}\n",
                      csrf_token=form_token(client, "/checks"))


PLUGIN_OPTION = re.compile(r"<option value=\"plugin\"[^>]*>")


def count_checks(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Check))


def form_error(response: Any) -> str:
    match = re.search(r'id="form-error">(.*?)</p>', page_text(response), re.S)
    assert match, "no form error shown"
    return match.group(1).replace("&#39;", "'")


def test_a_shift_lead_cannot_create_a_plugin_check(client_as: Any, db: Database) -> None:
    lead = client_as(Role.SHIFT_LEAD)
    response = lead.post("/checks/new", data=plugin_form(lead, "[/bin/sh, -c, id]"))
    assert response.status_code == 403
    assert "Only admins may create or change plugin checks" in page_text(response)
    assert count_checks(db) == 0
    assert not PLUGIN_OPTION.search(page_text(lead.get("/checks/new")))


def test_a_shift_lead_cannot_turn_a_check_into_a_plugin_or_edit_one(
    client_as: Any, db: Database
) -> None:
    http_id = add_check(db, "ups-web")
    plugin_id = add_check(db, "ups-plugin", type_="plugin", spec={"command": ["check_ups"]})
    lead = client_as(Role.SHIFT_LEAD)
    turned = lead.post(f"/checks/{http_id}/edit", data=plugin_form(lead, "[check_ups]"))
    assert turned.status_code == 403
    edited = lead.post(f"/checks/{plugin_id}/edit",
                       data={**plugin_form(lead, "[check_ups, -w, '1']"), "name": "ups-plugin"})
    assert edited.status_code == 403
    with db.session() as s:
        assert s.get(Check, http_id).type == "http"
        assert s.get(Check, plugin_id).spec == {"command": ["check_ups"]}


@pytest.mark.parametrize(("command", "message"), [
    ("[/bin/sh, -c, id]", "must start with the name of a plugin"),
    ("[../../bin/sh]", "must start with the name of a plugin"),
    ("[sh, -c, id]", "plugin 'sh' not found in the plugin directories"),
])
def test_an_admin_can_only_choose_a_plugin_from_the_plugin_dirs(
    client_as: Any, db: Database, command: str, message: str
) -> None:
    admin = client_as(Role.ADMIN)
    response = admin.post("/checks/new", data=plugin_form(admin, command))
    assert response.status_code == 400
    assert message in form_error(response)
    assert count_checks(db) == 0


def test_an_admin_creates_a_plugin_check_by_name(client_as: Any, db: Database) -> None:
    admin = client_as(Role.ADMIN)
    assert PLUGIN_OPTION.search(page_text(admin.get("/checks/new")))
    response = admin.post("/checks/new", data=plugin_form(admin, "[check_ups, -H, ups-c]"))
    assert response.status_code == 303
    with db.session() as s:
        check = s.scalars(select(Check)).one()
        assert (check.type, check.spec["command"]) == ("plugin", ["check_ups", "-H", "ups-c"])
