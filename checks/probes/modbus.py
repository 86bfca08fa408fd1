"""Modbus TCP probe: read a device's registers and coils, scale them, judge them with thresholds.

For PDUs, CRAC/CRAH units and generator controllers that speak Modbus TCP. Spec::

    host: 10.20.0.30
    port: 502
    unit_id: 1                 # the Modbus unit (slave) identifier, 0-247
    timeout: 2s                # per request
    retries: 1
    word_order: big            # 32-bit values: big = high word first (default), little = low first
    points:
      - name: inlet_temp
        table: input           # holding (default) | input | coil | discrete
        address: 0             # protocol address, 0-based (register 30001 is input address 0)
        type: int16            # int16 | uint16 (default) | int32 | uint32 | float32 |
                               # int64 | uint64 | float64, or bit (with bit: 0-15, judged
                               # like a coil: an alarm word's bits on a CRAC unit)
        scale: 0.1             # value = raw * scale + offset
        offset: 0
        unit: °C
        warn: ~:27             # Nagios ranges, as everywhere in checks
        crit: ~:30
      - name: breaker_tripped
        table: coil
        address: 4
        ok_when: false         # the state that is fine; the other one is `alarm`
        alarm: critical        # or warning

Points of one table lying close together are read in one request (at most 125 registers or
2000 bits), so a 20-point PDU map costs two or three round trips. ``probe`` never raises for a
failed device: no connection or no answer is CRITICAL (the device is unreachable), an exception
answer (illegal address, device busy) makes the points it concerns UNKNOWN, with the reason.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from checks.nagios import NagiosRange
from checks.probes.base import Stopwatch, make_result
from checks.probes.devices import (
    Reading,
    judge_number,
    metrics_of,
    perfdata_of,
    summarize,
)
from checks.result import Result, Status
from checks.specs import SpecError, SpecReader, check_host, read_range

TABLES = ("holding", "input", "coil", "discrete")
REGISTER_TYPES = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2,
                  "int64": 4, "uint64": 4, "float64": 4, "bit": 1}
_FORMATS = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f",
            "int64": ">q", "uint64": ">Q", "float64": ">d"}
WORD_ORDERS = ("big", "little")
ALARMS = {"critical": Status.CRITICAL, "warning": Status.WARNING}
MAX_POINTS = 250
#: Modbus limits per request (application protocol spec v1.1b3, 6.1-6.4).
MAX_REGISTERS, MAX_BITS = 125, 2000
#: Read across a gap of up to this many unused addresses rather than make another request.
MAX_GAP = 16
#: Modbus exception codes in words (application protocol spec, 7).
EXCEPTIONS = {
    1: "illegal function", 2: "illegal data address", 3: "illegal data value",
    4: "device failure", 5: "acknowledge (still working)", 6: "device busy",
    8: "memory parity error", 10: "gateway path unavailable",
    11: "gateway target did not respond",
}


@dataclass(frozen=True, slots=True)
class Point:
    """One register value or coil of the device map, and how to judge it."""

    name: str
    table: str
    address: int
    type: str = "uint16"
    word_order: str = "big"
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ""
    warn: NagiosRange | None = None
    crit: NagiosRange | None = None
    ok_when: bool = False
    alarm: str = "critical"
    bit: int = 0  # type "bit": which bit of the register (0 = least significant)

    @property
    def bits(self) -> bool:
        return self.table in ("coil", "discrete")

    @property
    def state(self) -> bool:
        """Judged as on/off (a coil, a discrete input or one bit of an alarm register)."""
        return self.bits or self.type == "bit"

    @property
    def size(self) -> int:
        """Registers (or bits) this point occupies."""
        return 1 if self.bits else REGISTER_TYPES[self.type]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "table": self.table, "address": self.address}
        if self.bits:
            out.update(ok_when=self.ok_when, alarm=self.alarm)
            return out
        if self.type == "bit":
            out.update(type="bit", bit=self.bit, ok_when=self.ok_when, alarm=self.alarm)
            return out
        out.update(type=self.type, word_order=self.word_order, scale=self.scale,
                   offset=self.offset, unit=self.unit)
        out.update({k: r.text for k, r in (("warn", self.warn), ("crit", self.crit)) if r})
        return out


@dataclass(frozen=True, slots=True)
class Block:
    """One read request: ``count`` registers or bits of ``table`` from ``address``."""

    table: str
    address: int
    count: int
    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class ModbusSpec:
    host: str
    points: tuple[Point, ...]
    port: int = 502
    unit_id: int = 1
    timeout: float = 2.0
    retries: int = 1

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModbusSpec:
        """Build from a config mapping; raise SpecError naming the field and what is allowed."""
        reader = SpecReader(data, "modbus check")
        host = check_host("host", reader.string("host"))
        port = reader.integer("port", 502, minimum=1, maximum=65535)
        unit_id = reader.integer("unit_id", 1, minimum=0, maximum=255)
        timeout = reader.duration("timeout", 2.0, minimum=0.1, maximum=60.0)
        retries = reader.integer("retries", 1, minimum=0, maximum=5)
        word_order = reader.string("word_order", "big", choices=WORD_ORDERS)
        raw_points = reader.raw("points")
        reader.finish()
        if not isinstance(raw_points, list) or not raw_points:
            raise SpecError("points", raw_points, "must list at least one register or coil")
        if len(raw_points) > MAX_POINTS:
            raise SpecError("points", f"{len(raw_points)} points", f"must be at most {MAX_POINTS}")
        points = tuple(_point(f"points[{i}]", p, word_order) for i, p in enumerate(raw_points))
        seen: set[str] = set()
        for i, point in enumerate(points):
            if point.name in seen:
                raise SpecError(f"points[{i}].name", point.name, "is used twice; names must differ")
            seen.add(point.name)
        return cls(host=host, points=points, port=port, unit_id=unit_id, timeout=timeout,
                   retries=retries)

    def to_dict(self) -> dict[str, Any]:
        """The config mapping again (``from_dict(spec.to_dict()) == spec``)."""
        return {"host": self.host, "port": self.port, "unit_id": self.unit_id,
                "timeout": self.timeout, "retries": self.retries,
                "points": [p.to_dict() for p in self.points]}


def _point(field: str, data: object, default_order: str) -> Point:
    if not isinstance(data, Mapping):
        raise SpecError(field, data, "must be a mapping with name, table and address")
    try:
        return _read_point(SpecReader(data, "modbus point"), default_order)
    except SpecError as exc:
        raise SpecError(f"{field}.{exc.field}", exc.value, exc.rule) from None


def _read_point(reader: SpecReader, default_order: str) -> Point:
    name = reader.string("name").strip()
    table = reader.string("table", "holding", choices=TABLES)
    address = reader.integer("address", minimum=0, maximum=65535)
    if table in ("coil", "discrete"):
        point = Point(name=name, table=table, address=address,
                      ok_when=reader.boolean("ok_when", False),
                      alarm=reader.string("alarm", "critical", choices=tuple(ALARMS)))
    elif reader.raw("type", None) == "bit":
        reader.string("type")
        point = Point(name=name, table=table, address=address, type="bit",
                      bit=reader.integer("bit", minimum=0, maximum=15),
                      ok_when=reader.boolean("ok_when", False),
                      alarm=reader.string("alarm", "critical", choices=tuple(ALARMS)))
    else:
        kind = reader.string("type", "uint16", choices=tuple(REGISTER_TYPES))
        point = Point(
            name=name, table=table, address=address, type=kind,
            word_order=reader.string("word_order", default_order, choices=WORD_ORDERS),
            scale=reader.number("scale", 1.0), offset=reader.number("offset", 0.0),
            unit=reader.text("unit", "").strip(),
            warn=read_range("warn", reader.raw("warn", None)),
            crit=read_range("crit", reader.raw("crit", None)),
        )
        if point.scale == 0 or math.isinf(point.scale) or math.isinf(point.offset):
            raise SpecError("scale", point.scale, "must be a finite number other than 0")
        if address + point.size > 65536:
            raise SpecError("address", address,
                            f"leaves no room for a {kind} ({point.size} registers)")
    reader.finish()
    return point


# ---------------------------------------------------------------------------------------------
# Pure: which requests to send, how to decode and judge the answers


def plan(points: Sequence[Point]) -> tuple[Block, ...]:
    """Group points into as few reads as the protocol allows, per table in address order."""
    blocks: list[Block] = []
    for table in TABLES:
        members = sorted((p for p in points if p.table == table), key=lambda p: p.address)
        limit = MAX_BITS if table in ("coil", "discrete") else MAX_REGISTERS
        current: list[Point] = []
        start = end = 0
        for point in members:
            point_end = point.address + point.size
            if current and (point.address - end > MAX_GAP or point_end - start > limit):
                blocks.append(Block(table, start, end - start, tuple(current)))
                current = []
            if not current:
                start, end = point.address, point_end
            current.append(point)
            end = max(end, point_end)
        if current:
            blocks.append(Block(table, start, end - start, tuple(current)))
    return tuple(blocks)


def decode(registers: Sequence[int], kind: str, word_order: str = "big") -> float:
    """The number held by 1, 2 or 4 registers (16-bit words, big-endian bytes as on the wire;
    ``word_order`` little: the least significant word comes first)."""
    words = list(registers[:REGISTER_TYPES[kind]])
    if word_order == "little":
        words.reverse()
    raw = b"".join(struct.pack(">H", w & 0xFFFF) for w in words)
    return float(struct.unpack(_FORMATS[kind], raw)[0])


def judge_point(point: Point, answer: Sequence[int] | Sequence[bool], offset: int) -> Reading:
    """Judge one point from the answer of its block (``offset`` = its position in the block)."""
    if point.state:
        word = int(answer[offset])
        state = bool(word) if point.bits else bool((word >> point.bit) & 1)
        text = "on" if state else "off"
        if state == point.ok_when:
            return Reading(point.name, Status.OK, text)
        return Reading(point.name, ALARMS[point.alarm], text,
                       why=f"expected {'on' if point.ok_when else 'off'}")
    raw = decode(answer[offset:offset + point.size], point.type, point.word_order)  # type: ignore[arg-type]
    value = raw * point.scale + point.offset
    return judge_number(point.name, round(value, 6), point.warn, point.crit, point.unit)


def unanswered(block: Block, reason: str) -> list[Reading]:
    """The points of a block the device refused to read, each UNKNOWN with the reason."""
    return [Reading(p.name, Status.UNKNOWN, "no value", why=reason) for p in block.points]


def judge_block(block: Block, answer: Sequence[int] | Sequence[bool]) -> list[Reading]:
    """Readings of every point of ``block`` from its answer (short answers are UNKNOWN)."""
    readings = []
    for point in block.points:
        offset = point.address - block.address
        if len(answer) < offset + point.size:
            readings.append(Reading(point.name, Status.UNKNOWN, "no value",
                                    why="the device answered fewer values than asked"))
        else:
            readings.append(judge_point(point, answer, offset))
    return readings


def exception_words(code: int) -> str:
    """``device answered exception 2 (illegal data address)``."""
    return f"device answered exception {code} ({EXCEPTIONS.get(code, 'unknown code')})"


# ---------------------------------------------------------------------------------------------
# I/O


async def probe(spec: ModbusSpec, now: datetime, ctx: Any = None) -> Result:
    """Read every block and judge every point. Never raises for a failed device."""
    from pymodbus.client import AsyncModbusTcpClient
    from pymodbus.exceptions import ModbusException

    _quiet_pymodbus()
    watch = Stopwatch()
    where = f"{spec.host}:{spec.port} unit {spec.unit_id}"
    client = AsyncModbusTcpClient(spec.host, port=spec.port, timeout=spec.timeout,
                                  retries=spec.retries, reconnect_delay=0)
    readings: list[Reading] = []
    try:
        if not await client.connect():
            return make_result(Status.CRITICAL, f"Modbus device {spec.host}:{spec.port} "
                               "refused or did not accept the connection within "
                               f"{spec.timeout:g} s", now, watch)
        for block in plan(spec.points):
            answer = await _read(client, block, spec.unit_id)
            if isinstance(answer, int):
                readings.extend(unanswered(block, exception_words(answer)))
            else:
                readings.extend(judge_block(block, answer))
    except ModbusException as exc:
        return make_result(Status.CRITICAL, f"Modbus device {where} did not answer: "
                           f"{_reason(exc)}", now, watch)
    except OSError as exc:
        return make_result(Status.CRITICAL, f"Modbus device {where}: {exc.strerror or exc}",
                           now, watch)
    finally:
        client.close()
    status, message = summarize(readings, f"{where}: ")
    return make_result(status, message, now, watch, perfdata=perfdata_of(readings),
                       **metrics_of(readings), response_time=watch.elapsed())


async def _read(client: Any, block: Block, unit_id: int) -> list[int] | list[bool] | int:
    """The block's values, or the exception code the device answered."""
    read = {"holding": client.read_holding_registers, "input": client.read_input_registers,
            "coil": client.read_coils, "discrete": client.read_discrete_inputs}[block.table]
    response = await read(block.address, count=block.count, device_id=unit_id)
    if response.isError():
        return int(getattr(response, "exception_code", 0) or 0)
    if block.table in ("coil", "discrete"):
        return list(response.bits[:block.count])
    return list(response.registers)


def _reason(exc: Exception) -> str:
    text = str(exc).replace("Modbus Error: ", "").strip("[] ")
    return text or type(exc).__name__


def _quiet_pymodbus() -> None:
    """pymodbus logs every refused connection at ERROR; the Result already says it, so its
    logger is raised to CRITICAL unless the operator configured a level for it."""
    log = logging.getLogger("pymodbus.logging")
    if log.level == logging.NOTSET:
        log.setLevel(logging.CRITICAL)
