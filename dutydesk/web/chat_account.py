"""A person's chat accounts (``/account/chat``): link codes for the Telegram bot, links made
from Slack / Mattermost buttons, and removing a link. Every change is audited.

- ``POST /account/chat/code``: a new one-time code (shown once on the page, valid 15 minutes;
  earlier unused codes stop working), to send to the bot as ``/link CODE``;
- ``GET /account/chat/claim/<token>``: the link a Slack / Mattermost button answered an unlinked
  person with; it shows which chat account would be linked, and only the ``POST`` from that page
  links it (a GET never changes anything);
- ``POST /account/chat/links/<id>/delete``: remove one of your links.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template
from flask_babel import gettext as _

from dutydesk.context import db_session, principal, require_role, settings
from dutydesk.core.audit import record
from dutydesk.core.db import utcnow
from dutydesk.errors import ApiError
from dutydesk.incidents.chat import links
from dutydesk.incidents.chat.links import CODE_LIFETIME
from dutydesk.incidents.chat.slack import read_claim
from dutydesk.models import Role, User

bp = Blueprint("chat_account", __name__)
PAGE = "/account/chat"


def _me() -> User:
    who = principal()
    if who.user is None:
        raise ApiError(403, _("Kiosk screens have no account settings."))
    return who.user


def _page(code: str | None = None, status: int = 200) -> Any:
    user = _me()
    cfg = settings()
    return render_template(
        "account/chat.html",
        links=links.links_of(db_session(), user.id),
        code=code,
        minutes=int(CODE_LIFETIME.total_seconds() // 60),
        telegram_on=bool(cfg.telegram_bot_token) and cfg.telegram_updates != "off",
        may_act=links.may_act(user) is None,
    ), status


@bp.route(PAGE, methods=["GET"])
@require_role(Role.VIEWER)
def chat_accounts() -> Any:
    return _page()


@bp.route(PAGE + "/code", methods=["POST"])
@require_role(Role.VIEWER)
def new_code() -> Any:
    user, s = _me(), db_session()
    code = links.issue_code(s, user.id, utcnow())
    record(s, principal(), "chat_link.code", "user", user.id,
           summary="asked for a chat link code")  # the code itself is never recorded
    s.commit()
    return _page(code)


@bp.route(PAGE + "/links/<int:link_id>/delete", methods=["POST"])
@require_role(Role.VIEWER)
def delete_link(link_id: int) -> Any:
    user, s = _me(), db_session()
    row = links.unlink(s, user.id, link_id)
    if row is None:
        raise ApiError(404, _("No such chat account link."))
    record(s, principal(), "chat_link.delete", "chat_link", link_id,
           summary=f"{row.provider} {row.label or row.external_id}",
           before={"provider": row.provider, "external_id": row.external_id})
    s.commit()
    flash(_("Chat account unlinked."), "ok")
    return redirect(PAGE)


@bp.route(PAGE + "/claim/<token>", methods=["GET", "POST"])
@require_role(Role.VIEWER)
def claim(token: str) -> Any:
    from flask import request

    user = _me()
    try:
        provider, external_id, label = read_claim(settings(), token)
    except ValueError as exc:
        return render_template("account/chat_claim.html", problem=str(exc), token=token), 400
    if request.method == "GET":
        return render_template("account/chat_claim.html", problem=None, token=token,
                               provider=provider, label=label or external_id)
    s = db_session()
    links.link(s, provider, external_id, user.id, utcnow(), label=label)
    record(s, principal(), "chat_link.add", "chat_link", None,
           summary=f"{provider} {label or external_id}",
           after={"provider": provider, "external_id": external_id})
    s.commit()
    flash(_("Your %(chat)s account is linked: its buttons now act as you.",
            chat=provider.capitalize()), "ok")
    return redirect(PAGE)
