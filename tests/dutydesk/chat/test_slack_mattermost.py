"""Slack and Mattermost interactive messages: the same buttons, verified requests, people mapped
by a link they confirm in DutyDesk, and every channel's message following the incident.

Persona: Olena is paged in the Slack channel C0123PAGES (posted by the bot), Taras through a
Mattermost incoming webhook; Slack's Web API, response URLs and the Mattermost hook are a local
stand-in (``standins.SlackApi``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.incidents.chat.render import action_token
from dutydesk.incidents.chat.slack import slack_signature
from dutydesk.incidents.models import ContactMethod
from dutydesk.models import Role
from tests.conftest import form_token
from tests.dutydesk.chat.helpers import chat_messages, deliver, incident, page_everybody
from tests.dutydesk.chat.standins import SLACK, BotApi, SlackApi

SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
BOT = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
CHANNEL = "C0123PAGES"


@pytest.fixture
def slack() -> Iterator[SlackApi]:
    api = SlackApi(BOT)
    yield api
    api.stop()


@pytest.fixture
def cfg(app: Any, slack: SlackApi) -> Settings:
    settings = dataclasses.replace(app.extensions["dutydesk"].settings,
                                   slack_signing_secret=SIGNING, slack_bot_token=BOT,
                                   slack_api_url=slack.url + "/api",
                                   mattermost_action_sources=("127.0.0.0/8",))
    app.extensions["dutydesk"].settings = settings
    return settings


@pytest.fixture
def team(db: Database, cfg: Settings, slack: SlackApi, signed_in: Any) -> dict[str, Any]:
    olena, taras = signed_in(Role.ENGINEER), signed_in(Role.ENGINEER)
    with db.session() as s:
        s.add(ContactMethod(user_id=olena.user.id, kind="slack", target=CHANNEL))
        s.add(ContactMethod(user_id=taras.user.id, kind="slack",
                            target=slack.url + "/hooks/mattermost-taras"))
        s.commit()
    return {"olena": olena, "taras": taras}


def click(client: Any, slack: SlackApi, incident_id: int, code: str = "ack", *,
          user: str = "U0OLENA", secret: str = SIGNING, at: int | None = None) -> Any:
    """Slack posts a signed block_actions interaction to our Request URL."""
    payload = copy.deepcopy(SLACK["block_actions"])
    payload["user"]["id"] = user
    payload["actions"][0].update(action_id=f"dd_{code}", value=str(incident_id))
    payload["response_url"] = f"{slack.url}/response/{incident_id}-{code}-{user}"
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(at if at is not None else int(time.time()))
    return client.post("/hooks/slack/actions", data=body,
                       content_type="application/x-www-form-urlencoded",
                       headers={"X-Slack-Request-Timestamp": stamp,
                                "X-Slack-Signature": slack_signature(secret, stamp, body)})


def claim(person: Any, text: str) -> None:
    """The person opens the link from the chat's answer and confirms it."""
    url = re.search(r"https?://\S+/account/chat/claim/(\S+)", text)
    assert url, text
    path = f"/account/chat/claim/{url.group(1)}"
    page = person.get(path)
    assert page.status_code == 200 and "Link this account" in page.get_data(as_text=True)
    done = person.post(path, data={"csrf_token": form_token(person, path)})
    assert done.status_code == 302


