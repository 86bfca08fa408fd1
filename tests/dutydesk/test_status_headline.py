"""The headline at the top of /status, through the real catalogs, for any number of services.

Russian and Ukrainian count in three forms (1 and 21 "one", 2-4 "few", 5-20 "many"); more than
five services sharing the worst status are counted instead of named.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from flask_babel import force_locale, gettext, ngettext

from dutydesk.core.db import Database, utcnow
from shifts.notices import service as svc
from shifts.notices.model import ServiceStatus
from shifts.notices.status import HEADLINE_MESSAGES, Message

NAMED = {  # (language, how many) -> the headline while the services still fit by name
    ("en", 1): "Major outage: S01",
    ("en", 2): "Major outage: S01, S02",
    ("en", 5): "Major outage: S01, S02, S03, S04, S05",
    ("ru", 1): "Серьёзный сбой: S01",
    ("ru", 2): "Серьёзный сбой: S01, S02",
    ("ru", 5): "Серьёзный сбой: S01, S02, S03, S04, S05",
    ("uk", 1): "Серйозний збій: S01",
    ("uk", 2): "Серйозний збій: S01, S02",
    ("uk", 5): "Серйозний збій: S01, S02, S03, S04, S05",
}
COUNTED_ANY = {  # (language, how many) -> the counted sentence, every plural form
    ("en", 1): "Major outage: 1 service",
    ("en", 2): "Major outage: 2 services",
    ("en", 5): "Major outage: 5 services",
    ("en", 21): "Major outage: 21 services",
    ("ru", 1): "Серьёзный сбой: 1 сервис",
    ("ru", 2): "Серьёзный сбой: 2 сервиса",
    ("ru", 5): "Серьёзный сбой: 5 сервисов",
    ("ru", 21): "Серьёзный сбой: 21 сервис",
    ("uk", 1): "Серйозний збій: 1 сервіс",
    ("uk", 2): "Серйозний збій: 2 сервіси",
    ("uk", 5): "Серйозний збій: 5 сервісів",
    ("uk", 21): "Серйозний збій: 21 сервіс",
}
COUNTED = {  # (language, how many) -> the headline once they are too many to name
    ("en", 6): "Major outage: 6 services",
    ("en", 21): "Major outage: 21 services",
    ("en", 22): "Major outage: 22 services",
    ("ru", 6): "Серьёзный сбой: 6 сервисов",
    ("ru", 21): "Серьёзный сбой: 21 сервис",
    ("ru", 22): "Серьёзный сбой: 22 сервиса",
    ("uk", 6): "Серйозний збій: 6 сервісів",
    ("uk", 21): "Серйозний збій: 21 сервіс",
    ("uk", 22): "Серйозний збій: 22 сервіси",
}


@pytest.mark.parametrize(("language", "count"), sorted(COUNTED_ANY))
def test_counted_sentence_takes_each_languages_plural_form_through_flask_babel(
        app: Any, language: str, count: int) -> None:
    singular, plural = HEADLINE_MESSAGES[ServiceStatus.MAJOR_OUTAGE][2]
    counted = Message(singular, plural=plural, n=count)
    with app.test_request_context(), force_locale(language):
        assert counted.render(gettext, ngettext) == COUNTED_ANY[language, count]


def make_outage(db: Database, count: int) -> None:
    """``count`` services (S01, S02, ...) all in one published major-outage notice."""
    with db.session() as s:
        group = svc.save_group(s, "admin", name="Office", now=utcnow())
        slugs = [f"s{i:02d}" for i in range(1, count + 1)]
        for slug in slugs:
            svc.save_service(s, "admin", slug=slug, name=slug.upper(), group_id=group.id,
                             now=utcnow())
        svc.create_notice(s, "anna", kind="incident", title="Everything is down",
                          body="We are on it.", affected={slug: "major_outage" for slug in slugs},
                          now=utcnow())


def headline_of(client: Any, language: str) -> tuple[int, str]:
    response = client.get("/status", headers={"Accept-Language": language})
    found = re.search(r"<h1>(.*?)</h1>", response.get_data(as_text=True), re.S)
    return response.status_code, unescape(found.group(1)).strip() if found else ""


@pytest.mark.parametrize("count", [1, 2, 5])
def test_page_names_up_to_five_services_in_every_language(client: Any, db: Database,
                                                          count: int) -> None:
    make_outage(db, count)
    for language in ("en", "ru", "uk"):
        assert headline_of(client, language) == (200, NAMED[language, count])


@pytest.mark.parametrize("count", [6, 21, 22])
def test_page_counts_more_than_five_services_with_the_right_plural(client: Any, db: Database,
                                                                    count: int) -> None:
    make_outage(db, count)
    for language in ("en", "ru", "uk"):
        assert headline_of(client, language) == (200, COUNTED[language, count])
