"""The demo's UPS B speaks for itself: an SNMP trap the second it goes on battery.

Like a real UPS network card, it sends UPS-MIB ``upsTrapOnBattery`` when input power is lost and
PowerNet-MIB ``powerRestored`` when it returns, as SNMPv2c traps from its own loopback address
(127.0.0.12) to the demo's trap listener. The demo's facility rules turn the first into a P1 for
"Power in hall B" within a second — before the next SNMP poll has even run — and the second
resolves it. The rule names the ``ups-b`` check, so when that poll sees the UPS on battery it joins
the trap's incident rather than opening a second one.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

UPS_ON_BATTERY = "1.3.6.1.2.1.33.2.1"  # UPS-MIB::upsTrapOnBattery
POWER_RESTORED = "1.3.6.1.4.1.318.0.9"  # PowerNet-MIB::powerRestored
UPS_B_ADDRESS = "127.0.0.12"
COMMUNITY = "demo"

#: The facility rules the demo applies (``dutydesk facility apply`` takes the same document).
DEMO_RULES = f"""
snmp:
  communities: [{COMMUNITY}]
  sources: [127.0.0.0/8]
rules:
  - name: ups-on-battery
    input: snmp
    trap: [upsTrapOnBattery, upsOnBattery]
    clear: [powerRestored]
    severity: critical
    impact: 1
    service: Power in hall B
    check: ups-b
    summary: "UPS B (hall B) is on battery: input power lost (trap from {{source}})"
"""


def trap_packet(trap_oid: str, uptime_centiseconds: int = 0, community: str = COMMUNITY) -> bytes:
    """One encoded SNMPv2c trap datagram (sysUpTime, snmpTrapOID)."""
    from pyasn1.codec.ber import encoder
    from pysnmp.proto import api

    proto = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    pdu = proto.SNMPv2TrapPDU()
    proto.apiTrapPDU.set_defaults(pdu)
    proto.apiTrapPDU.set_varbinds(pdu, [
        (proto.ObjectIdentifier("1.3.6.1.2.1.1.3.0"), proto.TimeTicks(uptime_centiseconds)),
        (proto.ObjectIdentifier("1.3.6.1.6.3.1.1.4.1.0"), proto.ObjectIdentifier(trap_oid)),
    ])
    message = proto.Message()
    proto.apiMessage.set_defaults(message)
    proto.apiMessage.set_community(message, community)
    proto.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))


def transition(was_on_battery: bool | None, on_battery: bool) -> str | None:
    """The trap to send when the state changed (None at start and when nothing changed)."""
    if was_on_battery is None or was_on_battery == on_battery:
        return None
    return UPS_ON_BATTERY if on_battery else POWER_RESTORED


class UpsTrapSender:
    """Watches ``on_battery(now)`` once a second and sends a trap on every change."""

    def __init__(self, target: tuple[str, int], on_battery: Callable[[float], bool]) -> None:
        self.target = target
        self.on_battery = on_battery
        self._stop = threading.Event()
        self._started = time.monotonic()

    def start(self) -> UpsTrapSender:
        threading.Thread(target=self._run, daemon=True, name="demo-ups-traps").start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            with contextlib.suppress(OSError):  # not every system has all of 127/8
                sock.bind((UPS_B_ADDRESS, 0))
            state: bool | None = None
            while not self._stop.wait(1.0):
                now_on_battery = self.on_battery(time.time())
                trap = transition(state, now_on_battery)
                state = now_on_battery
                if trap is not None:
                    uptime = int((time.monotonic() - self._started) * 100)
                    with contextlib.suppress(OSError):
                        sock.sendto(trap_packet(trap, uptime), self.target)
