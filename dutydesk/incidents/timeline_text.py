"""Incident timeline events as sentences a duty engineer reads at a glance.

Pure and free of Flask: ``describe(kind, data)`` turns one stored event (its kind and its
``data`` map, see ``dutydesk.incidents.events``) into an :class:`EventText` — a :class:`Phrase`
(an English gettext id and its parameters, some of them phrases themselves: a line's name, a
duration), the Markdown body of a note, and whatever ``data`` holds that the sentence does not
tell (shown beside it as ``key: value``). ``Phrase.render(gettext)`` translates it with a
Flask-Babel style ``gettext(msgid, **variables)``; English without one.

Nothing here raises for odd input: an unknown kind, a missing or malformed value falls back to
the kind's name followed by its data, so a row written by a newer (or older) version still shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union
from urllib.parse import urlsplit

from dutydesk.incidents.events import (
    ACK_TIMEOUT_REASON,
    DEFAULT_POLICY_NAME,
    SNOOZE_ENDED_REASON,
    EventKind,
    policy_deleted_reason,
)


def N_(msgid: str) -> str:
    """Mark ``msgid`` for extraction (``pybabel extract -k N_``); translated when rendered."""
    return msgid


Param = Union[str, int, "Phrase", tuple["Param", ...]]
Gettext = Callable[..., str]


def _english(msgid: str, **variables: Any) -> str:
    return msgid % variables if variables else msgid


@dataclass(frozen=True, slots=True)
class Phrase:
    """An untranslated sentence: ``msgid`` with ``%(name)s`` placeholders filled from ``params``.

    A parameter is a string or number (shown as is: people's text, names, codes), a ``Phrase``
    (translated first) or a tuple of them (each rendered, joined with ", ").
    """

    msgid: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def render(self, gettext: Gettext = _english) -> str:
        """The sentence in the language of ``gettext`` (Flask-Babel's API: it translates the id
        and fills the variables; without variables it returns the translation untouched)."""
        if not self.params:
            return gettext(self.msgid)
        return gettext(self.msgid, **{k: _render(v, gettext) for k, v in self.params.items()})


def _render(value: Param, gettext: Gettext) -> str | int:
    if isinstance(value, Phrase):
        return value.render(gettext)
    if isinstance(value, tuple):
        return ", ".join(str(_render(item, gettext)) for item in value)
    return value


@dataclass(frozen=True, slots=True)
class EventText:
    """What the timeline shows for one event.

    ``summary`` is the sentence; ``markdown`` the body of a note (to be sanitised when shown);
    ``extras`` the (key, value) pairs of ``data`` the sentence does not tell, in stored order.
    """

    summary: Phrase
    markdown: str | None = None
    extras: tuple[tuple[str, str], ...] = ()


#: The name of each event kind: the fallback sentence, and the ``incident_event`` labels.
EVENT_NAMES: dict[str, str] = {
    EventKind.TRIGGERED: N_("Triggered"),
    EventKind.ALERT: N_("Alert received"),
    EventKind.ACKNOWLEDGED: N_("Acknowledged"),
    EventKind.UNACKNOWLEDGED: N_("Acknowledgement withdrawn"),
    EventKind.PENDING: N_("Set to pending"),
    EventKind.RESUMED: N_("Resumed"),
    EventKind.RESOLVED: N_("Resolved"),
    EventKind.REOPENED: N_("Reopened"),
    EventKind.REASSIGNED: N_("Reassigned"),
    EventKind.PRIORITY_CHANGED: N_("Priority changed"),
    EventKind.NOTE: N_("Note"),
    EventKind.ESCALATED: N_("Escalated"),
    EventKind.ESCALATION_NOTIFIED: N_("Escalation notified"),
    EventKind.ESCALATION_POLICY_CHANGED: N_("Escalation policy changed"),
    EventKind.NOTIFICATION_SENT: N_("Notification sent"),
    EventKind.NOTIFICATION_FAILED: N_("Notification failed"),
    EventKind.SLA_WARNING: N_("SLA warning"),
    EventKind.SLA_BREACHED: N_("SLA breached"),
    EventKind.FLAPPING: N_("Flapping"),
    EventKind.PERSON_UNREACHABLE: N_("Person unreachable"),
    EventKind.REPAGED: N_("Paged again"),
}
#: Duty lines (an incident's line) and the escalation targets that name a line or the lead.
LINE_NAMES: dict[str, str] = {
    "first_line": N_("First line"),
    "second_line": N_("Second line"),
    "shift_lead": N_("Shift lead"),
}
#: The SLA clocks (``sla_warning``/``sla_breached`` ``clock``).
SLA_CLOCK_NAMES: dict[str, str] = {
    "acknowledge": N_("time to acknowledge"),
    "resolve": N_("time to resolve"),
}
#: Who wrote an event when it was not a person (people are shown by their login).
SYSTEM_ACTORS: dict[str, Param] = {
    "escalation": Phrase(N_("Escalation")),
    "sla": Phrase(N_("SLA clocks")),
    "notify": Phrase(N_("Notifications")),
    "check": Phrase(N_("Checks")),
    "manual": Phrase(N_("Manual report")),
    "cli": Phrase(N_("Command line")),
    "demo": Phrase(N_("Demo")),
    "alertmanager": "Alertmanager",
    "pagerduty": "PagerDuty",
}
#: How a person acted from a page (``via`` on acknowledged/resolved/escalated events).
_VIA: dict[str, str] = {
    "link": N_("%(what)s (from the page's link)"),
    "mail": N_("%(what)s (by replying to the page)"),
}
_SENT: dict[str, str] = {
    "email": N_("Notification sent by email to %(target)s"),
    "webhook": N_("Notification sent by webhook to %(target)s"),
    "slack": N_("Notification sent to Slack at %(target)s"),
    "telegram": N_("Notification sent to Telegram chat %(target)s"),
}
_FAILED: dict[str, str] = {
    "email": N_("Notification by email to %(target)s failed"),
    "webhook": N_("Notification by webhook to %(target)s failed"),
    "slack": N_("Notification to Slack at %(target)s failed"),
    "telegram": N_("Notification to Telegram chat %(target)s failed"),
}


def describe(kind: str, data: Mapping[str, Any] | None) -> EventText:
    """The sentence for an event of ``kind`` with ``data``; never raises.

    An unknown kind reads "Event <kind>", a known kind whose data it cannot read reads as the
    kind's name; either way every non-empty value of ``data`` follows as an extra.
    """
    data = data if isinstance(data, Mapping) else {"data": data} if data is not None else {}
    kind = str(getattr(kind, "value", kind))
    tell = _TELLERS.get(kind)
    if tell is None:
        return EventText(Phrase(N_("Event %(kind)s"), {"kind": kind}), extras=_extras(data, ()))
    try:
        summary, used, markdown = tell(data)
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError):
        return EventText(Phrase(EVENT_NAMES[kind]), extras=_extras(data, ()))
    via = _VIA.get(str(data.get("via")))
    if via is not None and "via" not in used:  # a person acted from a page
        summary, used = Phrase(via, {"what": summary}), (*used, "via")
    return EventText(summary, markdown, _extras(data, used))


def describe_actor(actor: str) -> Param:
    """Who did it: a system actor by its name (translated), anybody else as stored."""
    return SYSTEM_ACTORS.get(actor, actor)


def line_name(value: Any) -> Param:
    """A duty line's name ("First line"); an unknown value as it is."""
    key = str(getattr(value, "value", value))
    return Phrase(LINE_NAMES[key]) if key in LINE_NAMES else key


def duration(seconds: int | float) -> Phrase:
    """"45 s", "7 min 30 s", "2 h 05 min", "1 d 3 h" (negative counts as zero)."""
    total = max(int(seconds), 0)
    if total < 60:
        return Phrase(N_("%(s)s s"), {"s": total})
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        if secs:
            return Phrase(N_("%(m)s min %(s)02d s"), {"m": minutes, "s": secs})
        return Phrase(N_("%(m)s min"), {"m": minutes})
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        if minutes:
            return Phrase(N_("%(h)s h %(m)02d min"), {"h": hours, "m": minutes})
        return Phrase(N_("%(h)s h"), {"h": hours})
    days, hours = divmod(hours, 24)
    if hours:
        return Phrase(N_("%(d)s d %(h)s h"), {"d": days, "h": hours})
    return Phrase(N_("%(d)s d"), {"d": days})


# --------------------------------------------------------------------------- one teller per kind

_Told = tuple[Phrase, tuple[str, ...], str | None]  # sentence, data keys it tells, note body


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value).strip()


