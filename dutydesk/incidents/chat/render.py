"""What an incident page looks like in chat, and which buttons it carries (pure).

The buttons follow the incident's state, as Grafana OnCall's Telegram keyboard and GoAlert's
Slack buttons do: a triggered incident offers Acknowledge, Resolve and Escalate; an
acknowledged or pending one Resolve and Escalate; a resolved one no buttons at all. Resolve acts
at once with the note "resolved from <chat>" (both peers resolve on one press; the note says
where it came from). Telegram then asks for the real note (a ForceReply prompt; the reply is
added as the person's note), elsewhere it can be added on the incident page.

Button payloads name only the action and the incident (``dd:ack:42``); who pressed comes from
the chat platform and is mapped to a DutyDesk user by a link, never taken from the payload.
Mattermost buttons carry a per-action token (HMAC of the secret key over incident and action),
so a request that did not come from a button we sent is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dutydesk.incidents.lifecycle import Action


@dataclass(frozen=True, slots=True)
class Button:
    code: str  # short name in payloads: ack, res, esc
    action: Action
    label: str


BUTTONS = (
    Button("ack", Action.ACKNOWLEDGE, "Acknowledge"),
    Button("res", Action.RESOLVE, "Resolve"),
    Button("esc", Action.ESCALATE, "Escalate"),
)
BY_CODE = {b.code: b for b in BUTTONS}
CHAT_NAMES = {"telegram": "Telegram", "slack": "Slack", "mattermost": "Mattermost"}


def buttons_for(status: str) -> tuple[Button, ...]:
    """The buttons an incident in ``status`` offers (none once resolved)."""
    if status == "resolved":
        return ()
    if status == "triggered":
        return BUTTONS
    return tuple(b for b in BUTTONS if b.action is not Action.ACKNOWLEDGE)


def callback_data(code: str, incident_id: int) -> str:
    return f"dd:{code}:{incident_id}"


def parse_callback(data: str) -> tuple[Button, int] | None:
    """``dd:ack:42`` → (Acknowledge, 42); anything else → ``None``."""
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[0] != "dd" or parts[1] not in BY_CODE:
        return None
    if not parts[2].isdigit() or len(parts[2]) > 12:
        return None
    return BY_CODE[parts[1]], int(parts[2])


def incident_url(incident: Any, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/incidents/{incident.id}"


def status_line(incident: Any) -> str:
    """One line saying where the incident stands and who has it."""
    if incident.status == "resolved":
        at = f" at {incident.resolved_at:%H:%M} UTC" if incident.resolved_at else ""
        return f"RESOLVED by {incident.resolved_by or 'DutyDesk'}{at}"
    if incident.status == "acknowledged":
        at = f" at {incident.acknowledged_at:%H:%M} UTC" if incident.acknowledged_at else ""
        return f"ACKNOWLEDGED by {incident.acknowledged_by}{at}"
    if incident.status == "pending":
        return f"PENDING: {incident.pending_reason or ''}".rstrip(": ")
    return "TRIGGERED: nobody has acknowledged yet"


def headline(incident: Any) -> str:
    return f"[{incident.priority}] #{incident.id} {incident.title}"


def page_text(incident: Any, base_url: str) -> str:
    """The plain text of a chat page as it stands now (what edits show)."""
    return (
        f"{headline(incident)}\n\n"
        f"{status_line(incident)}\n"
        f"Service: {incident.service or '-'}   Line: {incident.line}\n"
        f"Opened: {incident.created_at:%Y-%m-%d %H:%M} UTC\n\n"
        f"{incident_url(incident, base_url)}"
    )[:4096]


def _public(url: str) -> bool:
    """Telegram refuses URL buttons to loopback / plain-http addresses; only https gets one."""
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname)


def telegram_keyboard(incident: Any, base_url: str) -> dict[str, Any]:
    """An ``InlineKeyboardMarkup``; an empty keyboard removes the buttons (resolved)."""
    row = [{"text": b.label, "callback_data": callback_data(b.code, incident.id)}
           for b in buttons_for(incident.status)]
    rows = [row] if row else []
    url = incident_url(incident, base_url)
    if _public(url):
        rows.append([{"text": "Open in DutyDesk", "url": url}])
    return {"inline_keyboard": rows}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_blocks(incident: Any, base_url: str, buttons: bool = True) -> list[dict[str, Any]]:
    """Block Kit blocks: the page and, while open (and ``buttons``), an actions block."""
    url = incident_url(incident, base_url)
    text = (f"*{_slack_escape(headline(incident))}*\n{_slack_escape(status_line(incident))}\n"
            f"Service: {_slack_escape(incident.service or '-')}   Line: {incident.line}\n"
            f"<{url}|Open in DutyDesk>")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    elements = []
    for button in buttons_for(incident.status) if buttons else ():
        element: dict[str, Any] = {
            "type": "button",
            "action_id": f"dd_{button.code}",
            "text": {"type": "plain_text", "text": button.label},
            "value": str(incident.id),
        }
        if button.action is Action.ACKNOWLEDGE:
            element["style"] = "primary"
        elements.append(element)
    if elements:
        blocks.append({"type": "actions", "block_id": f"dd_incident_{incident.id}",
                       "elements": elements})
    return blocks


def action_token(secret_key: str, incident_id: int, code: str) -> str:
    """The per-action secret a Mattermost button carries in its context."""
    message = f"mattermost-action:{incident_id}:{code}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:40]


def token_ok(secret_key: str, incident_id: int, code: str, token: str) -> bool:
    return hmac.compare_digest(action_token(secret_key, incident_id, code).encode(),
                               str(token or "").encode())


_COLOURS = {"triggered": "#c0392b", "acknowledged": "#e6a700", "pending": "#7f8c8d",
            "resolved": "#2e8540"}


def mattermost_attachments(incident: Any, base_url: str, secret_key: str) -> list[dict[str, Any]]:
    """Message attachments with interactive buttons that POST to our action URL."""
    hook = f"{base_url.rstrip('/')}/hooks/mattermost/actions"
    actions = [
        {
            "id": f"dd{button.code}",
            "name": button.label,
            "integration": {"url": hook, "context": {
                "incident_id": incident.id, "action": button.code,
                "token": action_token(secret_key, incident.id, button.code)}},
        }
        for button in buttons_for(incident.status)
    ]
    return [{
        "fallback": f"{headline(incident)}: {status_line(incident)}",
        "color": _COLOURS.get(incident.status, "#7f8c8d"),
        "title": headline(incident),
        "title_link": incident_url(incident, base_url),
        "text": f"{status_line(incident)}\nService: {incident.service or '-'}   "
                f"Line: {incident.line}",
        "actions": actions,
    }]


def slack_flavour(target: str) -> str:
    """``slack`` for Slack (a channel id for the bot, or a hooks.slack.com URL), else
    ``mattermost`` (self-hosted incoming webhooks speak Slack's text + attachments)."""
    if not target.startswith(("http://", "https://")):
        return "slack"
    host = (urlsplit(target).hostname or "").lower()
    return "slack" if host == "slack.com" or host.endswith(".slack.com") else "mattermost"


def page_options(channel: str, target: str, incident: Any,
                 settings: Any) -> dict[str, Any] | None:
    """What a page's outbox message adds for a chat channel (buttons), or ``None``.

    Buttons only where a press can be heard and trusted: Telegram when the bot takes updates
    (``telegram_updates`` not ``off``), Slack when a signing secret is set, Mattermost when the
    networks its server calls from are configured (``mattermost_action_sources``)."""
    base_url = settings.base_url
    if channel == "telegram":
        if settings.telegram_updates == "off":
            return None
        return {"telegram": {"reply_markup": telegram_keyboard(incident, base_url)},
                "chat_page": True}
    if channel == "slack":
        if slack_flavour(target) == "slack":
            blocks = slack_blocks(incident, base_url, buttons=bool(settings.slack_signing_secret))
            return {"slack": {"blocks": blocks}, "chat_page": True}
        if not settings.mattermost_action_sources:
            return None
        return {"slack": {"attachments": mattermost_attachments(incident, base_url,
                                                                settings.secret_key)},
                "chat_page": True}
    return None
