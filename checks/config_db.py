"""Apply a validated ``ChecksConfig`` to the database (with a diff), and export it back.

``plan(session, config)`` compares the file with the database and returns a ``Plan`` (added,
changed, removed per kind); ``apply(session, config, actor)`` performs it in the caller's
transaction and writes one audit entry per change, so the caller commits all or nothing.
Checks not in the file are removed (the file is the whole truth); runtime state is kept for
checks that stay. ``export(session)`` writes YAML that ``apply`` accepts unchanged.
"""

from __future__ import annotations

import secrets
from typing import Any

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from checks.config import ChecksConfig, ChecksConfigError, WindowConfig
from checks.models import (
    Check,
    CheckDependency,
    CheckGroup,
    CheckStateRow,
    MaintenanceWindowRow,
)
from checks.schedule import next_due
from checks.secrets import audited
from dutydesk.core import audit
from dutydesk.core.db import utcnow
from dutydesk.core.plan import Plan
from dutydesk.core.site_registry import site_ids
from dutydesk.core.sites import DEFAULT_SITE

COMPARED = ("display_name", "type", "spec", "interval", "retry_interval", "max_attempts",
            "timeout", "flap_detection", "flap_low_threshold", "flap_high_threshold",
            "flap_history_states", "enabled", "guard_reference", "tags", "labels", "service",
            "impact", "urgency", "parent_up_states")


def _group_ids(session: Session) -> dict[str, int]:
    return dict(session.execute(select(CheckGroup.path, CheckGroup.id)).all())


def _current(session: Session) -> tuple[dict[str, Check], dict[int, set[str]], dict[int, str]]:
    checks = {c.slug: c for c in session.scalars(select(Check))}
    slugs = {c.id: c.slug for c in checks.values()}
    parents: dict[int, set[str]] = {}
    for child, parent in session.execute(select(CheckDependency.child_id,
                                                CheckDependency.parent_id)):
        parents.setdefault(child, set()).add(slugs[parent])
    groups = {gid: path for path, gid in _group_ids(session).items()}
    return checks, parents, groups


def _window_keys(session: Session) -> dict[tuple, MaintenanceWindowRow]:
    checks = dict(session.execute(select(Check.id, Check.slug)).all())
    groups = {gid: path for path, gid in _group_ids(session).items()}
    sites = {sid: slug for slug, sid in site_ids(session).items()}
    out = {}
    # Windows owned by a maintenance notice are managed by the notice, not by the YAML.
    for row in session.scalars(select(MaintenanceWindowRow)
                               .where(MaintenanceWindowRow.notice_id.is_(None))):
        key = (("check", checks.get(row.check_id, ""), row.name) if row.check_id
               else ("group", groups.get(row.group_id, ""), row.name) if row.group_id
               else ("site", sites.get(row.site_id, ""), row.name))
        out[key] = row
    return out


def resolve_sites(session: Session, config: ChecksConfig) -> dict[str, int]:
    """Slug -> id of every site the file names; raise :class:`ChecksConfigError` naming the
    file, line and check (or window) of each site that does not exist here."""
    known = site_ids(session)
    if DEFAULT_SITE not in known:
        from dutydesk.core.site_registry import find_site

        known[DEFAULT_SITE] = find_site(session, DEFAULT_SITE).id
    listed = ", ".join(sorted(known))
    errors = [f"{config.source}:{c.line} check {c.name!r}: site {c.site!r} is not a site here "
              f"(known: {listed}; `dutydesk site create` makes one)"
              for c in config.checks if c.site and c.site not in known]
    errors += [f"{config.source}:{w.line} maintenance {w.name!r}: site {w.site!r} is not a "
               f"site here (known: {listed})"
               for w in config.windows if w.site and w.site not in known]
    if errors:
        raise ChecksConfigError(errors)
    return known


def _window_same(row: MaintenanceWindowRow, w: WindowConfig) -> bool:
    return (row.kind, row.definition, row.zone) == (w.kind, w.definition, w.zone)


