"""Turning a ``WallView`` into keyed HTML fragments, and diffing two renderings.

The page and the live feed share one rendering: ``render_sections`` returns, per section, an
ordered list of ``(key, html)``. The page joins them; the feed compares two renderings and sends
only the fragments whose HTML changed plus the new order when it changed (``diff_sections``).
Fragments carry times as data attributes and show durations in whole minutes, so a rendering
does not change every second and an idle wall produces empty diffs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import get_template_attribute
from flask_babel import format_number, ngettext
from flask_babel import gettext as _

from dutydesk.wall.fit import ScreenBudget, fit_pages, more_breached
from dutydesk.wall.snapshot import IncidentTile, WallView

Sections = dict[str, list[tuple[str, str]]]
PARTS = "wall/_parts.html"


def duration(value: timedelta | None) -> str:
    """Whole minutes, "3 h 05 min" from an hour, "2 d 4 h" from a day."""
    return Durations.translated()(value)


def signed_duration(value: timedelta) -> str:
    """SLA time left; negative once breached ("-12 min")."""
    return Durations.translated().signed(value)


class Durations:
    """Duration formatting with its three formats translated once (a gettext call per incident
    tile would cost more than the rest of the tile)."""

    __slots__ = ("days", "hours", "minutes")

    def __init__(self, minutes: str, hours: str, days: str) -> None:
        self.minutes, self.hours, self.days = minutes, hours, days

    @classmethod
    def translated(cls) -> Durations:
        # gettext without variables returns the translated format itself; filled in __call__.
        return cls(_("%(m)s min"), _("%(h)s h %(m)02d min"), _("%(d)s d %(h)s h"))

    def __call__(self, value: timedelta | None) -> str:
        if value is None:
            return ""
        minutes = max(int(value.total_seconds() // 60), 0)
        if minutes < 60:
            return self.minutes % {"m": minutes}
        hours, minutes = divmod(minutes, 60)
        if hours < 24:
            return self.hours % {"h": hours, "m": minutes}
        days, hours = divmod(hours, 24)
        return self.days % {"d": days, "h": hours}

    def signed(self, value: timedelta) -> str:
        if value < timedelta(0):
            return "-" + self(-value)
        return self(value)


def _macro(name: str) -> Any:
    return get_template_attribute(PARTS, name)


def words() -> dict[str, Any]:
    """Translated words of the repeated fragments, looked up once per rendering (a lookup per
    tile and incident would cost more than the rest of the rendering)."""
    return {
        "critical": _("CRITICAL"),
        "warning": _("WARNING"),
        "unknown": _("UNKNOWN"),
        "ok": _("OK"),
        "pending": _("PENDING"),
        "crit": _("crit"),
        "warn": _("warn"),
        "unkn": _("unkn"),
        "retrying": _("retrying %(a)s/%(m)s"),
        "parent_down": _("parent down"),
        "flapping": _("flapping"),
        "returned": _("returned %(n)s×"),
        "more": _("+ %(n)s more problems in this group"),
        "not_acked": _("not acknowledged"),
        "ack_by": _("ack: %(who)s"),
        "open_for": _("open for"),
        "tta": _("time to acknowledge"),
        "ttr": _("time to resolve"),
        "ack": _("ack"),
        "fix": _("fix"),
        "breached": _("breached"),
        "breached_ago": _("breached %(t)s ago"),
        "acked": _("acknowledged"),
        "muted": _("muted"),
        "more_groups": lambda n: ngettext(
            "+%(num)d more group", "+%(num)d more groups", n
        ),
        "paused": _("paused"),
        "stopped": _("stopped"),
        "pending_incident": _("pending"),
        "soon": _("soon"),
        "duration": Durations.translated(),
    }


def render_sections(view: WallView, budget: ScreenBudget | None = None) -> Sections:
    """Keyed fragments per section (needs an app context; sections absent → panel absent).

    The view is fitted on one screen first (``fit.fit_pages``): the problems section holds the
    first page's fragments and, hidden, the pages a rotating wall steps through."""
    out: Sections = {}
    w = words()
    pages = fit_pages(view, budget or budget_for(view))
    screen = pages[0]
    out["banner"] = [("stale", str(_macro("stale_banner")(view.stale)))] if view.stale else []
    out["sites"] = [(f"site-{s.site.slug}", str(_macro("site_cell")(s))) for s in view.sites]
    out["probes"] = probe_rows(view)
    out["summary"] = [
        (
            "summary",
            str(
                _macro("summary")(
                    view.counts,
                    view.unhandled,
                    screen.incident_summary if view.incidents is not None else None,
                )
            ),
        )
    ]
    if view.all_green:
        out["problems"] = [("all-green", str(_macro("all_green")(view.counts)))]
    else:
        group, leftover = _macro("group"), _macro("leftover")
        problems: list[tuple[str, str]] = []
        for number, page in enumerate(pages, start=1):
            prefix = "" if number == 1 else f"p{number}:"
            problems += [(prefix + slot.key, str(group(slot, w, number))) for slot in page.groups]
            if page.leftover is not None:
                problems.append((prefix + "more-groups", str(leftover(page.leftover, w, number))))
        out["problems"] = problems
    if screen.incidents is not None:
        incident = _macro("incident")
        items = [(t.key, str(incident(t, w))) for t in screen.incidents]
        if screen.more_incidents:
            texts = more_texts(screen.incidents, screen.more_incidents)
            items.append(("more-incidents", str(_macro("more_incidents")(texts))))
        out["incidents"] = items or [("no-incidents", str(_macro("no_incidents")()))]
    if view.duty is not None:
        out["duty"] = [("duty", str(_macro("duty")(view.duty)))]
    if view.visitors is not None:
        out["visitors"] = [("visitors", str(_macro("visitors")(view.visitors, view.overstays)))]
    if view.requests is not None:
        out["requests"] = [("requests", str(_macro("requests")(view.requests)))]
    out["maintenance"] = [("maintenance", str(_macro("maintenance")(view.maintenance)))]
    return out


