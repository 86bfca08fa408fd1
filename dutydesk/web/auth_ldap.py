"""Sign-in with the company directory: the LDAP conversation (``ldap3``) and the just-in-time
account it creates or updates.

:func:`authenticate` binds as the person (directly by DN template, or after a search with the
service account), reads their entry and groups, and returns a :class:`Person` — or raises
:class:`DirectoryError` saying at which stage it failed (``tls``, ``connect``, ``bind``,
``search``, ``group``) or why the person is refused (``credentials``, ``username``,
``disabled``, ``no_group``). The pure rules are in :mod:`dutydesk.core.directory`.
"""

from __future__ import annotations

import logging
import math
import ssl
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.core.config import SUPPORTED_LANGUAGES
from dutydesk.core.directory import (
    DirectoryConfig,
    Person,
    acceptable_username,
    ad_disabled,
    group_filter,
    language_code,
    may_request,
    role_for_groups,
    walk_groups,
)
from dutydesk.models import User

log = logging.getLogger("dutydesk.auth")
# The password hash of a directory account: matches no password, so the local form never
# signs a directory person in; their password lives in the directory only.
DIRECTORY_PASSWORD = "!directory"


class DirectoryError(Exception):
    """Why a directory sign-in or test failed. ``stage`` is machine-readable; ``detail`` is for
    admins and logs (never shown to the person signing in: it may name DNs)."""

    def __init__(self, stage: str, detail: str, dn: str | None = None) -> None:
        super().__init__(f"{stage}: {detail}")
        self.stage = stage
        self.detail = detail
        self.dn = dn  # the person's entry, when the refusal is about who they are


def _server(cfg: DirectoryConfig) -> ldap3.Server:
    url = urlparse(cfg.url)
    tls = None
    if cfg.uses_tls:
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED,
            version=ssl.PROTOCOL_TLS_CLIENT,
            ca_certs_file=cfg.ca_file or None,
        )
    return ldap3.Server(
        url.hostname,
        port=url.port,
        use_ssl=url.scheme == "ldaps",
        tls=tls,
        get_info=ldap3.NONE,
        connect_timeout=cfg.timeout,
    )


def _tls_problem(text: str) -> bool:
    text = text.lower()
    return any(word in text for word in ("certificate", "ssl", "tls", "handshake", "wrong version"))


def connect(cfg: DirectoryConfig, who: str, password: str, *, as_user: bool) -> ldap3.Connection:
    """An open, bound connection; ``as_user`` decides whether a refused bind is the person's
    wrong password (``credentials``) or a misconfigured service account (``bind``)."""
    conn = ldap3.Connection(
        _server(cfg), user=who, password=password, read_only=True,
        receive_timeout=math.ceil(cfg.timeout), auto_bind=ldap3.AUTO_BIND_NONE,
        raise_exceptions=False,
    )
    try:
        conn.open()
    except LDAPException as exc:
        stage = "tls" if cfg.uses_tls and _tls_problem(str(exc)) else "connect"
        raise DirectoryError(stage, f"cannot open {cfg.url}: {exc}") from None
    try:
        if cfg.starttls and not conn.start_tls():
            raise DirectoryError("tls", f"StartTLS refused by {cfg.url}: {conn.result}")
    except LDAPException as exc:
        raise DirectoryError("tls", f"StartTLS with {cfg.url} failed: {exc}") from None
    try:
        bound = conn.bind()
    except LDAPException as exc:
        raise DirectoryError("connect", f"bind to {cfg.url} failed: {exc}") from None
    if not bound:
        result = conn.result or {}
        conn.unbind()
        if as_user:
            raise DirectoryError("credentials", f"bind as {who!r} refused: "
                                 f"{result.get('description')}")
        raise DirectoryError("bind", f"service account {who!r} cannot bind: "
                             f"{result.get('description')} {result.get('message', '')}".strip())
    return conn


def entry_attributes(cfg: DirectoryConfig) -> list[str]:
    wanted = list(cfg.attributes.values())
    if cfg.group_lookup == "memberof":
        wanted.append("memberOf")
    if cfg.kind == "ad":
        wanted.append("userAccountControl")
    return wanted


def first_value(entry: dict[str, Any], name: str) -> str | None:
    value = entry.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value not in (None, "") else None


