"""Slack and Mattermost interactive messages: a button press POSTed to our URL.

**Slack** (``/hooks/slack/actions``, the app's Interactivity Request URL): the request is signed
with the app's signing secret — ``X-Slack-Signature: v0=<HMAC-SHA256(secret,
"v0:<X-Slack-Request-Timestamp>:<raw body>")>`` — and refused when the signature does not match
(constant-time compare) or the timestamp is more than 5 minutes from now (replays). The body is
``payload=<JSON>`` of type ``block_actions``; the person is mapped by their Slack account link
(``chat_links``: ``<team id>:<user id>``). The answer goes to the interaction's
``response_url``: the page replaced with its new state, or an ephemeral note to the presser.

**Mattermost** (``/hooks/mattermost/actions``, the ``integration.url`` of each button): the JSON
body carries ``user_id``, ``post_id``, ``channel_id`` and the button's ``context``, whose
``token`` is an HMAC of our secret key over incident and action (``render.action_token``). The
HTTP answer ``{"update": {...}, "ephemeral_text": ...}`` edits the post and tells the presser.

Unlinked people are answered with a one-time link URL (signed, 15 minutes) that links the chat
account to whoever opens it signed in to DutyDesk and confirms (``claim_url``/``read_claim``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import requests
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.core import netguard
from dutydesk.core.config import Settings
from dutydesk.core.models.accounts import User
from dutydesk.core.notify.transports import USER_AGENT, http_post
from dutydesk.incidents.chat.acting import press
from dutydesk.incidents.chat.links import link
from dutydesk.incidents.chat.refresh import note_message
from dutydesk.incidents.chat.render import (
    BY_CODE,
    headline,
    mattermost_attachments,
    slack_blocks,
    status_line,
    token_ok,
)

log = logging.getLogger("dutydesk.incidents.chat.slack")
REPLAY_WINDOW_S = 300
CLAIM_MAX_AGE_S = 15 * 60
_CLAIM_SALT = "dutydesk-chat-claim"


class RequestRefused(ValueError):
    """The request is not a genuine interaction (bad signature, stale, malformed): 4xx."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify_slack(secret: str, timestamp: str | None, signature: str | None, body: bytes,
                 now: datetime) -> None:
    """Raise ``RequestRefused`` unless the request is signed by Slack within the replay window
    (pure: ``now`` is passed)."""
    if not secret:
        raise RequestRefused("Slack interactivity is not configured", 404)
    if not timestamp or not timestamp.strip().isdigit():
        raise RequestRefused("missing or malformed X-Slack-Request-Timestamp")
    if abs(now.timestamp() - int(timestamp)) > REPLAY_WINDOW_S:
        raise RequestRefused("request timestamp is more than 5 minutes away (replay?)")
    expected = slack_signature(secret, timestamp.strip(), body)
    if not hmac.compare_digest(expected.encode(), (signature or "").encode()):
        raise RequestRefused("signature does not match")


def claim_url(settings: Settings, provider: str, external_id: str, label: str) -> str:
    token = URLSafeTimedSerializer(settings.secret_key, salt=_CLAIM_SALT).dumps(
        {"p": provider, "x": external_id, "l": label[:100]})
    return f"{settings.base_url.rstrip('/')}/account/chat/claim/{token}"


def read_claim(settings: Settings, token: str) -> tuple[str, str, str]:
    """(provider, external id, label) of a claim token; ``ValueError`` saying why not."""
    try:
        data = URLSafeTimedSerializer(settings.secret_key, salt=_CLAIM_SALT).loads(
            token, max_age=CLAIM_MAX_AGE_S)
    except SignatureExpired:
        raise ValueError("this link has expired; press a button in the chat again") from None
    except BadSignature:
        raise ValueError("this link is not valid") from None
    if not isinstance(data, dict) or data.get("p") not in ("slack", "mattermost"):
        raise ValueError("this link is not valid")
    return str(data["p"]), str(data.get("x", ""))[:200], str(data.get("l", ""))[:100]


def _unlinked(settings: Settings, provider: str, external_id: str, label: str) -> str:
    return (f"Your {provider.capitalize()} account is not linked to DutyDesk, so nothing was "
            f"done. Open this link while signed in to DutyDesk to link it (valid 15 minutes), "
            f"then press the button again: {claim_url(settings, provider, external_id, label)}")


@dataclass(frozen=True, slots=True)
class SlackResult:
    """Where to send the answer (``response_url``) and what (a Slack message body)."""

    response_url: str | None
    body: dict[str, Any]


def slack_email(settings: Settings, user_id: str) -> str | None:
    """The Slack user's e-mail address from ``users.info`` (the bot needs ``users:read.email``);
    ``None`` when there is no bot token or Slack does not say."""
    if not settings.slack_bot_token or not user_id:
        return None
    url = f"{settings.slack_api_url.rstrip('/')}/users.info"
    headers = {"Authorization": f"Bearer {settings.slack_bot_token}", "User-Agent": USER_AGENT,
               "Content-Type": "application/x-www-form-urlencoded"}
    try:
        response = http_post(url, urlencode({"user": user_id}).encode(), headers,
                             settings.webhook_timeout, settings.outbound_allow)
        answer = response.json()
    except (netguard.OutboundRefused, requests.RequestException, OSError, ValueError) as exc:
        log.warning("slack users.info failed: %s", type(exc).__name__)
        return None
    if not isinstance(answer, dict) or not answer.get("ok"):
        return None
    email = ((answer.get("user") or {}).get("profile") or {}).get("email")
    return email.strip().lower() if isinstance(email, str) and "@" in email else None