#: Probe rows shown above the problems; the rest are one "+N more probes" line.
PROBE_ROWS = 3


def probe_rows(view: WallView) -> list[tuple[str, str]]:
    """The probes in trouble, worst first, at most ``PROBE_ROWS`` and a "+N more" line."""
    shown, rest = view.probes[:PROBE_ROWS], len(view.probes) - PROBE_ROWS
    rows = [(t.key, str(_macro("probe_row")(t))) for t in shown]
    if rest > 0:
        rows.append(("more-probes", str(_macro("more_probes")(rest))))
    return rows


def budget_for(view: WallView) -> ScreenBudget:
    """The screen's budget less the lines the site strip and the probe rows take from the
    problems column (never below what the most severe group keeps)."""
    base = ScreenBudget()
    taken = (3 if view.sites else 0) + min(len(view.probes), PROBE_ROWS + 1)
    if not taken:
        return base
    floor = base.first_group_rows * base.tile_units + 2
    return replace(base, problem_units=max(base.problem_units - taken, floor))


def site_time(value: datetime | None, zone: str) -> str:
    """"HH:MM" of ``value`` in the site's IANA ``zone`` (UTC when the zone is unknown)."""
    if value is None:
        return "—"
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return value.astimezone(tz).strftime("%H:%M")


def more_texts(shown: Sequence[IncidentTile], more: Sequence[IncidentTile]) -> list[str]:
    """"+188 more (41 breached)" for the incidents left out, then the same line for when the
    browser has to drop 1, 2, ... more of the shown ones from the bottom (their text wrapped
    more than the budget assumed): index k = the last k shown are hidden too."""
    texts = []
    for k in range(len(shown) + 1):
        hidden = list(more) + list(shown[len(shown) - k :]) if k else list(more)
        n, breached = len(hidden), more_breached(tuple(hidden))
        if breached:
            texts.append(
                ngettext(
                    "+%(num)d more (%(b)d breached)",
                    "+%(num)d more (%(b)d breached)",
                    n,
                    b=breached,
                )
            )
        else:
            texts.append(ngettext("+%(num)d more", "+%(num)d more", n))
    return texts


_RETRY_DETAIL = re.compile(r"\s*\((?:HARD|SOFT), attempt \d+/\d+\)")


def wall_title(title: str) -> str:
    """An incident title without what the wall already shows elsewhere: the state type and
    attempt ("UPS B is CRITICAL (HARD, attempt 2/2): on battery" → "UPS B is CRITICAL: on
    battery"), so the value at the end fits instead of being cut."""
    return _RETRY_DETAIL.sub("", title)


def diff_sections(old: Sections | None, new: Sections) -> dict[str, Any]:
    """What a client holding ``old`` needs to reach ``new``.

    Per changed section: ``order`` (all keys, in order) and ``html`` (only new or changed
    fragments). Unchanged sections are left out; ``old=None`` gives everything (``full``).
    """
    if old is None:
        return {
            "full": True,
            "sections": {
                name: {"order": [k for k, _h in items], "html": dict(items)}
                for name, items in new.items()
            },
        }
    sections: dict[str, Any] = {}
    for name, items in new.items():
        before = dict(old.get(name, []))
        changed = {k: h for k, h in items if before.get(k) != h}
        order = [k for k, _h in items]
        if changed or order != [k for k, _h in old.get(name, [])]:
            sections[name] = {"order": order, "html": changed}
    for name in old:
        if name not in new:
            sections[name] = {"order": [], "html": {}}
    return {"full": False, "sections": sections}


def template_helpers() -> dict[str, Any]:
    """Globals of every template (the incident screens count SLA clocks like the wall)."""
    return {
        "duration": duration,
        "signed_duration": signed_duration,
        "timedelta_s": lambda seconds: timedelta(seconds=float(seconds)),
    }


def template_filters() -> dict[str, Any]:
    return {"wall_title": wall_title, "site_time": site_time, "wall_number": format_number}
