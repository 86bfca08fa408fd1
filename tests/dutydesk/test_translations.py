"""The Russian and Ukrainian catalogs: well-formed, compiled as committed, and used by real pages.

The catalogs are rebuilt with ``make translations``. These tests do not demand that every source
string is already in a catalog (screens keep growing; the final sweep runs ``make translations``),
only that what is in a catalog is complete, safe to format and actually shipped.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from dutydesk.core.config import SUPPORTED_LANGUAGES
from dutydesk.core.db import Database, utcnow
from dutydesk.models import Role
from shifts.notices import service as svc
from tests.conftest import login, make_user

TRANSLATIONS = Path(__file__).resolve().parents[2] / "dutydesk" / "translations"
LOCALES = ["ru", "uk"]
# Python %-placeholders: named (%(name)s, %(m)02d) and positional (%s, %d); %% is a literal.
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def load_po(locale: str) -> Catalog:
    with po_path(locale).open("rb") as f:
        return read_po(f, locale=locale)


def translated(locale: str) -> Iterator[Message]:
    """Every real message (not the header) of the locale's catalog."""
    return (m for m in load_po(locale) if m.id)


def placeholders(text: str) -> set[str]:
    """The placeholders as written (``%(m)02d`` and ``%(m)s`` differ: both must match)."""
    return {m.group(0) for m in PLACEHOLDER.finditer(text.replace("%%", ""))}


def forms(message: Message) -> tuple[list[str], list[str]]:
    """(source strings, translated strings) of a message, plural or not."""
    ids = list(message.id) if message.pluralizable else [message.id]
    strings = list(message.string) if message.pluralizable else [message.string]
    return ids, strings


def describe(locale: str, message: Message) -> str:
    where = ", ".join(f"{p}:{n}" for p, n in message.locations[:2])
    return f"{locale} {message.id!r} ({where})"


# --------------------------------------------------------------------------- the .po files


def test_every_supported_language_but_english_has_a_catalog() -> None:
    assert sorted(lang for lang in SUPPORTED_LANGUAGES if lang != "en") == LOCALES
    for locale in LOCALES:
        assert po_path(locale).is_file(), f"{po_path(locale)} is missing: run `make translations`"


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_uses_the_three_slavic_plural_forms(locale: str) -> None:
    catalog = load_po(locale)
    assert catalog.num_plurals == 3
    # 1 and 21 take the "one" form, 2-4 and 22 "few", 5-20 and 11-14 "many".
    expected = {1: 0, 21: 0, 2: 1, 4: 1, 22: 1, 5: 2, 11: 2, 12: 2, 14: 2, 20: 2, 25: 2, 111: 2}
    choose = gettext.c2py(catalog.plural_expr)
    assert {n: choose(n) for n in expected} == expected