def _with_reason(event: Phrase, reason: str) -> Phrase:
    if not reason:
        return event
    return Phrase(N_("%(event)s: %(reason)s"), {"event": event, "reason": reason})


def _plain(name: str, reason_key: str | None = None) -> Callable[[Mapping[str, Any]], _Told]:
    def tell(data: Mapping[str, Any]) -> _Told:
        reason = _text(data, reason_key) if reason_key else ""
        return _with_reason(Phrase(name), reason), (reason_key,) if reason_key else (), None

    return tell


def _triggered(data: Mapping[str, Any]) -> _Told:
    priority = _text(data, "priority")
    if not priority:
        raise ValueError("no priority")
    params: dict[str, Param] = {"priority": priority, "line": line_name(data["line"])}
    if assignee := _text(data, "assignee"):
        params["person"] = assignee
        msgid = N_("Opened: priority %(priority)s, %(line)s, assigned to %(person)s")
    else:
        msgid = N_("Opened: priority %(priority)s, %(line)s")
    return Phrase(msgid, params), ("priority", "line", "assignee"), None


def _alert(data: Mapping[str, Any]) -> _Told:
    status = _text(data, "status")
    still = tuple(str(s) for s in data.get("still_firing") or ())
    if status == "resolved" and still:
        summary = Phrase(N_("%(source)s reported recovery; still firing from %(others)s: the "
                            "incident stays open"),
                         {"source": _text(data, "source") or "?", "others": still})
        return summary, ("status", "dedup_key", "source", "still_firing"), None
    if status == "firing":
        summary = Phrase(N_("The alert came again: still firing"))
    elif status == "resolved":
        summary = Phrase(N_("The alert source reported recovery"))
    else:
        summary = Phrase(N_("The alert came again (%(status)s)"), {"status": status or "?"})
    return summary, ("status", "dedup_key"), None  # the key is the incident's own, shown above


