"""Outage notices and the employee status page: the pure core.

No database and no Flask here: storage, screens and the snapshot cache call these functions.

- :mod:`.model` — services, groups, notices, updates, maintenance windows; update and publish
  rules; safe Markdown.
- :mod:`.status` — a service's effective status, the page indicator, the headline sentence.
- :mod:`.maintenance` — scheduled maintenance by the clock, reminders.
- :mod:`.uptime` — 90-day uptime bars.
- :mod:`.statuspage_json` — Statuspage-compatible ``/api/v2`` JSON.
- :mod:`.atom` — Atom feed. :mod:`.badge` — SVG badge.
"""

from .model import (
    AffectedChange,
    AffectedService,
    Impact,
    InvalidStatusError,
    MaintenanceWindow,
    NaiveDatetimeError,
    Notice,
    NoticeClosedError,
    NoticeError,
    NoticeKind,
    NoticeUpdate,
    PublishError,
    Service,
    ServiceGroup,
    ServiceStatus,
    StatusMode,
    StatusTransitionError,
    UpdateStatus,
    add_update,
    publish,
    render_markdown,
    reopen,
)

__all__ = [
    "AffectedChange",
    "AffectedService",
    "Impact",
    "InvalidStatusError",
    "MaintenanceWindow",
    "NaiveDatetimeError",
    "Notice",
    "NoticeClosedError",
    "NoticeError",
    "NoticeKind",
    "NoticeUpdate",
    "PublishError",
    "Service",
    "ServiceGroup",
    "ServiceStatus",
    "StatusMode",
    "StatusTransitionError",
    "UpdateStatus",
    "add_update",
    "publish",
    "render_markdown",
    "reopen",
]
