"""The worker's part of the Telegram bot: long polling, or registering the webhook at start."""

from __future__ import annotations

import logging

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.jobs import Job
from dutydesk.incidents.chat.telegram import Poller, TelegramError, redact, set_webhook

log = logging.getLogger("dutydesk.incidents.chat")


def chat_jobs(settings: Settings, db: Database) -> list[Job]:
    """``telegram-updates``: with a bot token and ``DUTYDESK_TELEGRAM_UPDATES=poll`` a poller
    thread (restarted by the job every 30 s if it died); with ``webhook`` the webhook is
    registered (``setWebhook`` with the secret token) at start and every hour after."""
    if not settings.telegram_bot_token or settings.telegram_updates == "off":
        return []
    if settings.telegram_updates == "webhook":
        def register() -> None:
            try:
                set_webhook(settings)
            except TelegramError as exc:
                log.error("telegram setWebhook failed: %s", redact(str(exc), settings))

        return [Job(id="telegram-updates", name="Telegram bot: keep the webhook registered",
                    func=register, trigger_args={"hours": 1}, on_start=register)]
    poller = Poller(db, settings)

    def keep_polling() -> None:
        if not poller.alive():
            log.warning("the Telegram poller was not running; starting it again")
            poller.start()

    return [Job(id="telegram-updates", name="Telegram bot: long-poll getUpdates",
                func=keep_polling, trigger_args={"seconds": 30}, on_start=poller.start,
                on_stop=poller.stop,
                # each worker watches its own poller thread; one poller at a time holds the
                # bot's lease (ChatState), the others wait for it
                one_runner=False)]