def _unacknowledged(data: Mapping[str, Any]) -> _Told:
    reason = _text(data, "reason")
    if reason == ACK_TIMEOUT_REASON:
        return Phrase(N_("Acknowledgement timed out: triggered again")), ("reason",), None
    if reason == SNOOZE_ENDED_REASON:
        return Phrase(N_("Snooze ended: triggered again")), ("reason",), None
    return _with_reason(Phrase(EVENT_NAMES[EventKind.UNACKNOWLEDGED]), reason), ("reason",), None


def _resumed(data: Mapping[str, Any]) -> _Told:
    back = {
        "triggered": N_("Resumed: waiting for acknowledgement again"),
        "acknowledged": N_("Resumed: back to acknowledged"),
    }[_text(data, "status")]
    return Phrase(back), ("status",), None


def _party(line: Any, person: str) -> Param:
    return Phrase(N_("%(line)s (%(person)s)"), {"line": line_name(line), "person": person}) \
        if person else line_name(line)


def _reassigned(data: Mapping[str, Any]) -> _Told:
    params = {"from": _party(data["from_line"], _text(data, "from_assignee")),
              "to": _party(data["to_line"], _text(data, "to_assignee"))}
    msgid = (N_("Reassigned from %(from)s to %(to)s (hand-back)") if data.get("hand_back") is True
             else N_("Reassigned from %(from)s to %(to)s"))
    used = ("from_line", "to_line", "from_assignee", "to_assignee", "reason", "hand_back")
    return _with_reason(Phrase(msgid, params), _text(data, "reason")), used, None


