"""Small helpers for plain HTML forms (CSRF is enforced app-wide by Flask-WTF)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from flask import flash
from flask_babel import gettext as _

from dutydesk.accounts import ValidationError
from dutydesk.i18n import user_zone


def flash_validation(exc: ValidationError) -> None:
    """The refusal in a translated frame; the field and reason stay as the API gives them."""
    flash(_("Not saved: %(message)s", message=f"{exc.field}: {exc.message}"), "error")


def parse_local_date(value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` typed in the viewer's zone, as an aware UTC instant (None if empty)."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationError("date", f"expected YYYY-MM-DD, got {value!r}") from None
    moment = datetime.combine(day, time.max if end_of_day else time.min, tzinfo=user_zone())
    return moment.astimezone(UTC)


def checkbox(form: Any, name: str) -> bool:
    return form.get(name) in ("on", "1", "true", "yes")
