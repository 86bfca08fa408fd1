"""Build the demo database, start the simulated data center, and serve DutyDesk on it."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

import click

from dutydesk import migrate
from dutydesk.core.config import load_settings
from dutydesk.core.db import Database
from dutydesk.demo.mailbox import DemoMailbox
from dutydesk.demo.seed import DemoCredentials, seed_demo
from dutydesk.demo.targets import HttpService, start_targets

DEMO_SERVICES = [
    HttpService("mail"),
    HttpService("1c"),
    HttpService("fileshare"),
    HttpService("vpn", flap_period=45.0),
    HttpService("intranet"),
    HttpService("bms"),
]
DEMO_TCP = ["smtp-relay"]


def run_demo(*, host: str, port: int, keep: bool, environ: dict[str, str]) -> None:
    """Fresh SQLite database under instance/, seeded; targets on 127.0.0.1; app on host:port."""
    base = load_settings(environ=environ)
    instance = Path(base.instance_path)
    db_path = instance / "demo.sqlite"
    if not keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    overrides = {
        "database_url": f"sqlite:///{db_path}",
        "base_url": f"http://{host}:{port}",
        "env": "development",
        # the demo data center is in Kyiv: show its times there unless told otherwise
        "timezone": environ.get("DUTYDESK_TIMEZONE", "Europe/Kyiv"),
    }
    mailbox = None
    if "DUTYDESK_SMTP_HOST" not in environ:
        # no mail server of the user's own: the demo's mail lands in a local mailbox
        mail_folder = instance / "demo-mail"
        if not keep:
            for old in mail_folder.glob("*.eml"):
                old.unlink()
        mailbox = DemoMailbox(mail_folder).start()
        overrides.update({"smtp_host": "127.0.0.1", "smtp_port": mailbox.port,
                          "smtp_security": "none"})
    settings = load_settings(overrides, environ=environ)
    db = Database(settings.database_url)
    migrate.upgrade(db)
    targets = start_targets(DEMO_SERVICES, DEMO_TCP)
    credentials = DemoCredentials(
        admin_password=secrets.token_urlsafe(12),
        lead_password=secrets.token_urlsafe(12),
        engineer_password=secrets.token_urlsafe(12),
    )
    summary = seed_demo(db, settings, targets, credentials, fresh=not keep)
    click.echo(summary)
    if mailbox is not None:
        click.echo(f"Mail the demo sends is saved as .eml files in {mailbox.folder}/")
    from dutydesk.cli import serve_app
    from dutydesk.demo.extras import start_backup_job

    stop = threading.Event()
    start_backup_job(settings.base_url, stop)
    try:
        serve_app(settings, host, port)
    finally:
        stop.set()
        targets.stop()
        if mailbox is not None:
            mailbox.stop()