def _search_one(conn: ldap3.Connection, base: str, flt: str, scope: Any, attrs: list[str]) -> Any:
    try:
        conn.search(base, flt, search_scope=scope, attributes=attrs, size_limit=2)
    except LDAPException as exc:
        raise DirectoryError("search", f"search under {base!r} failed: {exc}") from None
    return [e for e in conn.response or [] if e.get("type") == "searchResEntry"]


def authenticate(cfg: DirectoryConfig, username: str, password: str) -> Person:
    """Check a person's directory credentials and groups; raise :class:`DirectoryError`."""
    if not acceptable_username(username):
        raise DirectoryError("username", f"user name {username[:80]!r} has characters a "
                             "directory user name never has (LDAP injection attempt?)")
    if not password:
        # an empty password is an *unauthenticated* bind that many servers accept
        raise DirectoryError("credentials", "empty password")
    attrs = entry_attributes(cfg)
    service: ldap3.Connection | None = None
    conn: ldap3.Connection | None = None
    try:
        if cfg.direct_bind:
            dn = cfg.user_dn_template.format(username=escape_rdn(username))
            conn = connect(cfg, dn, password, as_user=True)
            found = _search_one(conn, dn, "(objectClass=*)", ldap3.BASE, attrs)
        else:
            service = connect(cfg, cfg.bind_dn, cfg.bind_password, as_user=False)
            flt = cfg.user_filter.format(username=escape_filter_chars(username))
            found = _search_one(service, cfg.user_base, flt, ldap3.SUBTREE, attrs)
            if not found:
                raise DirectoryError("credentials", f"no entry for {username!r} under "
                                     f"{cfg.user_base!r} with {flt}")
            if len(found) > 1:
                raise DirectoryError("search", f"{flt} finds more than one entry: make "
                                     "user_filter unique")
            conn = connect(cfg, found[0]["dn"], password, as_user=True)
        if not found:
            raise DirectoryError("search", f"bound as {dn!r} but cannot read the entry")
        entry = found[0]
        values = entry.get("attributes", {})
        if cfg.kind == "ad" and ad_disabled(first_value(values, "userAccountControl")):
            raise DirectoryError("disabled", f"{entry['dn']} is disabled in the directory")
        groups = group_dns(cfg, service or conn, entry["dn"], values)
        return _person(cfg, username, entry["dn"], values, groups)
    finally:
        for c in (service, conn):
            if c is not None:
                c.unbind()


def group_dns(cfg: DirectoryConfig, conn: ldap3.Connection, dn: str, values: dict) -> list[str]:
    """The DNs of the person's groups: from ``memberOf`` or a search, and with
    ``nested_groups`` every group containing those too (AD's ``kind: ad`` walks on the server)."""
    if cfg.group_lookup == "memberof":
        member_of = values.get("memberOf") or []
        direct = [str(g) for g in (member_of if isinstance(member_of, list) else [member_of])]
    else:
        direct = _groups_with_members(cfg, conn, [dn], cfg.kind)
    if not cfg.nested_groups:
        return direct
    return walk_groups(direct, lambda groups: _groups_with_members(cfg, conn, groups, "openldap"))


_MEMBERS_PER_SEARCH = 50  # groups asked about in one filter


def _groups_with_members(
    cfg: DirectoryConfig, conn: ldap3.Connection, members: list[str], kind: str
) -> list[str]:
    found: list[str] = []
    for start in range(0, len(members), _MEMBERS_PER_SEARCH):
        chunk = members[start:start + _MEMBERS_PER_SEARCH]
        parts = [group_filter(kind, escape_filter_chars(m)) for m in chunk]
        flt = parts[0] if len(parts) == 1 else "(|" + "".join(parts) + ")"
        try:
            conn.search(cfg.group_base, flt, search_scope=ldap3.SUBTREE, attributes=[])
        except LDAPException as exc:
            raise DirectoryError(
                "group", f"group search under {cfg.group_base!r} failed: {exc}"
            ) from None
        if conn.result and conn.result.get("result") not in (0, None):
            raise DirectoryError("group", f"group search under {cfg.group_base!r}: "
                                 f"{conn.result.get('description')}")
        found += [e["dn"] for e in conn.response or [] if e.get("type") == "searchResEntry"]
    return found


