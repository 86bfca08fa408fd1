"""The Redfish probe against sushy-tools' emulator and a static mockup of an ailing server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from checks.probes import CHECK_TYPES, ProbeContext, build_spec, run_probe
from checks.probes.redfish import RedfishSpec
from checks.result import Result, Status
from checks.specs import SpecError
from tests.checks import redfish_bmc
from tests.checks.redfish_bmc import PASSWORD, USER

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def bmc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with redfish_bmc.emulator(tmp_path_factory.mktemp("bmc")) as port:
        yield port


@pytest.fixture(scope="module")
def tls_bmc(tmp_path_factory: pytest.TempPathFactory, certs) -> Iterator[int]:
    with redfish_bmc.emulator(tmp_path_factory.mktemp("tls-bmc"), certs.pair("good")) as port:
        yield port


@pytest.fixture(scope="module")
def ailing_bmc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with redfish_bmc.static(tmp_path_factory.mktemp("ailing")) as port:
        yield port


@pytest.fixture(scope="module")
def newer_bmc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with redfish_bmc.static(tmp_path_factory.mktemp("newer"), newer=True) as port:
        yield port


def spec(url: str, **extra: object) -> RedfishSpec:
    return build_spec("redfish", {"url": url, "username": USER, "password": PASSWORD, **extra})


def run(s: RedfishSpec, timeout: float = 20) -> Result:
    async def go() -> Result:
        async with ProbeContext() as ctx:
            return await run_probe("redfish", s, NOW, timeout=timeout, ctx=ctx)

    return asyncio.run(go())


def test_a_healthy_server_is_ok_with_its_temperatures_and_fans(bmc) -> None:
    result = run(spec(f"http://127.0.0.1:{bmc}"))
    assert result.status is Status.OK, result.message
    assert "system web-7 health = OK" in result.message
    assert "system web-7 power = On" in result.message
    assert result.metrics["chassis_intake_temp"] == 25  # one chassis: no prefix
    assert any(p.label.endswith("BaseBoard System Fan") and p.uom == "RPM"
               for p in result.perfdata)


def test_wrong_credentials_are_unknown_and_the_password_is_never_shown(bmc) -> None:
    result = run(build_spec("redfish", {"url": f"http://127.0.0.1:{bmc}", "username": USER,
                                        "password": "wrong-password"}))
    assert result.status is Status.UNKNOWN
    assert result.message.endswith(f"the BMC refused the credentials of user {USER!r} (HTTP 401)")
    assert "wrong-password" not in result.message


def test_tls_is_verified_by_default_and_a_known_ca_makes_it_pass(tls_bmc, certs) -> None:
    refused = run(spec(f"https://127.0.0.1:{tls_bmc}"))
    assert refused.status is Status.CRITICAL
    assert "certificate" in refused.message
    trusted = run(spec(f"https://127.0.0.1:{tls_bmc}", ca_file=str(certs.ca)))
    assert trusted.status is Status.OK, trusted.message


def test_an_ailing_server_names_the_failed_psu_the_dead_fan_and_the_hot_inlet(ailing_bmc) -> None:
    result = run(spec(f"http://127.0.0.1:{ailing_bmc}"))
    assert result.status is Status.CRITICAL
    assert "Inlet Temp = 43 °C (at or above 42 °C)" in result.message
    assert "PSU 2 = Critical (PSU reported by the BMC)" in result.message
    assert "Fan 1 = 0 RPM" in result.message
    assert "PSU 3" not in result.message and "Fan 3" not in result.message  # absent slots
    assert result.metrics["power_consumed"] == 352


def test_a_newer_bmc_is_read_through_its_thermal_and_power_subsystems(newer_bmc) -> None:
    result = run(spec(f"http://127.0.0.1:{newer_bmc}"))
    assert result.status is Status.WARNING
    assert "Fan 2 = 0 % (fan health Warning)" in result.message
    assert "chassis Blade health = Warning (reported by the BMC)" in result.message
    assert result.metrics["fan_1"] == 41 and result.metrics["intake"] == 23.5
    assert "PSU A = OK" in result.message


def test_include_limits_what_is_judged(ailing_bmc) -> None:
    result = run(spec(f"http://127.0.0.1:{ailing_bmc}", include=["systems"]))
    assert result.status is Status.WARNING
    assert result.message.endswith("system db-3 health = Warning (reported by the BMC), "
                                   "system db-3 power = On")


def test_an_unreachable_bmc_is_critical(refused_port) -> None:
    result = run(spec(f"http://127.0.0.1:{refused_port}"))
    assert result.status is Status.CRITICAL
    assert "connection refused" in result.message


def test_something_that_is_not_redfish_is_unknown(http_target) -> None:
    result = run(spec(http_target.url("")))
    assert result.status is Status.UNKNOWN
    assert "GET /redfish/v1/ answered HTTP 404" in result.message


def test_a_bmc_that_never_answers_is_critical_within_its_timeout(silent_port) -> None:
    result = run(spec(f"http://127.0.0.1:{silent_port}", timeout=0.3))
    assert result.status is Status.CRITICAL
    assert result.message.endswith("no answer within 0.3 s to GET /redfish/v1/")


def test_the_engine_timeout_wins_over_the_spec_timeout(silent_port) -> None:
    result = run(spec(f"http://127.0.0.1:{silent_port}", timeout=60), timeout=0.3)
    assert result.status is Status.UNKNOWN
    assert result.message == "probe timed out after 0.3 s"


@pytest.mark.parametrize(("data", "message"), [
    ({"url": "ftp://bmc", "username": "u", "password": "p"}, "url must start with http"),
    ({"url": "https://admin:pw@bmc", "username": "u", "password": "p"},
     "url must not hold credentials"),
    ({"url": "https://bmc/other", "username": "u", "password": "p"}, "url must be the BMC's"),
    ({"url": "https://bmc", "username": "u"}, "password must be a non-empty text"),
    ({"url": "https://bmc", "username": "u", "password": "p", "include": ["disks"]},
     "include must list some of systems"),
])
def test_bad_specs_are_refused_without_echoing_the_password(data, message) -> None:
    with pytest.raises(SpecError, match=message) as caught:
        RedfishSpec.from_dict(data)
    assert "pw" not in str(caught.value).replace("password", "")


def test_a_spec_round_trips_and_hides_its_password_in_repr() -> None:
    s = RedfishSpec.from_dict({"url": "https://bmc.example/redfish/v1/", "username": "u",
                               "password": "s3cret", "include": ["power", "systems"]})
    assert s.url == "https://bmc.example" and s.include == ("systems", "power")
    assert RedfishSpec.from_dict(s.to_dict()) == s
    assert "s3cret" not in repr(s)
    assert CHECK_TYPES["redfish"].secret_fields == ("password",)