def plan(session: Session, config: ChecksConfig) -> Plan:
    result = Plan()
    sites = resolve_sites(session, config)
    checks, parents, groups = _current(session)
    existing_groups = set(groups.values())
    for path in config.all_groups:
        if path not in existing_groups:
            result.added.append(f"group {path!r}")
    for c in config.checks:
        row = checks.get(c.name)
        if row is None:
            result.added.append(f"check {c.name!r}")
            continue
        moved = [k for k in COMPARED if getattr(row, k) != c.values[k]]
        if groups.get(row.group_id) != c.group:
            moved.append("group")
        if row.site_id != sites[c.site or DEFAULT_SITE]:
            moved.append("site")
        if parents.get(row.id, set()) != set(c.parents):
            moved.append("parents")
        if c.heartbeat_key and c.heartbeat_key != row.heartbeat_key:
            moved.append("heartbeat_key")
        if moved:
            result.changed.append(f"check {c.name!r}: {', '.join(moved)}")
    wanted = {c.name for c in config.checks}
    result.removed += [f"check {slug!r}" for slug in sorted(set(checks) - wanted)]
    current_windows = _window_keys(session)
    for w in config.windows:
        row = current_windows.get(w.key)
        if row is None:
            result.added.append(f"maintenance {w.key[0]} {w.key[1]!r} {w.name!r}")
        elif not _window_same(row, w):
            result.changed.append(f"maintenance {w.key[0]} {w.key[1]!r} {w.name!r}")
    keys = {w.key for w in config.windows}
    result.removed += [f"maintenance {k[0]} {k[1]!r} {k[2]!r}"
                       for k in current_windows if k not in keys]
    return result


def ensure_group(session: Session, path: str, description: str | None = None) -> CheckGroup:
    """The group at ``path``, created with its ancestors when missing."""
    parent: CheckGroup | None = None
    steps = [p.strip() for p in path.split("/")]
    for i in range(len(steps)):
        sub = " / ".join(steps[: i + 1])
        group = session.scalar(select(CheckGroup).where(CheckGroup.path == sub))
        if group is None:
            group = CheckGroup(name=steps[i], path=sub,
                               parent_id=parent.id if parent else None, description="")
            session.add(group)
            session.flush()
        parent = group
    assert parent is not None
    if description is not None:
        parent.description = description
    return parent


