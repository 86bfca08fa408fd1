"""Texts sent to subscribers (mail, webhook payload), in the subscriber's language.

Works without a Flask request: the catalogs are read straight from ``dutydesk/translations``
so the worker (maintenance reminders) can write the same mails as the web process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations

from .atom import STATUS_LABELS
from .model import Notice, NoticeUpdate
from .status import N_

TRANSLATIONS_DIR = Path(__file__).resolve().parents[2] / "dutydesk" / "translations"
LANGUAGES = ("en", "ru", "uk")


@functools.lru_cache(maxsize=8)
def catalog(language: str) -> NullTranslations:
    """The gettext catalog for ``language`` (English: the message ids themselves)."""
    if language not in LANGUAGES or language == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [language], domain="messages")


def gettext_for(language: str) -> Callable[[str], str]:
    return catalog(language).gettext


@dataclass(frozen=True, slots=True)
class Mail:
    subject: str
    text: str


SUBJECT = N_("[Status] %(title)s: %(status)s")
REMINDER_SUBJECT = N_("[Status] Reminder: %(title)s starts %(start)s")
REMINDER_TEXT = N_("Scheduled maintenance \"%(title)s\" starts %(start)s and is planned to "
                   "end %(end)s.")
AFFECTED_LINE = N_("Affected services: %(services)s")
DETAILS_LINE = N_("Details: %(url)s")
UNSUBSCRIBE_LINE = N_("To stop these messages, open: %(url)s")
CONFIRM_SUBJECT = N_("[Status] Confirm your subscription")
CONFIRM_TEXT = N_("Someone (hopefully you) asked to receive status page notices at this "
                  "address. To confirm, open this link: %(url)s\n\nIf it was not you, ignore "
                  "this message: nothing will be sent.")


def update_mail(notice: Notice, update: NoticeUpdate, names: dict[str, str], language: str,
                notice_url: str, unsubscribe_url: str) -> Mail:
    """The mail for one update of a published notice."""
    _ = gettext_for(language)
    status = _(STATUS_LABELS[update.status])
    affected = ", ".join(names.get(a.service_id, a.service_id) for a in notice.affected)
    lines = [f"{notice.title} — {status}", "", update.body, ""]
    if affected:
        lines.append(_(AFFECTED_LINE) % {"services": affected})
    lines += [_(DETAILS_LINE) % {"url": notice_url}, "", "--",
              _(UNSUBSCRIBE_LINE) % {"url": unsubscribe_url}]
    return Mail(_(SUBJECT) % {"title": notice.title, "status": status}, "\n".join(lines))


def reminder_mail(notice: Notice, start: str, end: str, language: str, notice_url: str,
                  unsubscribe_url: str) -> Mail:
    _ = gettext_for(language)
    params = {"title": notice.title, "start": start, "end": end}
    text = "\n".join([_(REMINDER_TEXT) % params, "", _(DETAILS_LINE) % {"url": notice_url}, "",
                      "--", _(UNSUBSCRIBE_LINE) % {"url": unsubscribe_url}])
    return Mail(_(REMINDER_SUBJECT) % params, text)


def confirm_mail(language: str, confirm_url: str) -> Mail:
    _ = gettext_for(language)
    return Mail(_(CONFIRM_SUBJECT), _(CONFIRM_TEXT) % {"url": confirm_url})


def webhook_payload(notice: Notice, update: NoticeUpdate, notice_url: str) -> dict[str, Any]:
    """A small Statuspage-like webhook body: the notice and the update that is news."""
    return {
        "notice": {"id": notice.id, "kind": notice.kind.value, "title": notice.title,
                   "status": notice.status.value, "impact": notice.impact.value,
                   "url": notice_url,
                   "affected": [{"service": a.service_id, "impact": a.impact.value}
                                for a in notice.affected]},
        "update": {"id": update.id, "status": update.status.value, "body": update.body,
                   "created_at": update.created_at.isoformat()},
    }
