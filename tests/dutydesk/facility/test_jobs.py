"""The worker starts the listeners the configuration names, and only those."""

from __future__ import annotations

import dataclasses
import socket
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from dutydesk.core.config import ConfigError, load_settings
from dutydesk.core.db import Database
from dutydesk.jobs import scheduled_jobs
from tests.dutydesk.facility.conftest import (
    apply,
    free_port,
    incidents,
    need,
    run,
    wait_until,
)


def test_no_listen_address_means_no_listener(settings: Any, db: Database) -> None:
    assert not [j for j in scheduled_jobs(settings, db) if j.id.startswith("facility-")]


def test_the_worker_job_listens_for_traps_and_syslog_and_stops_cleanly(
    settings: Any, db: Database
) -> None:
    need("snmptrap")
    need("logger")
    apply(db, """
rules:
  - {name: link, input: snmp, trap: linkDown, key: [ifIndex]}
  - {name: ups, input: syslog, pattern: 'on battery', severity: critical}
""")
    snmp_port, tcp_port = free_port(), free_port(socket.SOCK_STREAM)
    configured = dataclasses.replace(settings, snmp_trap_listen=f"127.0.0.1:{snmp_port}",
                                     syslog_listen_tcp=f"127.0.0.1:{tcp_port}")
    registry = CollectorRegistry()
    jobs = [j for j in scheduled_jobs(configured, db, registry) if j.id.startswith("facility-")]
    assert [j.id for j in jobs] == ["facility-snmp-traps", "facility-syslog"]
    for job in jobs:
        job.on_start()
    try:
        # communities are not configured: v2c traps are refused, so use the syslog path first
        run(["logger", "--server", "127.0.0.1", "--port", str(tcp_port), "--tcp",
             "ups-3 went on battery"])
        assert wait_until(lambda: [i.title for i in incidents(db)])
        apply(db, "snmp: {communities: [public]}\nrules:\n"
                  "  - {name: link, input: snmp, trap: linkDown, key: [ifIndex]}\n")
        jobs[0].func()  # the periodic part: pick up the new rules
        def sent() -> bool:
            return run(["snmptrap", "-v2c", "-c", "public", "-Ci", "-r", "0", "-t", "1",
                        f"127.0.0.1:{snmp_port}", "", "1.3.6.1.6.3.1.1.5.3",
                        "1.3.6.1.2.1.2.2.1.1.2", "i", "2"]).returncode == 0

        assert wait_until(sent), "the inform is acknowledged once the new community is in"
        assert wait_until(lambda: len(incidents(db)) == 2)
        assert registry.get_sample_value("dutydesk_facility_messages_total",
                                         {"input": "syslog", "outcome": "matched"}) == 1
    finally:
        for job in jobs:
            job.on_stop()


@pytest.mark.parametrize("value", ["162", "0.0.0.0:99999", "bad host:162"])
def test_a_bad_listen_address_is_named_in_the_error(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"snmp_trap_listen": value}, environ={})
    message = str(caught.value)
    assert "DUTYDESK_SNMP_TRAP_LISTEN: expected host:port such as 0.0.0.0:162" in message or (
        "DUTYDESK_SNMP_TRAP_LISTEN: expected an IP address or a host name" in message)


def test_a_tls_listener_without_its_certificate_is_refused_at_start_up(tmp_path: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"syslog_listen_tls": "0.0.0.0:6514",
                       "syslog_tls_key": str(tmp_path / "missing.key")}, environ={})
    assert "DUTYDESK_SYSLOG_TLS_CERT: a readable PEM file is required when " \
        "DUTYDESK_SYSLOG_LISTEN_TLS is set, got ''" in str(caught.value)
    assert "DUTYDESK_SYSLOG_TLS_KEY" in str(caught.value)
