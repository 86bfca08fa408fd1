"""The probe in a network namespace of its own, joined to the centre by one veth pair: it really
reaches nothing but the centre (and its site's target, inside the namespace), and the link is
cut by ``ip link set ... down``, as a WAN link fails. Needs root and iproute2's ``ip``; skipped
with the reason elsewhere, a failure in CI (``DUTYDESK_REQUIRE_NETNS=1``)."""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from checks.models import FlipRow
from checks.store import CheckStore
from dutydesk.core.db import Database
from dutydesk.sites.service import assign_check, find_probe
from tests.checks.engine_helpers import SwitchableTarget, add_check, switchable_target

from .probe_harness import Centre, CentreJobs, ProbeProcess, wait_until
from .test_probe_faults import FAST, assert_each_once_in_order, enrolled, incidents, stored

CLONE_NEWNET = 0x40000000


@dataclass(frozen=True)
class Site:
    name: str  # the namespace
    host_if: str  # the centre's end of the veth pair
    centre_ip: str

    def run(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@contextmanager
def site_namespace() -> Iterator[Site]:
    """A namespace ``ddpNNNN`` with only loopback and a veth to 10.213.x.1 (the centre)."""
    why = None
    if os.geteuid() != 0:
        why = "network namespaces need root"
    elif shutil.which("ip") is None:
        why = "iproute2's ip is not installed"
    tag = secrets.token_hex(2)
    subnet = f"10.213.{int(tag, 16) % 250}"
    site = Site(f"ddp{tag}", f"ddp{tag}h", f"{subnet}.1")
    steps = [("netns", "add", site.name),
             ("link", "add", site.host_if, "type", "veth", "peer", "name", f"ddp{tag}n"),
             ("link", "set", f"ddp{tag}n", "netns", site.name),
             ("addr", "add", f"{subnet}.1/30", "dev", site.host_if),
             ("link", "set", site.host_if, "up"),
             ("-n", site.name, "addr", "add", f"{subnet}.2/30", "dev", f"ddp{tag}n"),
             ("-n", site.name, "link", "set", f"ddp{tag}n", "up"),
             ("-n", site.name, "link", "set", "lo", "up")]
    created = False
    try:
        if why is None:
            try:
                for step in steps:
                    site.run(*step)
                    created = True
            except (subprocess.CalledProcessError, OSError) as exc:
                why = f"cannot create a network namespace: {getattr(exc, 'stderr', b'')!r} {exc}"
        if why is not None:
            if os.environ.get("DUTYDESK_REQUIRE_NETNS") == "1":
                pytest.fail(f"DUTYDESK_REQUIRE_NETNS=1 but {why}")
            pytest.skip(f"{why} (set DUTYDESK_REQUIRE_NETNS=1 to make this a failure)")
        yield site
    finally:
        if created:
            subprocess.run(["ip", "netns", "del", site.name], capture_output=True, timeout=10)


def target_inside(site: Site) -> SwitchableTarget:
    """A switchable HTTP target listening on the namespace's own loopback (its socket is made
    by a thread that joined the namespace; the test process stays where it is)."""
    made: dict[str, Any] = {}

    def make() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/var/run/netns/{site.name}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                made["error"] = OSError(ctypes.get_errno(), "setns")
                return
        finally:
            os.close(fd)
        made["target"] = SwitchableTarget()

    thread = threading.Thread(target=make)
    thread.start()
    thread.join(10)
    if "error" in made:
        raise made["error"]
    return made["target"]


@pytest.fixture
def site() -> Iterator[Site]:
    with site_namespace() as found:
        yield found


def test_a_probe_behind_a_cut_veth_link_replays_everything_once(
        app: Any, db: Database, settings: Any, site: Site, tmp_path: Path) -> None:
    app.extensions["dutydesk_probe_store"] = CheckStore(db, keep_results=100_000)
    centre = Centre(app, host=site.centre_ip)
    target = target_inside(site)
    (check_id,), token = enrolled(db, target.url)
    with switchable_target() as outside:  # on the centre machine's loopback
        beyond = add_check(db, "beyond", outside.url, interval=10.0, max_attempts=1,
                           timeout=1.0)
        with db.session() as s:
            assign_check(s, beyond, find_probe(s, "default", "kyiv-dc2"))
        probe = ProbeProcess(centre, tmp_path / "probe", token,
                             prefix=("ip", "netns", "exec", site.name), **FAST)
        centre.start()
        try:
            with CentreJobs(db, settings):
                probe.start()
                wait_until(lambda: len(stored(db, check_id)) >= 5, 30, "first results")
                site.run("link", "set", site.host_if, "down")
                cut_from = datetime.now(UTC)
                time.sleep(1.5)
                target.healthy = False
                time.sleep(2.5)
                target.healthy = True
                time.sleep(2.0)
                cut_to = datetime.now(UTC)
                site.run("link", "set", site.host_if, "up")
                wait_until(lambda: any(r.started_at > cut_to for r in stored(db, check_id)),
                           40, "the backlog replayed over the restored link")
                wait_until(lambda: [i.status for i in incidents(db, "probe:%")] == ["resolved"],
                           15, "the probe incident resolved")
        finally:
            probe.kill()
            centre.stop()
            target.close()
    assert_each_once_in_order(db, [check_id, beyond])
    in_cut = [r for r in stored(db, check_id) if cut_from <= r.started_at <= cut_to]
    assert {"CRITICAL", "OK"} <= {r.status for r in in_cut}, probe.output()
    with db.session() as s:
        kinds = s.scalars(select(FlipRow.kind).where(FlipRow.check_id == check_id,
                                                     FlipRow.at > cut_from,
                                                     FlipRow.at < cut_to)).all()
    assert sorted(kinds) == ["problem", "recovery"]
    # the cut (6 s) outlasted the grace (3 s): one "probe offline" incident
    assert len(incidents(db, "probe:%")) == 1
    # from inside the site, the centre machine's own loopback is out of reach
    assert {r.status for r in stored(db, beyond)} == {"CRITICAL"}
