"""Who is told about an incident: a pure decision with one seam for the on-duty schedule.

``route(...)`` turns an escalation target ("first_line", "second_line", "shift_lead" or
"user:<login>") into people (logins = email addresses). Today no schedule is stored, so callers
pass ``on_duty=None`` and the configured fallback group is used ("all active engineers" when the
setting is empty). When stored schedules land, the caller computes
``on_duty = {"first_line": [...], "second_line": [...]}`` with ``shifts.oncall.on_duty(schedule,
at)`` and passes it in; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dutydesk.incidents.escalation import USER_PREFIX


@dataclass(frozen=True, slots=True)
class Route:
    """The people to notify for one target and why (shown on the timeline)."""

    target: str
    people: tuple[str, ...]
    reason: str


def parse_fallback_group(text: str) -> tuple[str, ...]:
    """``"a@dc.example, b@dc.example"`` → the logins, lower-cased, blanks dropped, order kept."""
    seen: list[str] = []
    for part in (text or "").replace(";", ",").split(","):
        login = part.strip().lower()
        if login and login not in seen:
            seen.append(login)
    return tuple(seen)


def route(
    target: str,
    *,
    on_duty: Mapping[str, Sequence[str]] | None,
    fallback_group: Sequence[str],
    active_engineers: Sequence[str],
    shift_leads: Sequence[str] = (),
) -> Route:
    """Resolve one escalation target to people.

    Order: an explicit ``user:<login>``; the on-duty lookup for the line when it names anybody;
    for ``shift_lead`` the active shift leads; then the fallback group; then every active
    engineer (so an incident is never routed to nobody while somebody could take it).
    """
    if target.startswith(USER_PREFIX):
        login = target[len(USER_PREFIX) :].strip().lower()
        return Route(target, (login,), "named in the escalation policy")
    if on_duty is not None and on_duty.get(target):
        return Route(target, tuple(on_duty[target]), f"on duty as {target}")
    if target == "shift_lead" and shift_leads:
        return Route(target, tuple(shift_leads), "active shift leads")
    if fallback_group:
        return Route(target, tuple(fallback_group), "fallback group (no on-duty schedule)")
    return Route(target, tuple(active_engineers), "all active engineers (no fallback group set)")
