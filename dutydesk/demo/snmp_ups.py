"""The demo's UPSes and core switches as an SNMP agent on 127.0.0.1: UPS-MIB (RFC 1628) the way
a UPS card serves it, IF-MIB the way a switch does.

One SNMPv2c agent answers GET, GETNEXT and GETBULK (what the ``snmp`` check's ``ups`` profile
walks) for both UPSes; the community names the UPS (``ups-a``, ``ups-b``), like snmpsim does in the
tests. Every answer is computed from the same clock-driven simulation as the UPS B trap sender
(:func:`dutydesk.demo.modbus_site.ups_registers`), so the minute UPS B is on battery the poll sees
``upsOutputSource = battery(5)`` and a falling runtime, while the trap has already opened the P1.

The responder is built on pysnmp's protocol API (decode a message, answer it), served from its
own event loop in a daemon thread, so it costs no process and no privileges.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from dutydesk.demo.modbus_site import ups_registers

UPS_MIB = "1.3.6.1.2.1.33.1"
ON_BATTERY_ALARM = "1.3.6.1.2.1.33.1.6.3.2"  # upsAlarmOnBattery

Oid = tuple[int, ...]
#: One object: (SNMP type name of pysnmp's v2c API, value).
MibValue = tuple[str, Any]


def _oid(dotted: str) -> Oid:
    return tuple(int(part) for part in dotted.split("."))


def ups_mib(now: float, *, name: str, battery_every: int = 0) -> dict[Oid, MibValue]:
    """The UPS-MIB objects of a demo UPS at ``now`` (seconds), from its simulated registers."""
    on_battery, load, runtime, decivolts = ups_registers(now, battery_every)[:4]
    seconds_on_battery = int(now % battery_every) if on_battery else 0
    objects: dict[str, MibValue] = {
        "1.1.1.0": ("OctetString", "DutyDesk demo"),  # upsIdentManufacturer
        "1.1.2.0": ("OctetString", "Demo UPS 30 kVA"),  # upsIdentModel
        "1.1.5.0": ("OctetString", name),  # upsIdentName
        "2.1.0": ("Integer", 2),  # upsBatteryStatus: batteryNormal
        "2.2.0": ("Integer", seconds_on_battery),  # upsSecondsOnBattery
        "2.3.0": ("Integer", runtime),  # upsEstimatedMinutesRemaining
        "2.4.0": ("Integer", 100 - seconds_on_battery // 6 if on_battery else 100),
        "2.5.0": ("Integer", 4320 if on_battery else 4410),  # upsBatteryVoltage, 0.1 V DC
        "2.7.0": ("Integer", 24),  # upsBatteryTemperature, °C
        "3.2.0": ("Integer", 1),  # upsInputNumLines
        "3.3.1.1.1": ("Integer", 1),  # upsInputLineIndex
        "3.3.1.2.1": ("Integer", 0 if on_battery else 500),  # upsInputFrequency, 0.1 Hz
        "3.3.1.3.1": ("Integer", decivolts // 10),  # upsInputVoltage, V
        "4.1.0": ("Integer", 5 if on_battery else 3),  # upsOutputSource: battery / normal
        "4.2.0": ("Integer", 500),  # upsOutputFrequency
        "4.3.0": ("Integer", 1),  # upsOutputNumLines
        "4.4.1.1.1": ("Integer", 1),  # upsOutputLineIndex
        "4.4.1.2.1": ("Integer", 230),  # upsOutputVoltage
        "4.4.1.5.1": ("Integer", load),  # upsOutputPercentLoad
        "6.1.0": ("Gauge32", 1 if on_battery else 0),  # upsAlarmsPresent
    }
    if on_battery:
        objects["6.2.1.1.1"] = ("Integer", 1)  # upsAlarmId
        objects["6.2.1.2.1"] = ("ObjectIdentifier", ON_BATTERY_ALARM)  # upsAlarmDescr
    return {_oid(f"{UPS_MIB}.{suffix}"): value for suffix, value in objects.items()}


#: community → the UPS it answers for: MIB objects at a moment.
DEMO_UPSES: dict[str, Callable[[float], dict[Oid, MibValue]]] = {
    "ups-a": functools.partial(ups_mib, name="UPS A (hall A)", battery_every=0),
    "ups-b": functools.partial(ups_mib, name="UPS B (hall B)", battery_every=600),
}


IF_MIB = "1.3.6.1.2.1"
#: The demo core switch's ports: (ifIndex, name, alias). The uplink is the one that flaps.
SWITCH_PORTS = ((1, "Gi1/0/1", "mgmt"), (2, "Te1/0/47", "hall A aggregation"),
                (3, "Te1/0/48", "uplink to hall B"), (4, "Gi1/0/24", "spare"))
AGENT_STARTED = time.time()


def switch_mib(now: float, *, flap_every: int = 0) -> dict[Oid, MibValue]:
    """IF-MIB of a demo core switch at ``now``: the uplink Te1/0/48 is oper down for 90 s of
    every ``flap_every`` seconds (0: never); the spare port is admin down."""
    uplink_down = flap_every > 0 and (now % flap_every) < 90
    objects: dict[str, MibValue] = {
        "1.3.0": ("TimeTicks", int((now - AGENT_STARTED) * 100) % 2**32),  # sysUpTime
    }
    for index, name, alias in SWITCH_PORTS:
        admin_up = name != "Gi1/0/24"
        oper_up = admin_up and not (uplink_down and name == "Te1/0/48")
        objects[f"2.2.1.2.{index}"] = ("OctetString", name)  # ifDescr
        objects[f"2.2.1.7.{index}"] = ("Integer", 1 if admin_up else 2)  # ifAdminStatus
        objects[f"2.2.1.8.{index}"] = ("Integer", 1 if oper_up else 2)  # ifOperStatus
        objects[f"2.2.1.14.{index}"] = ("Counter32", 0)  # ifInErrors
        objects[f"2.2.1.20.{index}"] = ("Counter32", 0)  # ifOutErrors
        objects[f"31.1.1.1.1.{index}"] = ("OctetString", name)  # ifName
        objects[f"31.1.1.1.18.{index}"] = ("OctetString", alias)  # ifAlias
    return {_oid(f"{IF_MIB}.{suffix}"): value for suffix, value in objects.items()}


#: Every device the demo's agent answers for (community → MIB objects at a moment): the UPSes
#: and the two core switches (IF-MIB, for the ``interfaces`` profile).
DEMO_DEVICES: dict[str, Callable[[float], dict[Oid, MibValue]]] = {
    **DEMO_UPSES,
    "core-sw-a": functools.partial(switch_mib, flap_every=0),
    "core-sw-b": functools.partial(switch_mib, flap_every=1200),
}


def answer(request: bytes, devices: Mapping[str, Callable[[float], dict[Oid, MibValue]]],
           now: float) -> bytes | None:
    """The encoded response to one SNMPv2c GET/GETNEXT/GETBULK datagram (None: stay silent,
    as agents do for an unknown community, another version or a request they cannot parse)."""
    from pyasn1.codec.ber import decoder, encoder
    from pyasn1.error import PyAsn1Error
    from pysnmp.proto import api

    proto = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    try:
        if api.decodeMessageVersion(request) != api.SNMP_VERSION_2C:
            return None
        message, _ = decoder.decode(request, asn1Spec=proto.Message())
    except (PyAsn1Error, ValueError):
        return None
    device = devices.get(str(proto.apiMessage.get_community(message)))
    pdu = proto.apiMessage.get_pdu(message)
    kinds = (proto.GetRequestPDU, proto.GetNextRequestPDU, proto.GetBulkRequestPDU)
    if device is None or not isinstance(pdu, kinds):
        return None
    mib = device(now)
    oids = sorted(mib)
    response = proto.apiMessage.get_response(message)
    requested = [tuple(oid) for oid, _ in proto.apiPDU.get_varbinds(pdu)]

    def value(kind: str, raw: Any) -> Any:
        return getattr(proto, kind)(raw)

    def following(oid: Oid) -> tuple[Oid, Any]:
        index = bisect.bisect_right(oids, oid)
        if index == len(oids):
            return oid, proto.EndOfMibView("")
        found = oids[index]
        return found, value(*mib[found])

    if isinstance(pdu, proto.GetRequestPDU):
        varbinds = [(oid, value(*mib[oid]) if oid in mib else proto.NoSuchObject(""))
                    for oid in requested]
    elif isinstance(pdu, proto.GetNextRequestPDU):
        varbinds = [following(oid) for oid in requested]
    else:
        non_repeaters = int(proto.apiBulkPDU.get_non_repeaters(pdu))
        repetitions = min(int(proto.apiBulkPDU.get_max_repetitions(pdu)), 50)
        varbinds = [following(oid) for oid in requested[:non_repeaters]]
        cursors = requested[non_repeaters:]
        for _ in range(repetitions if cursors else 0):
            row = [following(oid) for oid in cursors]
            varbinds += row
            cursors = [oid for oid, _ in row]
            if all(isinstance(v, proto.EndOfMibView) for _, v in row):
                break
    proto.apiPDU.set_varbinds(proto.apiMessage.get_pdu(response),
                              [(proto.ObjectIdentifier(oid), v) for oid, v in varbinds])
    return bytes(encoder.encode(response))


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, devices: Mapping[str, Callable[[float], dict[Oid, MibValue]]]) -> None:
        self.devices = devices
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = answer(data, self.devices, time.time())
        if reply is not None:
            self.transport.sendto(reply, addr)


class SnmpUpsAgent:
    """The agent on 127.0.0.1:<free UDP port>, served from its own event loop."""

    def __init__(self, devices: Mapping[str, Callable[[float], dict[Oid, MibValue]]]
                 = DEMO_DEVICES) -> None:
        self.devices = devices
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._transport: Any = None

    def start(self) -> SnmpUpsAgent:
        threading.Thread(target=self._loop.run_forever, daemon=True, name="demo-snmp").start()

        async def bind() -> Any:
            transport, _ = await self._loop.create_datagram_endpoint(
                lambda: _Responder(self.devices), local_addr=("127.0.0.1", 0))
            return transport

        self._transport = asyncio.run_coroutine_threadsafe(bind(), self._loop).result(10)
        self.port = self._transport.get_extra_info("sockname")[1]
        return self

    def stop(self) -> None:
        if self._transport is not None:
            self._loop.call_soon_threadsafe(self._transport.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
