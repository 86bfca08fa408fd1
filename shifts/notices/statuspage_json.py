"""Statuspage-compatible public JSON (``/api/v2/*.json``), built from the model.

Field names follow Atlassian Statuspage's public API v2 so existing status aggregators and chat
integrations can read us. Mapping from our model:

- a :class:`ServiceGroup` is a component with ``group: true`` and ``components`` (child ids);
  its status is the worst of its services'. A service is a component with ``group_id``.
- a published incident notice is an *incident*; a published maintenance notice is a
  *scheduled maintenance* (with ``scheduled_for``/``scheduled_until`` and ``impact:
  "maintenance"``). Drafts never appear.
- each :class:`NoticeUpdate` is an ``incident_update`` (newest first, as Statuspage lists
  them); its ``affected_components`` are the impact changes that update made (``code`` is the
  service id), or ``null``.
- ``shortlink`` is the notice's own shortlink, else ``<page url>/notices/<id>``.

Times are ISO 8601 in UTC with milliseconds and a ``Z`` suffix. Every builder returns a plain
``dict`` ready for ``json.dumps``. Lists are capped at 50 like Statuspage's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from checks.result import Status as CheckStatus

from .maintenance import current_status, is_active, is_upcoming
from .model import (
    Notice,
    NoticeKind,
    NoticeUpdate,
    Service,
    ServiceGroup,
    ServiceStatus,
    UpdateStatus,
    require_aware,
)
from .status import page_state, service_statuses

LIST_LIMIT = 50
Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class PageInfo:
    """Statuspage's ``page`` object. ``time_zone`` is an IANA name (the site's)."""

    id: str
    name: str
    url: str
    time_zone: str
    updated_at: datetime

    def __post_init__(self) -> None:
        require_aware("page updated_at", self.updated_at)


@dataclass(frozen=True, slots=True)
class PageData:
    """Everything one snapshot of the public JSON is built from.

    ``statuses`` are effective service statuses by id (see :func:`PageData.build`).
    """

    page: PageInfo
    groups: tuple[ServiceGroup, ...]
    services: tuple[Service, ...]
    notices: tuple[Notice, ...]
    now: datetime
    statuses: Mapping[str, ServiceStatus] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_aware("now", self.now)

    @classmethod
    def build(cls, page: PageInfo, groups: Iterable[ServiceGroup], services: Iterable[Service],
              notices: Iterable[Notice], check_states: Mapping[str, CheckStatus],
              now: datetime) -> PageData:
        """Compute effective statuses (checks, maintenance, notices) and bundle everything."""
        services, notices = tuple(services), tuple(notices)
        statuses = service_statuses(services, check_states, notices, now)
        return cls(page, tuple(groups), services, notices, now, statuses)

    def status_of(self, service: Service) -> ServiceStatus:
        return self.statuses.get(service.id, service.status)


def ts(moment: datetime | None) -> str | None:
    """``2024-03-01T10:00:00.000Z`` (UTC, milliseconds) or ``None``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def page_json(page: PageInfo) -> Json:
    return {"id": page.id, "name": page.name, "url": page.url, "time_zone": page.time_zone,
            "updated_at": ts(page.updated_at)}


# --------------------------------------------------------------------------------------------
# Components


def _service_component(data: PageData, s: Service, group_ids: set[str]) -> Json:
    return {
        "id": s.id,
        "name": s.name,
        "status": data.status_of(s).value,
        "created_at": ts(s.created_at),
        "updated_at": ts(s.updated_at),
        "position": s.position,
        "description": s.description or None,
        "showcase": True,
        "start_date": s.created_at.astimezone(UTC).date().isoformat() if s.created_at else None,
        "group_id": s.group if s.group in group_ids else None,
        "page_id": data.page.id,
        "group": False,
        "only_show_if_degraded": s.only_show_if_degraded,
    }


def _group_component(data: PageData, g: ServiceGroup, children: list[Service]) -> Json:
    worst = max((data.status_of(s) for s in children), key=lambda st: st.severity,
                default=ServiceStatus.OPERATIONAL)
    return {
        "id": g.id,
        "name": g.name,
        "status": worst.value,
        "created_at": ts(g.created_at),
        "updated_at": ts(g.updated_at),
        "position": g.position,
        "description": g.description or None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": data.page.id,
        "group": True,
        "only_show_if_degraded": False,
        "components": [s.id for s in children],
    }


def components_list(data: PageData) -> list[Json]:
    """Groups and services in page order: top-level items by position, each group followed by
    its services by position. A service whose group is unknown is shown ungrouped."""
    group_ids = {g.id for g in data.groups}
    by_pos = sorted(data.services, key=lambda s: (s.position, s.name))
    top: list[tuple[int, str, Json, list[Json]]] = []
    for g in data.groups:
        children = [s for s in by_pos if s.group == g.id]
        top.append((g.position, g.name, _group_component(data, g, children),
                    [_service_component(data, s, group_ids) for s in children]))
    for s in by_pos:
        if s.group not in group_ids:
            top.append((s.position, s.name, _service_component(data, s, group_ids), []))
    top.sort(key=lambda item: (item[0], item[1]))
    return [c for _, _, head, tail in top for c in (head, *tail)]


