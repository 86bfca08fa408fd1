"""The IPMI probe (pyghmi over RMCP+) against OpenIPMI's ipmi_sim."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from checks.probes import CHECK_TYPES, build_spec, run_probe
from checks.probes.ipmi import IpmiSpec, SensorValue, judge, judge_sensor
from checks.result import Result, Status
from checks.specs import SpecError
from tests.checks import ipmi_bmc
from tests.checks.ipmi_bmc import PASSWORD, USER

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def bmc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with ipmi_bmc.ipmi_sim(tmp_path_factory.mktemp("ipmi")) as port:
        yield port


def spec(port: int, **extra: object) -> IpmiSpec:
    return build_spec("ipmi", {"host": "127.0.0.1", "port": port, "username": USER,
                               "password": PASSWORD, **extra})


def run(s: IpmiSpec, timeout: float = 20) -> Result:
    return asyncio.run(run_probe("ipmi", s, NOW, timeout=timeout))


def test_the_bmc_names_the_hot_cpu_and_the_failed_psu_first(bmc) -> None:
    result = run(spec(bmc))
    assert result.status is Status.CRITICAL
    assert result.message.startswith(f"IPMI 127.0.0.1:{bmc}: ")
    assert "CPU Temp = 92 °C (upper non-critical threshold, upper critical threshold)" \
        in result.message
    assert "PSU2 Status = Present, Failure (reported by the BMC)" in result.message
    assert result.message.index("CPU Temp") < result.message.index("Inlet Temp")
    assert "chassis power = on" in result.message
    assert result.metrics["inlet_temp"] == 24
    assert result.metrics["fan_1"] == 60


def test_only_the_chosen_sensors_are_judged(bmc) -> None:
    result = run(spec(bmc, only=["Inlet Temp", "Fan 1"]))
    assert result.status is Status.OK, result.message
    assert "CPU Temp" not in result.message


def test_ignored_sensors_do_not_count(bmc) -> None:
    result = run(spec(bmc, ignore=["CPU Temp", "PSU2 Status"]))
    assert result.status is Status.OK, result.message


def test_a_sensor_the_bmc_does_not_have_is_unknown(bmc) -> None:
    result = run(spec(bmc, only=["Inlet Temp", "Door"]))
    assert result.status is Status.UNKNOWN
    assert "Door = no such sensor (not in the BMC's sensor repository)" in result.message


def test_wrong_credentials_are_unknown_and_the_password_is_never_shown(bmc) -> None:
    result = run(build_spec("ipmi", {"host": "127.0.0.1", "port": bmc, "username": USER,
                                     "password": "not-the-one"}))
    assert result.status is Status.UNKNOWN
    assert f"refused the credentials of user {USER!r}" in result.message
    assert "not-the-one" not in result.message


def test_a_silent_bmc_is_critical_or_stopped_by_the_engine_timeout() -> None:
    silent = spec(ipmi_bmc.free_udp_port())
    stopped = run(silent, timeout=0.5)
    assert stopped.status is Status.UNKNOWN
    assert stopped.message == "probe timed out after 0.5 s"
    waited = run(silent, timeout=20)
    assert waited.status is Status.CRITICAL
    assert waited.message == f"IPMI 127.0.0.1:{silent.port}: no answer from the BMC"
    cut = run(spec(silent.port, timeout="1s"), timeout=20)
    assert cut.message == f"IPMI 127.0.0.1:{silent.port}: no answer from the BMC within 1 s"


# --------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(("health", "status"), [
    (0, Status.OK), (1, Status.WARNING), (2, Status.CRITICAL), (4, Status.CRITICAL),
    (3, Status.CRITICAL),
])
def test_the_bmcs_health_bits_become_the_status(health, status) -> None:
    reading = judge_sensor(SensorValue("x", 1.0, "V", health, ("state",)))
    assert reading.status is status


def test_power_off_is_critical_unless_not_expected_on() -> None:
    sensors = [SensorValue("gone", None, "", 0, (), unavailable=True)]
    off = judge(IpmiSpec("h", "u", "p"), "off", sensors)
    assert [(r.name, r.status) for r in off] == [("chassis power", Status.CRITICAL)]
    relaxed = judge(IpmiSpec("h", "u", "p", expect_power_on=False), "off", sensors)
    assert relaxed[0].status is Status.OK


@pytest.mark.parametrize(("data", "message"), [
    ({"host": "bmc", "username": "u"}, "password must be a non-empty text"),
    ({"host": "bmc", "username": "u", "password": "x" * 21}, "password must be at most 20"),
    ({"host": "bmc", "username": "u", "password": "p", "privilege": "root"},
     "privilege must be one of user"),
    ({"host": "https://bmc", "username": "u", "password": "p"}, "host must be a bare host"),
])
def test_bad_specs_are_refused(data, message) -> None:
    with pytest.raises(SpecError, match=message):
        IpmiSpec.from_dict(data)


def test_a_spec_round_trips_and_keeps_its_secrets_out_of_repr() -> None:
    s = IpmiSpec.from_dict({"host": "bmc", "username": "u", "password": "pw-123",
                            "kg": "key-456", "only": ["Inlet Temp"]})
    assert IpmiSpec.from_dict(s.to_dict()) == s
    assert "pw-123" not in repr(s) and "key-456" not in repr(s)
    assert CHECK_TYPES["ipmi"].secret_fields == ("password", "kg")
