"""Page-number pagination shared by screens and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.core.validation import MAX_PAGE, ValidationError, whole_number


class PaginationError(ValidationError):
    """A ``page`` or ``per_page`` the list cannot serve (a 400 wherever it is not caught)."""


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def parse_page_args(
    args: Any, *, default_per_page: int = 50, max_per_page: int = 500
) -> tuple[int, int]:
    """Read ``page`` (1..``MAX_PAGE``) and ``per_page`` (1..``max_per_page``) from query args;
    anything else (text, fractions, ``2**64``) raises ``PaginationError``."""
    try:
        page = whole_number(args.get("page"), "page", minimum=1, maximum=MAX_PAGE, default=1)
        per_page = whole_number(
            args.get("per_page"), "per_page", minimum=1, maximum=max_per_page,
            default=default_per_page,
        )
    except ValidationError as exc:
        raise PaginationError(exc.field, exc.message) from None
    return page, per_page


def paginate(session: Session, query: Any, page: int, per_page: int) -> Page:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, per_page=per_page, total=total or 0)
