"""The Atom feed a subscriber's reader polls: well-formed, stable ids, escaped content."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shifts.notices.atom import FeedInfo, atom_feed, entry_id
from shifts.notices.model import (
    AffectedService,
    MaintenanceWindow,
    Notice,
    NoticeError,
    NoticeKind,
    Service,
    ServiceStatus,
    add_update,
    publish,
)

A = "{http://www.w3.org/2005/Atom}"
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
FEED = FeedInfo("Office IT status", "https://intranet.example/status",
                "https://intranet.example/status/feed.atom", "intranet.example", "2024-01-01")
SERVICES = [Service("mail", "Mail"), Service("1c", "1C")]


def incident(nid="n1", title="Mail is down", bodies=("We are looking into it.",), published=True):
    n = Notice(nid, title, NoticeKind.INCIDENT, affected=(AffectedService("mail"),))
    statuses = ["investigating", "identified", "monitoring", "resolved"]
    for i, body in enumerate(bodies):
        n = add_update(n, statuses[i], body, "olena", T0 + timedelta(minutes=10 * i))
    return publish(n, T0) if published else n


def parse(xml: str) -> ET.Element:
    return ET.fromstring(xml.encode("utf-8"))


def entries(root):
    return root.findall(f"{A}entry")


def test_feed_is_well_formed_atom_with_required_elements():
    xml = atom_feed(FEED, [incident(bodies=("one", "two"))], T0, services=SERVICES)
    assert xml.startswith('<?xml version="1.0" encoding="utf-8"?>')
    root = parse(xml)
    assert root.tag == f"{A}feed"
    for name in ("id", "title", "updated"):
        assert root.find(f"{A}{name}").text
    assert root.find(f"{A}author/{A}name").text == "DutyDesk"
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{A}link")}
    assert links == {"self": FEED.feed_url, "alternate": FEED.site_url}
    for entry in entries(root):
        for name in ("id", "title", "updated", "content"):
            assert entry.find(f"{A}{name}") is not None, name
        assert entry.find(f"{A}content").get("type") == "html"
        assert entry.find(f"{A}link").get("href") == "https://intranet.example/status/notices/n1"


def test_one_entry_per_update_newest_first_and_feed_updated_is_the_newest():
    root = parse(atom_feed(FEED, [incident(bodies=("one", "two", "three"))], T0 + timedelta(1)))
    titles = [e.find(f"{A}title").text for e in entries(root)]
    assert titles == ["Mail is down: Monitoring", "Mail is down: Identified",
                      "Mail is down: Investigating"]
    assert root.find(f"{A}updated").text == "2024-03-01T09:20:00Z"
    assert entries(root)[0].find(f"{A}updated").text == "2024-03-01T09:20:00Z"


def test_entry_ids_are_tag_uris_that_survive_new_updates_and_rebuilds():
    first = incident(bodies=("one",))
    second = add_update(first, "identified", "two", "olena", T0 + timedelta(hours=1))
    ids_before = [e.find(f"{A}id").text for e in entries(parse(atom_feed(FEED, [first], T0)))]
    ids_after = [e.find(f"{A}id").text for e in entries(parse(atom_feed(FEED, [second], T0)))]
    assert ids_before == ["tag:intranet.example,2024-01-01:notice/n1/update/n1-1"]
    assert ids_after[1:] == ids_before
    assert ids_after[0] == entry_id(FEED, second, second.updates[-1])
    # Rebuilding at another moment yields identical bytes (ETags stay valid).
    assert atom_feed(FEED, [second], T0) == atom_feed(FEED, [second], T0 + timedelta(days=3))


@pytest.mark.parametrize(
    ("title", "body", "title_back", "absent"),
    [
        pytest.param("Mail <down> & out", "ok", "Mail <down> & out: Investigating", [],
                     id="markup-in-title"),
        pytest.param("Mail", 'fine <script>alert("x")</script> & <b onclick="x">bold</b>',
                     "Mail: Investigating", ["<script", "onclick"], id="script-in-body"),
        pytest.param("Mail\x00\x0b", "bell \x07 and form feed \x0c", "Mail: Investigating",
                     ["\x07", "\x0c"], id="control-characters"),
        pytest.param("]]> Mail", "]]> and <![CDATA[", "]]> Mail: Investigating", [],
                     id="cdata-lookalikes"),
    ],
)
def test_hostile_text_is_escaped_and_the_feed_stays_well_formed(title, body, title_back, absent):
    xml = atom_feed(FEED, [incident(title=title, bodies=(body,))], T0)
    entry = entries(parse(xml))[0]
    assert entry.find(f"{A}title").text == title_back
    content = entry.find(f"{A}content").text
    for fragment in absent:
        assert fragment not in content


def test_content_is_the_rendered_update_with_affected_services():
    xml = atom_feed(FEED, [incident(bodies=("Mail is **down** in hall A.",))], T0,
                    services=SERVICES)
    content = entries(parse(xml))[0].find(f"{A}content").text
    assert "<strong>down</strong>" in content
    assert "<p>Affected: Mail</p>" in content


def test_maintenance_entries_show_the_window_in_local_time():
    start = datetime(2024, 3, 2, 20, 0, tzinfo=UTC)
    n = Notice("m1", "1C upgrade", NoticeKind.MAINTENANCE,
               affected=(AffectedService("1c", ServiceStatus.UNDER_MAINTENANCE),),
               window=MaintenanceWindow(start, start + timedelta(hours=2)))
    n = publish(add_update(n, "scheduled", "Upgrade.", "olena", T0), T0)
    xml = atom_feed(FEED, [n], T0, services=SERVICES, tz=ZoneInfo("Europe/Kyiv"))
    entry = entries(parse(xml))[0]
    assert entry.find(f"{A}title").text == "1C upgrade: Scheduled"
    assert entry.find(f"{A}category").get("term") == "maintenance"
    assert "Scheduled from 2024-03-02 22:00 EET to 2024-03-03 00:00 EET" in \
        entry.find(f"{A}content").text


def test_drafts_are_not_in_the_feed_and_an_empty_feed_is_still_valid():
    root = parse(atom_feed(FEED, [incident(published=False)], T0))
    assert entries(root) == []
    assert root.find(f"{A}updated").text == "2024-03-01T09:00:00Z"


def test_feed_keeps_only_the_newest_entries():
    notices = [incident(nid=f"n{i}", bodies=("x", "y")) for i in range(3)]
    root = parse(atom_feed(FEED, notices, T0, limit=4))
    assert len(entries(root)) == 4


def test_titles_translate_through_gettext():
    ru = {"Investigating": "Выясняем причину"}
    xml = atom_feed(FEED, [incident(title="Почта")], T0, gettext=lambda s: ru.get(s, s))
    assert entries(parse(xml))[0].find(f"{A}title").text == "Почта: Выясняем причину"


@pytest.mark.parametrize(
    ("authority", "date", "words"),
    [
        pytest.param("intranet example", "2024-01-01", "tag_authority", id="space-in-authority"),
        pytest.param("", "2024-01-01", "tag_authority", id="empty-authority"),
        pytest.param("intranet.example", "01.01.2024", "tag_date", id="bad-date"),
    ],
)
def test_bad_tag_settings_are_refused(authority, date, words):
    with pytest.raises(NoticeError, match=words):
        FeedInfo("t", "https://x", "https://x/feed", authority, date)
