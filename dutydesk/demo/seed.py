"""Demo data: people of a small data center and their screens.

Areas add their demo objects in ``seed_demo`` as they land (checks, rotations, visitors, notices),
so the demo always shows everything DutyDesk can do.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from dutydesk import accounts
from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.demo.extras import seed_checks, seed_shifts, seed_status_page, seed_visitors
from dutydesk.demo.remote_site import SITE_NAME, SITE_SLUG, ensure_site
from dutydesk.demo.requests import seed_requests
from dutydesk.demo.targets import DemoTargets
from dutydesk.demo.ups_traps import DEMO_RULES
from dutydesk.facility.store import apply_rules
from dutydesk.models import Role, User

DEMO_ACTOR = "demo"


@dataclass(frozen=True)
class DemoCredentials:
    admin_password: str
    lead_password: str
    engineer_password: str


PEOPLE = [
    ("admin@dc.example", "Olena Admin", Role.ADMIN, "admin"),
    ("lead@dc.example", "Taras Lead", Role.SHIFT_LEAD, "lead"),
    ("ivan@dc.example", "Ivan Petrenko", Role.ENGINEER, "engineer"),
    ("maria@dc.example", "Maria Kovalenko", Role.ENGINEER, "engineer"),
    ("andriy@dc.example", "Andriy Shevchuk", Role.ENGINEER, "engineer"),
    ("oksana@dc.example", "Oksana Bondar", Role.ENGINEER, "engineer"),
    ("serhiy@dc.example", "Serhiy Melnyk", Role.ENGINEER, "engineer"),
]


def seed_demo(
    db: Database,
    settings: Settings,
    targets: DemoTargets,
    credentials: DemoCredentials,
    *,
    fresh: bool = True,
) -> str:
    """Create demo data (unless ``fresh`` is False and it exists); return the text to print."""
    passwords = {
        "admin": credentials.admin_password,
        "lead": credentials.lead_password,
        "engineer": credentials.engineer_password,
    }
    kiosk_url = site_kiosk_url = ""
    with db.session() as s:
        existing = s.scalar(select(User.id).limit(1))
        if existing is None or fresh:
            for email, name, role, kind in PEOPLE:
                accounts.create_user(
                    s,
                    DEMO_ACTOR,
                    email=email,
                    password=passwords[kind],
                    role=role,
                    name=name,
                    timezone="Europe/Kyiv",
                )
        else:
            # --keep: reuse the data but give the people this run's passwords
            for email, _name, _role, kind in PEOPLE:
                user = s.scalar(select(User).where(User.email == email))
                if user is not None:
                    accounts.update_user(s, DEMO_ACTOR, user, password=passwords[kind])
        _link, kiosk_token = accounts.create_kiosk_link(s, DEMO_ACTOR, name="Demo wall")
        kiosk_url = f"{settings.base_url}/kiosk/{kiosk_token}"
        checks = 0
        ensure_site(s)  # the remote site's checks and its wall belong to it
        _link, site_token = accounts.create_kiosk_link(s, DEMO_ACTOR, name=f"{SITE_NAME} wall",
                                                       site=SITE_SLUG)
        site_kiosk_url = f"{settings.base_url}/kiosk/{site_token}"
        if existing is None or fresh:
            checks = seed_checks(s, targets)
            s.flush()
            apply_rules(s, DEMO_RULES, by=DEMO_ACTOR, now=utcnow(), secret_key=settings.secret_key)
            seed_status_page(s)
            seed_visitors(s, settings)
            seed_shifts(s)
            s.flush()
            seed_requests(s, settings)

    lines = [
        "",
        "DutyDesk demo: a small data center (2 halls, UPS, sensors, core switches, services)",
        f"  Open {settings.base_url} and sign in as:",
        f"    admin       admin@dc.example    {credentials.admin_password}",
        f"    shift lead  lead@dc.example     {credentials.lead_password}",
        f"    engineer    ivan@dc.example     {credentials.engineer_password}",
        f"  Wall screen of both sites (kiosk, no password): {kiosk_url}",
        f"  Wall screen of {SITE_NAME} only: {site_kiosk_url}",
        f"  Status page for employees (no login): {settings.base_url}/status",
        f"  Service desk for employees: {settings.base_url}/help; the queue: "
        f"{settings.base_url}/requests (a mail outage with two linked requests)",
        f"  {checks} checks: UPS B drops to battery for a minute every 10 min (and sends an SNMP"
        " trap when it does), hall B warms up, core switch B loses its uplink every 20 min",
        "  Simulated targets on 127.0.0.1: "
        + ", ".join(f"{n}:{s.port}" for n, s in targets.http.items())
        + ", "
        + ", ".join(f"{n}:{p}" for n, p in targets.tcp_ports.items()),
        "  (the VPN service flaps: it goes down and up every 45 s)",
        f"  A second data center, {SITE_NAME}: its checks run in a remote probe process "
        "(`dutydesk probe`) that talks to this server over HTTP only; /admin/probes shows it",
        "",
    ]
    return "\n".join(lines)
