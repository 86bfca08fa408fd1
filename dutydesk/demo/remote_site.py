"""The demo's second data center: Lviv DC2, whose checks run in a remote probe.

The probe is a real ``dutydesk probe`` process started beside the demo server: it enrols with a
one-time token, pulls the site's checks over HTTP, runs them and pushes the results, exactly as
a probe inside a remote site would (only here both ends are on 127.0.0.1). Stop the demo's probe
(or watch /admin/probes after the demo ends) to see "probe offline" instead of failing checks.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.demo.targets import DemoTargets, HttpService

SITE_SLUG, SITE_NAME, SITE_ZONE = "lviv-dc2", "Lviv DC2", "Europe/Kyiv"
PROBE_NAME = "lviv-a"
#: The services of the remote site (their checks run in the probe, not in the central worker).
REMOTE_SERVICES = [HttpService("lviv-erp"), HttpService("lviv-cctv")]
REMOTE_CHECKS = {"lviv-erp": ("ERP (Lviv)", "ERP", "Lviv / Services"),
                 "lviv-cctv": ("CCTV recorder (Lviv)", "CCTV", "Lviv / Security")}


def ensure_site(session: Session) -> None:
    """Create the remote site (before the checks that belong to it)."""
    from dutydesk.core.site_registry import create_site
    from dutydesk.core.sites import Site

    if session.scalar(select(Site.id).where(Site.slug == SITE_SLUG)) is None:
        create_site(session, SITE_SLUG, SITE_NAME, SITE_ZONE)


def remote_checks(targets: DemoTargets) -> list[dict[str, Any]]:
    """The remote site's checks, in the demo's checks file."""
    return [{"name": f"http-{name}", "display_name": display, "type": "http", "group": group,
             "service": service, "site": SITE_SLUG, "interval": "10s", "retry_interval": "5s",
             "max_attempts": 2,
             "spec": {"url": targets.url(name), "conditions": ["status == 200"]}}
            for name, (display, service, group) in REMOTE_CHECKS.items()
            if name in targets.http]


def prepare_probe(session: Session) -> str:
    """The site's probe (made on first use) with its checks; returns a fresh one-time
    enrolment token for this run's probe process."""
    from checks.models import Check
    from dutydesk.core.db import utcnow
    from dutydesk.sites.models import Probe, Site
    from dutydesk.sites.service import assign_check, create_probe, reissue_token

    now = utcnow()
    probe = session.scalar(select(Probe).join(Site, Site.id == Probe.site_id)
                           .where(Site.slug == SITE_SLUG, Probe.name == PROBE_NAME))
    if probe is None or probe.revoked_at is not None:
        issued = create_probe(session, SITE_SLUG, PROBE_NAME, now, grace_seconds=60)
        probe = session.get(Probe, issued.probe_id)
    else:
        issued = reissue_token(session, probe, now)
    for check_id in session.scalars(select(Check.id).where(
            Check.slug.in_([f"http-{name}" for name in REMOTE_CHECKS]))):
        assign_check(session, check_id, probe)
    return issued.secret


class DemoProbe:
    """The remote site's probe process: started once the demo server answers, stopped with it."""

    def __init__(self, server: str, token: str, state_dir: Path, *, fresh: bool) -> None:
        self.server, self.token, self.state_dir = server, token, state_dir
        if fresh:
            shutil.rmtree(state_dir, ignore_errors=True)
        self._process: subprocess.Popen[bytes] | None = None
        self._stopped = threading.Event()

    def start(self, host: str, port: int) -> DemoProbe:
        threading.Thread(target=self._run, args=(host, port), name="demo-probe",
                         daemon=True).start()
        return self

    def _run(self, host: str, port: int) -> None:
        target = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        while not self._stopped.is_set():
            try:
                socket.create_connection((target, port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        if self._stopped.is_set():
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # Only what a probe needs: none of the centre's settings or secrets reach it.
        env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TZ")
               if key in os.environ}
        env.update({"DUTYDESK_PROBE_SERVER": self.server, "DUTYDESK_PROBE_SITE": SITE_SLUG,
                    "DUTYDESK_PROBE_STATE_DIR": str(self.state_dir),
                    "DUTYDESK_PROBE_ENROL_TOKEN": self.token})
        log = open(self.state_dir / "probe.log", "ab")  # noqa: SIM115 (the child keeps it)
        self._process = subprocess.Popen([sys.executable, "-m", "dutydesk", "probe"], env=env,
                                         stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        self._stopped.set()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
