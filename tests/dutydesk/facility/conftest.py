"""Helpers for the facility input tests: real senders (net-snmp's snmptrap, util-linux logger)
talking to real listeners on free loopback ports, and the incidents they open."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.db import Database, utcnow
from dutydesk.facility.store import apply_rules
from dutydesk.incidents.models import Incident

CI = __import__("os").environ.get("DUTYDESK_REQUIRE_POSTGRES") == "1"


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if CI:
            pytest.fail(f"{tool} is required in CI (.ci/run installs it)")
        pytest.skip(f"{tool} is not installed")
    return path


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


SECRET_KEY = "test-secret-key-" + "x" * 32  # the ``settings`` fixture's (tests/conftest.py)


def apply(db: Database, document: str) -> None:
    with db.session() as s:
        apply_rules(s, document, by="test", now=utcnow(), secret_key=SECRET_KEY)


def incidents(db: Database) -> list[Incident]:
    with db.session() as s:
        rows = list(s.scalars(select(Incident).order_by(Incident.id)))
        s.expunge_all()
        return rows


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)


def v2c_trap_packet(trap_oid: str, community: str = "public",
                    variables: tuple[tuple[str, int], ...] = ()) -> bytes:
    """One encoded SNMPv2c trap datagram (for floods, where spawning snmptrap is too slow)."""
    from pyasn1.codec.ber import encoder
    from pysnmp.proto import api

    proto = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    pdu = proto.SNMPv2TrapPDU()
    proto.apiTrapPDU.set_defaults(pdu)
    proto.apiTrapPDU.set_varbinds(pdu, [
        (proto.ObjectIdentifier("1.3.6.1.2.1.1.3.0"), proto.TimeTicks(0)),
        (proto.ObjectIdentifier("1.3.6.1.6.3.1.1.4.1.0"), proto.ObjectIdentifier(trap_oid)),
        *((proto.ObjectIdentifier(oid), proto.Integer(value)) for oid, value in variables),
    ])
    message = proto.Message()
    proto.apiMessage.set_defaults(message)
    proto.apiMessage.set_community(message, community)
    proto.apiMessage.set_pdu(message, pdu)
    return encoder.encode(message)
