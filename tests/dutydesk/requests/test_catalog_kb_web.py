"""The catalog and the knowledge base on screen: /help suggests public articles (JSON while
typing, and without JavaScript after the first step), "this solved it", asking for a catalog
item with its fields; the desk's /kb and /catalog with least privilege; "resolve with article"."""

from __future__ import annotations

import html
from typing import Any

from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.accounts import Role
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.requests import service as req
from dutydesk.requests.catalog.items import parse_item
from dutydesk.requests.catalog.store import list_items, save_item
from dutydesk.requests.kb.models import DeflectionRow
from dutydesk.requests.kb.store import create_article, get_article, versions
from dutydesk.requests.mail import requester_token
from dutydesk.requests.models import ServiceRequest
from shifts.notices import service as svc
from tests.conftest import form_token

PRINTER = {"visibility": "public", "services": ["printing"], "texts": {
    "en": {"title": "The printer does not print", "body": "Replace the **cartridge**."},
    "ru": {"title": "Принтер не печатает", "body": "Замените картридж."}}}
SECRET = {"visibility": "internal", "texts": {"en": {
    "title": "Printer admin password rotation", "body": "Internal runbook."}}}
REBOOT = {"service": "printing", "slug": "new-toner", "name": {"en": "New toner cartridge"},
          "fields": [{"name": "room", "label": {"en": "Room"}, "required": True}],
          "sla": {"first_response": 20}}


def setup(db: Database) -> dict[str, int]:
    with db.session() as s:
        svc.save_service(s, "admin", slug="printing", name="Printing", now=utcnow())
        public = create_article(s, "lead", PRINTER, utcnow()).id
        internal = create_article(s, "lead", SECRET, utcnow()).id
        item = save_item(s, "lead", parse_item(REBOOT), utcnow()).id
    return {"public": public, "internal": internal, "item": item}


