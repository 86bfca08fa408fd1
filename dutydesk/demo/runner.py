"""Build the demo database, start the simulated data center, and serve DutyDesk on it."""

from __future__ import annotations

import functools
import secrets
import socket
import threading
from pathlib import Path

import click

from dutydesk import migrate
from dutydesk.core.config import Settings, load_settings
from dutydesk.core.db import Database
from dutydesk.demo.mailbox import DemoMailbox
from dutydesk.demo.modbus_site import ups_registers
from dutydesk.demo.remote_site import REMOTE_SERVICES, DemoProbe, prepare_probe
from dutydesk.demo.seed import DemoCredentials, seed_demo
from dutydesk.demo.targets import HttpService, start_targets
from dutydesk.demo.ups_traps import UpsTrapSender

DEMO_SERVICES = [
    HttpService("mail"),
    HttpService("1c"),
    HttpService("fileshare"),
    HttpService("vpn", flap_period=45.0),
    HttpService("intranet"),
    HttpService("bms"),
]
DEMO_SERVICES += REMOTE_SERVICES  # Lviv DC2's, checked by its remote probe
DEMO_TCP = ["smtp-relay"]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_ups_traps(listen: str) -> UpsTrapSender | None:
    """UPS B's traps to the trap listener (when one listens on this machine)."""
    host, _, port = listen.rpartition(":")
    if not port.isdigit():
        return None
    host = host.strip("[]")
    target = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    return UpsTrapSender((target, int(port)),
                         lambda now: bool(ups_registers(now, battery_every=600)[0])).start()


def run_demo(*, host: str, port: int, keep: bool, environ: dict[str, str]) -> None:
    """Fresh SQLite database under instance/, seeded; targets on 127.0.0.1; app on host:port."""
    base = load_settings(environ=environ)
    instance = Path(base.instance_path)
    db_path = instance / "demo.sqlite"
    if not keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    from dutydesk.demo.datacenter import install_device_plugin

    plugin_dir = install_device_plugin(instance / "demo-plugins")
    overrides = {
        "plugin_dirs": [str(plugin_dir), *base.plugin_dirs],
        "database_url": f"sqlite:///{db_path}",
        "base_url": f"http://{host}:{port}",
        "env": "development",
        # the demo data center is in Kyiv: show its times there unless told otherwise
        "timezone": environ.get("DUTYDESK_TIMEZONE", "Europe/Kyiv"),
    }
    if "DUTYDESK_SNMP_TRAP_LISTEN" not in environ:
        # the demo's UPS B sends its traps here (dutydesk.demo.ups_traps)
        overrides["snmp_trap_listen"] = f"127.0.0.1:{free_udp_port()}"
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
    if mailbox is not None and "DUTYDESK_PAGE_REPLY_TO" not in environ:
        # replies to the demo's pages come back to the desk's mailbox and act on the incident
        overrides["page_reply_to"] = environ.get("DUTYDESK_SMTP_FROM", "dutydesk@localhost")
    settings = load_settings(overrides, environ=environ)
    db = Database(settings.database_url)
    migrate.upgrade(db)
    if mailbox is not None:
        mailbox.intake(settings.smtp_from, functools.partial(take_demo_mail, db, settings))
    targets = start_targets(DEMO_SERVICES, DEMO_TCP)
    credentials = DemoCredentials(
        admin_password=secrets.token_urlsafe(12),
        lead_password=secrets.token_urlsafe(12),
        engineer_password=secrets.token_urlsafe(12),
    )
    summary = seed_demo(db, settings, targets, credentials, fresh=not keep)
    with db.session() as s:
        probe_token = prepare_probe(s)
    click.echo(summary)
    if mailbox is not None:
        click.echo(f"Mail the demo sends is saved as .eml files in {mailbox.folder}/")
        click.echo(f"Write to the desk: mail {settings.smtp_from} through SMTP at "
                   f"127.0.0.1:{mailbox.port} (it becomes a request, or acts on a page)")
    from dutydesk.demo.extras import start_backup_job
    from dutydesk.serving import serve_app

    stop = threading.Event()
    start_backup_job(settings.base_url, stop)
    traps = start_ups_traps(settings.snmp_trap_listen)
    probe = DemoProbe(settings.base_url, probe_token, instance / "demo-probe",
                      fresh=not keep).start(host, port)
    try:
        serve_app(settings, host, port)
    finally:
        probe.stop()
        stop.set()
        if traps is not None:
            traps.stop()
        targets.stop()
        if mailbox is not None:
            mailbox.stop()


def take_demo_mail(db: Database, settings: Settings, raw: bytes) -> str:
    """The demo's desk mailbox: one mail through the intake the worker runs on IMAP."""
    from dutydesk.core.db import utcnow
    from dutydesk.core.mailin.intake import process_raw
    from dutydesk.jobs import mail_handlers

    outcome = process_raw(db, raw, mail_handlers(settings), utcnow(), (settings.smtp_from,))
    return f"{outcome.status} ({outcome.handler or 'no handler'})"