def components_json(data: PageData) -> Json:
    return {"page": page_json(data.page), "components": components_list(data)}


# --------------------------------------------------------------------------------------------
# Incidents and scheduled maintenances


def _update_json(data: PageData, notice: Notice, u: NoticeUpdate) -> Json:
    names = {s.id: s.name for s in data.services}
    affected = [
        {"code": c.service_id, "name": names.get(c.service_id, c.service_id),
         "old_status": c.old_status.value, "new_status": c.new_status.value}
        for c in u.affected_changes
    ]
    return {
        "id": u.id,
        "status": u.status.value,
        "body": u.body,
        "incident_id": notice.id,
        "created_at": ts(u.created_at),
        "updated_at": ts(u.created_at),
        "display_at": ts(u.created_at),
        "affected_components": affected or None,
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }


def incident_json(data: PageData, notice: Notice) -> Json:
    """One incident (or, for a maintenance notice, one scheduled maintenance)."""
    group_ids = {g.id for g in data.groups}
    services = {s.id: s for s in data.services}
    maintenance = notice.kind is NoticeKind.MAINTENANCE
    status = current_status(notice, data.now) if maintenance else notice.status
    item: Json = {
        "id": notice.id,
        "name": notice.title,
        "status": status.value,
        "created_at": ts(notice.created_at or notice.published_at),
        "updated_at": ts(notice.updated_at),
        "monitoring_at": ts(notice.first_time_in(UpdateStatus.MONITORING)),
        "resolved_at": ts(notice.resolved_at),
        "impact": "maintenance" if maintenance else notice.impact.value,
        "shortlink": notice.shortlink or f"{data.page.url.rstrip('/')}/notices/{notice.id}",
        "started_at": ts(notice.started_at or notice.published_at),
        "page_id": data.page.id,
        "incident_updates": [_update_json(data, notice, u) for u in reversed(notice.updates)],
        "components": [_service_component(data, services[a.service_id], group_ids)
                       for a in notice.affected if a.service_id in services],
    }
    if maintenance and notice.window is not None:
        item["scheduled_for"] = ts(notice.window.scheduled_for)
        item["scheduled_until"] = ts(notice.window.scheduled_until)
    return item


def _published(data: PageData, kind: NoticeKind) -> list[Notice]:
    found = [n for n in data.notices if n.kind is kind and n.is_published]
    if kind is NoticeKind.MAINTENANCE:
        found.sort(key=lambda n: n.window.scheduled_for if n.window else data.now, reverse=True)
    else:
        found.sort(key=lambda n: n.started_at or n.published_at or data.now, reverse=True)
    return found


def incidents_json(data: PageData, *, limit: int = LIST_LIMIT) -> Json:
    """The ``limit`` most recent published incidents, newest first."""
    notices = _published(data, NoticeKind.INCIDENT)[:limit]
    return {"page": page_json(data.page), "incidents": [incident_json(data, n) for n in notices]}


def unresolved_incidents(data: PageData) -> list[Json]:
    return [incident_json(data, n) for n in _published(data, NoticeKind.INCIDENT)
            if not n.is_closed]


def unresolved_incidents_json(data: PageData) -> Json:
    return {"page": page_json(data.page), "incidents": unresolved_incidents(data)}


def scheduled_maintenances_json(data: PageData, *, limit: int = LIST_LIMIT) -> Json:
    """The ``limit`` most recent published maintenances (latest start first)."""
    notices = _published(data, NoticeKind.MAINTENANCE)[:limit]
    return {"page": page_json(data.page),
            "scheduled_maintenances": [incident_json(data, n) for n in notices]}


def upcoming_maintenances_json(data: PageData) -> Json:
    """Maintenances still ``scheduled``, soonest first."""
    notices = [n for n in _published(data, NoticeKind.MAINTENANCE) if is_upcoming(n, data.now)]
    notices.reverse()
    return {"page": page_json(data.page),
            "scheduled_maintenances": [incident_json(data, n) for n in notices]}


def active_maintenances_json(data: PageData) -> Json:
    """Maintenances ``in_progress`` or ``verifying`` at ``now``."""
    notices = [n for n in _published(data, NoticeKind.MAINTENANCE) if is_active(n, data.now)]
    return {"page": page_json(data.page),
            "scheduled_maintenances": [incident_json(data, n) for n in notices]}


# --------------------------------------------------------------------------------------------
# Status and summary


def status_object(data: PageData) -> Json:
    state = page_state((data.status_of(s) for s in data.services), data.notices)
    return {"indicator": state.indicator, "description": state.description}


def status_json(data: PageData) -> Json:
    return {"page": page_json(data.page), "status": status_object(data)}


def summary_json(data: PageData) -> Json:
    """Page, status, components, unresolved incidents, and upcoming or active maintenances."""
    maintenances = [n for n in reversed(_published(data, NoticeKind.MAINTENANCE))
                    if is_upcoming(n, data.now) or is_active(n, data.now)]
    return {
        "page": page_json(data.page),
        "components": components_list(data),
        "incidents": unresolved_incidents(data),
        "scheduled_maintenances": [incident_json(data, n) for n in maintenances],
        "status": status_object(data),
    }
