"""Language and time zone selection, and the Jinja filters that show times in the user's zone."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from flask import Flask, has_request_context, request
from flask_babel import Babel, format_date, format_datetime, get_locale

from dutydesk.core.config import SUPPORTED_LANGUAGES

LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "uk": "Українська"}


def select_locale() -> str:
    from dutydesk.context import principal, settings

    if not has_request_context():  # app context only (CLI, worker, a chart): no viewer to ask
        return settings().default_language
    user = principal().user
    if user is not None and user.language in SUPPORTED_LANGUAGES:
        return user.language
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in SUPPORTED_LANGUAGES:
        return chosen
    return request.accept_languages.best_match(SUPPORTED_LANGUAGES) or settings().default_language


def current_language() -> str:
    """The language this page is shown in (``select_locale``'s choice; "en" when none)."""
    return str(get_locale() or "en")


def select_timezone() -> str:
    from dutydesk.context import principal, settings

    user = principal().user
    if user is not None and user.timezone:
        return user.timezone
    return settings().timezone


def user_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(select_timezone())


def localtime(value: datetime | str | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """Format an aware UTC datetime in the viewer's zone (empty for None).

    An ISO 8601 string with an offset (as stored in JSON documents such as handoff reports) is
    read first; a string that is not one is shown as it is rather than failing the page."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        if parsed.tzinfo is None:
            return value  # no offset: we cannot know which zone it was in
        value = parsed
    return format_datetime(value, fmt)


def init_i18n(app: Flask) -> Babel:
    from dutydesk.labels import choices, label, schedule_title

    babel = Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["label"] = label  # {{ user.role|label('role') }}: dutydesk.labels
    app.jinja_env.globals["label_choices"] = choices
    app.jinja_env.filters["schedule_title"] = schedule_title  # "First line (Kyiv)", translated
    app.jinja_env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["format_date"] = format_date  # month and day names in the language
    return babel
