"""The service catalog: what people may ask for, and what a request for an item takes (type,
priority, line, SLA targets, form fields); "other" requests stay countable; catalog as code."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dutydesk.cli import main
from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.audit import AuditEntry
from dutydesk.core.validation import ValidationError
from dutydesk.requests import service as req
from dutydesk.requests.catalog.items import as_document, parse_item
from dutydesk.requests.catalog.store import item_for_request, list_items, save_item
from dutydesk.requests.due import policy_of
from dutydesk.requests.models import ServiceRequest
from dutydesk.requests.sla import request_clocks
from dutydesk.requests.store import timeline
from shifts.notices.orm import StatusService

REMOTE_HANDS = {
    "service": "remote-hands", "slug": "reboot-server",
    "name": {"en": "Reboot a server", "ru": "Перезагрузить сервер", "uk": "Перезавантажити сервер"},
    "description": {"en": "We press the button for you."},
    "type": "service_request", "priority": "P2", "line": "second_line",
    "sla": {"first_response": 15, "resolve": 60},
    "fields": [{"name": "rack", "label": {"en": "Rack", "ru": "Стойка"}, "required": True},
               {"name": "serial", "label": {"en": "Server serial"}}],
    "approval": "shift_lead",
}


@pytest.fixture
def services(db: Database) -> None:
    with db.session() as s:
        s.add_all([StatusService(slug="remote-hands", name="Remote hands"),
                   StatusService(slug="mail", name="Mail")])


def add_item(db: Database, **changes: Any) -> int:
    with db.session() as s:
        return save_item(s, "test", parse_item(REMOTE_HANDS | changes), utcnow()).id


@pytest.mark.parametrize(("changes", "message"), [
    ({"slug": "Reboot Server"}, "slug: use lower-case letters"),
    ({"name": {"ru": "только по-русски"}}, "name.en: is required"),
    ({"name": {"de": "Neustart", "en": "Reboot"}}, "languages are en, ru and uk"),
    ({"type": "wish"}, "type"),
    ({"priority": "P9"}, "priority must be one of P1, P2, P3, P4"),
    ({"sla": {"first_response": 0}}, "sla.first_response"),
    ({"sla": {"respond": 10}}, "expected {first_response: minutes, resolve: minutes}"),
    ({"fields": [{"name": "rack"}, {"name": "rack"}]}, "'rack' is listed twice"),
    ({"approval": "king"}, "approval"),
    ({"colour": "red"}, "unknown keys ['colour']"),
])
def test_an_unusable_item_is_refused_with_the_field_named(changes: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("{", r"\{")):
        parse_item(REMOTE_HANDS | changes)


def test_an_item_reads_back_the_document_it_was_written_from() -> None:
    assert as_document(parse_item(REMOTE_HANDS)) == REMOTE_HANDS | {
        "fields": [{"name": "rack", "label": {"en": "Rack", "ru": "Стойка"}, "required": True},
                   {"name": "serial", "label": {"en": "Server serial"}, "required": False}]}


def test_a_request_for_an_item_takes_its_type_priority_line_and_sla_targets(
        db: Database, settings: Settings) -> None:
    item_id = add_item(db)
    created = utcnow()
    with db.session() as s:
        item = item_for_request(s, item_id)
        row = req.create_request(
            s, settings, "anna@corp.example", req.Requester("anna@corp.example"),
            service="", description="db-7 hangs", request_type="fault", urgency=3, now=created,
            catalog_item=item, fields={"rack": "B-12", "serial": "", "ignored": "x"})
        request_id = row.id
    with db.session() as s:
        row = s.get(ServiceRequest, request_id)
        assert (row.service, row.request_type, row.priority, row.line, row.category) == (
            "remote-hands", "service_request", "P2", "second_line", "reboot-server")
        assert row.catalog_item_id == item_id
        assert row.catalog_fields == {"rack": "B-12"}
        clocks = request_clocks(policy_of(row), timeline(s, request_id),
                                created + timedelta(minutes=12))
    assert clocks.first_response.target == timedelta(minutes=15)
    assert clocks.resolve.target == timedelta(minutes=60)
    assert clocks.first_response.state.value == "warning"  # 12 of 15 minutes: past 75 %


def test_a_required_field_left_empty_stores_nothing(db: Database, settings: Settings) -> None:
    item_id = add_item(db)
    with pytest.raises(ValidationError, match="Rack is required"), db.session() as s:
        req.create_request(s, settings, "anna@corp.example", req.Requester("anna@corp.example"),
                           service="", description="reboot please", now=utcnow(),
                           catalog_item=item_for_request(s, item_id), fields={"rack": " "})
    with db.session() as s:
        assert s.scalar(select(ServiceRequest.id)) is None


def test_a_request_outside_the_catalog_is_other_and_keeps_the_default_policy(
        db: Database, settings: Settings) -> None:
    with db.session() as s:
        row = req.create_request(s, settings, "ivan@corp.example",
                                 req.Requester("ivan@corp.example"), service="mail",
                                 description="Can you change a light bulb?", now=utcnow())
        assert row.catalog_item_id is None and row.catalog_fields is None
        assert policy_of(row).targets == req.RequestSlaPolicy().targets


def test_a_retired_item_or_one_of_another_service_cannot_be_asked_for(db: Database) -> None:
    retired = add_item(db, active=False)
    live = add_item(db, slug="swap-disk")
    with db.session() as s:
        with pytest.raises(ValidationError, match="no longer offered"):
            item_for_request(s, retired)
        with pytest.raises(ValidationError, match="belongs to service 'remote-hands'"):
            item_for_request(s, live, service="mail")
        assert [i.slug for i in list_items(s, "remote-hands")] == ["swap-disk"]


# --- catalog as code -----------------------------------------------------------------------


@pytest.fixture
def run(database_url: str, tmp_path: Path) -> Any:
    def invoke(*args: str) -> Any:
        env = {"DUTYDESK_DATABASE_URL": database_url, "DUTYDESK_CONFIG": "",
               "DUTYDESK_INSTANCE_PATH": str(tmp_path / "instance")}
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False,
                                  prog_name="dutydesk")

    return invoke


CATALOG = """\
items:
  - service: remote-hands
    slug: reboot-server
    name: {en: Reboot a server, ru: Перезагрузить сервер, uk: Перезавантажити сервер}
    type: service_request
    priority: P2
    sla: {first_response: 15, resolve: 60}
    fields:
      - {name: rack, label: {en: Rack}, required: true}
  - service: mail
    slug: new-mailbox
    name: {en: A new mailbox}
    approval: shift_lead