def actions_in(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["text"]["text"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_a_slack_page_is_posted_by_the_bot_with_buttons_and_remembered(
    db: Database, cfg: Settings, slack: SlackApi, team: dict[str, Any]
) -> None:
    incident_id = page_everybody(db, cfg)
    [posted] = slack.at("/api/chat.postMessage")
    assert posted["channel"] == CHANNEL
    assert actions_in(posted["blocks"]) == ["Acknowledge", "Resolve", "Escalate"]
    [row] = [m for m in chat_messages(db, incident_id) if m.provider == "slack"]
    assert row.chat_id == CHANNEL and row.message_id.endswith(".000100")


def test_a_mattermost_page_carries_buttons_with_a_secret_per_action(
    db: Database, cfg: Settings, slack: SlackApi, team: dict[str, Any]
) -> None:
    incident_id = page_everybody(db, cfg)
    [hooked] = slack.at("/hooks/mattermost-taras")
    [attachment] = hooked["attachments"]
    assert [a["name"] for a in attachment["actions"]] == ["Acknowledge", "Resolve", "Escalate"]
    ack = attachment["actions"][0]["integration"]
    assert ack["url"] == cfg.base_url + "/hooks/mattermost/actions"
    assert ack["context"] == {"incident_id": incident_id, "action": "ack",
                              "token": action_token(cfg.secret_key, incident_id, "ack")}


@pytest.mark.parametrize(
    ("secret", "age", "why"),
    [
        ("wrong-secret", 0, "signature does not match"),
        (SIGNING, 301, "more than 5 minutes"),  # a replay of an old request
        (SIGNING, -301, "more than 5 minutes"),
    ],
)
def test_a_slack_request_that_is_not_signed_now_is_refused(
    app: Any, db: Database, cfg: Settings, slack: SlackApi, team: dict[str, Any],
    secret: str, age: int, why: str
) -> None:
    incident_id = page_everybody(db, cfg)
    answer = click(app.test_client(), slack, incident_id, secret=secret,
                   at=int(time.time()) - age)
    assert answer.status_code == 401 and why in answer.get_json()["error"]
    assert incident(db, incident_id).status == "triggered"


def test_slack_buttons_are_off_without_a_signing_secret(
    app: Any, db: Database, cfg: Settings, slack: SlackApi
) -> None:
    app.extensions["dutydesk"].settings = dataclasses.replace(cfg, slack_signing_secret="")
    assert click(app.test_client(), slack, 1).status_code == 404


def test_an_unlinked_slack_user_is_answered_with_a_link_and_then_acts_as_themselves(
    app: Any, db: Database, cfg: Settings, slack: SlackApi, team: dict[str, Any]
) -> None:
    olena = team["olena"]
    incident_id = page_everybody(db, cfg)
    web = app.test_client()
    assert click(web, slack, incident_id).status_code == 200
    [first] = slack.at("/response/")
    assert first["response_type"] == "ephemeral" and "not linked" in first["text"]
    assert incident(db, incident_id).status == "triggered"
    claim(olena, first["text"])
    assert click(web, slack, incident_id).status_code == 200
    replaced = slack.at("/response/")[-1]
    assert replaced["replace_original"] is True
    assert actions_in(replaced["blocks"]) == ["Resolve", "Escalate"]
    assert incident(db, incident_id).acknowledged_by == olena.user.email


def test_a_slack_member_with_the_same_verified_address_acts_at_the_first_press(
    app: Any, db: Database, cfg: Settings, slack: SlackApi, team: dict[str, Any]
) -> None:
    olena = team["olena"].user
    slack.emails["U0OLENA"] = olena.email.upper()  # Slack's copy of her address
    slack.emails["U0MALLORY"] = "mallory@elsewhere.example"  # no such DutyDesk account
    incident_id = page_everybody(db, cfg)
    web = app.test_client()
    click(web, slack, incident_id, user="U0MALLORY")
    assert "not linked" in slack.at("/response/")[-1]["text"]
    click(web, slack, incident_id)
    assert incident(db, incident_id).acknowledged_by == olena.email
    assert slack.at("/response/")[-1]["replace_original"] is True


def test_a_change_made_elsewhere_updates_the_slack_message_the_bot_posted(
    db: Database, cfg: Settings, slack: SlackApi, team: dict[str, Any]
) -> None:
    incident_id = page_everybody(db, cfg)
    taras = team["taras"]
    form = {"csrf_token": form_token(taras, f"/incidents/{incident_id}"), "note": "fuse"}
    assert taras.post(f"/incidents/{incident_id}/resolve", data=form).status_code == 302
    deliver(db, cfg)
    [updated] = slack.at("/api/chat.update")
    assert updated["channel"] == CHANNEL and updated["ts"].endswith(".000100")
    assert actions_in(updated["blocks"]) == []  # resolved: no buttons left
    assert "RESOLVED by" in updated["blocks"][0]["text"]["text"]


def mattermost_press(client: Any, context: dict[str, Any], user: str = "mm-taras") -> Any:
    body = copy.deepcopy(SLACK["mattermost_action"])
    body.update(user_id=user, user_name="taras", context=context)
    return client.post("/hooks/mattermost/actions", json=body)


def test_mattermost_presses_need_the_buttons_token_and_a_linked_person(
    app: Any, db: Database, cfg: Settings, slack: SlackApi, team: dict[str, Any]
) -> None:
    incident_id = page_everybody(db, cfg)
    [hooked] = slack.at("/hooks/mattermost-taras")
    context = hooked["attachments"][0]["actions"][0]["integration"]["context"]
    web = app.test_client()
    forged = mattermost_press(web, {**context, "token": "0" * 40})
    assert forged.status_code == 403
    other = mattermost_press(web, {**context, "action": "res"})  # ack's token on resolve
    assert other.status_code == 403
    assert mattermost_press(web, {"incident_id": "1"}).status_code == 400
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "203.0.113.9"  # not the Mattermost server
    assert mattermost_press(elsewhere, context).status_code == 403
    unlinked = mattermost_press(web, context).get_json()
    assert "not linked" in unlinked["ephemeral_text"] and "update" not in unlinked
    claim(team["taras"], unlinked["ephemeral_text"])
    acted = mattermost_press(web, context).get_json()
    assert acted["ephemeral_text"].startswith(f"Acknowledged #{incident_id}")
    [attachment] = acted["update"]["props"]["attachments"]
    assert [a["name"] for a in attachment["actions"]] == ["Resolve", "Escalate"]
    again = mattermost_press(web, context).get_json()  # the stale button pressed once more
    assert f"already acknowledged by {team['taras'].user.email}" in again["ephemeral_text"]


def test_acknowledging_in_slack_edits_the_telegram_page_too(
    app: Any, db: Database, cfg: Settings, slack: SlackApi, team: dict[str, Any]
) -> None:
    bot = BotApi("42:telegram-token")
    try:
        settings = dataclasses.replace(cfg, telegram_bot_token="42:telegram-token",
                                       telegram_api_url=bot.url)
        app.extensions["dutydesk"].settings = settings
        with db.session() as s:
            s.add(ContactMethod(user_id=team["taras"].user.id, kind="telegram", target="2222"))
            s.commit()
        incident_id = page_everybody(db, settings)
        web = app.test_client()
        click(web, slack, incident_id)
        claim(team["olena"], slack.at("/response/")[0]["text"])
        click(web, slack, incident_id)
        deliver(db, settings)
        [edit] = bot.sent("editMessageText")
        assert edit["chat_id"] == "2222"
        assert f"ACKNOWLEDGED by {team['olena'].user.email}" in edit["text"]
    finally:
        bot.stop()


JUNK_PAYLOADS: list[Any] = [
    {"type": "block_actions", "actions": "x", "user": "x"},
    {"type": "block_actions", "actions": [7], "user": {"id": "U1"}},
    {"type": "block_actions", "actions": [{"action_id": "dd_ack", "value": "1"}], "user": "x",
     "team": [1], "container": "x", "channel": 5, "message": None, "response_url": 3},
    {"type": "block_actions", "actions": [{"action_id": "dd_ack", "value": "99999999999"}],
     "user": {"id": "U1"}},
    {"type": "view_submission"},
    [1, 2],
    "text",
]


@pytest.mark.parametrize("payload", JUNK_PAYLOADS)
def test_signed_junk_from_slack_is_answered_without_a_server_error(
    app: Any, cfg: Settings, payload: Any
) -> None:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()))
    answer = app.test_client().post(
        "/hooks/slack/actions", data=body, content_type="application/x-www-form-urlencoded",
        headers={"X-Slack-Request-Timestamp": stamp,
                 "X-Slack-Signature": slack_signature(SIGNING, stamp, body)})
    assert answer.status_code in (200, 400)


