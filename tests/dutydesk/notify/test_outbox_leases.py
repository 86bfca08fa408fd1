"""A sender killed mid-send: its message is sent again by another sender once the transport's
timeout plus a margin has passed — not before (that would page twice), not minutes later — and
by the database's clock, whatever the other sender's host clock says."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.dbclock import server_now
from dutydesk.core.notify.dispatcher import LEASE_MARGIN, Dispatcher, lease_for
from dutydesk.core.notify.outbox import claim_due, enqueue
from dutydesk.core.notify.sender import deliver_due

from .receivers import HttpReceiver


def page(db: Database, key: str, url: str) -> None:
    with db.session() as s:
        enqueue(s, channel="webhook", target=url, subject="[P1] UPS B on battery",
                body_text="UPS B switched to battery.", idempotency_key=key,
                source_type="incident", source_id=key, priority=1)


@pytest.mark.parametrize("timeout", [2.0, 10.0, 30.0])
def test_an_abandoned_message_is_sent_again_after_the_transport_timeout_and_margin(
        db: Database, settings: Settings, timeout: float) -> None:
    receiver = HttpReceiver()
    url = receiver.start()
    tuned = dataclasses.replace(settings, webhook_timeout=timeout, smtp_timeout=timeout)
    lease = lease_for(tuned)
    assert lease == timedelta(seconds=timeout) + LEASE_MARGIN  # not a 2-minute lease
    page(db, "page:ups-b", url)
    with db.session() as s:
        killed_at = server_now(s)
        # claimed by a sender that was then killed -9 mid-send: no record, no renewal
        assert len(claim_due(s, killed_at, owner="killed", lease=lease)) == 1
    try:
        # the killed sender might still have been talking to the receiver: not yet
        almost = killed_at + lease - timedelta(seconds=0.5)
        assert deliver_due(db, tuned, now=almost) == 0
        assert receiver.idempotency_keys() == []
        # its transport would have given up by now: another sender sends it
        assert deliver_due(db, tuned, now=killed_at + lease + timedelta(seconds=0.5)) == 1
    finally:
        receiver.stop()
    assert receiver.idempotency_keys() == ["page:ups-b"]


def test_a_sender_whose_host_clock_runs_ahead_does_not_take_a_live_lease(
        db: Database, settings: Settings) -> None:
    """Two worker machines, one with its clock 150 s ahead: leases are compared on the
    database's clock, so it does not see the other sender's fresh lease as run out."""
    receiver = HttpReceiver()
    url = receiver.start()
    quick = dataclasses.replace(settings, webhook_timeout=2.0, smtp_timeout=2.0)
    page(db, "page:crac-2", url)
    with db.session() as s:
        assert len(claim_due(s, server_now(s), owner="alive", lease=lease_for(quick))) == 1
    ahead = Dispatcher(db, quick, name="ahead")
    assert ahead._dbclock is not None
    local = ahead._dbclock.local
    ahead._dbclock.local = lambda: local() + timedelta(seconds=150)
    try:
        assert ahead.step() == 0  # its host says the lease ran out 143 s ago; it did not
        assert abs((ahead.clock() - local()).total_seconds()) < 2
    finally:
        ahead.close()
        receiver.stop()
    assert receiver.idempotency_keys() == []
