"""Whose duty rotation answers for an incident at a site: a pure rule.

Each site has its own duty schedules (a first line in Amsterdam, another in Frankfurt). When an
incident pages a line, the people come from:

1. the schedules of that line at the incident's site, if the site has any for the line;
2. otherwise the schedules of that line at the **default site** (a small site without its own
   rotation is covered by the main one);
3. otherwise nobody from a schedule: routing falls back to the shift leads / fallback group /
   every active engineer as before (``dutydesk.incidents.routing.route``).

An incident that is not about one site (an Alertmanager alert without a check, a manual report)
is treated as the default site's. A site that has a schedule for the line but nobody on duty
right now (a gap) is *not* filled from the default site: the gap is that site's, and routing's
fallback covers it, as it does for a single-site installation.
"""

from __future__ import annotations

from collections.abc import Mapping

#: ``{site id: {line value: logins on duty}}`` — only lines that have a schedule at the site.
SiteBoard = Mapping[int, Mapping[str, tuple[str, ...]]]


def duty_for_site(
    board: SiteBoard, site_id: int | None, default_site_id: int | None
) -> dict[str, tuple[str, ...]] | None:
    """``{line value: logins}`` for routing an incident at ``site_id`` (see the module rule);
    ``None`` when no line has a schedule for it at all."""
    own = board.get(site_id, {}) if site_id is not None else {}
    fallback = board.get(default_site_id, {}) if default_site_id is not None else {}
    merged: dict[str, tuple[str, ...]] = dict(fallback)
    merged.update(own)
    return merged or None
