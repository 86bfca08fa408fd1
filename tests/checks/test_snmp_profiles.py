"""The SNMP profiles judge fetched varbinds (dict OID → value) without any agent.

Each table row is one situation a duty engineer would meet, with the status and the words the
wall must show. OIDs are spelled out from the MIBs on purpose, so a wrong constant in the code
under test shows up here.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.result import Status
from checks.snmp.interfaces import (
    ErrorCounters,
    InterfaceOptions,
    agent_restarted,
    counter_increase,
    error_rates,
    judge_interfaces,
    previous_counters,
)
from checks.snmp.pdu import PduOptions, ValueOptions, judge_pdu, judge_values
from checks.snmp.profiles import build_profile, judge_get, judge_walk
from checks.snmp.sensors import SensorDataError, SensorOptions, judge_sensors, sensor_reading
from checks.snmp.ups import UpsOptions, judge_ups
from checks.snmp.values import Limits
from checks.specs import SpecError

UPS = "1.3.6.1.2.1.33.1"


def ups(**overrides: int) -> dict[str, object]:
    """A healthy single-phase UPS on mains; keyword names are short aliases for OIDs."""
    oids = {
        "source": f"{UPS}.4.1.0",
        "battery": f"{UPS}.2.1.0",
        "seconds_on_battery": f"{UPS}.2.2.0",
        "minutes": f"{UPS}.2.3.0",
        "charge": f"{UPS}.2.4.0",
        "battery_decivolts": f"{UPS}.2.5.0",
        "battery_temp": f"{UPS}.2.7.0",
        "in_freq_1": f"{UPS}.3.3.1.2.1",
        "in_volt_1": f"{UPS}.3.3.1.3.1",
        "load_1": f"{UPS}.4.4.1.5.1",
        "alarms": f"{UPS}.6.1.0",
    }
    values = {
        "source": 3, "battery": 2, "seconds_on_battery": 0, "minutes": 40, "charge": 100,
        "battery_decivolts": 545, "battery_temp": 24, "in_freq_1": 500, "in_volt_1": 230,
        "load_1": 40, "alarms": 0, **overrides,
    }
    return {oids[name]: value for name, value in values.items()}


# ---------------------------------------------------------------------------------------------
# UPS


@pytest.mark.parametrize(
    ("overrides", "status", "words"),
    [
        pytest.param({}, Status.OK, "on mains", id="healthy-on-mains"),
        pytest.param({"source": 5, "seconds_on_battery": 252}, Status.CRITICAL,
                     "ON BATTERY for 4 min 12 s", id="on-battery-says-since-when"),
        pytest.param({"source": 4}, Status.WARNING, "ON BYPASS", id="bypass-is-warning"),
        pytest.param({"source": 2}, Status.CRITICAL, "OUTPUT OFF", id="output-off"),
        pytest.param({"source": 6}, Status.OK, "boosting low input voltage", id="booster-ok"),
        pytest.param({"source": 1}, Status.WARNING, "output source 'other'", id="other"),
        pytest.param({"source": 42}, Status.UNKNOWN, "output source 42 is not an RFC 1628",
                     id="nonsense-source"),
        pytest.param({"battery": 3}, Status.CRITICAL, "battery LOW", id="battery-low"),
        pytest.param({"battery": 4}, Status.CRITICAL, "battery DEPLETED", id="battery-depleted"),
        pytest.param({"battery": 1}, Status.UNKNOWN, "battery status unknown",
                     id="battery-status-unknown"),
        pytest.param({"minutes": 15}, Status.OK, "runtime 15 min", id="runtime-at-warn-bound"),
        pytest.param({"minutes": 14}, Status.WARNING, "runtime 14 min (< 15 min)",
                     id="runtime-below-warn"),
        pytest.param({"minutes": 4}, Status.CRITICAL, "runtime 4 min (< 5 min)",
                     id="runtime-below-crit"),
        pytest.param({"load_1": 85}, Status.WARNING, "load 85 % (> 80 %)", id="load-warn"),
        pytest.param({"load_1": 95}, Status.CRITICAL, "load 95 % (> 90 %)", id="load-crit"),
        pytest.param({"battery_temp": 38}, Status.WARNING, "battery 38 °C (> 35 °C)",
                     id="hot-battery"),
    ],
)
def test_ups_judgement_table(overrides: dict[str, object], status: Status, words: str) -> None:
    judgement = judge_ups(ups(**overrides))
    assert judgement.status is status
    assert words in judgement.message


def test_ups_on_battery_puts_the_reason_first_on_the_wall() -> None:
    judgement = judge_ups(ups(source=5, seconds_on_battery=90, minutes=12))
    assert judgement.message.startswith("UPS: ON BATTERY for 1 min 30 s; runtime 12 min")


def test_ups_per_line_load_names_each_line_of_a_three_phase_ups() -> None:
    varbinds = ups(load_1=50)
    varbinds[f"{UPS}.4.4.1.5.2"] = 92
    varbinds[f"{UPS}.4.4.1.5.3"] = 48
    judgement = judge_ups(varbinds)
    assert judgement.status is Status.CRITICAL
    assert "load L2 92 % (> 90 %)" in judgement.message
    assert "load L1 50 %" in judgement.message
    assert judgement.metrics["output_l3_load_percent"] == 48


def test_ups_input_frequency_is_read_in_tenths_of_hertz() -> None:
    judgement = judge_ups(ups(in_freq_1=499))
    assert judgement.metrics["input_l1_frequency_hz"] == pytest.approx(49.9)
    assert judgement.metrics["battery_voltage"] == pytest.approx(54.5)


def test_ups_input_limits_are_judged_only_when_configured() -> None:
    low_frequency = ups(in_freq_1=488, in_volt_1=199)
    assert judge_ups(low_frequency).status is Status.OK
    options = UpsOptions.from_dict({
        "input_frequency": {"warn_below": 49.5, "crit_below": 49},
        "input_voltage": {"warn_below": 207, "crit_below": 190},
    })
    judgement = judge_ups(low_frequency, options)
    assert judgement.status is Status.CRITICAL
    assert "input 48.8 Hz (< 49 Hz)" in judgement.message
    assert "input 199 V (< 207 V)" in judgement.message


def test_ups_alarms_are_named_from_the_well_known_alarm_oids() -> None:
    varbinds = ups(alarms=2)
    varbinds[f"{UPS}.6.2.1.2.1"] = "1.3.6.1.2.1.33.1.6.3.1"
    varbinds[f"{UPS}.6.2.1.2.2"] = "1.3.6.1.2.1.33.1.6.3.8"
    judgement = judge_ups(varbinds)
    assert judgement.status is Status.CRITICAL  # output overload is critical
    assert "2 alarms: battery needs replacement, output overload" in judgement.message
    assert judgement.metrics["alarms_present"] == 2


def test_ups_alarm_count_without_table_still_warns() -> None:
    judgement = judge_ups(ups(alarms=1))
    assert judgement.status is Status.WARNING
    assert "1 alarm(s) present" in judgement.message


def test_ups_vendor_alarm_is_shown_by_its_oid() -> None:
    varbinds = ups(alarms=1)
    varbinds[f"{UPS}.6.2.1.2.1"] = "1.3.6.1.4.1.534.1.7.17"
    judgement = judge_ups(varbinds)
    assert "vendor alarm 1.3.6.1.4.1.534.1.7.17" in judgement.message


def test_device_without_ups_mib_is_unknown_with_a_hint() -> None:
    judgement = judge_ups({"1.3.6.1.2.1.1.1.0": "Linux router"})
    assert judgement.status is Status.UNKNOWN
    assert "no UPS-MIB (RFC 1628)" in judgement.message


def test_ups_options_replace_the_default_limits() -> None:
    options = UpsOptions.from_dict({"minutes_remaining": {"crit_below": 20}})
    judgement = judge_ups(ups(minutes=18), options)
    assert judgement.status is Status.CRITICAL
    assert "runtime 18 min (< 20 min)" in judgement.message


# ---------------------------------------------------------------------------------------------
# ENTITY-SENSOR-MIB

SENSOR = "1.3.6.1.2.1.99.1.1.1"
NAME = "1.3.6.1.2.1.47.1.1.1.1.7"


@pytest.mark.parametrize(
    ("raw", "scale", "precision", "expected"),
    [
        pytest.param(2345, 9, 2, 23.45, id="precision-2-units"),
        pytest.param(284, 9, 1, 28.4, id="precision-1-units"),
        pytest.param(-125, 9, 1, -12.5, id="negative-reading"),
        pytest.param(12050, 8, 0, 12.05, id="milli-volts"),
        pytest.param(3, 10, 0, 3000.0, id="kilo"),
        pytest.param(1234, 8, 2, 0.01234, id="milli-and-precision-together"),
        pytest.param(1234, 9, -2, 1234.0, id="negative-precision-counts-digits-no-shift"),
        pytest.param(41, 9, 0, 41.0, id="humidity-whole-percent"),
    ],
)
def test_sensor_reading_applies_scale_and_precision(
    raw: int, scale: int, precision: int, expected: float
) -> None:
    assert sensor_reading(raw, scale, precision) == expected  # exact: Decimal arithmetic


@pytest.mark.parametrize(("scale", "precision"), [(0, 0), (18, 0), (9, 10), (9, -9)])
def test_sensor_reading_refuses_values_outside_rfc_3433(scale: int, precision: int) -> None:
    with pytest.raises(SensorDataError):
        sensor_reading(100, scale, precision)


def sensor(index: int, name: str, kind: int, value: int, precision: int = 0, scale: int = 9,
           oper: int = 1) -> dict[str, object]:
    return {
        f"{NAME}.{index}": name,
        f"{SENSOR}.1.{index}": kind,
        f"{SENSOR}.2.{index}": scale,
        f"{SENSOR}.3.{index}": precision,
        f"{SENSOR}.4.{index}": value,
        f"{SENSOR}.5.{index}": oper,
    }


@pytest.mark.parametrize(
    ("row", "status", "words"),
    [
        pytest.param(sensor(1, "Inlet", 8, 2345, 2), Status.OK, "Inlet 23.45 °C", id="ok"),
        pytest.param(sensor(1, "Inlet", 8, 2750, 2), Status.WARNING, "Inlet 27.5 °C (> 27 °C)",
                     id="warm"),
        pytest.param(sensor(1, "Inlet", 8, 335, 1), Status.CRITICAL, "Inlet 33.5 °C (> 32 °C)",
                     id="hot"),
        pytest.param(sensor(1, "Room", 9, 15), Status.WARNING, "Room 15 %RH (< 20 %RH)",
                     id="dry"),
        pytest.param(sensor(1, "Room", 9, 93), Status.CRITICAL, "Room 93 %RH (> 90 %RH)",
                     id="wet"),
        pytest.param(sensor(1, "Inlet", 8, 0, 1, oper=2), Status.UNKNOWN,
                     "Inlet: reading unavailable", id="unavailable-is-unknown-not-zero"),
        pytest.param(sensor(1, "Inlet", 8, 0, 1, oper=3), Status.CRITICAL,
                     "Inlet: sensor nonoperational", id="nonoperational-is-critical"),
        pytest.param(sensor(1, "Inlet", 8, 1_000_000_000), Status.CRITICAL,
                     "reading out of range (overflow)", id="overflow"),
        pytest.param(sensor(1, "Inlet", 8, 2345, 2, scale=0), Status.UNKNOWN,
                     "entPhySensorScale must be 1..17", id="broken-agent-scale"),
    ],
)
def test_sensor_judgement_table(row: dict[str, object], status: Status, words: str) -> None:
    judgement = judge_sensors(row)
    assert judgement.status is status
    assert words in judgement.message


def test_sensors_report_every_reading_as_a_metric_in_its_base_unit() -> None:
    rows = {**sensor(11, "Inlet Temp", 8, 2345, 2), **sensor(14, "PSU 12V", 4, 12050, scale=8)}
    judgement = judge_sensors(rows)
    assert judgement.metrics == {"inlet_temp_celsius": 23.45, "psu_12v_volts_dc": 12.05}
    assert "PSU" not in judgement.message  # voltages are metrics, not judged


def test_sensors_fall_back_to_descr_then_index_for_names() -> None:
    rows = sensor(5, "", 8, 250, 1)
    del rows[f"{NAME}.5"]
    rows["1.3.6.1.2.1.47.1.1.1.1.2.5"] = "Temp probe 1"
    assert "Temp probe 1 25 °C" in judge_sensors(rows).message
    del rows["1.3.6.1.2.1.47.1.1.1.1.2.5"]
    assert "sensor 5 25 °C" in judge_sensors(rows).message


def test_sensor_include_and_exclude_patterns_pick_room_sensors() -> None:
    rows = {**sensor(1, "Inlet Temp", 8, 240, 1), **sensor(2, "CPU Temp", 8, 71),
            **sensor(3, "Outlet Temp", 8, 29)}
    assert judge_sensors(rows).status is Status.CRITICAL  # CPU at 71 °C
    options = SensorOptions.from_dict({"exclude": ["cpu*"]})
    judgement = judge_sensors(rows, options)
    assert judgement.status is Status.WARNING
    assert "CPU" not in judgement.message
    only_inlet = judge_sensors(rows, SensorOptions.from_dict({"include": ["*INLET*"]}))
    assert only_inlet.message == "Sensors: Inlet Temp 24 °C"


def test_sensor_patterns_matching_nothing_are_unknown_not_ok() -> None:
    judgement = judge_sensors(sensor(1, "Inlet", 8, 22),
                              SensorOptions.from_dict({"include": ["rack 9*"]}))
    assert judgement.status is Status.UNKNOWN
    assert "none of the 1 sensors matched include rack 9*" in judgement.message


def test_two_sensors_with_the_same_name_get_distinct_metrics() -> None:
    rows = {**sensor(1, "Temp", 8, 20), **sensor(2, "Temp", 8, 21)}
    assert judge_sensors(rows).metrics == {"temp_celsius": 20.0, "temp_celsius_2": 21.0}


def test_device_without_entity_sensor_mib_is_unknown() -> None:
    judgement = judge_sensors({})
    assert judgement.status is Status.UNKNOWN
    assert "no ENTITY-SENSOR-MIB table" in judgement.message


# ---------------------------------------------------------------------------------------------
# IF-MIB

IF = "1.3.6.1.2.1.2.2.1"
IFX = "1.3.6.1.2.1.31.1.1.1"


def port(index: int, name: str, admin: int, oper: int, alias: str = "", in_errors: int = 0,
         out_errors: int = 0, descr: str | None = None) -> dict[str, object]:
    rows: dict[str, object] = {
        f"{IF}.2.{index}": descr or f"GigabitEthernet{name}",
        f"{IF}.7.{index}": admin,
        f"{IF}.8.{index}": oper,
        f"{IF}.14.{index}": in_errors,
        f"{IF}.20.{index}": out_errors,
        f"{IFX}.18.{index}": alias,
    }
    if name:
        rows[f"{IFX}.1.{index}"] = name
    return rows


@pytest.mark.parametrize(
    ("row", "status", "words"),
    [
        pytest.param(port(2, "Gi0/2", 1, 1), Status.OK, "1 up", id="up-up"),
        pytest.param(port(2, "Gi0/2", 1, 2, "uplink core-2"), Status.CRITICAL,
                     "Gi0/2 (uplink core-2) DOWN (admin up)", id="admin-up-oper-down"),
        pytest.param(port(2, "Gi0/2", 1, 7), Status.CRITICAL, "Gi0/2 DOWN (lower layer down)",
                     id="lower-layer-down"),
        pytest.param(port(2, "Gi0/2", 1, 6), Status.CRITICAL, "Gi0/2 DOWN (not present)",
                     id="not-present"),
        pytest.param(port(2, "Gi0/2", 2, 2), Status.OK, "0 up, 1 admin down",
                     id="admin-down-is-intended"),
        pytest.param(port(2, "Gi0/2", 1, 5), Status.OK, "1 up", id="dormant-is-fine"),
        pytest.param(port(2, "Gi0/2", 1, 3), Status.WARNING, "Gi0/2 in test mode",
                     id="testing"),
        pytest.param(port(2, "Gi0/2", 1, 4), Status.UNKNOWN, "operational status unknown",
                     id="unknown"),
        pytest.param(port(2, "", 1, 2, descr="eth2"), Status.CRITICAL, "eth2 DOWN",
                     id="no-ifname-falls-back-to-ifdescr"),
    ],
)
def test_interface_judgement_table(row: dict[str, object], status: Status, words: str) -> None:
    judgement = judge_interfaces(row)
    assert judgement.status is status
    assert words in judgement.message


def test_down_status_can_be_lowered_to_warning_for_access_ports() -> None:
    options = InterfaceOptions.from_dict({"down_status": "WARNING"})
    assert judge_interfaces(port(3, "Gi0/3", 1, 2), options).status is Status.WARNING


def test_interface_patterns_match_name_descr_or_alias() -> None:
    rows = {**port(1, "Gi0/1", 1, 2, "server-7"), **port(2, "Gi0/2", 1, 2, "uplink core-1")}
    judgement = judge_interfaces(rows, InterfaceOptions.from_dict({"include": ["uplink*"]}))
    assert "Gi0/2 (uplink core-1) DOWN" in judgement.message
    assert "Gi0/1" not in judgement.message
    assert judgement.metrics["interfaces_down"] == 1


@pytest.mark.parametrize(
    ("previous", "current", "increase"),
    [
        pytest.param(100, 250, 150, id="plain-increase"),
        pytest.param(7, 7, 0, id="no-change"),
        pytest.param(4_294_967_000, 200, 496, id="wrapped-past-2^32"),
        pytest.param(4_294_967_295, 0, 1, id="wrapped-by-one"),
    ],
)
def test_counter32_increase_handles_one_wrap(previous: int, current: int, increase: int) -> None:
    assert counter_increase(previous, current) == increase


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_counter32_increase_inverts_modular_addition(previous: int, delta: int) -> None:
    assert counter_increase(previous, (previous + delta) % 2**32) == delta


def test_error_rates_are_per_second_over_the_elapsed_time() -> None:
    rates = error_rates(ErrorCounters(4_294_967_000, 10), ErrorCounters(200, 70), 60.0)
    assert rates is not None
    assert rates.in_per_second == pytest.approx(496 / 60)
    assert rates.out_per_second == pytest.approx(1.0)
    assert error_rates(ErrorCounters(1, 1), ErrorCounters(2, 2), 0.0) is None


def test_agent_restart_is_told_apart_from_a_wrap_by_sysuptime() -> None:
    assert agent_restarted(previous_uptime=900_000, current_uptime=1_200)
    assert not agent_restarted(previous_uptime=900_000, current_uptime=906_000)
    assert not agent_restarted(previous_uptime=None, current_uptime=1_200)


def test_interface_error_rate_uses_the_previous_results_metrics() -> None:
    rows = port(4, "Gi0/4", 1, 1, "storage", in_errors=200, out_errors=10)
    rows["1.3.6.1.2.1.1.3.0"] = 906_000
    first = judge_interfaces(rows)
    assert previous_counters(first.metrics) == {"4": ErrorCounters(200, 10)}
    previous = {**first.metrics, "if4_in_errors": 4_294_967_000.0, "sys_uptime_ticks": 900_000}
    judgement = judge_interfaces(rows, previous=previous, elapsed_seconds=60.0)
    # 496 errors (across the 2^32 wrap) in 60 s = 8.27/s, above the 1/s critical limit
    assert judgement.status is Status.CRITICAL
    assert "Gi0/4 (storage) in-errors 8.27/s (> 1/s)" in judgement.message
    assert judgement.metrics["if4_in_errors_per_second"] == pytest.approx(496 / 60)
    assert judgement.metrics["if4_out_errors_per_second"] == 0


def test_interface_error_rate_table() -> None:
    rows = port(4, "Gi0/4", 1, 1, in_errors=130, out_errors=0)
    previous = {"if4_in_errors": 100.0, "if4_out_errors": 0.0}
    cases = [(600.0, Status.OK), (60.0, Status.WARNING), (10.0, Status.CRITICAL)]
    for elapsed, status in cases:  # 30 errors over 600 s / 60 s / 10 s = 0.05, 0.5, 3 per s
        assert judge_interfaces(rows, previous=previous, elapsed_seconds=elapsed).status is status


def test_no_rate_right_after_an_agent_restart() -> None:
    rows = port(4, "Gi0/4", 1, 1, in_errors=3)
    rows["1.3.6.1.2.1.1.3.0"] = 1_500
    previous = {"if4_in_errors": 90_000.0, "if4_out_errors": 0.0, "sys_uptime_ticks": 8e6}
    judgement = judge_interfaces(rows, previous=previous, elapsed_seconds=60.0)
    assert judgement.status is Status.OK
    assert "agent restarted, error rates resume next run" in judgement.message
    assert "if4_in_errors_per_second" not in judgement.metrics


def test_device_without_if_mib_is_unknown() -> None:
    assert judge_interfaces({}).status is Status.UNKNOWN


# ---------------------------------------------------------------------------------------------
# PDU and generic values

APC = "1.3.6.1.4.1.318.1.1.12"


def apc_phase(index: int, tenths: int, state: int = 1, bank: int = 0) -> dict[str, object]:
    return {
        f"{APC}.2.3.1.1.2.{index}": tenths,
        f"{APC}.2.3.1.1.3.{index}": state,
        f"{APC}.2.3.1.1.4.{index}": index if not bank else 1,
        f"{APC}.2.3.1.1.5.{index}": bank,
    }


@pytest.mark.parametrize(
    ("rows", "status", "words"),
    [
        pytest.param(apc_phase(1, 70), Status.OK, "phase 1 7 A, 44 % of 16 A", id="normal"),
        pytest.param(apc_phase(1, 132), Status.WARNING, "phase 1 13.2 A, 82 % of 16 A (> 80 %)",
                     id="above-80-percent-of-rating"),
        pytest.param(apc_phase(1, 150), Status.CRITICAL, "94 % of 16 A (> 90 %)",
                     id="above-90-percent"),
        pytest.param(apc_phase(1, 100, state=3), Status.WARNING, "PDU reports near overload",
                     id="pdu-own-near-overload-state"),
        pytest.param(apc_phase(1, 100, state=4), Status.CRITICAL, "PDU reports OVERLOAD",
                     id="pdu-own-overload-state"),
        pytest.param(apc_phase(4, 55, bank=2), Status.OK, "bank 2 5.5 A", id="bank-row"),
    ],
)
def test_pdu_judgement_table(rows: dict[str, object], status: Status, words: str) -> None:
    rows = {**rows, f"{APC}.1.7.0": 16}
    judgement = judge_pdu(rows)
    assert judgement.status is status
    assert words in judgement.message


def test_pdu_rating_from_options_wins_and_current_limits_apply_in_amps() -> None:
    rows = {**apc_phase(1, 68), **apc_phase(2, 142), f"{APC}.1.7.0": 32}
    options = PduOptions.from_dict({"rated_amps": 16, "current": {"warn_above": 12}})
    judgement = judge_pdu(rows, options)
    assert judgement.status is Status.WARNING
    assert "phase 2 14.2 A (> 12 A), 89 % of 16 A (> 80 %)" in judgement.message
    assert judgement.metrics["phase_2_amps"] == pytest.approx(14.2)
    assert judgement.metrics["rated_amps"] == 16


def test_pdu_table_oids_and_scale_are_configurable_for_another_vendor() -> None:
    options = PduOptions.from_dict({
        "current_column": "1.3.6.1.4.1.99999.1.2",
        "current_scale": 0.01,
        "state_column": None,
        "rated_amps": 32,
    })
    rows = {"1.3.6.1.4.1.99999.1.2.1": 1250, "1.3.6.1.4.1.99999.1.2.2": 3010}
    judgement = judge_pdu(rows, options)
    assert "phase 1 12.5 A, 39 % of 32 A" in judgement.message
    assert "phase 2 30.1 A, 94 % of 32 A (> 90 %)" in judgement.message
    assert judgement.status is Status.CRITICAL


def test_pdu_without_load_table_is_unknown_and_names_the_oid() -> None:
    judgement = judge_pdu({})
    assert judgement.status is Status.UNKNOWN
    assert "1.3.6.1.4.1.318.1.1.12.2.3.1.1.2" in judgement.message


def test_value_profile_scales_and_judges_each_oid() -> None:
    options = ValueOptions.from_dict({"items": [
        {"oid": "1.3.6.1.4.1.9999.1.1.0", "label": "feed A", "scale": 0.1, "unit": "A",
         "limits": {"warn_above": 10, "crit_above": 12}},
        {"oid": ".1.3.6.1.4.1.9999.1.2.0", "label": "room temp", "unit": "°C"},
    ]})
    judgement = judge_values(
        {"1.3.6.1.4.1.9999.1.1.0": 113, "1.3.6.1.4.1.9999.1.2.0": "21.5"}, options
    )
    assert judgement.status is Status.WARNING
    assert judgement.message == "SNMP: feed A 11.3 A (> 10 A); room temp 21.5 °C"
    assert judgement.metrics == {"feed_a": pytest.approx(11.3), "room_temp": 21.5}
    assert judgement.perfdata[0].warn == "~:10" and judgement.perfdata[0].crit == "~:12"


def test_value_profile_names_missing_and_non_numeric_oids() -> None:
    options = ValueOptions.from_dict({"items": [
        {"oid": "1.3.6.1.4.1.9999.1.1.0", "label": "feed A"},
        {"oid": "1.3.6.1.4.1.9999.1.3.0", "label": "mode"},
    ]})
    judgement = judge_values({"1.3.6.1.4.1.9999.1.3.0": "eco"}, options)
    assert judgement.status is Status.UNKNOWN
    assert "feed A: no such object at 1.3.6.1.4.1.9999.1.1.0" in judgement.message
    assert "mode: 'eco' at 1.3.6.1.4.1.9999.1.3.0 is not a number" in judgement.message


# ---------------------------------------------------------------------------------------------
# Limits, plain GET/WALK, option validation


@pytest.mark.parametrize(
    ("value", "status"),
    [(17.9, Status.CRITICAL), (18, Status.WARNING), (19.9, Status.WARNING), (20, Status.OK),
     (27, Status.OK), (27.01, Status.WARNING), (32.5, Status.CRITICAL),
     (math.nan, Status.UNKNOWN)],
)
def test_limits_bounds_are_inclusive_like_nagios_ranges(value: float, status: Status) -> None:
    limits = Limits(warn_below=20, warn_above=27, crit_below=18, crit_above=32)
    assert limits.status(value) is status


def test_limits_render_as_nagios_ranges_for_perfdata() -> None:
    limits = Limits(warn_below=20, warn_above=27, crit_above=32)
    assert (limits.nagios_warn(), limits.nagios_crit()) == ("20:27", "~:32")
    assert Limits(warn_below=15).nagios_warn() == "15:"
    assert Limits().nagios_warn() is None


def test_plain_get_lists_values_and_names_missing_oids() -> None:
    ok = judge_get({"1.3.6.1.2.1.1.5.0": "ups-a1", "1.3.6.1.2.1.1.3.0": 4200},
                   ("1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.3.0"))
    assert ok.status is Status.OK
    assert ok.message == "SNMP: 1.3.6.1.2.1.1.5.0 = 'ups-a1'; 1.3.6.1.2.1.1.3.0 = 4200"
    assert ok.metrics == {"1.3.6.1.2.1.1.3.0": 4200.0}
    missing = judge_get({}, ("1.3.6.1.2.1.1.99.0",))
    assert missing.status is Status.UNKNOWN
    assert "no such object at 1.3.6.1.2.1.1.99.0" in missing.message


def test_plain_walk_counts_objects_and_an_empty_subtree_is_unknown() -> None:
    assert judge_walk({"1.3.6.1.2.1.2.2.1.8.1": 1}, "1.3.6.1.2.1.2.2.1.8").message == (
        "SNMP: 1 object under 1.3.6.1.2.1.2.2.1.8"
    )
    assert judge_walk({}, "1.3.6.1.2.1.99").status is Status.UNKNOWN


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        pytest.param("ups", {"minutes_remaining": {"warn_below": "soon"}},
                     "options.minutes_remaining.warn_below must be a number", id="not-a-number"),
        pytest.param("ups", {"output_load": {"warn_above": 90, "crit_above": 80}},
                     "options.output_load.crit_above must not be below warn_above (90)",
                     id="crit-below-warn"),
        pytest.param("ups", {"runtime": {}}, "options.runtime is not a field of a ups profile",
                     id="typo-in-option-name"),
        pytest.param("sensors", {"include": "inlet"}, None, id="single-pattern-is-accepted"),
        pytest.param("interfaces", {"down_status": "OK"},
                     "options.down_status must be one of WARNING, CRITICAL", id="down-ok"),
        pytest.param("interfaces", {"error_rate": {"warn_below": 1}},
                     "options.error_rate only takes warn_above and crit_above", id="rate-below"),
        pytest.param("pdu", {"preset": "raritan"}, "options.preset must be one of apc-rpdu",
                     id="unknown-preset"),
        pytest.param("pdu", {"current_column": "PowerNet-MIB::rPDULoadStatusLoad"},
                     "options.current_column must be a numeric OID", id="symbolic-oid"),
        pytest.param("value", {}, "options.items is required", id="value-needs-items"),
        pytest.param("value", {"items": [{"oid": "1.3.6.1.2.1.1.3.0", "scale": 0}]},
                     "options.items[0].scale must not be 0", id="zero-scale"),
        pytest.param("value", {"items": [{"oid": "1.3.6.1.2.1.1.3.0", "label": "x"},
                                         {"oid": "1.3.6.1.2.1.1.7.0", "label": "X"}]},
                     "options.items[1].label must be unique", id="duplicate-label"),
        pytest.param("ups", ["not", "a", "mapping"], "options must be a mapping",
                     id="options-not-a-mapping"),
        pytest.param("upss", {}, "profile must be one of ups, sensors, interfaces, pdu, value",
                     id="unknown-profile"),
    ],
)
def test_profile_options_are_validated_with_the_field_path(
    name: str, options: object, message: str | None
) -> None:
    if message is None:
        build_profile(name, options)  # type: ignore[arg-type]
        return
    with pytest.raises(SpecError) as caught:
        build_profile(name, options)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_profiles_with_the_same_options_are_equal_so_config_diffs_stay_quiet() -> None:
    assert build_profile("ups", {"output_load": {"warn_above": 70}}) == build_profile(
        "ups", {"output_load": {"warn_above": 70}}
    )
    assert build_profile("ups") != build_profile("ups", {"output_load": {"warn_above": 70}})
