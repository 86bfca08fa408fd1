"""Account operations shared by the CLI, the admin screens and the API.

Each function validates first and raises ``ValidationError`` before touching the session, adds
the change and its audit entry to the session, and leaves the commit to the caller (one request or
CLI command = one transaction).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.core.config import SUPPORTED_LANGUAGES
from dutydesk.core.db import utcnow
from dutydesk.core.security import (
    PasswordPolicyError,
    Principal,
    check_password_policy,
    digest_secret,
    hash_password,
    issue_secret,
)
from dutydesk.core.validation import (  # ValidationError: the shared layer's error, re-exported
    ValidationError,
    time_zone,
)
from dutydesk.models import ApiToken, KioskLink, Role, User, UserSession

__all__ = ["ValidationError"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^[^@\s]+@localhost$")


def user_snapshot(user: User) -> dict[str, Any]:
    """What the audit log keeps of a user (never the password hash)."""
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "active": user.active,
        "language": user.language,
        "timezone": user.timezone,
    }


def _clean_email(session: Session, email: str, *, exclude_id: int | None = None) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise ValidationError("email", f"not a valid email address: {email!r}")
    query = select(User.id).where(func.lower(User.email) == email)
    if exclude_id is not None:
        query = query.where(User.id != exclude_id)
    if session.scalar(query) is not None:
        raise ValidationError("email", f"a user with email {email} already exists")
    return email


def _clean_role(role: str | Role) -> Role:
    try:
        return role if isinstance(role, Role) else Role.parse(str(role))
    except ValueError as exc:
        raise ValidationError("role", str(exc)) from None


def _clean_language(language: str | None) -> str | None:
    if language in (None, ""):
        return None
    if language not in SUPPORTED_LANGUAGES:
        raise ValidationError(
            "language", f"got {language!r}, allowed: {', '.join(SUPPORTED_LANGUAGES)}"
        )
    return language


def _clean_timezone(tz: str | None) -> str | None:
    return time_zone(tz, "timezone", optional=True)


def _clean_password(password: str) -> str:
    try:
        check_password_policy(password)
    except PasswordPolicyError as exc:
        raise ValidationError("password", str(exc)) from None
    return hash_password(password)


def create_user(
    session: Session,
    actor: Principal | str,
    *,
    email: str,
    password: str,
    role: str | Role = Role.ENGINEER,
    name: str = "",
    language: str | None = None,
    timezone: str | None = None,
) -> User:
    user = User(
        email=_clean_email(session, email),
        name=name.strip()[:200],
        role=_clean_role(role),
        password_hash=_clean_password(password),
        language=_clean_language(language),
        timezone=_clean_timezone(timezone),
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.create",
        "user",
        user.id,
        summary=f"created {user.email} as {user.role.value}",
        after=user_snapshot(user),
    )
    return user


def update_user(session: Session, actor: Principal | str, user: User, **changes: Any) -> User:
    """Apply changes (email, name, role, active, language, timezone, password)."""
    before = user_snapshot(user)
    if "email" in changes:
        user.email = _clean_email(session, changes["email"], exclude_id=user.id)
    if "name" in changes:
        user.name = str(changes["name"]).strip()[:200]
    if "role" in changes:
        user.role = _clean_role(changes["role"])
    if "language" in changes:
        user.language = _clean_language(changes["language"])
    if "timezone" in changes:
        user.timezone = _clean_timezone(changes["timezone"])
    if "active" in changes:
        user.active = bool(changes["active"])
        if not user.active:
            end_all_sessions(session, user)
    if changes.get("password"):
        user.password_hash = _clean_password(changes["password"])
        end_all_sessions(session, user)  # the caller may start a new one for the person here
    old, new = audit.changed_fields(before, user_snapshot(user))
    if changes.get("password"):
        new["password"] = "changed"
    if new:
        audit.record(
            session,
            actor,
            "user.update",
            "user",
            user.id,
            summary=f"updated {user.email}: {', '.join(sorted(new))}",
            before=old,
            after=new,
        )
    return user


# ---- browser sessions ---------------------------------------------------------------------


def start_session(session: Session, user: User, now: datetime, max_age: timedelta) -> str:
    """Record a new signed-in browser for ``user``; returns the id to put in its cookie.

    The user's sessions older than ``max_age`` are dropped on the way (they expired anyway),
    so the table stays as small as the number of browsers in use.
    """
    session.execute(delete(UserSession).where(UserSession.user_id == user.id,
                                              UserSession.created_at < now - max_age))
    token = secrets.token_urlsafe(32)
    session.add(UserSession(user_id=user.id, token_hash=digest_secret(token), created_at=now))
    return token


def session_alive(session: Session, user_id: int, token: Any, now: datetime,
                  max_age: timedelta) -> bool:
    """Whether the cookie's session id still names a live session of ``user_id``."""
    if not isinstance(token, str) or not token:
        return False
    created = session.scalar(select(UserSession.created_at).where(
        UserSession.token_hash == digest_secret(token), UserSession.user_id == user_id))
    return created is not None and now - created < max_age


