"""Demo objects of the areas beyond accounts: checks, status-page services, visitors.

Each part goes through the area's own service layer (validation, audit), exactly as a person's
actions would, so the demo shows what the product really does.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta

import requests
from sqlalchemy.orm import Session

from checks.config import parse_config
from checks.config_db import apply as apply_checks
from dutydesk.core.config import Settings
from dutydesk.core.db import utcnow
from dutydesk.demo.datacenter import HEARTBEAT_KEY, demo_checks_yaml
from dutydesk.demo.targets import DemoTargets

DEMO_ACTOR = "demo"

STATUS_SERVICES = [
    # (group, slug, name, linked check names)
    ("Communication", "mail", "Mail", ["http-mail", "smtp-relay"]),
    ("Communication", "vpn", "VPN", ["http-vpn"]),
    ("Business applications", "1c", "1C:Enterprise", ["http-1c"]),
    ("Business applications", "fileshare", "File share", ["http-fileshare", "backup-nightly"]),
    ("Business applications", "intranet", "Intranet", ["http-intranet"]),
    ("Data center", "power-hall-a", "Power in hall A", ["ups-a"]),
    ("Data center", "power-hall-b", "Power in hall B", ["ups-b"]),
]


def seed_checks(session: Session, targets: DemoTargets) -> int:
    config = parse_config(demo_checks_yaml(targets), "demo-checks.yaml")
    apply_checks(session, config, DEMO_ACTOR)
    return len(config.checks)


def seed_status_page(session: Session) -> None:
    from sqlalchemy import select

    from checks.models import Check
    from shifts.notices import service as notices

    now = utcnow()
    ids = dict(session.execute(select(Check.slug, Check.id)).all())
    groups: dict[str, int] = {}
    for position, (group, slug, name, linked) in enumerate(STATUS_SERVICES):
        if group not in groups:
            groups[group] = notices.save_group(
                session, DEMO_ACTOR, name=group, position=len(groups), now=now
            ).id
        notices.save_service(
            session,
            DEMO_ACTOR,
            slug=slug,
            name=name,
            now=now,
            group_id=groups[group],
            mode="auto",
            check_ids=[str(ids[c]) for c in linked if c in ids],
            position=position,
        )


def seed_visitors(session: Session, settings: Settings) -> None:
    from shifts.visitors import service as visitors
    from shifts.visitors.areas import parse_areas
    from shifts.visitors.checkin import CheckInAttempt

    now = utcnow()
    client = visitors.create_client(
        session,
        DEMO_ACTOR,
        name="Skyline Hosting LLC",
        contacts=[
            {
                "name": "Dmytro Hnatyuk",
                "email": "noc@skyline.example",
                "phone": "+380 44 000 0000",
                "primary": True,
            }
        ],
    )
    engineer = visitors.add_authorised_person(
        session,
        DEMO_ACTOR,
        client_id=client.id,
        name="Yurii Lysenko",
        id_document_type="passport",
        id_number="FE123456",
        scope=["Hall B / Cage 4"],
        valid_from=now - timedelta(days=200),
        may_bring_guests=True,
        guest_limit=2,
        may_remove_equipment=True,
        safety_briefing_on=(now - timedelta(days=30)).date(),
    )
    visitors.add_authorised_person(
        session,
        DEMO_ACTOR,
        client_id=client.id,
        name="Natalia Savchenko",
        id_document_type="national_id",
        id_number="004512789",
        scope=["Hall B"],
        valid_from=now - timedelta(days=90),
        safety_briefing_on=(now - timedelta(days=10)).date(),
    )
    site, _retention = visitors.policies_from_settings(
        settings.extra.get("visitors"), settings.timezone
    )
    visitors.check_in(
        session,
        DEMO_ACTOR,
        client_id=client.id,
        policy=site,
        now=now,
        attempt=CheckInAttempt(
            name_on_id="Yurii Lysenko",
            id_checked_by="ivan@dc.example",
            areas=parse_areas(["Hall B / Cage 4"]),
            badge_number="V-017",
            nda_signed=True,
            safety_form_signed=True,
            authorised_person_id=engineer.id,
            expected_checkout_at=now + timedelta(hours=3),
            purpose="Install two 1U servers",
        ),
    )


def seed_shifts(session: Session) -> None:
    """First line on the data-center classic day-night-off-off, second line and lead weekly."""
    from datetime import date

    from sqlalchemy import select

    from dutydesk.core.security import Principal
    from dutydesk.models import Role, User
    from shifts import service as shifts

    now = utcnow()
    users = {u.email: u for u in session.scalars(select(User))}
    admin = users["admin@dc.example"]
    who = Principal(kind="user", role=Role.ADMIN, label=DEMO_ACTOR, user=admin)
    start = date.fromordinal(now.date().toordinal() - 10)
    layout = [
        (
            "First line, data center",
            "first_line",
            "day_night_off_off",
            {"day_hours": 12},
            ["ivan", "maria", "andriy", "oksana"],
        ),
        (
            "Second line, network and power",
            "second_line",
            "fixed_length",
            {"weeks": 1},
            ["serhiy"],
        ),
        ("Shift lead", "shift_lead", "fixed_length", {"weeks": 1}, ["lead"]),
    ]
    for name, line, pattern, params, people in layout:
        schedule = shifts.create_schedule(
            session, who, name=name, line=line, time_zone="Europe/Kyiv"
        )
        session.flush()
        shifts.add_rotation(
            session,
            who,
            schedule.id,
            {
                "name": "main",
                "participants": [users[f"{p}@dc.example"].id for p in people],
                "pattern": pattern,
                "pattern_params": params,
                "handoff_time": "08:00",
                "start_date": start,
                "restrictions": [],
            },
            now,
        )
        shifts.publish(session, who, schedule.id, now)


def start_backup_job(base_url: str, stop: threading.Event) -> threading.Thread:
    """A pretend cron job that reports to its heartbeat URL every 20 s, skipping now and then."""

    def loop() -> None:
        beats = 0
        while not stop.wait(20):
            beats += 1
            if beats % 12 == 0:  # every 4 minutes it "hangs" for one beat: the check notices
                continue
            with contextlib.suppress(requests.RequestException):
                requests.post(f"{base_url}/ping/{HEARTBEAT_KEY}", timeout=5, data=b"backup ok")

    thread = threading.Thread(target=loop, daemon=True, name="demo-backup-job")
    thread.start()
    return thread