def apply(session: Session, config: ChecksConfig, actor: Any) -> Plan:
    """Make the database match ``config`` (caller commits). Returns the plan it carried out."""
    result = plan(session, config)
    sites = resolve_sites(session, config)
    now = utcnow()
    for group in config.groups:
        ensure_group(session, group.path, group.description)
    group_ids = {path: ensure_group(session, path).id for path in config.all_groups}
    checks = {c.slug: c for c in session.scalars(select(Check))}
    wanted = {c.name for c in config.checks}
    for slug, row in checks.items():
        if slug not in wanted:
            audit.record(session, actor, "check.delete", "check", row.id,
                         summary=f"check {slug} removed by config", before={"slug": slug})
            session.delete(row)
    session.flush()
    for c in config.checks:
        row = checks.get(c.name)
        values = dict(c.values, group_id=group_ids.get(c.group) if c.group else None,
                      site_id=sites[c.site or DEFAULT_SITE])
        if row is None:
            key = c.heartbeat_key or (secrets.token_urlsafe(16)
                                      if values["type"] == "heartbeat" else None)
            row = Check(**values, heartbeat_key=key, created_at=now, updated_at=now)
            session.add(row)
            session.flush()
            session.add(CheckStateRow(check_id=row.id, state={}, updated_at=now,
                                      next_due_at=next_due(row.id, row.interval, None, now)))
            audit.record(session, actor, "check.create", "check", row.id,
                         summary=f"check {c.name} added by config",
                         after=audited(c.values, values["type"]))
            checks[c.name] = row
        else:
            before = {k: getattr(row, k) for k in values}
            if c.heartbeat_key:
                values["heartbeat_key"] = c.heartbeat_key
            if any(before.get(k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                row.updated_at = now
                old, new = audit.changed_fields(before, values)
                audit.record(session, actor, "check.update", "check", row.id,
                             summary=f"check {c.name} changed by config",
                             before=audited(old, before["type"]),
                             after=audited(new, values["type"]))
    session.flush()
    ids = {slug: row.id for slug, row in checks.items() if slug in wanted}
    session.execute(delete(CheckDependency).where(CheckDependency.child_id.in_(ids.values())))
    for c in config.checks:
        for parent in c.parents:
            session.add(CheckDependency(child_id=ids[c.name], parent_id=ids[parent]))
    for c in config.checks:
        if c.locations is not None:
            set_check_locations(session, ids[c.name], c.name, c.locations)
    current_windows = _window_keys(session)
    keys = {w.key for w in config.windows}
    for key, row in current_windows.items():
        if key not in keys:
            session.delete(row)
    for w in config.windows:
        row = current_windows.get(w.key)
        target = ({"check_id": ids[w.check]} if w.check
                  else {"site_id": sites[w.site]} if w.site
                  else {"group_id": group_ids[w.group or ""]})
        if row is None:
            session.add(MaintenanceWindowRow(name=w.name, kind=w.kind, definition=w.definition,
                                             zone=w.zone, created_by=str(actor), **target))
        elif not _window_same(row, w):
            row.kind, row.definition, row.zone = w.kind, w.definition, w.zone
    if not result.empty:
        audit.record(session, actor, "checks.apply", "checks", None,
                     summary=f"config applied: {len(result.added)} added, "
                             f"{len(result.changed)} changed, {len(result.removed)} removed",
                     after={"plan": result.lines()})
    session.flush()
    return result


def set_check_locations(session: Session, check_id: int, name: str,
                        locations: tuple[str, ...]) -> None:
    """The check's probes become the ``SITE/PROBE`` ones of ``locations`` (ValueError naming
    an unknown or revoked one); it also runs at the centre when ``centre`` is among them."""
    from sqlalchemy import column, insert, table

    links = table("check_probes", column("check_id"), column("probe_id"))
    probes = table("probes", column("id"), column("name"), column("site_id"),
                   column("revoked_at"))
    sites = table("sites", column("id"), column("slug"))
    known = {f"{slug}/{probe}": (pid, revoked) for pid, probe, slug, revoked in session.execute(
        select(probes.c.id, probes.c.name, sites.c.slug, probes.c.revoked_at)
        .select_from(probes.join(sites, sites.c.id == probes.c.site_id)))}
    wanted = []
    for place in locations:
        if place == "centre":
            continue
        if place not in known or known[place][1] is not None:
            raise ValueError(f"check {name}: no live probe {place!r} (see `dutydesk probe list`)")
        wanted.append(known[place][0])
    session.execute(delete(links).where(links.c.check_id == check_id))
    if wanted:
        session.execute(insert(links), [{"check_id": check_id, "probe_id": p} for p in wanted])
    row = session.get(Check, check_id)
    row.run_at_centre = "centre" in locations and bool(wanted)


def export(session: Session) -> str:
    """The whole check configuration as YAML that ``apply`` accepts unchanged."""
    checks, parents, groups = _current(session)
    sites = {sid: slug for slug, sid in site_ids(session).items()}
    out_groups = [{"path": g.path, **({"description": g.description} if g.description else {})}
                  for g in session.scalars(select(CheckGroup).order_by(CheckGroup.path))]
    out_checks = []
    for slug in sorted(checks):
        row = checks[slug]
        entry: dict[str, Any] = {"name": slug}
        for k in COMPARED:
            value = getattr(row, k)
            if k in ("retry_interval", "parent_up_states") and value is None:
                continue
            entry[k] = value
        if row.group_id:
            entry["group"] = groups[row.group_id]
        if sites.get(row.site_id, DEFAULT_SITE) != DEFAULT_SITE:
            entry["site"] = sites[row.site_id]
        if parents.get(row.id):
            entry["parents"] = sorted(parents[row.id])
        if row.heartbeat_key:
            entry["heartbeat_key"] = row.heartbeat_key
        out_checks.append(entry)
    slugs = {c.id: c.slug for c in checks.values()}
    out_windows = []
    for row in session.scalars(select(MaintenanceWindowRow)
                               .where(MaintenanceWindowRow.notice_id.is_(None))
                               .order_by(MaintenanceWindowRow.id)):
        target = ({"check": slugs[row.check_id]} if row.check_id
                  else {"group": groups[row.group_id]} if row.group_id
                  else {"site": sites[row.site_id]})
        out_windows.append({"name": row.name, **target, "kind": row.kind, "zone": row.zone,
                            **row.definition})
    doc = {"groups": out_groups, "checks": out_checks, "maintenance": out_windows}
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
