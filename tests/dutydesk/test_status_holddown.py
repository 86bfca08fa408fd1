"""The employees' status page for a flapping VPN: the headline changes at most twice in half an
hour (hold-down), the uptime bars still show the real outages. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from checks.models import Check, CheckStateRow, FlipRow
from dutydesk.core.db import Database
from shifts.notices import service as svc
from shifts.notices.page import build_page, load_page

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def test_a_vpn_flapping_every_45_s_changes_the_headline_at_most_twice(db: Database) -> None:
    with db.session() as s:
        check = Check(slug="vpn-gw", type="tcp", spec={})
        s.add(check)
        s.flush()
        check_id = check.id
        s.add(CheckStateRow(check_id=check_id, state={"status": "OK", "state_type": "HARD",
                                                      "last_hard_status": "OK"}, status="OK"))
        svc.save_service(s, "admin", slug="vpn", name="VPN", mode="auto", check_ids=["vpn-gw"],
                         now=T0 - timedelta(days=2))
    headlines: list[str] = []
    bars_down = False
    status = "OK"
    for n in range(40 * 3):  # 40 flips × 45 s = 30 min, looked at every 15 s
        now = T0 + timedelta(seconds=15 * n)
        if n % 3 == 0 and n:
            old, status = status, ("CRITICAL" if status == "OK" else "OK")
            flapping = n >= 6 * 3  # the engine detects flapping after six changes
            with db.session() as s:
                row = s.get(CheckStateRow, check_id)
                row.state = {**row.state, "status": status, "last_hard_status": status,
                             "last_hard_change": now.isoformat(), "flapping": flapping}
                row.status = status
                if not flapping:  # while flapping the engine holds its alert flips
                    s.add(FlipRow(check_id=check_id, old_status=old, new_status=status,
                                  kind="problem" if status == "CRITICAL" else "recovery",
                                  reason="test", at=now))
        with db.session() as s:
            data = load_page(s, now)
        page = build_page(data.groups, data.services, data.notices, now, UTC,
                          check_states=data.check_states, check_flips=data.check_flips)
        text = page.headline.render()
        if not headlines or headlines[-1] != text:
            headlines.append(text)
        bars_down = bars_down or any(
            day.major_seconds > 0 for ln in page.groups[0].lines for day in ln.uptime.days)
    assert len(headlines) - 1 <= 2, headlines
    assert bars_down  # the real outages are still in the uptime bars