def _person(
    cfg: DirectoryConfig, username: str, dn: str, values: dict, groups: list[str]
) -> Person:
    role = role_for_groups(groups, cfg.groups)
    if role is None and not may_request(groups, cfg.requesters):
        raise DirectoryError("no_group", f"{dn} is in none of the mapped groups "
                             f"({', '.join(g for g, _ in cfg.groups)}); member of: "
                             f"{', '.join(groups) or 'no groups'}", dn=dn)
    email = first_value(values, cfg.attributes["email"])
    if not email:
        raise DirectoryError("search", f"{dn} has no {cfg.attributes['email']!r} attribute "
                             "(the email DutyDesk needs)")
    return Person(
        dn=dn, username=username, email=email.strip().lower(),
        name=first_value(values, cfg.attributes["name"]) or username,
        phone=first_value(values, cfg.attributes["phone"]),
        language=language_code(
            first_value(values, cfg.attributes["language"]), SUPPORTED_LANGUAGES
        ),
        role=role,
    )


def check_connection(cfg: DirectoryConfig) -> str:
    """Open the connection (TLS verified) and bind the service account, if any; a line saying
    what worked, or :class:`DirectoryError` saying what failed."""
    if cfg.direct_bind and not cfg.bind_dn:
        conn = ldap3.Connection(_server(cfg), read_only=True,
                                receive_timeout=math.ceil(cfg.timeout),
                                auto_bind=ldap3.AUTO_BIND_NONE)
        try:
            conn.open()
            if cfg.starttls and not conn.start_tls():
                raise DirectoryError("tls", f"StartTLS refused by {cfg.url}")
        except LDAPException as exc:
            stage = "tls" if cfg.uses_tls and _tls_problem(str(exc)) else "connect"
            raise DirectoryError(stage, f"cannot open {cfg.url}: {exc}") from None
        finally:
            conn.unbind()
        return f"connected to {cfg.url}" + (" with verified TLS" if cfg.uses_tls else "")
    conn = connect(cfg, cfg.bind_dn, cfg.bind_password, as_user=False)
    conn.unbind()
    return f"connected to {cfg.url}{' with verified TLS' if cfg.uses_tls else ''}; " \
           f"service account {cfg.bind_dn} bound"


# --------------------------------------------------------------------------- accounts


@dataclass(frozen=True, slots=True)
class Synced:
    user: User
    created: bool


def upsert_user(
    session: Session, actor: str, person: Person, now: datetime, *, via: str = "directory"
) -> Synced:
    """Create the account on first sign-in, or bring it up to date with the directory (or, with
    ``via="oidc"``, the OpenID Connect provider: ``person.dn`` is then its subject key).

    Matched by directory DN (OIDC subject), else by email among directory accounts (their DN
    changed when they moved). Any other account with the same email — a *local* one above all —
    is never taken over: a directory entry whose mail names a break-glass admin would otherwise
    become that admin: ``DirectoryError`` (``conflict``). An account the *directory* disabled
    comes back with its groups; one an admin disabled stays disabled (the caller refuses it)."""
    if person.role is None:
        raise ValueError("a requester gets no account")
    column = User.oidc_subject if via == "oidc" else User.directory_dn
    source = "the OpenID Connect provider" if via == "oidc" else "the directory"
    user = session.scalar(select(User).where(column == person.dn))
    if user is None:
        user = session.scalar(select(User).where(func.lower(User.email) == person.email))
        if user is not None and (via == "oidc" or user.directory_dn is None):
            raise DirectoryError("conflict", f"{person.dn} has the email {person.email} of "
                                 f"another account (id {user.id}); it is not taken over")
    created = user is None
    if user is None:
        user = User(email=person.email, password_hash=DIRECTORY_PASSWORD, created_at=now)
        session.add(user)
    before = {"email": user.email, "name": user.name, "role": getattr(user.role, "value", None),
              "phone": user.phone, "active": user.active}
    if user.directory_disabled_at is not None:
        user.active, user.directory_disabled_at = True, None
    role_changed = user.role is not None and user.role != person.role
    setattr(user, column.key, person.dn)
    user.email, user.name, user.phone, user.role = (
        person.email, person.name, person.phone, person.role,
    )
    user.password_hash = DIRECTORY_PASSWORD
    if person.language and not user.language:
        user.language = person.language  # the person's own choice in DutyDesk wins afterwards
    if role_changed:
        user.session_version = (user.session_version or 1) + 1
    session.flush()
    after = {"email": user.email, "name": user.name, "role": user.role.value,
             "phone": user.phone, "active": user.active}
    if created:
        audit.record(session, actor, "create", "user", user.id,
                     summary=f"{user.email} created from {source} ({person.dn})", after=after)
    elif before != after:
        changed_before, changed_after = audit.changed_fields(before, after)
        audit.record(session, actor, "update", "user", user.id,
                     summary=f"{user.email} updated from {source}",
                     before=changed_before, after=changed_after)
    return Synced(user=user, created=created)


