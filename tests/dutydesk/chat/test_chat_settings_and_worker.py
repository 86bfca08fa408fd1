"""The chat settings are checked at start-up, and the worker's Telegram poller runs, hands its
lease on when it stops, and only one worker polls at a time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from dutydesk.core.config import ConfigError, Settings, load_settings
from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.chat.jobs import chat_jobs
from dutydesk.incidents.chat.models import ChatState
from dutydesk.incidents.chat.telegram import POLLER_KEY, Poller, claim_poller
from tests.dutydesk.chat.standins import BotApi

TOKEN = "7000000001:AAH-worker_token"


def test_the_webhook_mode_needs_its_secret_token() -> None:
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET: required"):
        load_settings({"telegram_bot_token": "1:x", "telegram_updates": "webhook"}, environ={})


@pytest.mark.parametrize("secret", ["has space", "ü-not-ascii", "x" * 257])
def test_a_webhook_secret_telegram_would_refuse_is_refused_at_start(secret: str) -> None:
    with pytest.raises(ConfigError, match="Telegram's rule for secret_token"):
        load_settings({"telegram_webhook_secret": secret}, environ={})


def test_an_unknown_updates_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match="TELEGRAM_UPDATES"):
        load_settings({"telegram_updates": "push"}, environ={})


def test_the_chat_secrets_leave_the_environment_once_read() -> None:
    from dutydesk.core.config import SECRET_ENVIRONMENT

    assert {"TELEGRAM_WEBHOOK_SECRET", "SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN"} <= set(
        SECRET_ENVIRONMENT)


def test_no_bot_token_no_telegram_job(settings: Settings, db: Database) -> None:
    assert chat_jobs(settings, db) == []


@pytest.fixture
def bot() -> Iterator[BotApi]:
    api = BotApi(TOKEN)
    yield api
    api.stop()


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_the_worker_polls_in_the_background_and_hands_the_lease_on_when_it_stops(
    settings: Settings, db: Database, bot: BotApi
) -> None:
    import dataclasses

    cfg = dataclasses.replace(settings, telegram_bot_token=TOKEN, telegram_api_url=bot.url)
    [job] = chat_jobs(cfg, db)
    assert job.on_start is not None and job.on_stop is not None
    job.on_start()
    try:
        bot.say(4242, "/help")
        assert eventually(lambda: bool(bot.sent("sendMessage")))
        assert "Not linked yet" in bot.sent("sendMessage")[0]["text"]
        first = bot.sent("getUpdates")[0]
        assert first["allowed_updates"] == ["message", "callback_query"] and first["timeout"] > 0
    finally:
        job.on_stop()
    with db.session() as s:
        lease = s.get(ChatState, POLLER_KEY)
        assert lease is not None and lease.owner is None  # another worker may poll at once
        assert claim_poller(s, "another-worker", utcnow())


def test_only_one_worker_polls_at_a_time(settings: Settings, db: Database) -> None:
    now = utcnow()
    with db.session() as s:
        assert claim_poller(s, "worker-a", now)
    with db.session() as s:
        assert not claim_poller(s, "worker-b", now)
        assert claim_poller(s, "worker-a", now)  # the holder renews


def test_an_update_is_handled_once_even_when_polled_again(
    settings: Settings, db: Database, bot: BotApi
) -> None:
    import dataclasses

    cfg = dataclasses.replace(settings, telegram_bot_token=TOKEN, telegram_api_url=bot.url)
    poller = Poller(db, cfg, long_poll=0)
    bot.say(4242, "/help")
    assert poller.poll_once() == 1
    assert poller.poll_once() == 0  # the stored offset confirmed it to Telegram
    assert len(bot.sent("sendMessage")) == 1
