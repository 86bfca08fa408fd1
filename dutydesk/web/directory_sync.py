"""The periodic directory sync: every active directory account is looked up with the service
account; whoever left the directory, was disabled there or is in no mapped group loses access,
and the shift journal lists the open incidents they still hold."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.core.directory import DirectoryConfig, ad_disabled, role_for_groups
from dutydesk.models import Role, User
from dutydesk.web.auth_ldap import (
    DirectoryError,
    connect,
    entry_attributes,
    first_value,
    group_dns,
    log,
    take_access_away,
)


@dataclass
class SyncReport:
    """What a sync did: people checked, access taken away (with their open incidents), roles
    changed, and the directory error that stopped it (then nobody is touched)."""

    checked: int = 0
    disabled: list[tuple[str, str, list[tuple[int, str]]]] = field(default_factory=list)
    role_changed: list[tuple[str, str, str]] = field(default_factory=list)
    error: str = ""


def _entry_filter(cfg: DirectoryConfig) -> str:
    """The user filter without the name: ``(&(uid=*)(!(employeeType=disabled)))`` checks an
    entry read by its DN against the same conditions a sign-in applies."""
    return cfg.user_filter.replace("{username}", "*")


def sync_directory(session: Session, cfg: DirectoryConfig, now: datetime) -> SyncReport:
    """Look every active directory account up with the service account; take access away from
    those gone from the directory, disabled there or in no mapped group, and follow role
    changes. The caller commits. Nobody is disabled when the directory cannot be asked."""
    report = SyncReport()
    if not cfg.bind_dn:
        report.error = "no service account (bind_dn): the sync cannot look people up"
        return report
    try:
        conn = connect(cfg, cfg.bind_dn, cfg.bind_password, as_user=False)
    except DirectoryError as exc:
        report.error = f"{exc.stage}: {exc.detail}"
        return report
    try:
        users = list(session.scalars(
            select(User).where(User.directory_dn.is_not(None), User.active.is_(True))
        ))
        for user in users:
            report.checked += 1
            why = _why_no_access(cfg, conn, user)
            if isinstance(why, Role):
                if why != user.role:
                    report.role_changed.append((user.email, user.role.value, why.value))
                    audit.record(session, "directory sync", "update", "user", user.id,
                                 summary=f"{user.email}: role {user.role.value} -> {why.value}",
                                 before={"role": user.role.value}, after={"role": why.value})
                    user.role = why
                    user.session_version = (user.session_version or 1) + 1
                continue
            take_access_away(session, user, now, why)
            from dutydesk.incidents.assignments import open_assigned_to

            held = open_assigned_to(session, [user.email, user.name])
            report.disabled.append((user.email, why, held))
            _tell_the_shift_lead(session, user, why, held, now)
    except DirectoryError as exc:
        session.rollback()
        report.error = f"{exc.stage}: {exc.detail}"
    finally:
        conn.unbind()
    return report


def _why_no_access(cfg: DirectoryConfig, conn: ldap3.Connection, user: User) -> Role | str:
    """The role the directory gives ``user`` now, or why it gives none."""
    dn = user.directory_dn or ""
    try:
        conn.search(dn, _entry_filter(cfg), search_scope=ldap3.BASE,
                    attributes=entry_attributes(cfg))
    except LDAPException as exc:
        raise DirectoryError("search", f"reading {dn!r} failed: {exc}") from None
    code = (conn.result or {}).get("result")
    found = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
    if code == 32 or (code == 0 and not found):  # noSuchObject, or filtered out
        return "is gone from the directory or disabled there"
    if code not in (0, None):
        raise DirectoryError("search", f"reading {dn!r}: {(conn.result or {}).get('description')}")
    values = found[0].get("attributes", {})
    if cfg.kind == "ad" and ad_disabled(first_value(values, "userAccountControl")):
        return "is disabled in the directory"
    role = role_for_groups(group_dns(cfg, conn, dn, values), cfg.groups)
    return role if role is not None else "is in no mapped directory group"


def _tell_the_shift_lead(
    session: Session, user: User, why: str, held: list[tuple[int, str]], now: datetime
) -> None:
    """A shift journal entry: who lost access and which open incidents they still hold."""
    from dutydesk.core.security import Principal
    from shifts.journal import add_journal_entry

    text = f"Directory sync: {user.display_name} ({user.email}) {why}; access taken away."
    if held:
        text += " Open incidents to hand over: " + "; ".join(f"#{i} {t}" for i, t in held)
    else:
        text += " No open incidents assigned to them."
    who = Principal(kind="system", role=None, label="directory sync")
    add_journal_entry(session, who, kind="event", text=text[:4000], at=now)


def directory_jobs(settings: Any, db: Any) -> list[Any]:
    """The sync, every 15 minutes (access gone within the hour), when a directory with a
    service account is configured."""
    from dutydesk.core.db import utcnow
    from dutydesk.core.jobs import Job

    cfg: DirectoryConfig | None = settings.ldap
    if cfg is None or not cfg.bind_dn:
        return []

    def run() -> None:
        with db.session() as session:
            report = sync_directory(session, cfg, utcnow())
            if report.error:
                log.warning("directory sync skipped, nobody touched: %s", report.error)
                return
            session.commit()
        for email, why, held in report.disabled:
            log.warning("directory sync: %s %s; access taken away; open incidents: %s",
                        email, why, ", ".join(f"#{i}" for i, _ in held) or "none")
        log.info("directory sync: %s checked, %s disabled, %s role changes", report.checked,
                 len(report.disabled), len(report.role_changed))

    return [Job(id="directory-sync", name="sync accounts with the company directory",
                func=run, trigger_args={"minutes": 15})]
