"""What a chat page shows and which buttons it offers, by the incident's state (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from dutydesk.incidents.chat.render import (
    BY_CODE,
    action_token,
    buttons_for,
    parse_callback,
    slack_flavour,
    telegram_keyboard,
    token_ok,
)
from dutydesk.incidents.lifecycle import Action


@dataclass
class Shown:
    id: int = 42
    status: str = "triggered"


@pytest.mark.parametrize(
    ("status", "labels"),
    [
        ("triggered", ["Acknowledge", "Resolve", "Escalate"]),
        ("acknowledged", ["Resolve", "Escalate"]),  # somebody has it: no second acknowledge
        ("pending", ["Resolve", "Escalate"]),
        ("resolved", []),  # over: the buttons go away
    ],
)
def test_the_buttons_follow_the_incidents_state(status: str, labels: list[str]) -> None:
    assert [b.label for b in buttons_for(status)] == labels


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("dd:ack:42", (Action.ACKNOWLEDGE, 42)),
        ("dd:res:7", (Action.RESOLVE, 7)),
        ("dd:esc:7", (Action.ESCALATE, 7)),
        ("dd:del:7", None),  # not one of our actions
        ("dd:ack:-1", None),
        ("dd:ack:1234567890123", None),  # longer than any incident id
        ("other-bot:ack:1", None),
        ("", None),
    ],
)
def test_button_data_is_read_strictly(data: str, expected: tuple[Action, int] | None) -> None:
    parsed = parse_callback(data)
    assert (None if parsed is None else (parsed[0].action, parsed[1])) == expected


def test_an_open_in_dutydesk_button_only_for_a_public_https_address() -> None:
    rows = telegram_keyboard(Shown(), "https://duty.dc.example")["inline_keyboard"]
    assert rows[-1] == [{"text": "Open in DutyDesk",
                         "url": "https://duty.dc.example/incidents/42"}]
    # Telegram refuses URL buttons to http:// and loopback addresses: no button, no failure
    assert len(telegram_keyboard(Shown(), "http://127.0.0.1:8080")["inline_keyboard"]) == 1


def test_telegram_button_data_fits_its_64_byte_limit() -> None:
    keyboard = telegram_keyboard(Shown(id=999_999_999_999), "http://x")
    assert all(len(b["callback_data"].encode()) <= 64 for b in keyboard["inline_keyboard"][0])


@pytest.mark.parametrize(
    ("target", "flavour"),
    [
        ("C0123PAGES", "slack"),
        ("https://hooks.slack.com/services/T0/B0/xyz", "slack"),
        ("https://chat.dc.example/hooks/3f9a1c2b", "mattermost"),
    ],
)
def test_slack_or_mattermost_by_the_target(target: str, flavour: str) -> None:
    assert slack_flavour(target) == flavour


def test_a_mattermost_token_is_good_for_one_incident_and_action_only() -> None:
    token = action_token("k" * 40, 42, "ack")
    assert token_ok("k" * 40, 42, "ack", token)
    assert not token_ok("k" * 40, 43, "ack", token)
    assert not token_ok("k" * 40, 42, "res", token)
    assert not token_ok("other-key" * 5, 42, "ack", token)
    assert set(BY_CODE) == {"ack", "res", "esc"}


def test_status_lines_say_who_has_it() -> None:
    from dutydesk.incidents.chat.render import status_line

    @dataclass
    class Acked:
        status: str = "acknowledged"
        acknowledged_by: str = "olena@dc.example"
        acknowledged_at: datetime = datetime(2026, 11, 23, 3, 4, tzinfo=UTC)

    assert status_line(Acked()) == "ACKNOWLEDGED by olena@dc.example at 03:04 UTC"


@dataclass
class Config:
    base_url: str = "https://duty.dc.example"
    secret_key: str = "k" * 40
    telegram_updates: str = "poll"
    slack_signing_secret: str = "s"
    mattermost_action_sources: tuple[str, ...] = ("10.0.0.5/32",)


@dataclass
class Paged:
    id: int = 42
    status: str = "triggered"
    priority: str = "P1"
    title: str = "UPS A on battery"
    service: str = "power"
    line: str = "first_line"
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    pending_reason: str | None = None


def test_no_buttons_where_nobody_would_hear_the_press() -> None:
    from dutydesk.incidents.chat.render import page_options

    assert page_options("telegram", "1", Paged(), Config(telegram_updates="off")) is None
    blocks = page_options("slack", "C0123PAGES", Paged(), Config(slack_signing_secret=""))
    assert blocks is not None and [b["type"] for b in blocks["slack"]["blocks"]] == ["section"]
    assert page_options("email", "a@b.example", Paged(), Config()) is None
    mattermost = page_options("slack", "https://chat.dc.example/hooks/x", Paged(), Config())
    assert mattermost is not None and len(mattermost["slack"]["attachments"][0]["actions"]) == 3
    # Mattermost does not sign presses: no buttons until its server's addresses are known
    assert page_options("slack", "https://chat.dc.example/hooks/x", Paged(),
                        Config(mattermost_action_sources=())) is None


def test_slack_text_is_escaped_so_a_title_cannot_make_links_or_mentions() -> None:
    from dutydesk.incidents.chat.render import slack_blocks

    [section, _actions] = slack_blocks(Paged(title="<!channel> & <http://evil|x>"), "http://x")
    assert "&lt;!channel&gt; &amp; &lt;http://evil|x&gt;" in section["text"]["text"]