def page(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_suggestions_while_typing_show_public_articles_only(client: Any, db: Database) -> None:
    ids = setup(db)
    answer = client.get("/help/kb/suggest?q=prin&service=printing&lang=ru")
    assert answer.status_code == 200
    [found] = answer.get_json()["articles"]
    assert (found["id"], found["title"], found["language"]) == (
        ids["public"], "Принтер не печатает", "ru")
    assert found["url"].startswith(f"/help/kb/{ids['public']}?lang=ru")
    assert client.get("/help/kb/suggest?q=").get_json() == {"articles": []}
    assert client.get(f"/help/kb/{ids['internal']}").status_code == 404
    assert "cartridge" in page(client.get(f"/help/kb/{ids['public']}"))


def test_without_javascript_the_first_step_shows_suggestions_and_catalog_items(
        client: Any, db: Database) -> None:
    ids = setup(db)
    shown = page(client.get("/help?service=printing&q=printer+does+not+work"))
    assert "Maybe this helps" in shown and "The printer does not print" in shown
    assert "Printer admin password rotation" not in shown
    assert "New toner cartridge" in shown and "Something else" in shown
    assert f"/help/kb/{ids['public']}/solved" in shown


def test_this_solved_it_counts_a_deflection_for_the_requester_and_makes_no_request(
        client: Any, db: Database, settings: Settings) -> None:
    ids = setup(db)
    token = requester_token(settings.secret_key, "anna@corp.example")
    csrf = form_token(client, "/help")
    answer = client.post(f"/help/kb/{ids['public']}/solved", data={
        "csrf_token": csrf, "q": "printer", "service": "printing", "t": token})
    assert answer.status_code == 302 and answer.location.endswith(f"/help/my/{token}")
    assert client.post(f"/help/kb/{ids['internal']}/solved",
                       data={"csrf_token": csrf}).status_code == 404
    with db.session() as s:
        [row] = s.scalars(select(DeflectionRow)).all()
        assert (row.email, row.service, row.query) == ("anna@corp.example", "printing",
                                                       "printer")
        assert s.scalar(select(ServiceRequest.id)) is None


def test_asking_for_a_catalog_item_needs_its_fields_and_takes_its_sla(
        client: Any, db: Database, settings: Settings) -> None:
    ids = setup(db)
    my = f"/help/my/{requester_token(settings.secret_key, 'anna@corp.example')}"
    form = page(client.get(f"{my}?service=printing&item={ids['item']}"))
    assert "You ask for: New toner cartridge" in form and 'name="field_room"' in form
    data = {"csrf_token": form_token(client, my), "service": "printing",
            "catalog_item": str(ids["item"]), "description": "Toner is empty", "field_room": ""}
    refused = client.post(my, data=data)
    assert refused.status_code == 400 and "Room is required" in page(refused)
    assert client.post(my, data=data | {"field_room": "4.12"}).status_code == 302
    with db.session() as s:
        row = s.scalar(select(ServiceRequest))
        assert (row.catalog_item_id, row.catalog_fields) == (ids["item"], {"room": "4.12"})
        assert row.sla_targets["P3"]["first_response"] == 20


def test_a_call_logged_for_a_catalog_item_takes_its_fields(
        signed_in: Any, db: Database) -> None:
    ids = setup(db)
    engineer = signed_in(Role.ENGINEER)
    shown = page(engineer.get(f"/requests/new?service=printing&catalog_item={ids['item']}"))
    assert 'name="field_room"' in shown and "New toner cartridge" in shown
    data = {"csrf_token": form_token(engineer, "/requests/new"), "email": "ivan@corp.example",
            "service": "printing", "catalog_item": str(ids["item"]), "channel": "phone",
            "description": "Toner", "field_room": "1.01"}
    assert engineer.post("/requests/new", data=data).status_code == 302
    refused = engineer.post("/requests/new", data=data | {"catalog_item": "777"})
    assert refused.status_code == 400 and "Choose an item" in page(refused)
    with db.session() as s:
        row = s.scalar(select(ServiceRequest))
        assert (row.catalog_item_id, row.catalog_fields, row.channel) == (
            ids["item"], {"room": "1.01"}, "phone")


def test_engineers_read_the_knowledge_base_and_only_leads_write_it(
        signed_in: Any, db: Database) -> None:
    ids = setup(db)
    engineer, lead, viewer = signed_in(Role.ENGINEER), signed_in(Role.SHIFT_LEAD), \
        signed_in(Role.VIEWER)
    assert viewer.get("/kb").status_code == 403
    listing = page(engineer.get("/kb?q=printer"))
    assert "Printer admin password rotation" in listing  # internal: for the desk
    assert engineer.get("/kb/new").status_code == 403
    assert engineer.post(f"/kb/{ids['public']}/edit", data={
        "csrf_token": form_token(engineer, "/kb")}).status_code == 403
    token = form_token(lead, "/kb/new")
    edited = lead.post(f"/kb/{ids['public']}/edit", data={
        "csrf_token": token, "version": "1", "slug": "printer", "visibility": "public",
        "services": "printing", "title_en": "The printer is silent", "body_en": "Check power.",
        "title_ru": "Принтер молчит", "body_ru": "Проверьте питание."})
    assert edited.status_code == 302, page(edited)
    stale = lead.post(f"/kb/{ids['public']}/edit", data={
        "csrf_token": token, "version": "1", "title_en": "Old", "body_en": "old"})
    assert stale.status_code == 409 and "reload" in page(stale)
    history = page(lead.get(f"/kb/{ids['public']}/history"))
    assert "Version 2" in history and "Restore version 1" in history
    assert "Restore version" not in page(engineer.get(f"/kb/{ids['public']}/history"))
    assert engineer.post(f"/kb/{ids['public']}/history/1/restore", data={
        "csrf_token": form_token(engineer, "/kb")}).status_code == 403
    assert lead.post(f"/kb/{ids['public']}/history/9/restore",
                     data={"csrf_token": token}).status_code == 404
    bad = lead.post("/kb/new", data={"csrf_token": token, "title_en": "No body"})
    assert bad.status_code == 400 and "needs both a title and a body" in page(bad)
    with db.session() as s:
        assert get_article(s, ids["public"]).text_for("en").title == "The printer is silent"
        assert [v.actor for v in versions(s, ids["public"])] == [lead.user.email, "lead"]
    assert lead.post(f"/kb/{ids['public']}/history/1/restore",
                     data={"csrf_token": token}).status_code == 302
    with db.session() as s:
        restored = get_article(s, ids["public"])
        assert (restored.version, restored.text_for("en").title) == (
            3, "The printer does not print")


def test_leads_edit_the_catalog_and_engineers_only_read_it(signed_in: Any, db: Database) -> None:
    setup(db)
    engineer, lead = signed_in(Role.ENGINEER), signed_in(Role.SHIFT_LEAD)
    assert "New toner cartridge" in page(engineer.get("/catalog"))
    assert engineer.get("/catalog/new").status_code == 403
    token = form_token(lead, "/catalog/new")
    form = {"csrf_token": token, "service": "printing", "slug": "remote-hands",
            "name_en": "Remote hands", "name_uk": "Віддалені руки", "type": "service_request",
            "priority": "P2", "line": "second_line", "first_response": "15", "resolve": "120",
            "fields": "rack | required | Rack | Стойка | Стійка\nserial | optional | Serial",
            "approval": "shift_lead", "active": "1"}
    assert lead.post("/catalog/new", data=form).status_code == 302
    refused = lead.post("/catalog/new", data=form | {"slug": "x2", "first_response": "soon"})
    assert refused.status_code == 400 and "sla.first_response" in page(refused)
    with db.session() as s:
        item = next(i for i in list_items(s) if i.slug == "remote-hands")
    assert (item.default_priority, item.default_line, item.approval_role) == (
        "P2", "second_line", "shift_lead")
    assert [(f.name, f.required, f.labels.get("uk")) for f in item.fields] == [
        ("rack", True, "Стійка"), ("serial", False, None)]


def test_the_first_line_resolves_with_an_article_in_one_action(
        signed_in: Any, db: Database, settings: Settings) -> None:
    ids = setup(db)
    with db.session() as s:
        request_id = req.create_request(
            s, settings, "olga", req.Requester("ivan@corp.example", "Иван", "ru"),
            service="printing", subject="Printer does not print", description="Help",
            now=utcnow()).id
    engineer = signed_in(Role.ENGINEER)
    shown = page(engineer.get(f"/requests/{request_id}"))
    assert "Resolve with an article" in shown and "Принтер не печатает" in shown
    answer = engineer.post(f"/requests/{request_id}", data={
        "csrf_token": form_token(engineer, f"/requests/{request_id}"), "version": "1",
        "action": "resolve_with_article", "article_id": str(ids["public"])})
    assert answer.status_code == 302, page(answer)
    internal = engineer.post(f"/requests/{request_id}", data={
        "csrf_token": form_token(engineer, f"/requests/{request_id}"),
        "action": "resolve_with_article", "article_id": "999999"})
    assert internal.status_code == 400 and "Choose an article" in page(internal)
    with db.session() as s:
        assert s.get(ServiceRequest, request_id).status == "resolved"
        mail = s.scalars(select(OutboxMessage).where(OutboxMessage.target == "ivan@corp.example")
                         .order_by(OutboxMessage.id.desc())).first()
        assert "Замените картридж." in mail.body_text
        assert get_article(s, ids["public"]).use_count == 1


def test_the_api_creates_a_request_for_a_catalog_item_and_resolves_it_with_an_article(
        client: Any, db: Database, api_token: Any) -> None:
    from tests.conftest import bearer

    ids = setup(db)
    headers = bearer(api_token("engineer"))
    catalog = client.get("/api/v1/catalog?service=printing", headers=headers).get_json()
    assert [i["slug"] for i in catalog["items"]] == ["new-toner"]
    body = {"requester_email": "ivan@corp.example", "service": "printing",
            "description": "toner", "catalog_item": ids["item"]}
    missing = client.post("/api/v1/requests", headers=headers, json=body)
    assert missing.status_code == 400 and "Room is required" in missing.get_json()["error"]
    assert client.post("/api/v1/requests", headers=headers,
                       json=body | {"catalog_item": 424242}).status_code == 404
    assert client.post("/api/v1/requests", headers=headers,
                       json=body | {"fields": ["room"]}).status_code == 400
    created = client.post("/api/v1/requests", headers=headers,
                          json=body | {"fields": {"room": "2.07"}})
    assert created.status_code == 201, created.get_json()
    request = created.get_json()
    assert (request["catalog_item_id"], request["catalog_fields"]) == (ids["item"],
                                                                       {"room": "2.07"})
    found = client.get("/api/v1/kb/articles?q=printer", headers=headers).get_json()["items"]
    assert {a["id"] for a in found} == {ids["public"], ids["internal"]}
    internal = client.post(f"/api/v1/requests/{request['id']}/resolve-with-article",
                           headers=headers, json={"article_id": ids["internal"]})
    assert internal.status_code == 400 and "internal" in internal.get_json()["error"]
    done = client.post(f"/api/v1/requests/{request['id']}/resolve-with-article",
                       headers=headers, json={"article_id": ids["public"]})
    assert done.status_code == 200 and done.get_json()["status"] == "resolved"
    assert done.get_json()["timeline"][-1]["data"]["article_id"] == ids["public"]


def test_a_request_needing_approval_is_decided_by_the_role_named_and_no_one_weaker(
        signed_in: Any, db: Database, settings: Settings) -> None:
    ids = setup(db)
    with db.session() as s:
        save_item(s, "lead", parse_item(REBOOT | {"slug": "new-printer", "fields": [],
                                                  "approval": "shift_lead"}), utcnow())
        item = next(i for i in list_items(s) if i.slug == "new-printer")
        first = req.create_request(s, settings, "olga", req.Requester("ivan@corp.example"),
                                   service="", description="A printer for room 5",
                                   now=utcnow(), catalog_item=item).id
        second = req.create_request(s, settings, "olga", req.Requester("ivan@corp.example"),
                                    service="", description="And one for room 6",
                                    now=utcnow(), catalog_item=item).id
    engineer, lead = signed_in(Role.ENGINEER), signed_in(Role.SHIFT_LEAD)
    shown = page(engineer.get(f"/requests/{first}"))
    assert "Awaiting approval by: Shift lead" in shown and 'value="approve"' not in shown
    token = form_token(engineer, f"/requests/{first}")
    assert engineer.post(f"/requests/{first}", data={
        "csrf_token": token, "action": "approve"}).status_code == 403
    token = form_token(lead, f"/requests/{first}")
    assert lead.post(f"/requests/{first}", data={
        "csrf_token": token, "action": "approve"}).status_code == 302
    no_reason = lead.post(f"/requests/{second}", data={"csrf_token": token, "action": "reject"})
    assert no_reason.status_code == 400 and "a reason is required" in page(no_reason)
    assert lead.post(f"/requests/{second}", data={
        "csrf_token": token, "action": "reject",
        "approval_reason": "Use the shared printer"}).status_code == 302
    with db.session() as s:
        approved, rejected = s.get(ServiceRequest, first), s.get(ServiceRequest, second)
        assert (approved.approval_state, approved.status) == ("approved", "new")
        assert (rejected.approval_state, rejected.status) == ("rejected", "resolved")
        mail = s.scalars(select(OutboxMessage).where(OutboxMessage.target == "ivan@corp.example")
                         .order_by(OutboxMessage.id.desc())).first()
        assert "Not approved: Use the shared printer" in mail.body_text
    assert ids


def test_picking_a_catalog_item_shows_its_public_articles_first(
        client: Any, db: Database, settings: Settings) -> None:
    ids = setup(db)
    with db.session() as s:
        create_article(s, "lead", {"visibility": "public", "catalog_items": [ids["item"]],
                                   "texts": {"en": {"title": "Where toner is kept",
                                                    "body": "Room 0.12, shelf 3."}}}, utcnow())
        create_article(s, "lead", {"visibility": "internal", "catalog_items": [ids["item"]],
                                   "texts": {"en": {"title": "Toner supplier contract",
                                                    "body": "internal"}}}, utcnow())
    my = f"/help/my/{requester_token(settings.secret_key, 'anna@corp.example')}"
    shown = page(client.get(f"{my}?service=printing&item={ids['item']}"))
    assert "Before you write, these may answer it:" in shown
    assert "Where toner is kept" in shown and "Toner supplier contract" not in shown
