"""The Modbus TCP probe against a real pymodbus server serving a PDU's register map."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from pymodbus.client import ModbusTcpClient
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from checks.probes import build_spec, run_probe
from checks.probes.modbus import ModbusSpec, decode, plan
from checks.result import Status
from checks.specs import SpecError
from tests.checks.conftest import ServerLoop, free_port

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DT = ModbusTcpClient.DATATYPE


def _registers(value: float, kind: DT, word_order: str = "big") -> list[int]:
    """Register words as pymodbus itself encodes them (not our decoder)."""
    return ModbusTcpClient.convert_to_registers(value, kind, word_order=word_order)


def pdu_device() -> SimDevice:
    """A PDU: outlet current, voltage, energy counter, inlet temperature, a breaker coil."""
    holding = (
        [1234, (-3) & 0xFFFF]  # 0: 12.34 A (x0.01); 1: -3 (int16)
        + [0] * 8
        + _registers(4_000_000, DT.UINT32)  # 10-11: energy, high word first
        + [0] * 8
        + _registers(31.5, DT.FLOAT32, "little")  # 20-21: inlet temperature, low word first
        + [0b0000_0000_0000_0100]  # 22: CRAC alarm word, bit 2 (high head pressure) set
        + _registers(123456.789, DT.FLOAT64)  # 23-26: generator run hours
    )
    return SimDevice(id=1, simdata=(
        [SimData(0, values=[True, False, False, True], datatype=DataType.BITS)],  # coils
        [SimData(0, values=[False], datatype=DataType.BITS)],  # discrete inputs
        [SimData(0, values=holding, datatype=DataType.REGISTERS)],  # holding
        [SimData(0, values=[(-5) & 0xFFFF, 450], datatype=DataType.REGISTERS)],  # input
    ))


@pytest.fixture(scope="module")
def pdu_port(server_loop: ServerLoop) -> int:
    port = free_port()

    async def start() -> None:
        server = ModbusTcpServer(pdu_device(), address=("127.0.0.1", port))
        await server.serve_forever(background=True)
        server_loop.cleanups.append(server.shutdown)

    server_loop.run(start())
    return port


def spec(port: int, *points: dict, **extra: object) -> ModbusSpec:
    return build_spec("modbus", {"host": "127.0.0.1", "port": port, "points": list(points),
                                 **extra})


def run(s: ModbusSpec, timeout: float = 5):
    return asyncio.run(run_probe("modbus", s, NOW, timeout=timeout))


CURRENT = {"name": "outlet_current", "address": 0, "scale": 0.01, "unit": "A",
           "warn": "~:16", "crit": "~:20"}


def test_a_pdu_within_its_limits_is_ok_and_every_value_is_scaled_and_kept(pdu_port) -> None:
    result = run(spec(
        pdu_port, CURRENT,
        {"name": "offset_volts", "address": 1, "type": "int16"},
        {"name": "energy_kwh", "address": 10, "type": "uint32", "scale": 0.001, "unit": "kWh"},
        {"name": "inlet_temp", "address": 20, "type": "float32", "word_order": "little",
         "unit": "°C", "crit": "~:35"},
        {"name": "probe_temp", "table": "input", "address": 0, "type": "int16", "scale": 0.1},
        {"name": "door_open", "table": "discrete", "address": 0},
    ))
    assert result.status is Status.OK, result.message
    assert result.metrics["outlet_current"] == pytest.approx(12.34)
    assert result.metrics["offset_volts"] == -3
    assert result.metrics["energy_kwh"] == pytest.approx(4000)
    assert result.metrics["inlet_temp"] == pytest.approx(31.5)
    assert result.metrics["probe_temp"] == pytest.approx(-0.5)
    assert "outlet_current = 12.34 A" in result.message
    assert [p.label for p in result.perfdata][:2] == ["outlet_current", "offset_volts"]
    assert result.perfdata[0].uom == "A" and result.perfdata[0].crit == "~:20"


def test_a_value_over_its_limit_is_named_first_with_the_limit(pdu_port) -> None:
    result = run(spec(
        pdu_port, CURRENT,
        {"name": "inlet_temp", "address": 20, "type": "float32", "word_order": "little",
         "unit": "°C", "warn": "~:27", "crit": "~:30"},
    ))
    assert result.status is Status.CRITICAL
    assert result.message == (f"127.0.0.1:{pdu_port} unit 1: inlet_temp = 31.5 °C (crit ~:30), "
                              "outlet_current = 12.34 A")


def test_a_tripped_breaker_coil_raises_its_alarm(pdu_port) -> None:
    result = run(spec(pdu_port, {"name": "breaker_a", "table": "coil", "address": 0},
                      {"name": "breaker_b", "table": "coil", "address": 1},
                      {"name": "fan_fault", "table": "coil", "address": 3, "alarm": "warning"}))
    assert result.status is Status.CRITICAL
    assert "breaker_a = on (expected off)" in result.message
    assert "fan_fault = on (expected off)" in result.message
    ok = run(spec(pdu_port, {"name": "running", "table": "coil", "address": 0, "ok_when": True}))
    assert ok.status is Status.OK


def test_an_alarm_word_is_judged_bit_by_bit_and_wide_values_are_read(pdu_port) -> None:
    result = run(spec(
        pdu_port,
        {"name": "filter_dirty", "address": 22, "type": "bit", "bit": 0, "alarm": "warning"},
        {"name": "high_head_pressure", "address": 22, "type": "bit", "bit": 2},
        {"name": "run_hours", "address": 23, "type": "float64", "unit": "h"},
    ))
    assert result.status is Status.CRITICAL
    assert "high_head_pressure = on (expected off)" in result.message
    assert "filter_dirty = off" in result.message
    assert result.metrics["run_hours"] == pytest.approx(123456.789)


def test_an_address_the_device_does_not_have_is_unknown_with_the_modbus_exception(
    pdu_port,
) -> None:
    result = run(spec(pdu_port, CURRENT, {"name": "ghost", "address": 900}))
    assert result.status is Status.UNKNOWN
    assert "ghost = no value (device answered exception 2 (illegal data address))" \
        in result.message
    assert result.metrics["outlet_current"] == pytest.approx(12.34)


def test_a_refused_connection_is_critical(refused_port) -> None:
    result = run(spec(refused_port, CURRENT, timeout=0.5))
    assert result.status is Status.CRITICAL
    assert "refused or did not accept the connection" in result.message


def test_a_device_that_never_answers_is_critical_within_its_timeout(silent_port) -> None:
    result = run(spec(silent_port, CURRENT, timeout=0.3, retries=0))
    assert result.status is Status.CRITICAL
    assert "did not answer" in result.message


def test_the_engine_timeout_wins_over_the_device_timeout(silent_port) -> None:
    result = run(spec(silent_port, CURRENT, timeout=10, retries=3), timeout=0.5)
    assert result.status is Status.UNKNOWN
    assert result.message == "probe timed out after 0.5 s"


# --------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(("words", "kind", "order", "value"), [
    ([0xFFFF], "int16", "big", -1),  # two's complement
    ([0xFFFF], "uint16", "big", 65535),
    ([0x0001, 0x0000], "uint32", "big", 65536),  # high word first
    ([0x0000, 0x0001], "uint32", "little", 65536),  # low word first
    ([0xFFFF, 0xFFFE], "int32", "big", -2),
    ([0x41FC, 0x0000], "float32", "big", 31.5),
    ([0x0000, 0x41FC], "float32", "little", 31.5),
    ([0, 0, 1, 0], "uint64", "big", 65536),
    ([0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE], "int64", "big", -2),
    ([0x4059, 0, 0, 0], "float64", "big", 100.0),
    ([0, 0, 0, 0x4059], "float64", "little", 100.0),
])
def test_register_words_decode_by_type_and_word_order(words, kind, order, value) -> None:
    assert decode(words, kind, order) == value


def test_close_points_share_one_request_and_far_ones_do_not() -> None:
    s = ModbusSpec.from_dict({"host": "pdu", "points": [
        {"name": "a", "address": 0}, {"name": "b", "address": 10, "type": "float32"},
        {"name": "c", "address": 500}, {"name": "d", "table": "coil", "address": 3}]})
    blocks = plan(s.points)
    assert [(b.table, b.address, b.count, [p.name for p in b.points]) for b in blocks] == [
        ("holding", 0, 12, ["a", "b"]), ("holding", 500, 1, ["c"]), ("coil", 3, 1, ["d"])]


def test_no_request_asks_for_more_than_125_registers() -> None:
    points = [{"name": f"p{i}", "address": i * 10, "type": "uint32"} for i in range(40)]
    blocks = plan(ModbusSpec.from_dict({"host": "pdu", "points": points}).points)
    assert all(b.count <= 125 for b in blocks)
    assert sum(len(b.points) for b in blocks) == 40


@pytest.mark.parametrize(("points", "message"), [
    ([], "points must list at least one register or coil"),
    ([{"name": "a", "address": -1}], "points[0].address must be between 0 and 65535"),
    ([{"name": "a", "address": 1, "type": "int128"}], "points[0].type must be one of int16"),
    ([{"name": "a", "address": 1, "type": "bit"}], "points[0].bit is required"),
    ([{"name": "a", "address": 1, "type": "bit", "bit": 16}], "points[0].bit must be between"),
    ([{"name": "a", "address": 1, "type": "bit", "bit": 1, "scale": 2}],
     "points[0].scale is not a field"),
    ([{"name": "a", "address": 1, "warn": "abc"}], "points[0].warn must be a Nagios range"),
    ([{"name": "a", "address": 1, "scale": 0}], "points[0].scale must be a finite number"),
    ([{"name": "a", "address": 65535, "type": "float32"}], "points[0].address leaves no room"),
    ([{"name": "a", "address": 1}, {"name": "a", "address": 2}], "points[1].name is used twice"),
    ([{"name": "a", "table": "coil", "address": 1, "unit": "A"}], "points[0].unit is not a field"),
])
def test_bad_point_maps_are_refused_with_the_field_named(points, message) -> None:
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ModbusSpec.from_dict({"host": "pdu", "points": points})


def test_a_spec_survives_its_round_trip_through_a_dict() -> None:
    s = ModbusSpec.from_dict({"host": "pdu", "unit_id": 3, "word_order": "little", "points": [
        CURRENT, {"name": "t", "address": 4, "type": "float32"},
        {"name": "br", "table": "discrete", "address": 2, "ok_when": True, "alarm": "warning"},
        {"name": "alarm", "address": 9, "type": "bit", "bit": 15, "ok_when": True},
        {"name": "hours", "address": 12, "type": "uint64"}]})
    assert ModbusSpec.from_dict(s.to_dict()) == s
    assert s.points[1].word_order == "little"

