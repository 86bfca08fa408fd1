"""Demo service catalog and knowledge base: what the demo's employees may ask for (mail, VPN,
remote hands) and the articles that answer their typical questions (public ones suggested on
/help, an internal one for the first line)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dutydesk.core.db import utcnow
from dutydesk.requests.catalog.items import parse_item
from dutydesk.requests.catalog.store import save_item
from dutydesk.requests.kb.store import create_article

ITEMS = [
    {"service": "mail", "slug": "new-mailbox", "type": "service_request",
     "name": {"en": "A new mailbox", "ru": "Новый почтовый ящик", "uk": "Нова поштова скринька"},
     "description": {"en": "For a new colleague or a shared address.",
                     "ru": "Для нового сотрудника или общего адреса.",
                     "uk": "Для нового колеги або спільної адреси."},
     "sla": {"first_response": 240, "resolve": 1440}, "approval": "shift_lead",
     "fields": [{"name": "owner", "required": True,
                 "label": {"en": "Who gets it", "ru": "Кому", "uk": "Кому"}}]},
    {"service": "vpn", "slug": "vpn-access", "type": "service_request", "priority": "P3",
     "name": {"en": "VPN access", "ru": "Доступ к VPN", "uk": "Доступ до VPN"},
     "fields": [{"name": "laptop", "required": True,
                 "label": {"en": "Laptop inventory number", "ru": "Инвентарный номер ноутбука",
                           "uk": "Інвентарний номер ноутбука"}}]},
    {"service": "vpn", "slug": "vpn-broken", "type": "fault", "priority": "P2",
     "name": {"en": "VPN does not connect", "ru": "VPN не подключается",
              "uk": "VPN не підключається"}, "sla": {"first_response": 30, "resolve": 240}},
]

ARTICLES = [
    {"slug": "vpn-new-laptop", "visibility": "public", "services": ["vpn"], "texts": {
        "en": {"title": "Connect to the VPN from a new laptop",
               "body": "1. Install the VPN client from the *Software centre*.\n"
                       "2. Sign in with your work address.\n"
                       "3. Choose the **DC-main** profile."},
        "ru": {"title": "Подключение к VPN с нового ноутбука",
               "body": "1. Установите VPN-клиент из *Центра программ*.\n"
                       "2. Войдите с рабочим адресом.\n3. Выберите профиль **DC-main**."},
        "uk": {"title": "Підключення до VPN з нового ноутбука",
               "body": "1. Встановіть VPN-клієнт із *Центру програм*.\n"
                       "2. Увійдіть із робочою адресою.\n3. Виберіть профіль **DC-main**."}}},
    {"slug": "mail-outbox-stuck", "visibility": "public", "services": ["mail"], "texts": {
        "en": {"title": "Mails stay in the outbox",
               "body": "Check the status page first: when the mail relay is slow, mails leave "
                       "by themselves once it recovers. Do not send them again."},
        "ru": {"title": "Письма висят в исходящих",
               "body": "Сначала посмотрите страницу статуса: если почтовый релей тормозит, "
                       "письма уйдут сами. Не отправляйте их повторно."},
        "uk": {"title": "Листи висять у вихідних",
               "body": "Спершу перегляньте сторінку стану: якщо поштовий релей гальмує, листи "
                       "підуть самі. Не надсилайте їх повторно."}}},
    {"slug": "relay-queue-flush", "visibility": "internal", "services": ["mail"], "texts": {
        "en": {"title": "Flushing the relay queue",
               "body": "On `smtp-relay`: `postqueue -p | tail -1` to see the size, then "
                       "`postqueue -f`. Escalate to the second line above 5,000 messages."}}},
]


def seed_knowledge(session: Session) -> None:
    """The demo's catalog items and articles (run once, on a fresh database)."""
    now = utcnow()
    for item in ITEMS:
        save_item(session, "demo", parse_item(item), now)
    for article in ARTICLES:
        create_article(session, "demo", article, now)