@pytest.mark.parametrize("body", [
    {"context": "x"}, {"context": {"incident_id": True, "action": "ack"}},
    {"context": {"incident_id": 1, "action": "ack", "token": ["x"]}, "user_id": 5}, [1], "x",
])
def test_junk_to_the_mattermost_url_is_a_4xx(app: Any, cfg: Settings, body: Any) -> None:
    answer = app.test_client().post("/hooks/mattermost/actions", json=body)
    assert 400 <= answer.status_code < 500


@pytest.mark.parametrize("update", [
    {"callback_query": {"from": {"id": "x"}, "data": "dd:ack:1", "message": "str"}},
    {"callback_query": "x"}, {"message": {"chat": 5, "from": {"id": 1}, "text": "/link x"}},
    {"message": {"chat": {"id": 1}, "from": {"id": 1}, "text": 5}}, {"update_id": "x"}, {},
])
def test_junk_telegram_updates_are_taken_without_a_server_error(
    app: Any, cfg: Settings, update: Any
) -> None:
    app.extensions["dutydesk"].settings = dataclasses.replace(
        cfg, telegram_bot_token="1:x", telegram_api_url="http://127.0.0.1:9",
        telegram_updates="webhook", telegram_webhook_secret="sec")
    answer = app.test_client().post("/hooks/telegram", json=update,
                                    headers={"X-Telegram-Bot-Api-Secret-Token": "sec"})
    assert answer.status_code == 200