"""


def test_catalog_apply_dry_run_shows_the_diff_and_changes_nothing(
        run: Any, tmp_path: Path, db: Database, services: None) -> None:
    file = tmp_path / "catalog.yaml"
    file.write_text(CATALOG, encoding="utf-8")
    dry = run("catalog", "apply", str(file), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines() == ["+ remote-hands/reboot-server", "+ mail/new-mailbox",
                                       "dry run: nothing was changed"]
    with db.session() as s:
        assert list_items(s) == []
    applied = run("catalog", "apply", str(file))
    assert applied.output.splitlines()[-1] == "applied: 2 added, 0 changed, 0 retired"
    assert run("catalog", "apply", str(file)).output.strip() == "no changes"
    with db.session() as s:
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "catalog.create")
                        .limit(1)) == "catalog.create"


def test_catalog_export_round_trips_and_a_dropped_item_is_retired(
        run: Any, tmp_path: Path, db: Database, services: None) -> None:
    file = tmp_path / "catalog.yaml"
    file.write_text(CATALOG, encoding="utf-8")
    run("catalog", "apply", str(file))
    exported = run("catalog", "export").output
    again = tmp_path / "again.yaml"
    again.write_text(exported, encoding="utf-8")
    assert run("catalog", "apply", str(again), "--dry-run").output.strip() == "no changes"
    file.write_text(CATALOG.split("  - service: mail")[0].replace("P2", "P1"), encoding="utf-8")
    changed = run("catalog", "apply", str(file))
    assert changed.output.splitlines() == [
        "~ remote-hands/reboot-server (priority)", "- mail/new-mailbox (retired)",
        "applied: 0 added, 1 changed, 1 retired"]
    assert "active: false" in run("catalog", "export").output


def test_catalog_apply_refuses_a_bad_file_whole_and_names_each_problem(
        run: Any, tmp_path: Path, db: Database, services: None) -> None:
    file = tmp_path / "catalog.yaml"
    file.write_text(CATALOG.replace("service: mail", "service: printers")
                    .replace("priority: P2", "priority: urgent"), encoding="utf-8")
    refused = run("catalog", "apply", str(file))
    assert refused.exit_code == 2
    assert "item 1 (reboot-server): priority: priority must be one of" in refused.output
    assert "item 2 (new-mailbox): service 'printers' is not a status page service" in \
        refused.output
    with db.session() as s:
        assert list_items(s, active_only=False) == []