def link_by_email(session: Session, settings: Settings, external_id: str, label: str,
                  now: datetime) -> bool:
    """Link a Slack account to the active DutyDesk user with the same e-mail address (Slack
    verifies its members' addresses); ``True`` when linked."""
    email = slack_email(settings, external_id.split(":", 1)[-1])
    if email is None:
        return False
    user = session.scalar(select(User).where(func.lower(User.email) == email, User.active))
    if user is None:
        return False
    link(session, "slack", external_id, user.id, now, label=label)
    return True


def parse_slack_payload(body: bytes) -> dict[str, Any]:
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=False)
        payload = json.loads(form["payload"][0])
    except (UnicodeDecodeError, KeyError, IndexError, ValueError):
        raise RequestRefused("expected a form field 'payload' with JSON", 400) from None
    if not isinstance(payload, dict):
        raise RequestRefused("payload must be a JSON object", 400)
    return payload


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (payload fields of the wrong type
    are treated as missing)."""
    return value if isinstance(value, dict) else {}


def handle_slack(session: Session, settings: Settings, payload: dict[str, Any],
                 now: datetime) -> SlackResult | None:
    """Act on a ``block_actions`` payload; ``None`` for interactions that are not ours."""
    if payload.get("type") != "block_actions":
        return None
    actions = payload.get("actions")
    first = _obj(actions[0]) if isinstance(actions, list) and actions else {}
    code = str(first.get("action_id") or "").removeprefix("dd_")
    value = str(first.get("value") or "")
    if code not in BY_CODE or not value.isdigit() or len(value) > 12:
        return None
    user = _obj(payload.get("user"))
    team = _obj(payload.get("team")).get("id") or user.get("team_id") or ""
    external_id = f"{team}:{user.get('id', '')}"[:200]
    if not user.get("id"):
        return None
    label = str(user.get("username") or user.get("name") or user.get("id") or "")
    response_url = payload.get("response_url")
    response_url = response_url if isinstance(response_url, str) else None
    answer = press(session, settings, "slack", external_id, BY_CODE[code], int(value), now)
    if not answer.linked and link_by_email(session, settings, external_id, label, now):
        answer = press(session, settings, "slack", external_id, BY_CODE[code], int(value), now)
    if not answer.linked:
        text = _unlinked(settings, "slack", external_id, label)
        return SlackResult(response_url, {"response_type": "ephemeral",
                                           "replace_original": False, "text": text})
    incident = answer.incident
    if incident is not None:
        container = _obj(payload.get("container"))
        channel = _obj(payload.get("channel")).get("id") or container.get("channel_id")
        ts = container.get("message_ts") or _obj(payload.get("message")).get("ts")
        if channel and ts:
            note_message(session, incident.id, "slack", str(channel), str(ts), now,
                         response_url=response_url if answer.ok else None)
        body = {"replace_original": True, "text": f"{answer.text} {status_line(incident)}",
                "blocks": slack_blocks(incident, settings.base_url)}
        if not answer.ok:
            body = {"response_type": "ephemeral", "replace_original": False,
                    "text": answer.text}
        return SlackResult(response_url, body)
    return SlackResult(response_url, {"response_type": "ephemeral", "replace_original": False,
                                      "text": answer.text})


def handle_mattermost(session: Session, settings: Settings, body: dict[str, Any],
                      now: datetime) -> dict[str, Any]:
    """Act on a Mattermost action request; the JSON answer for Mattermost. Raises
    ``RequestRefused`` for a request whose context token is not ours."""
    context = _obj(body.get("context"))
    code = str(context.get("action") or "")
    raw_id = context.get("incident_id")
    if code not in BY_CODE or not isinstance(raw_id, int) or isinstance(raw_id, bool) \
            or not 0 < raw_id < 10**12:
        raise RequestRefused("not a DutyDesk button", 400)
    if not token_ok(settings.secret_key, raw_id, code, str(context.get("token") or "")):
        raise RequestRefused("the button's token does not match", 403)
    user_id = str(body.get("user_id") or "")
    if not user_id:
        raise RequestRefused("user_id is missing", 400)
    label = str(body.get("user_name") or user_id)
    answer = press(session, settings, "mattermost", user_id, BY_CODE[code], raw_id, now)
    if not answer.linked:
        return {"ephemeral_text": _unlinked(settings, "mattermost", user_id, label)}
    result: dict[str, Any] = {"ephemeral_text": answer.text}
    if answer.incident is not None:
        result["update"] = {"message": headline(answer.incident), "props": {
            "attachments": mattermost_attachments(
                answer.incident, settings.base_url, settings.secret_key)}}
    return result
