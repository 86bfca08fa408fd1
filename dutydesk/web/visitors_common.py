"""What the visitor screens share: the blueprint, the site policy, form parsing, flash messages.

Every screen shows visitor personal data, so every route needs the engineer role or higher
(a viewer gets 403); managing clients and authorised lists needs shift_lead. The routes live in
``visitors_desk`` (the desk), ``visitors_admin`` (clients, authorised lists, access requests) and
``visitors_log`` (the log and its CSV); ``dutydesk.web.visitors`` imports them all.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, request, session
from flask_babel import gettext as _

from dutydesk.context import db_session, settings
from dutydesk.core.site_scope import UnknownSite, default_site, site_by_slug
from dutydesk.core.sites import Site
from dutydesk.core.validation import ValidationError, record_id
from dutydesk.i18n import user_zone
from shifts.visitors import service as svc
from shifts.visitors.model import SitePolicy, VisitorDataError
from shifts.visitors.orm import VisitRow

bp = Blueprint("visitors", __name__, url_prefix="/visitors")

#: The session key that remembers which site's desk this browser works for.
DESK_SITE_KEY = "visitor_desk_site"


def desk_site() -> Site:
    """The site whose desk these screens work for, one at a time: ``?site=<slug>`` (then
    remembered in the session, so the desk stays on it), else the remembered site, else the
    default site. An unknown ``?site=`` is a 404 naming it; a remembered site that was deleted
    since is forgotten."""
    from dutydesk.web.site_select import site_from

    chosen = site_from(request.args.get("site"))
    if chosen is not None:
        session[DESK_SITE_KEY] = chosen.slug
        return chosen
    remembered = session.get(DESK_SITE_KEY)
    if remembered:
        try:
            return site_by_slug(db_session(), str(remembered))
        except UnknownSite:
            session.pop(DESK_SITE_KEY, None)
    return default_site(db_session())


def site_policy() -> SitePolicy:
    current = settings()
    try:
        return svc.policies_from_settings(current.extra.get("visitors"), current.timezone)[0]
    except svc.VisitorInputError as exc:
        abort(500, str(exc))


def parse_local_datetime(value: str | None, field: str) -> datetime | None:
    """A ``datetime-local`` value typed in the viewer's zone, as aware UTC (None if empty)."""
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise svc.VisitorInputError(field, f"expected YYYY-MM-DDTHH:MM, got {value!r}") from None
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=user_zone()).astimezone(UTC)


def int_or_none(value: str | None) -> int | None:
    """An id from a form, or ``None`` when empty, not a number or beyond any stored id."""
    try:
        return record_id(value, "id", optional=True)
    except ValidationError:
        return None


def refusal(code: str, reason: str) -> None:
    flash(_("Refused by rule %(code)s: %(reason)s", code=code, reason=reason), "error")


def input_error(exc: svc.VisitorInputError | VisitorDataError) -> None:
    flash(_("Not saved: %(message)s", message=str(exc)), "error")


def visit_or_404(visit_id: int) -> VisitRow:
    row = db_session().get(VisitRow, visit_id)
    if row is None or row.anonymised:
        abort(404, _("No such visit."))
    return row


def missing(field: str) -> datetime:
    raise svc.VisitorInputError(field, "is required")
