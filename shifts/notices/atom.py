"""Atom 1.0 feed (RFC 4287) of published notices, one entry per update.

One entry per *update* (not per notice) because each update is news for a subscriber: feed
readers show new entries, but rarely re-show an entry whose ``updated`` changed. Entry ids are
tag: URIs (RFC 4151) built from a fixed authority and date, the notice id and the update id, so
they never change when the feed is rebuilt. Entries carry no person's name: the feed may be
public, so the author is the feed's (the page), not the engineer who wrote the update.

The XML is built with :mod:`xml.etree.ElementTree`, which escapes text; characters that XML
1.0 forbids (control characters other than tab/newline/CR) are removed first, so the feed is
always well-formed whatever an update contains.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from urllib.parse import quote

from .model import (
    Notice,
    NoticeError,
    NoticeKind,
    NoticeUpdate,
    Service,
    UpdateStatus,
    render_markdown,
)
from .status import N_

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_LIMIT = 50

STATUS_LABELS = {
    UpdateStatus.INVESTIGATING: N_("Investigating"),
    UpdateStatus.IDENTIFIED: N_("Identified"),
    UpdateStatus.MONITORING: N_("Monitoring"),
    UpdateStatus.RESOLVED: N_("Resolved"),
    UpdateStatus.SCHEDULED: N_("Scheduled"),
    UpdateStatus.IN_PROGRESS: N_("In progress"),
    UpdateStatus.VERIFYING: N_("Verifying"),
    UpdateStatus.COMPLETED: N_("Completed"),
}
AFFECTED = N_("Affected: %(services)s")
WINDOW = N_("Scheduled from %(start)s to %(end)s")

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TAG_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_TAG_AUTHORITY = re.compile(r"^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|[^@\s,:]+@[A-Za-z0-9.-]+)$")


def xml_text(value: str) -> str:
    """``value`` without the characters XML 1.0 cannot carry (escaping is etree's job)."""
    return _XML_ILLEGAL.sub("", value)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """Feed-level facts. ``tag_authority`` (a domain you own, e.g. ``status.example.org``) and
    ``tag_date`` (e.g. ``2024-01-01``) must never change once subscribers exist, or every entry
    looks new to them."""

    title: str
    site_url: str
    feed_url: str
    tag_authority: str
    tag_date: str
    author: str = "DutyDesk"

    def __post_init__(self) -> None:
        if not _TAG_AUTHORITY.match(self.tag_authority):
            raise NoticeError(
                "tag_authority must be a domain name or an email address, "
                f"got {self.tag_authority!r}"
            )
        if not _TAG_DATE.match(self.tag_date):
            raise NoticeError(f"tag_date must look like 2024-01-01, got {self.tag_date!r}")

    def tag(self, specific: str) -> str:
        return f"tag:{self.tag_authority},{self.tag_date}:{specific}"


def entry_id(feed: FeedInfo, notice: Notice, update: NoticeUpdate) -> str:
    """The stable id of one update's entry."""
    return feed.tag(f"notice/{quote(notice.id, safe='')}/update/{quote(update.id, safe='')}")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        el.text = xml_text(text)
    return el


def _content_html(notice: Notice, update: NoticeUpdate, names: dict[str, str], tz: tzinfo,
                  gettext: Callable[[str], str]) -> str:
    parts = [render_markdown(update.body)]
    affected = [names.get(a.service_id, a.service_id) for a in notice.affected]
    if affected:
        # Plain text, not Markdown: a service called "*VPN*" must stay literally that.
        line = gettext(AFFECTED) % {"services": ", ".join(affected)}
        parts.append(f"<p>{html.escape(line)}</p>")
    if notice.kind is NoticeKind.MAINTENANCE and notice.window is not None:
        start = notice.window.scheduled_for.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
        end = notice.window.scheduled_until.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
        parts.append(f"<p>{html.escape(gettext(WINDOW) % {'start': start, 'end': end})}</p>")
    return "\n".join(parts)


def atom_feed(
    feed: FeedInfo,
    notices: Iterable[Notice],
    now: datetime,
    *,
    services: Sequence[Service] = (),
    tz: tzinfo = UTC,
    gettext: Callable[[str], str] = lambda s: s,
    limit: int = FEED_LIMIT,
) -> str:
    """The feed document (a ``str`` starting with the XML declaration).

    Entries: the ``limit`` newest updates of published notices, newest first. The feed's
    ``updated`` is the newest entry's time (``now`` only when there is no entry), so rebuilding
    an unchanged feed gives identical bytes. ``services`` give names for "Affected: …";
    maintenance windows are shown in ``tz``.
    """
    names = {s.id: s.name for s in services}
    items = [(u, n) for n in notices if n.is_published for u in n.updates]
    items.sort(key=lambda item: (item[0].created_at, item[0].id), reverse=True)
    items = items[:limit]

    root = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(root, "id", feed.tag("feed"))
    _sub(root, "title", feed.title)
    _sub(root, "updated", rfc3339(items[0][0].created_at if items else now))
    _sub(root, "link", rel="self", type="application/atom+xml", href=feed.feed_url)
    _sub(root, "link", rel="alternate", type="text/html", href=feed.site_url)
    author = _sub(root, "author")
    _sub(author, "name", feed.author)
    _sub(root, "generator", "DutyDesk")

    for update, notice in items:
        entry = _sub(root, "entry")
        _sub(entry, "id", entry_id(feed, notice, update))
        label = gettext(STATUS_LABELS[update.status])
        _sub(entry, "title", f"{notice.title}: {label}")
        _sub(entry, "updated", rfc3339(update.created_at))
        _sub(entry, "published", rfc3339(update.created_at))
        link = notice.shortlink or f"{feed.site_url.rstrip('/')}/notices/{quote(notice.id)}"
        _sub(entry, "link", rel="alternate", type="text/html", href=link)
        _sub(entry, "category", term=notice.kind.value)
        _sub(entry, "content", _content_html(notice, update, names, tz, gettext), type="html")

    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