# --------------------------------------------------------------------------- the login hook


@dataclass(frozen=True, slots=True)
class DirectoryLogin:
    """The directory's answer for the login form: a signed-in ``user``, a ``requester`` (in no
    mapped group but allowed to the help desk: no account), or a refusal."""

    user: User | None
    message: str = ""
    status: int = 401
    requester: Person | None = None


def refusal_message(stage: str) -> tuple[str, int]:
    """What the person at the login form reads for a failure at ``stage`` (and the status)."""
    from flask_babel import gettext as _

    if stage == "username":
        return _("That is not a valid user name: use letters, digits and . _ @ + - only."), 400
    if stage == "no_group":
        return _("Your directory account is in no group that may use DutyDesk. Ask an admin "
                 "or your shift lead to add you to the right group."), 403
    if stage == "conflict":
        return _("A local DutyDesk account already uses your email address. Ask an admin to "
                 "remove or rename it, then sign in with the directory again."), 409
    if stage in ("credentials", "disabled"):
        return _("Wrong email or password, or the account is disabled."), 401
    return _("The company directory cannot be reached, so directory accounts cannot sign in "
             "now. Local admin accounts still can."), 503


def directory_login(
    session: Session, login: str, password: str, local: User | None, cfg: DirectoryConfig | None,
    now: datetime,
) -> DirectoryLogin | None:
    """Sign in through the directory, or ``None`` when the local password check applies: no
    directory configured, or ``login`` is a local account (the break-glass admins, who sign in
    even while the directory is down)."""
    if cfg is None or (local is not None and local.directory_dn is None):
        return None
    try:
        person = authenticate(cfg, login, password)
    except DirectoryError as exc:
        log.warning("directory sign-in refused for %r at %s: %s", login[:80], exc.stage,
                    exc.detail)
        if exc.stage == "no_group" and exc.dn:
            known = session.scalar(select(User).where(User.directory_dn == exc.dn))
            take_access_away(session, known, now, "is in no mapped directory group")
        message, status = refusal_message(exc.stage)
        return DirectoryLogin(user=None, message=message, status=status)
    if person.role is None:  # a requester: any account they had loses its access
        known = session.scalar(select(User).where(User.directory_dn == person.dn))
        take_access_away(session, known, now, "is in no mapped directory group")
        return DirectoryLogin(user=None, requester=person)
    try:
        synced = upsert_user(session, f"directory:{person.username}", person, now)
    except DirectoryError as exc:
        session.rollback()
        log.warning("directory sign-in refused for %r at %s: %s", login[:80], exc.stage,
                    exc.detail)
        message, status = refusal_message(exc.stage)
        return DirectoryLogin(user=None, message=message, status=status)
    if not synced.user.active:
        log.warning("directory sign-in refused for %r: disabled in DutyDesk", login[:80])
        message, status = refusal_message("disabled")
        return DirectoryLogin(user=None, message=message, status=status)
    return DirectoryLogin(user=synced.user)


def take_access_away(session: Session, user: User | None, now: datetime, why: str) -> None:
    """Disable a directory (or OpenID Connect) account the directory (provider) no longer lets
    in; its sessions end too."""
    if user is None or not user.external or not user.active:
        return
    user.active = False
    user.directory_disabled_at = now
    user.session_version = (user.session_version or 1) + 1
    audit.record(session, "directory", "disable", "user", user.id,
                 summary=f"{user.email} disabled: {why}")

