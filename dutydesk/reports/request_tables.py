"""The request report as tables of text: the page shows them, the CSV files carry the same cells.

As ``tables``: numbers with a dot and fixed decimals (minutes 1, percentages 1), an empty cell
is "no data". ``gettext`` translates headers and words (English by default).
"""

from __future__ import annotations

from dutydesk.reports.request_figures import OTHER, RequestReport
from dutydesk.reports.tables import Gettext, Table, _identity, count, minutes, one, share

#: Table names in page order; ``/reports/requests/<name>.csv`` serves each.
REQUEST_TABLES = ("overview", "channels", "days", "hours", "sla", "breaches", "times",
                  "ping_pong", "reopened", "comments", "categories", "groups")


def request_tables(report: RequestReport, gettext: Gettext = _identity) -> dict[str, Table]:
    """Every table of the request report by name (``REQUEST_TABLES`` order)."""
    _ = gettext
    every = _("All priorities")
    other = _("Other (outside the catalog)")
    channel_names = {"web": _("Web form"), "email": _("Email"), "phone": _("Phone"),
                     "walk_in": _("Walk-in"), "client_api": _("Client API")}
    line_names = {"first_line": _("First line"), "second_line": _("Second line")}
    clock_names = {"first_response": _("first response"), "resolve": _("resolve")}
    rating_names = {"good": _("Good"), "bad": _("Bad")}
    t: dict[str, Table] = {}
    r = report
    fc, sat, dfl, ln, ro = (r.first_contact, r.satisfaction, r.deflection, r.lines,
                            r.reopened)
    t["overview"] = Table("overview", (_("Figure"), _("Value")), (
        (_("Requests received"), count(r.received.total)),
        (_("Resolved"), count(fc.resolved)),
        (_("Resolved at first contact"), count(fc.first_contact)),
        (_("First-contact resolution %"), one(fc.percent)),
        (_("Reopened requests"), count(ro.reopened)),
        (_("Reopened %"), one(ro.percent)),
        (_("Requests handed to the second line"), count(ln.escalated)),
        (_("Requests with ping-pong"), count(ln.with_ping_pong)),
        (_("Hand-backs (ping-pong)"), count(ln.hand_backs)),
        (_("Rated"), count(sat.rated)),
        (_("Rated good"), count(sat.good)),
        (_("Rated bad"), count(sat.bad)),
        (_("Good %"), one(sat.percent_good)),
        (_("Resolved requests rated %"), one(sat.percent_rated)),
        (_("\"Me too\" instead of a request"), count(dfl.me_too)),
        (_("Outage deflection %"), one(dfl.outage_percent)),
        (_("Requests linked to incidents"), count(dfl.linked)),
        (_("Incidents they are linked to"), count(dfl.incidents)),
        (_("Solved by a suggested article"), count(dfl.knowledge_base)),
        (_("Knowledge-base deflection %"), one(dfl.knowledge_base_percent)),
    ))
    total = r.received.total
    t["channels"] = Table("channels", (_("Channel"), _("Requests"), _("Share %")), tuple(
        (channel_names.get(c, c), count(n), share(n, total)) for c, n in r.received.by_channel))
    t["days"] = Table("days", (_("Day"), _("Requests")), tuple(
        (d.isoformat(), count(n)) for d, n in r.received.by_day))
    t["hours"] = Table("hours", (_("Hour"), _("Requests"), _("Share %")), tuple(
        (f"{h:02d}:00", count(n), share(n, total)) for h, n in enumerate(r.received.by_hour)))
    t["sla"] = Table("sla", (
        _("Priority"), _("Requests"), _("Answered in time"), _("First response breached"),
        _("First response open"), _("First response met %"), _("Resolved in time"),
        _("Resolve breached"), _("Resolve open"), _("Resolve met %"),
    ), tuple(
        (row.priority or every, count(row.requests), count(row.response.met),
         count(row.response.breached), count(row.response.open),
         one(row.response.percent_met), count(row.resolve.met), count(row.resolve.breached),
         count(row.resolve.open), one(row.resolve.percent_met))
        for row in r.sla.rows))
    t["breaches"] = Table("breaches", (
        _("Request"), _("Subject"), _("Priority"), _("Service"), _("SLA clock"),
        _("SLA time, min"), _("Target, min"), _("Over by, min"),
    ), tuple(
        (f"REQ-{b.request_id}", b.subject, b.priority, b.service, clock_names[b.clock],
         minutes(b.elapsed_s), minutes(b.target_s), minutes(b.over_s))
        for b in r.sla.breaches), link_column=0)
    t["times"] = Table("times", (
        _("Priority"), _("Requests"), _("Answered"), _("Response median, min"),
        _("Response p90, min"), _("Resolved"), _("Resolution median, min"),
        _("Resolution p90, min"),
    ), tuple(
        (row.priority or every, count(row.requests), count(row.response.count),
         minutes(row.response.median_s), minutes(row.response.p90_s),
         count(row.resolution.count), minutes(row.resolution.median_s),
         minutes(row.resolution.p90_s))
        for row in r.times))
    t["ping_pong"] = Table("ping_pong", (
        _("Request"), _("Subject"), _("Priority"), _("Service"), _("Hand-backs"),
    ), tuple((f"REQ-{p.request_id}", p.subject, p.priority, p.service, count(p.hand_backs))
             for p in ln.top), link_column=0)
    t["reopened"] = Table("reopened", (_("Request"), _("Subject"), _("Times reopened")), tuple(
        (f"REQ-{i}", subject, count(n)) for i, subject, n in ro.requests), link_column=0)
    t["comments"] = Table("comments", (
        _("Request"), _("Subject"), _("Rating"), _("Comment"), _("Rated at"),
    ), tuple(
        (f"REQ-{c.request_id}", c.subject, rating_names.get(c.rating, c.rating), c.comment,
         r.period.local(c.rated_at).strftime("%Y-%m-%d %H:%M"))
        for c in sat.comments), link_column=0)
    t["categories"] = Table("categories", (_("Category"), _("Requests"), _("Share %")), tuple(
        (other if name is OTHER else name, count(n), share(n, total))
        for name, n in r.categories))
    group_names = {"service": _("Service"), "category": _("Category"), "channel": _("Channel"),
                   "line": _("Line"), "engineer": _("Engineer")}
    nobody = other if r.filters.group == "category" else _("(nobody)")

    def key(value: str | None) -> str:
        if value is None:
            return nobody
        if r.filters.group == "channel":
            return channel_names.get(value, value)
        if r.filters.group == "line":
            return line_names.get(value, value)
        return value

    t["groups"] = Table("groups", (
        group_names[r.filters.group], _("Requests"), _("Resolved"),
        _("First-contact resolution %"), _("First response met %"), _("Resolve met %"),
        _("Resolution median, min"), _("Resolution p90, min"), _("Reopened"),
        _("Hand-backs"), _("Rated"), _("Good %"),
    ), tuple(
        (key(g.key), count(g.received), count(g.resolved), share(g.first_contact, g.resolved),
         one(g.response.percent_met), one(g.resolve.percent_met),
         minutes(g.resolution.median_s), minutes(g.resolution.p90_s), count(g.reopened),
         count(g.hand_backs), count(g.rated), share(g.good, g.rated))
        for g in r.groups))
    return t