def _priority_changed(data: Mapping[str, Any]) -> _Told:
    old, new = _text(data, "from"), _text(data, "to")
    if not old or not new:
        raise ValueError("priority missing")
    summary = Phrase(N_("Priority changed %(from)s → %(to)s"), {"from": old, "to": new})
    return _with_reason(summary, _text(data, "reason")), ("from", "to", "reason"), None


def _note(data: Mapping[str, Any]) -> _Told:
    text = data["text"]
    if not isinstance(text, str):
        raise TypeError("a note's text is a string")
    return Phrase(EVENT_NAMES[EventKind.NOTE]), ("text",), text


def _target(target: Any) -> Param:
    target = str(target)
    if target.startswith("user:"):
        return target.removeprefix("user:")
    return line_name(target)


def _escalation_notified(data: Mapping[str, Any]) -> _Told:
    targets = data["targets"]
    if isinstance(targets, str) or not targets:
        raise TypeError("targets is a non-empty list")
    params: dict[str, Param] = {"step": int(data["step"]) + 1,
                                "targets": tuple(_target(t) for t in targets)}
    msgid = N_("Escalation step %(step)s notified: %(targets)s")
    if int(data.get("round") or 0) > 0:
        params["round"] = int(data["round"]) + 1
        msgid = N_("Escalation step %(step)s, round %(round)s, notified: %(targets)s")
    return Phrase(msgid, params), ("cycle", "position", "step", "round", "targets"), None


def _policy(data: Mapping[str, Any], side: str) -> Param:
    name = _text(data, side)
    if data.get(f"{side}_id") is None and name in ("", DEFAULT_POLICY_NAME):
        return Phrase(N_("default policy"))
    return name


def _policy_changed(data: Mapping[str, Any]) -> _Told:
    used = ("from", "to", "from_id", "to_id", "reason")
    old, new, reason = _policy(data, "from"), _policy(data, "to"), _text(data, "reason")
    if (data.get("from_id") is not None and data.get("to_id") is None
            and reason == policy_deleted_reason(_text(data, "from"))):
        msgid = N_("Escalation policy %(name)s was deleted; the incident follows the default "
                   "policy")
        return Phrase(msgid, {"name": old}), used, None
    summary = Phrase(N_("Escalation policy changed: %(from)s → %(to)s"), {"from": old, "to": new})
    return _with_reason(summary, reason), used, None


def _where(channel: str, target: str) -> str:
    """Where a notification went; for a URL only its host (the path may hold a secret token)."""
    if channel in ("webhook", "slack") or target.startswith(("http://", "https://")):
        host = urlsplit(target).netloc.rpartition("@")[2]
        return host or target
    return target


def _notification(sent: bool) -> Callable[[Mapping[str, Any]], _Told]:
    def tell(data: Mapping[str, Any]) -> _Told:
        channel, target = _text(data, "channel"), _text(data, "target")
        params: dict[str, Param] = {"target": _where(channel, target) or "?"}
        msgid = (_SENT if sent else _FAILED).get(channel)
        if msgid is None:
            params["channel"] = channel or "?"
            msgid = (N_("Notification sent via %(channel)s to %(target)s") if sent
                     else N_("Notification via %(channel)s to %(target)s failed"))
        summary = Phrase(msgid, params)
        attempt = int(data.get("attempt") or 1)
        if attempt > 1:
            summary = Phrase(N_("%(event)s (attempt %(attempt)s)"),
                             {"event": summary, "attempt": attempt})
        if not sent:  # why it failed; a success's transport reply stays in the delivery log
            summary = _with_reason(summary, _text(data, "detail"))
        return summary, ("channel", "target", "attempt", "detail"), None

    return tell