def end_session(session: Session, token: Any) -> None:
    """Sign one browser out: its cookie, even a copy, no longer signs anyone in."""
    if isinstance(token, str) and token:
        session.execute(delete(UserSession).where(UserSession.token_hash == digest_secret(token)))


def end_all_sessions(session: Session, user: User) -> int:
    """Sign ``user`` out everywhere; returns how many browsers were signed in."""
    ended = session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    user.session_version += 1  # cookies from before session rows existed stop working too
    return int(getattr(ended, "rowcount", 0) or 0)


def require_another_active_admin(session: Session, user: User) -> None:
    """Refuse to demote or disable the last active admin (nobody could administer after)."""
    others = session.scalar(
        select(func.count(User.id)).where(
            User.role == Role.ADMIN, User.active.is_(True), User.id != user.id
        )
    )
    if not others:
        raise ValidationError("role", "this is the last active admin; make another admin first")


def create_token(
    session: Session, actor: Principal | str, *, name: str, role: str | Role
) -> tuple[ApiToken, str]:
    """Create an API token; returns it with the plaintext, which is shown once and not kept."""
    name = name.strip()
    if not name:
        raise ValidationError("name", "a token needs a name that says what uses it")
    secret = issue_secret("dd")
    creator = actor.user_id if isinstance(actor, Principal) else None
    token = ApiToken(
        name=name[:120],
        role=_clean_role(role),
        prefix=secret.prefix,
        token_hash=secret.digest,
        created_by_id=creator,
        created_at=utcnow(),
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor,
        "token.create",
        "api_token",
        token.id,
        summary=f"created token {token.name!r} ({token.role.value})",
        after={"name": token.name, "role": token.role.value, "prefix": token.prefix},
    )
    return token, secret.plaintext


def revoke_token(session: Session, actor: Principal | str, token: ApiToken) -> None:
    if not token.active:
        raise ValidationError("token", f"token {token.name!r} is already revoked")
    token.revoked_at = utcnow()
    audit.record(
        session,
        actor,
        "token.revoke",
        "api_token",
        token.id,
        summary=f"revoked token {token.name!r}",
        before={"active": True},
        after={"active": False},
    )


def create_kiosk_link(
    session: Session, actor: Principal | str, *, name: str, site: str | None = None
) -> tuple[KioskLink, str]:
    """A kiosk link for the wall of site ``site`` (a slug; ``None`` or ``""``: every site)."""
    from dutydesk.core.sites import Site

    name = name.strip()
    if not name:
        raise ValidationError("name", "name the screen, e.g. 'Hall A wall'")
    site_row: Site | None = None
    if site:
        site_row = session.scalar(select(Site).where(Site.slug == site.strip()))
        if site_row is None:
            raise ValidationError("site", f"there is no site {site.strip()[:64]!r}")
    secret = issue_secret("kiosk")
    creator = actor.user_id if isinstance(actor, Principal) else None
    link = KioskLink(
        name=name[:120],
        prefix=secret.prefix,
        token_hash=secret.digest,
        created_by_id=creator,
        created_at=utcnow(),
        site_id=site_row.id if site_row is not None else None,
    )
    session.add(link)
    session.flush()
    audit.record(
        session,
        actor,
        "kiosk.create",
        "kiosk_link",
        link.id,
        summary=f"created kiosk link {link.name!r} for "
        + (f"site {site_row.slug}" if site_row is not None else "every site"),
        after={"name": link.name, "site": site_row.slug if site_row is not None else None},
    )
    return link, secret.plaintext


def revoke_kiosk_link(session: Session, actor: Principal | str, link: KioskLink) -> None:
    if not link.active:
        raise ValidationError("kiosk", f"kiosk link {link.name!r} is already revoked")
    link.revoked_at = utcnow()
    audit.record(
        session,
        actor,
        "kiosk.revoke",
        "kiosk_link",
        link.id,
        summary=f"revoked kiosk link {link.name!r}",
        before={"active": True},
        after={"active": False},
    )
