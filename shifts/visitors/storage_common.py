"""What every part of the visitor storage service shares: its errors and two small helpers.

Errors: bad input raises ``VisitorInputError`` (a ValueError naming the field); a missing row
raises ``VisitorNotFound`` (a LookupError).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


class VisitorInputError(ValueError):
    """Input the desk or an API client must correct; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class VisitorNotFound(LookupError):
    pass


def get_row(session: Session, model: type, row_id: int, what: str) -> Any:
    """The row ``model[row_id]``; anonymised rows count as missing (``VisitorNotFound``)."""
    # ids are 32-bit on PostgreSQL: a larger number (typed or fuzzed) names nothing
    valid = isinstance(row_id, int) and not isinstance(row_id, bool) and 0 < row_id < 2**31
    row = session.get(model, row_id) if valid else None
    if row is None or getattr(row, "anonymised", False):
        raise VisitorNotFound(f"no {what} with id {row_id}")
    return row


def actor_label(actor: Any) -> str:
    """How ``actor`` (a ``Principal`` or a plain label) is named in stored rows."""
    return getattr(actor, "label", None) or str(actor)


def actor_key(actor: Any) -> str:
    """Who ``actor`` is, exactly: a user by their (unique) label, an API token by its id (two
    tokens may share a name)."""
    token_id = getattr(actor, "token_id", None)
    if getattr(actor, "kind", None) == "token" and token_id is not None:
        return f"token#{token_id}"
    return actor_label(actor)


def iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""
