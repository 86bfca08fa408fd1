"""A big site for the wall's screen tests: the demo's people, rotas and visitor, plus 5,000 checks
in 60 groups (some critical, some warning, some in maintenance) and 200 open incidents of which
some have breached their SLA. Rows are bulk-inserted (one statement per table)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.models import WorkerHeartbeat

HALLS = ["Hall A", "Hall B", "Hall C", "Hall D", "Hall E", "Core"]
SYSTEMS = ["UPS", "PDU", "Sensors", "Cooling", "Switches", "Racks", "Fire", "Doors", "BMS", "Power"]


def seed_demo_people(db: Database, settings: Settings) -> None:
    """The demo's people, rotas, status page and visitor on site (checks stay as seeded)."""
    from dutydesk.demo.seed import DemoCredentials, seed_demo
    from dutydesk.demo.targets import HttpService, start_targets

    targets = start_targets(
        [HttpService(n) for n in ("mail", "1c", "fileshare", "vpn", "intranet", "bms")],
        ["smtp-relay"],
    )
    try:
        seed_demo(db, settings, targets, DemoCredentials("a" * 12, "l" * 12, "e" * 12))
    finally:
        targets.stop()


def demo_states(db: Database, now: datetime | None = None) -> None:
    """The demo as an engine would have left it a few minutes in: UPS B on battery, hall B warm,
    everything else OK, a fresh heartbeat; one P1 incident for UPS B."""
    from checks.models import Check, CheckStateRow

    now = now or utcnow()
    messages = {
        "ups-b": ("CRITICAL", "UPS B: on battery, 12 min runtime left, load 41 %"),
        "temp-hall-b": ("WARNING", "Hall B cold aisle 27.4 C (warn at 27)"),
    }
    with db.session() as s:
        rows = []
        for check_id, slug in s.execute(select(Check.id, Check.slug)):
            status, message = messages.get(slug, ("OK", f"{slug}: OK"))
            rows.append(_state(check_id, status, message, now))
        s.execute(delete(CheckStateRow))  # the seed's "never checked" rows
        s.execute(insert(CheckStateRow), rows)
        s.add(WorkerHeartbeat(name="worker-demo", beat_at=now, pid=1))
        ups = s.scalar(select(Check.id).where(Check.slug == "ups-b"))
    _incidents(
        db,
        [("UPS B is CRITICAL (HARD, attempt 2/2): on battery, 12 min runtime left", "P1", 7, ups)],
        now,
    )


def seed_big_site(db: Database, checks: int = 5000, incidents: int = 200) -> None:
    """``checks`` checks in 60 groups and ``incidents`` open incidents, on top of what exists."""
    from checks.models import Check, CheckGroup, CheckStateRow

    now = utcnow()
    with db.session() as s:
        existing = {g.path: g for g in s.scalars(select(CheckGroup))}
        groups = []
        for hall in HALLS:
            for system in SYSTEMS:
                path = f"{hall} / {system}"
                group = existing.get(path) or CheckGroup(name=system, path=path)
                s.add(group)
                groups.append(group)
        s.flush()
        group_ids = [g.id for g in groups]
        s.execute(
            insert(Check),
            [
                {
                    "slug": f"chk-{n:05d}",
                    "display_name": f"{SYSTEMS[n % len(SYSTEMS)].lower()}-{n:05d}",
                    "type": "tcp",
                    "group_id": group_ids[n % len(group_ids)],
                    "spec": {},
                }
                for n in range(checks)
            ],
        )
        ids = list(s.scalars(select(Check.id).where(Check.slug.like("chk-%")).order_by(Check.id)))
        rows = []
        for n, check_id in enumerate(ids):
            if n % 97 == 0:
                status, message = "CRITICAL", f"connection refused on port {8000 + n % 100}"
            elif n % 41 == 0:
                status, message = "WARNING", f"latency {200 + n % 300} ms (warn at 200 ms)"
            elif n % 211 == 0:
                status, message = "UNKNOWN", "SNMP timeout"
            else:
                status, message = "OK", "OK"
            row = _state(check_id, status, message, now)
            row["in_maintenance"] = n % 53 == 0
            rows.append(row)
        s.execute(insert(CheckStateRow), rows)
        if s.scalar(select(WorkerHeartbeat.name).limit(1)) is None:
            s.add(WorkerHeartbeat(name="worker-big", beat_at=now, pid=1))
    specs = []
    for n in range(incidents):
        priority = ("P1", "P2", "P3", "P4")[n % 4 if n % 5 else 0]
        opened = 3 + (n * 7) % 900  # minutes ago: some well past their targets
        rack = f"{chr(65 + n % 6)}{n % 40:02d}"
        title = f"Rack {rack}: power feed {n % 2 + 1} lost, load 4.{n % 10} kW"
        specs.append((title, priority, opened, ids[n] if n % 3 == 0 else None))
    _incidents(db, specs, now, acknowledge_every=4, prefix="big")


def _state(check_id: int, status: str, message: str, now: datetime) -> dict[str, Any]:
    return {
        "check_id": check_id,
        "status": status,
        "state_type": "HARD",
        "attempt": 1,
        "last_status": status,
        "last_message": message,
        "last_result_at": now,
        "next_due_at": now,
        "updated_at": now,
        "state": {},
        "last_metrics": {},
    }


def _incidents(
    db: Database,
    specs: list[tuple[str, str, int, int | None]],
    now: datetime,
    acknowledge_every: int = 0,
    prefix: str = "demo",
) -> None:
    from dutydesk.incidents.models import Incident, IncidentEventRow

    with db.session() as s:
        for n, (title, priority, minutes_ago, check_id) in enumerate(specs):
            opened = now - timedelta(minutes=minutes_ago)
            acked = bool(acknowledge_every) and n % acknowledge_every == 1
            incident = Incident(
                dedup_key=f"{prefix}-{n}",
                open_key=f"{prefix}-{n}",
                title=title,
                source="check" if check_id else "manual",
                priority=priority,
                status="acknowledged" if acked else "triggered",
                check_id=check_id,
                acknowledged_by="Maria Kovalenko" if acked else None,
                acknowledged_at=opened + timedelta(minutes=2) if acked else None,
                created_at=opened,
                updated_at=opened,
            )
            s.add(incident)
            s.flush()
            s.add(
                IncidentEventRow(
                    incident_id=incident.id,
                    kind="triggered",
                    at=opened,
                    actor="test",
                    data={"priority": priority, "line": "first_line"},
                )
            )
            if acked:
                s.add(
                    IncidentEventRow(
                        incident_id=incident.id,
                        kind="acknowledged",
                        at=opened + timedelta(minutes=2),
                        actor="Maria Kovalenko",
                        data={},
                    )
                )
