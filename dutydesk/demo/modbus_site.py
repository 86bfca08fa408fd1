"""The demo's aisle sensors as a Modbus TCP gateway (pymodbus) on 127.0.0.1, and the UPS clock.

Real facility gear often sits behind a Modbus TCP gateway, one unit id per device. The demo serves
units whose registers follow the clock, so the demo's ``modbus`` checks poll them like real
equipment, in the engine itself — no plugin processes (which, when the demo runs as root, run as
``nobody`` and may not execute a virtualenv's Python under /root):

- units 3 and 4, the cold aisles of halls A and B (``SENSOR_MAP``): hall B warms in the sun.

``ups_registers`` is the UPSes' simulation (UPS B loses input power for a minute every ten): the
demo's SNMP agent (``dutydesk.demo.snmp_ups``) and UPS B's trap sender both read it.
"""

from __future__ import annotations

import asyncio
import functools
import math
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Holding registers of a demo aisle sensor: 0 temperature ×10 (int16), 1 humidity %.
SENSOR_MAP = [
    {"name": "temperature", "address": 0, "type": "int16", "scale": 0.1, "unit": "°C",
     "warn": "~:27", "crit": "~:30"},
    {"name": "humidity", "address": 1, "unit": "%", "warn": "20:70"},
]


def ups_registers(now: float, battery_every: int = 0) -> list[int]:
    """UPS state at ``now`` (seconds): on line, or on battery for 60 s every period, as
    [on battery 0/1, load %, runtime min, input voltage ×10, battery temp float32 hi, lo]."""
    on_battery = battery_every > 0 and (now % battery_every) < 60
    load = round(38 + 6 * math.sin(now / 900))
    runtime = round(31 - (now % battery_every) / 10) if on_battery else 42
    volts = 0 if on_battery else 2290
    temp_hi, temp_lo = struct.unpack(">HH", struct.pack(">f", 24.5))
    return [int(on_battery), load, runtime, volts, temp_hi, temp_lo]


def sensor_registers(now: float, base: float, swing: float) -> list[int]:
    """Aisle sensor registers at ``now``: temperature ×10 as int16, humidity %."""
    tenths = round((base + swing * math.sin(now / 420)) * 10)
    return [tenths & 0xFFFF, round(45 + 5 * math.sin(now / 1300))]


@dataclass(frozen=True)
class Unit:
    unit_id: int
    registers: Callable[[float], list[int]]


DEMO_UNITS = (
    Unit(3, functools.partial(sensor_registers, base=22.5, swing=1.0)),
    Unit(4, functools.partial(sensor_registers, base=25.5, swing=2.5)),
)


async def _refresh(unit: Unit, function_code: int, start_address: int, address: int,
                   count: int, current_registers: list[int], set_values: Any) -> None:
    """pymodbus calls this on every request: put the values of this moment in place."""
    for offset, value in enumerate(unit.registers(time.time())):
        index = offset - start_address
        if 0 <= index < len(current_registers):
            current_registers[index] = value


class ModbusSite:
    """The gateway, served from its own event loop in a daemon thread."""

    def __init__(self, units: tuple[Unit, ...] = DEMO_UNITS) -> None:
        self.units = units
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: Any = None

    def start(self) -> ModbusSite:
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        from dutydesk.demo.targets import free_port

        threading.Thread(target=self._loop.run_forever, daemon=True,
                         name="demo-modbus").start()
        self.port = free_port()
        devices = [SimDevice(id=u.unit_id, action=functools.partial(_refresh, u),
                             simdata=[SimData(0, values=u.registers(time.time()) + [0] * 4,
                                              datatype=DataType.REGISTERS)])
                   for u in self.units]

        async def serve() -> None:
            self._server = ModbusTcpServer(devices, address=("127.0.0.1", self.port))
            await self._server.serve_forever(background=True)

        asyncio.run_coroutine_threadsafe(serve(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
