"""Where chat platforms tell us a button was pressed (no sign-in: each request proves itself).

- ``POST /hooks/telegram``: Telegram's webhook (``DUTYDESK_TELEGRAM_UPDATES=webhook``); the
  ``X-Telegram-Bot-Api-Secret-Token`` header must equal ``DUTYDESK_TELEGRAM_WEBHOOK_SECRET``
  (constant-time compare), else 401. 404 when the webhook mode is off.
- ``POST /hooks/slack/actions``: Slack's interactivity Request URL, signed with
  ``DUTYDESK_SLACK_SIGNING_SECRET`` (v0 HMAC, 5-minute replay window), else 401; the answer goes
  to the interaction's ``response_url``. 404 when no signing secret is set.
- ``POST /hooks/mattermost/actions``: Mattermost's integration URL. Mattermost does not sign
  these requests, so they are taken only from ``DUTYDESK_MATTERMOST_ACTION_SOURCES`` (the
  Mattermost server's networks; 403 from elsewhere, 404 when unset), and the button context's
  token must match (403 otherwise); answers with Mattermost's ``update`` / ``ephemeral_text``.

The acting itself is the incidents' ``chat`` package (the same ``service.perform`` as the web).
"""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import Any

import requests
from flask import Blueprint, jsonify, request

from dutydesk.context import app_state, db_session, settings
from dutydesk.core import netguard
from dutydesk.core.db import utcnow
from dutydesk.core.notify.transports import USER_AGENT, http_post
from dutydesk.incidents.chat import slack as slack_chat
from dutydesk.incidents.chat import telegram as telegram_chat
from dutydesk.requests import service as requests_service

log = logging.getLogger("dutydesk.chat")
bp = Blueprint("chat_hooks", __name__)


def _refused(message: str, status: int) -> Any:
    return jsonify(error=message), status


@bp.route("/hooks/telegram", methods=["POST"])
def telegram_webhook() -> Any:
    cfg = settings()
    if cfg.telegram_updates != "webhook" or not cfg.telegram_webhook_secret \
            or not cfg.telegram_bot_token:
        return _refused("the Telegram webhook is not enabled here", 404)
    if not telegram_chat.secret_ok(cfg, request.headers.get("X-Telegram-Bot-Api-Secret-Token")):
        log.warning("telegram webhook: wrong or missing secret token header from %s",
                    request.remote_addr)
        return _refused("wrong or missing X-Telegram-Bot-Api-Secret-Token", 401)
    update = request.get_json(silent=True)
    if not isinstance(update, dict):
        return _refused("expected a Telegram Update (a JSON object)", 400)
    replies = telegram_chat.process_update(app_state().db, cfg, update, utcnow())
    telegram_chat.send_replies(cfg, replies)
    return jsonify(ok=True)


@bp.route("/hooks/slack/actions", methods=["POST"])
def slack_actions() -> Any:
    cfg = settings()
    body = request.get_data()
    now = utcnow()
    try:
        slack_chat.verify_slack(cfg.slack_signing_secret,
                                request.headers.get("X-Slack-Request-Timestamp"),
                                request.headers.get("X-Slack-Signature"), body, now)
        payload = slack_chat.parse_slack_payload(body)
    except slack_chat.RequestRefused as exc:
        if exc.status == 401:
            log.warning("slack interaction refused: %s (from %s)", exc, request.remote_addr)
        return _refused(str(exc), exc.status)
    s = db_session()
    result = slack_chat.handle_slack(s, cfg, payload, now)
    _resolve_requests(s, result is not None, payload)
    s.commit()
    if result is not None and result.response_url:
        _respond(result.response_url, result.body)
    return "", 200


def _resolve_requests(s: Any, acted: bool, payload: dict[str, Any]) -> None:
    """Like the web's resolve: the incident's linked requests are resolved now."""
    actions = payload.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else {}
    first = first if isinstance(first, dict) else {}
    value = str(first.get("value") or "")
    if acted and first.get("action_id") == "dd_res" and value.isdigit():
        requests_service.resolve_linked(s, settings(), int(value), utcnow())


def _respond(url: str, body: dict[str, Any]) -> None:
    cfg = settings()
    try:
        http_post(url, json.dumps(body).encode(),
                  {"Content-Type": "application/json", "User-Agent": USER_AGENT},
                  cfg.webhook_timeout, cfg.outbound_allow)
    except (netguard.OutboundRefused, requests.RequestException, OSError) as exc:
        log.warning("slack response_url answer failed: %s", type(exc).__name__)


def _from_networks(address: str | None, networks: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


@bp.route("/hooks/mattermost/actions", methods=["POST"])
def mattermost_actions() -> Any:
    cfg = settings()
    if not cfg.mattermost_action_sources:
        return _refused("Mattermost buttons are not enabled here", 404)
    if not _from_networks(request.remote_addr, cfg.mattermost_action_sources):
        log.warning("mattermost action from %s refused: not a Mattermost server address",
                    request.remote_addr)
        return _refused("not accepted from this address", 403)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _refused("expected a Mattermost action request (a JSON object)", 400)
    s = db_session()
    try:
        answer = slack_chat.handle_mattermost(s, cfg, body, utcnow())
    except slack_chat.RequestRefused as exc:
        s.rollback()
        if exc.status == 403:
            log.warning("mattermost action refused: %s (from %s)", exc, request.remote_addr)
        return _refused(str(exc), exc.status)
    context = body.get("context") if isinstance(body.get("context"), dict) else {}
    if context.get("action") == "res" and "update" in answer and isinstance(
            context.get("incident_id"), int):
        requests_service.resolve_linked(s, cfg, context["incident_id"], utcnow())
    s.commit()
    return jsonify(answer)