def _sla(breached: bool) -> Callable[[Mapping[str, Any]], _Told]:
    def tell(data: Mapping[str, Any]) -> _Told:
        elapsed, target = int(data["elapsed_s"]), int(data["target_s"])
        if target <= 0:
            raise ValueError("an SLA target is positive")
        clock = _text(data, "clock")
        params: dict[str, Param] = {
            "clock": Phrase(SLA_CLOCK_NAMES[clock]) if clock in SLA_CLOCK_NAMES else clock or "?",
            "percent": max(elapsed, 0) * 100 // target,
            "elapsed": duration(elapsed),
            "target": duration(target),
        }
        msgid = (N_("SLA breached: %(clock)s at %(percent)s %% (%(elapsed)s of %(target)s)")
                 if breached else
                 N_("SLA warning: %(clock)s at %(percent)s %% (%(elapsed)s of %(target)s)"))
        # The priority is the one the clock was measured against; the page shows the current one.
        return Phrase(msgid, params), ("clock", "elapsed_s", "target_s", "priority"), None

    return tell


def _reopened(data: Mapping[str, Any]) -> _Told:
    if data.get("returned_after_s") is None:
        return _plain(EVENT_NAMES[EventKind.REOPENED], "reason")(data)
    after = duration(float(data["returned_after_s"]))
    summary = Phrase(N_("Problem returned after %(after)s"), {"after": after})
    return summary, ("returned_after_s", "reason"), None


def _flapping(data: Mapping[str, Any]) -> _Told:
    state, status = _text(data, "state"), _text(data, "status") or "?"
    if state == "started":
        return Phrase(N_("The check started flapping; pages are held until it settles")), (
            "state", "status"), None
    if state == "stopped":
        return Phrase(N_("The check stopped flapping; it is now %(status)s"),
                      {"status": status}), ("state", "status"), None
    raise ValueError("unknown flapping state")


def _person_unreachable(data: Mapping[str, Any]) -> _Told:
    person = _text(data, "person")
    if not person:
        raise ValueError("no person")
    summary = Phrase(N_("%(person)s has no working contact method: skipped, the next step is "
                        "paged"), {"person": person})
    return summary, ("person", "targets"), None


def _acknowledged(data: Mapping[str, Any]) -> _Told:
    minutes = data.get("snooze_minutes")
    if minutes is None:
        return Phrase(EVENT_NAMES[EventKind.ACKNOWLEDGED]), (), None
    return (Phrase(N_("Snoozed for %(m)s min (acknowledged until then)"), {"m": int(minutes)}),
            ("snooze_minutes",), None)


def _repaged(data: Mapping[str, Any]) -> _Told:
    people = data.get("people") or []
    summary = Phrase(N_("Still not acknowledged: paged again (%(n)s), %(people)s"),
                     {"n": int(data.get("count") or 1),
                      "people": ", ".join(str(p) for p in people) or "-"})
    return summary, ("people", "count"), None


_TELLERS: dict[str, Callable[[Mapping[str, Any]], _Told]] = {
    EventKind.TRIGGERED: _triggered,
    EventKind.ALERT: _alert,
    EventKind.ACKNOWLEDGED: _acknowledged,
    EventKind.UNACKNOWLEDGED: _unacknowledged,
    EventKind.PENDING: _plain(EVENT_NAMES[EventKind.PENDING], "reason"),
    EventKind.RESUMED: _resumed,
    EventKind.RESOLVED: _plain(EVENT_NAMES[EventKind.RESOLVED], "note"),
    EventKind.REOPENED: _reopened,
    EventKind.REASSIGNED: _reassigned,
    EventKind.PRIORITY_CHANGED: _priority_changed,
    EventKind.NOTE: _note,
    EventKind.ESCALATED: _plain(N_("Escalation requested"), "reason"),
    EventKind.ESCALATION_NOTIFIED: _escalation_notified,
    EventKind.ESCALATION_POLICY_CHANGED: _policy_changed,
    EventKind.NOTIFICATION_SENT: _notification(sent=True),
    EventKind.NOTIFICATION_FAILED: _notification(sent=False),
    EventKind.SLA_WARNING: _sla(breached=False),
    EventKind.SLA_BREACHED: _sla(breached=True),
    EventKind.FLAPPING: _flapping,
    EventKind.PERSON_UNREACHABLE: _person_unreachable,
    EventKind.REPAGED: _repaged,
}


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def _extras(data: Mapping[str, Any], used: tuple[str | None, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((str(key), _show(value)) for key, value in data.items()
                 if key not in used and value not in ("", None, [], {}))