@pytest.mark.parametrize("locale", LOCALES)
def test_no_message_is_fuzzy_or_untranslated(locale: str) -> None:
    problems = []
    for message in translated(locale):
        _, strings = forms(message)
        if message.fuzzy:
            problems.append(f"fuzzy: {describe(locale, message)}")
        if message.pluralizable and len(strings) != 3:
            problems.append(f"{len(strings)} plural forms, not 3: {describe(locale, message)}")
        if not all(s.strip() for s in strings):
            problems.append(f"untranslated: {describe(locale, message)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_translation_keeps_the_placeholders_of_its_msgid(locale: str) -> None:
    problems = []
    for message in translated(locale):
        ids, strings = forms(message)
        # Every plural form must carry the plural msgid's placeholders: in Russian and
        # Ukrainian the "one" form also serves 21, 31, ..., so it must show the number too.
        wanted = placeholders(ids[-1]) | placeholders(ids[0])
        for index, text in enumerate(strings):
            got = placeholders(text)
            if got != wanted:
                problems.append(f"form {index} has {sorted(got)}, msgid has {sorted(wanted)}: "
                                f"{describe(locale, message)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_formatted_translation_renders_without_error(locale: str) -> None:
    """A stray ``%`` in a translation that gets %-formatted would crash the page showing it.

    That is every python-format message, and every message used in a template: Flask-Babel
    installs Jinja's new-style gettext, which %-formats what ``_()`` returns even without
    arguments (so a template's ``100%`` must be ``100%%`` in the catalog too).
    """
    problems = []
    for message in translated(locale):
        in_template = any(path.startswith("templates/") for path, _ in message.locations)
        if not (message.python_format or in_template):
            continue
        ids, strings = forms(message)
        names = {name for name in PLACEHOLDER.findall(" ".join(ids)) if name}
        values: dict[str, Any] | tuple[Any, ...] = dict.fromkeys(names, 7)
        if not names:  # positional placeholders take a tuple
            values = tuple(7 for _ in PLACEHOLDER.finditer(ids[0].replace("%%", "")))
        for text in strings:
            try:
                rendered = text % values
            except (KeyError, ValueError, TypeError) as exc:
                problems.append(f"{exc!r}: {describe(locale, message)}")
                continue
            assert "%(" not in rendered, describe(locale, message)
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- the .mo files


@pytest.mark.parametrize("locale", LOCALES)
def test_committed_mo_holds_what_compiling_the_po_gives(locale: str, tmp_path: Path) -> None:
    fresh = tmp_path / "messages.mo"
    with fresh.open("wb") as f:
        write_mo(f, load_po(locale))
    committed = po_path(locale).with_suffix(".mo")
    assert committed.is_file(), f"{committed} is missing: run `make translations`"

    def entries(path: Path) -> dict[Any, Any]:
        with path.open("rb") as f:
            catalog = read_mo(f)
        return {m.id if isinstance(m.id, str) else tuple(m.id):
                m.string if isinstance(m.string, str) else tuple(m.string)
                for m in catalog if m.id}

    expected, actual = entries(fresh), entries(committed)
    stale = sorted(str(k) for k in expected.keys() ^ actual.keys())
    differ = sorted(str(k) for k in expected.keys() & actual.keys() if expected[k] != actual[k])
    assert not stale and not differ, (
        f"{committed} is out of date with the .po (run `make translations`): "
        f"missing or extra {stale[:5]}, different {differ[:5]}"
    )


# --------------------------------------------------------------------------- real pages


@pytest.mark.parametrize(
    ("accept", "heading", "button"),
    [
        ("ru", "Вход в DutyDesk", "Войти"),  # Russian browser
        ("uk", "Вхід до DutyDesk", "Увійти"),  # Ukrainian browser
        ("uk-UA,uk;q=0.9,en;q=0.5", "Вхід до DutyDesk", "Увійти"),  # region tag and weights
        ("en", "Sign in to DutyDesk", "Sign in"),  # English stays English
    ],
)
def test_login_page_speaks_the_browser_language(
    client: Any, accept: str, heading: str, button: str
) -> None:
    page = client.get("/login", headers={"Accept-Language": accept}).get_data(as_text=True)
    assert f"<h1>{heading}</h1>" in page
    assert f">{button}</button>" in page


def test_lang_switch_beats_the_browser_language(client: Any) -> None:
    page = client.get("/login?lang=uk", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Вхід до DutyDesk" in page and "Вход в DutyDesk" not in page


@pytest.fixture
def outage(db: Database) -> None:
    with db.session() as s:
        group = svc.save_group(s, "admin", name="Office", now=utcnow())
        svc.save_service(s, "admin", slug="mail", name="Mail", group_id=group.id, now=utcnow())
        svc.create_notice(s, "anna", kind="incident", title="Mail is down", body="We are on it.",
                          affected={"mail": "major_outage"}, now=utcnow())


@pytest.mark.parametrize(
    ("accept", "words"),
    [
        ("ru", ["Серьёзный сбой: Mail", "Выясняем причину", "Подписаться на обновления"]),
        ("uk", ["Серйозний збій: Mail", "З'ясовуємо причину", "Підписатися на оновлення"]),
    ],
)
def test_status_page_speaks_russian_and_ukrainian(
    client: Any, outage: None, accept: str, words: list[str]
) -> None:
    page = client.get("/status", headers={"Accept-Language": accept}).get_data(as_text=True)
    page = page.replace("&#39;", "'")
    missing = [w for w in words if w not in page]
    assert not missing, f"{accept} status page lacks {missing}"
    assert "Investigating" not in page


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("ru", ["Стена мониторинга", "Проблемы"]),
        ("uk", ["Стіна моніторингу", "Проблеми"]),
    ],
)
def test_wall_follows_the_language_of_the_engineers_profile(
    app: Any, db: Database, language: str, words: list[str]
) -> None:
    user = make_user(db, Role.ENGINEER, language=language)
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    # The profile wins over a browser that asks for English.
    page = client.get("/wall", headers={"Accept-Language": "en"}).get_data(as_text=True)
    missing = [w for w in words if w not in page]
    assert not missing, f"{language} wall lacks {missing}"
