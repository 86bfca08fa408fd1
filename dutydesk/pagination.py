"""Page-number pagination shared by screens and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session


class PaginationError(ValueError):
    pass


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
    """Read ``page`` and ``per_page`` from query args; wrong values raise ``PaginationError``."""
    try:
        page = int(args.get("page", 1))
        per_page = int(args.get("per_page", default_per_page))
    except (TypeError, ValueError):
        raise PaginationError("page and per_page must be whole numbers") from None
    if page < 1:
        raise PaginationError(f"page must be at least 1, got {page}")
    if not 1 <= per_page <= max_per_page:
        raise PaginationError(f"per_page must be between 1 and {max_per_page}, got {per_page}")
    return page, per_page


def paginate(session: Session, query: Any, page: int, per_page: int) -> Page:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, per_page=per_page, total=total or 0)
