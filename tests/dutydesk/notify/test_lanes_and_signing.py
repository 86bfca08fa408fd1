"""Pure rules: which due message may start now (lanes); the signature a webhook receiver checks."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from dutydesk.core.notify.lanes import InFlight, LaneError, Limits, choose, lane_of
from dutydesk.core.notify.signing import signature, signed_headers, verify


@dataclass
class Msg:
    channel: str
    target: str
    priority: int = 3
    lane: str | None = None
    source_type: str = "incident"
    source_id: str = field(default_factory=lambda: str(next(_ids)))  # its own incident


_ids = itertools.count(1)


HOOK = "https://hooks.dc.example/page"


@pytest.mark.parametrize(
    ("channel", "target", "lane"),
    [
        ("webhook", "https://Hooks.DC.example/a", "webhook:hooks.dc.example:443"),  # host, case
        ("webhook", "http://10.0.0.5:8080/x", "webhook:10.0.0.5:8080"),  # explicit port
        ("slack", "https://hooks.slack.com/services/T/B/X", "slack:hooks.slack.com:443"),
        ("email", "ivan@dc.example", "email"),  # every mail goes through the one relay
        ("telegram", "-100200300", "telegram"),  # one API
    ],
)
def test_a_message_goes_in_the_lane_of_its_destination(
    channel: str, target: str, lane: str
) -> None:
    assert lane_of(channel, target) == lane


def test_a_full_lane_holds_back_only_its_own_messages() -> None:
    busy = InFlight()
    for _ in range(2):
        busy.add(Msg("webhook", HOOK))
    waiting = [Msg("webhook", HOOK), Msg("email", "a@dc.example"), Msg("webhook", "http://other/x")]
    chosen = choose(waiting, busy, Limits(per_lane=2, per_channel=10, total=10, p1_reserve=0))
    assert [m.target for m in chosen] == ["a@dc.example", "http://other/x"]


def test_the_channel_and_pool_bounds_hold_for_ordinary_messages() -> None:
    limits = Limits(per_lane=5, per_channel=2, total=3, p1_reserve=0)
    waiting = [Msg("webhook", f"http://h{n}/x") for n in range(4)] + [Msg("email", "a@b")] * 3
    chosen = choose(waiting, InFlight(), limits)
    assert [m.channel for m in chosen] == ["webhook", "webhook", "email"]


def test_a_p1_page_uses_the_reserved_room_beyond_every_ordinary_bound() -> None:
    limits = Limits(per_lane=1, per_channel=1, total=1, p1_reserve=1)
    busy = InFlight()
    busy.add(Msg("webhook", HOOK))
    chosen = choose([Msg("webhook", HOOK), Msg("webhook", HOOK, priority=1)], busy, limits)
    assert [m.priority for m in chosen] == [1]


def test_news_about_one_incident_to_one_receiver_keeps_its_order() -> None:
    opened, resolved = Msg("webhook", HOOK, source_id="7"), Msg("webhook", HOOK, source_id="7")
    other = Msg("webhook", HOOK, source_id="8")
    assert choose([opened, resolved, other], InFlight(), Limits()) == [opened, other]
    busy = InFlight()
    busy.add(opened)
    assert choose([resolved], busy, Limits()) == []  # waits until "opened" is through


def test_limits_below_one_are_refused() -> None:
    with pytest.raises(LaneError, match="per_lane must be at least 1"):
        Limits(per_lane=0)


BODY = b'{"incident_id": 42, "status": "open"}'


def test_a_receiver_accepts_a_fresh_request_signed_with_its_secret() -> None:
    headers = signed_headers("s3cret", 1_765_113_600, BODY)
    assert headers["X-DutyDesk-Signature"].startswith("sha256=")
    assert verify("s3cret", BODY, headers["X-DutyDesk-Timestamp"],
                  headers["X-DutyDesk-Signature"], now=1_765_113_630)


@pytest.mark.parametrize(
    ("secret", "body", "stamp", "now", "why"),
    [
        ("wrong", BODY, "1765113600", 1_765_113_600, "another secret"),
        ("s3cret", BODY + b" ", "1765113600", 1_765_113_600, "a changed body"),
        ("s3cret", BODY, "1765113600", 1_765_113_600 + 301, "replayed six minutes later"),
        ("s3cret", BODY, "1765113600", 1_765_113_600 - 301, "from the future"),
        ("s3cret", BODY, "", 1_765_113_600, "no timestamp"),
        ("s3cret", BODY, "17651136OO", 1_765_113_600, "a malformed timestamp"),
    ],
)
def test_a_receiver_rejects(secret: str, body: bytes, stamp: str, now: int, why: str) -> None:
    good = signature("s3cret", 1_765_113_600, BODY)
    assert not verify(secret, body, stamp, good, now=now), why


def test_the_timestamp_is_part_of_what_is_signed() -> None:
    assert signature("s3cret", 1, BODY) != signature("s3cret", 2, BODY)


def test_the_readme_worked_example_is_what_dutydesk_sends() -> None:
    body = b'{"incident_id": 42}'
    expected = "sha256=a24ac5d22fa8a369104bfb5ad02341cef86e82a2a6939bf6b9b7374d83dcf3fd"
    assert signature("s3cret", 1_765_113_600, body) == expected
    assert verify("s3cret", body, "1765113600", expected, now=1_765_113_600)
