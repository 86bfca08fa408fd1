"""Reading the wall from storage: problems as rows, everything healthy as counts per group."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from checks.models import Check, CheckGroup, CheckStateRow
from dutydesk.core.db import Database, utcnow
from dutydesk.wall.rows import WallLimits
from dutydesk.wall.snapshot import Counts
from dutydesk.wall.sources import load_checks, load_view

NOW = utcnow()


def seed(db: Database, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Checks per row: slug, path, status (None: never checked, no state row), and extras."""
    ids: dict[str, int] = {}
    with db.session() as s:
        groups: dict[str, CheckGroup] = {}
        for row in rows:
            path = row.get("path", "Hall A / UPS")
            if path not in groups:
                groups[path] = CheckGroup(name=path.rsplit("/", 1)[-1].strip(), path=path)
                s.add(groups[path])
                s.flush()
            check = Check(
                slug=row["slug"],
                display_name=row["slug"],
                type="tcp",
                group_id=groups[path].id,
                enabled=row.get("enabled", True),
                guard_reference=row.get("guard_reference", False),
            )
            s.add(check)
            s.flush()
            ids[row["slug"]] = check.id
            if row.get("status") is None:
                continue
            s.add(
                CheckStateRow(
                    check_id=check.id,
                    status=row["status"],
                    state_type=row.get("state_type", "HARD"),
                    in_maintenance=row.get("in_maintenance", False),
                    last_result_at=row.get("at", NOW),
                    last_status=row["status"],
                    last_message=f"{row['slug']} is {row['status']}",
                    state=row.get("state", {}),
                    updated_at=NOW,
                )
            )
    return ids


def test_healthy_checks_are_counted_per_group_and_only_problems_are_read_as_rows(
    db: Database,
) -> None:
    seed(
        db,
        [
            *({"slug": f"ups-ok-{n}", "status": "OK"} for n in range(5)),
            {"slug": "ups-down", "status": "CRITICAL", "state": {"reachable": False}},
            {"slug": "ups-service", "status": "WARNING", "in_maintenance": True},
            {"slug": "ups-new", "status": None},  # never checked: pending, no state row
            {"slug": "crac-1", "path": "Hall B / Cooling", "status": "OK"},
            {"slug": "crac-odd", "path": "Hall B / Cooling", "status": "WEIRD"},
            {"slug": "old-critical", "status": "CRITICAL", "enabled": False},
        ],
    )
    with db.session() as s:
        snapshot = load_checks(s)
    assert sorted(c.name for c in snapshot.problems) == ["crac-odd", "ups-down"]
    down = next(c for c in snapshot.problems if c.name == "ups-down")
    assert (down.hall, down.system, down.reachable) == ("Hall A", "UPS", False)
    assert snapshot.healthy == {
        ("Hall A", "UPS"): Counts(ok=5, pending=1, maintenance=1),
        ("Hall B", "Cooling"): Counts(ok=1),
    }
    assert snapshot.has_checks


def test_the_wall_from_storage_counts_every_enabled_check_and_lists_problems(
    db: Database,
) -> None:
    older = NOW - timedelta(minutes=10)  # older than max_result_age (5 min)
    fire = {"path": "Hall C / Fire", "in_maintenance": True, "at": older}
    seed(
        db,
        [
            *({"slug": f"pdu-ok-{n}", "status": "OK", "at": NOW} for n in range(20)),
            {"slug": "pdu-7", "status": "CRITICAL", "path": "Hall A / PDU", "at": older},
            {"slug": "pdu-8", "status": "UNKNOWN", "path": "Hall A / PDU", "at": older},
            {"slug": "fire-1", "status": "OK", **fire},
            {"slug": "fire-2", "status": "CRITICAL", **fire},
        ],
    )
    with db.session() as s:
        view = load_view(s, NOW, WallLimits())
    assert view.counts == Counts(critical=1, unknown=1, ok=20, maintenance=2)
    (pdu,) = view.groups
    assert [t.check.name for t in pdu.tiles] == ["pdu-7", "pdu-8"]
    assert pdu.counts == Counts(critical=1, unknown=1)
    assert [(m.name, m.checks) for m in view.maintenance] == [("Hall C / Fire", 2)]
    # the newest result among all checks, healthy ones included, decides "results are fresh"
    assert "results_old" not in [r.code for r in view.stale]


def test_an_installation_with_no_checks_is_not_reported_as_missing_results(
    db: Database,
) -> None:
    with db.session() as s:
        view = load_view(s, NOW, WallLimits())
    assert view.counts == Counts()
    assert view.all_green
    assert "no_results" not in [r.code for r in view.stale]
