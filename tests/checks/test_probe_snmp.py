"""The SNMP probe against a real agent: snmpsim on 127.0.0.1 serving recorded device data.

Devices (tests/checks/data/snmp, community = SNMPv3 context = file name):
  ups-healthy     single-phase UPS on mains          ups-on-battery  three-phase UPS on battery
  switch-access   access switch, Gi1/0/2 down        env-sensors     ENTITY-SENSOR-MIB probes
  pdu-apc         APC rPDU, phase 2 near overload
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from checks.probes.snmp import SnmpSpec, probe
from checks.result import Result, Status
from checks.snmp.transport import SnmpClient
from checks.snmp.values import oid_tuple
from checks.specs import SpecError
from tests.checks.snmp_agent import (
    DATA_DIR,
    ProbeRunner,
    SnmpAgent,
    running_snmpsim,
    silent_udp_port,
)

NOW = datetime(2025, 3, 14, 2, 30, tzinfo=UTC)
Runner = Callable[..., Result]
UPS_OUTPUT_SOURCE = "1.3.6.1.2.1.33.1.4.1.0"
UPS_SECONDS_ON_BATTERY = "1.3.6.1.2.1.33.1.2.2.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"


pytestmark = pytest.mark.filterwarnings(
    # pysnmp 7.1 calls pysmi's old camelCase names when pysmi (an snmpsim dependency) is present
    "ignore:.* is deprecated. Please use .* instead.:DeprecationWarning"
)


@pytest.fixture(scope="module")
def snmp_agent() -> Iterator[SnmpAgent]:
    with running_snmpsim() as agent:
        yield agent


@pytest.fixture(scope="module")
def runner() -> Iterator[ProbeRunner]:
    probes = ProbeRunner()
    yield probes
    probes.close()


@pytest.fixture
def silent_snmp_port() -> Iterator[int]:
    with silent_udp_port() as port:
        yield port


@pytest.fixture
def run(runner: ProbeRunner) -> Runner:
    """Build the spec from config and probe once on the shared loop and client."""

    def probe_once(spec: dict[str, Any], previous: Result | None = None) -> Result:
        return runner.probe(spec, NOW, previous)

    return probe_once


def v2c(agent: SnmpAgent, community: str, **fields: Any) -> dict[str, Any]:
    return {"host": agent.host, "port": agent.port, "version": "2c", "community": community,
            "timeout": "1s", "retries": 0, **fields}


def v3(agent: SnmpAgent, user: str, context: str, **fields: Any) -> dict[str, Any]:
    account = agent.user(user)
    spec: dict[str, Any] = {
        "host": agent.host, "port": agent.port, "version": "3", "user": account.name,
        "security_level": account.security_level, "context_name": context,
        "auth_protocol": account.auth_protocol, "auth_key": account.auth_key,
        "timeout": "1s", "retries": 0,
    }
    if account.priv_key:
        spec.update(priv_protocol=account.priv_protocol, priv_key=account.priv_key)
    spec.update(fields)
    return spec


# ---------------------------------------------------------------------------------------------
# UPS


def test_v2c_get_of_a_ups_on_battery_returns_output_source_battery(
    run: Runner,
    snmp_agent: SnmpAgent,
) -> None:
    result = run(v2c(snmp_agent, "ups-on-battery",
                     get=[UPS_OUTPUT_SOURCE, UPS_SECONDS_ON_BATTERY]))
    assert result.status is Status.OK
    assert result.metrics == {UPS_OUTPUT_SOURCE: 5.0, UPS_SECONDS_ON_BATTERY: 252.0}
    assert result.started_at == NOW


def test_ups_profile_on_battery_is_critical_and_says_why_first(
    run: Runner,
    snmp_agent: SnmpAgent,
) -> None:
    result = run(v2c(snmp_agent, "ups-on-battery", profile="ups"))
    assert result.status is Status.CRITICAL
    assert result.message.startswith("UPS: ON BATTERY for 4 min 12 s; ")
    assert "load L2 91 % (> 90 %)" in result.message
    assert "runtime 11 min (< 15 min)" in result.message
    assert "2 alarms: on battery, input out of tolerance" in result.message
    assert result.metrics["minutes_remaining"] == 11
    assert result.metrics["output_l2_load_percent"] == 91
    assert result.metrics["input_l3_voltage"] == 0
    assert {p.label for p in result.perfdata} >= {"minutes_remaining", "load_l1", "load_l3"}


def test_healthy_ups_profile_is_ok_with_readings_in_real_units(
    run: Runner,
    snmp_agent: SnmpAgent,
) -> None:
    result = run(v2c(snmp_agent, "ups-healthy", profile="ups"))
    assert result.status is Status.OK
    assert result.message == (
        "UPS: on mains; battery normal; runtime 38 min; charge 100 %; load 43 %; battery 24 °C"
    )
    assert result.metrics["input_l1_frequency_hz"] == 50.0  # upsInputFrequency 500 (0.1 Hz)
    assert result.metrics["battery_voltage"] == 54.5  # upsBatteryVoltage 545 (0.1 V)
    assert result.metrics["alarms_present"] == 0


def test_ups_profile_on_a_switch_says_the_mib_is_missing(
    run: Runner,
    snmp_agent: SnmpAgent,
) -> None:
    result = run(v2c(snmp_agent, "switch-access", profile="ups"))
    assert result.status is Status.UNKNOWN
    assert "no UPS-MIB (RFC 1628)" in result.message


# ---------------------------------------------------------------------------------------------
# SNMPv3


@pytest.mark.parametrize(
    "user",
    [
        pytest.param("duty-sha-aes", id="authPriv-SHA-AES"),
        pytest.param("duty-md5-des", id="authPriv-MD5-DES"),
        pytest.param("duty-sha-auth", id="authNoPriv-SHA"),
    ],
)
def test_v3_get_reads_the_device_in_its_context(
    run: Runner,
    snmp_agent: SnmpAgent,
    user: str,
) -> None:
    result = run(v3(snmp_agent, user, "ups-healthy", get=[SYS_NAME]))
    assert result.status is Status.OK
    assert result.message == "SNMP: 1.3.6.1.2.1.1.5.0 = 'ups-a1.dc1'"


def test_v3_authpriv_runs_a_whole_profile(run: Runner, snmp_agent: SnmpAgent) -> None:
    result = run(v3(snmp_agent, "duty-sha-aes", "pdu-apc", profile="pdu"))
    assert result.status is Status.WARNING
    assert "phase 2 14.2 A, 89 % of 16 A (> 80 %), PDU reports near overload" in result.message


@pytest.mark.parametrize(
    ("change", "words"),
    [
        pytest.param({"auth_key": "not-the-auth-key"},
                     "SNMPv3 authentication failed on 127.0.0.1:{port} for user 'duty-sha-aes': "
                     "wrong auth key or auth protocol", id="wrong-auth-key"),
        pytest.param({"auth_protocol": "MD5"}, "SNMPv3 authentication failed",
                     id="wrong-auth-protocol"),
        pytest.param({"priv_key": "not-the-priv-key"}, "SNMPv3 decryption failed",
                     id="wrong-priv-key"),
        pytest.param({"user": "intruder"},
                     "127.0.0.1:{port} does not know the SNMPv3 user 'intruder'",
                     id="unknown-user"),
    ],
)
def test_v3_credential_problems_are_unknown_with_the_reason(
    run: Runner, snmp_agent: SnmpAgent, change: dict[str, str], words: str
) -> None:
    result = run({**v3(snmp_agent, "duty-sha-aes", "ups-healthy", get=[SYS_NAME]), **change})
    assert result.status is Status.UNKNOWN
    assert words.format(port=snmp_agent.port) in result.message


def test_v3_security_level_below_the_users_is_refused(run: Runner, snmp_agent: SnmpAgent) -> None:
    spec = v3(snmp_agent, "duty-sha-aes", "ups-healthy", get=[SYS_NAME],
              security_level="authNoPriv")
    del spec["priv_protocol"], spec["priv_key"]
    result = run(spec)
    assert result.status is Status.UNKNOWN
    assert result.message == (
        f"127.0.0.1:{snmp_agent.port} does not accept security level authNoPriv for user "
        "'duty-sha-aes'"
    )


# ---------------------------------------------------------------------------------------------
# Interfaces, sensors, PDU


def test_interface_walk_finds_the_admin_up_oper_down_uplink(
    run: Runner,
    snmp_agent: SnmpAgent,
) -> None:
    result = run(v2c(snmp_agent, "switch-access", profile="interfaces"))
    assert result.status is Status.CRITICAL
    assert result.message == (
        "Interfaces: Gi1/0/2 (uplink core-2) DOWN (admin up); 3 up, 2 admin down"
    )
    assert result.metrics["interfaces_down"] == 1
    assert result.metrics["if10104_in_errors"] == 4_294_967_000
    assert result.metrics["if10102_in_errors"] == 211


def test_plain_walk_of_an_interface_column_counts_rows(run: Runner, snmp_agent: SnmpAgent) -> None:
    result = run(v2c(snmp_agent, "switch-access", walk="1.3.6.1.2.1.2.2.1.8"))
    assert result.status is Status.OK
    assert result.message == "SNMP: 6 objects under 1.3.6.1.2.1.2.2.1.8"


def test_interface_error_rate_from_the_previous_result(run: Runner, snmp_agent: SnmpAgent) -> None:
    first = run(v2c(snmp_agent, "switch-access", profile="interfaces",
                    options={"include": ["Gi1/0/4"]}))
    # Pretend the previous run, one minute earlier, saw 300 fewer input errors on Gi1/0/4.
    earlier = dict(first.metrics, if10104_in_errors=first.metrics["if10104_in_errors"] - 300,
                   sys_uptime_ticks=first.metrics["sys_uptime_ticks"] - 6000)
    previous = Result(Status.OK, "earlier", NOW - timedelta(minutes=1), metrics=earlier)
    result = run(v2c(snmp_agent, "switch-access", profile="interfaces",
                     options={"include": ["Gi1/0/4"]}), previous=previous)
    assert result.status is Status.CRITICAL
    assert "Gi1/0/4 (storage-r14 port A) in-errors 5/s (> 1/s)" in result.message
    assert result.metrics["if10104_in_errors_per_second"] == 5.0


def test_sensors_profile_applies_scale_and_precision(run: Runner, snmp_agent: SnmpAgent) -> None:
    result = run(v2c(snmp_agent, "env-sensors", profile="sensors"))
    assert result.status is Status.WARNING
    assert result.metrics["inlet_temp_celsius"] == 23.45  # 2345, precision 2, units
    assert result.metrics["outlet_temp_celsius"] == 28.4  # 284, precision 1
    assert result.metrics["psu_12v_volts_dc"] == 12.05  # 12050, milli
    assert result.metrics["room_humidity_percent_rh"] == 41
    assert result.metrics["fan_1_rpm"] == 5400
    assert "Outlet Temp 28.4 °C (> 27 °C)" in result.message
    assert "Door Temp: reading unavailable" in result.message
    assert "Inlet Temp 23.45 °C" in result.message


def test_sensor_patterns_narrow_the_check_to_the_inlet(run: Runner, snmp_agent: SnmpAgent) -> None:
    result = run(v2c(snmp_agent, "env-sensors", profile="sensors",
                     options={"include": ["inlet*"]}))
    assert (result.status, result.message) == (Status.OK, "Sensors: Inlet Temp 23.45 °C")


def test_pdu_profile_reads_apc_phase_currents(run: Runner, snmp_agent: SnmpAgent) -> None:
    result = run(v2c(snmp_agent, "pdu-apc", profile="pdu"))
    assert result.status is Status.WARNING
    assert result.message == (
        "PDU: phase 2 14.2 A, 89 % of 16 A (> 80 %), PDU reports near overload; "
        "phase 1 6.8 A, 42 % of 16 A; phase 3 7.1 A, 44 % of 16 A"
    )
    assert result.metrics["phase_1_amps"] == 6.8


def test_value_profile_reads_any_oid_with_scale_and_limits(
    run: Runner,
    snmp_agent: SnmpAgent,
) -> None:
    phase_2 = "1.3.6.1.4.1.318.1.1.12.2.3.1.1.2.2"
    result = run(v2c(snmp_agent, "pdu-apc", profile="value", options={"items": [
        {"oid": phase_2, "label": "feed A phase 2", "scale": 0.1, "unit": "A",
         "limits": {"warn_above": 12, "crit_above": 14}},
    ]}))
    assert (result.status, result.message) == (
        Status.CRITICAL, "SNMP: feed A phase 2 14.2 A (> 14 A)"
    )


def test_one_client_serves_many_devices_at_once(snmp_agent: SnmpAgent) -> None:
    specs = [
        v2c(snmp_agent, "ups-on-battery", profile="ups"),
        v2c(snmp_agent, "ups-healthy", profile="ups"),
        v2c(snmp_agent, "pdu-apc", profile="pdu"),
        v3(snmp_agent, "duty-md5-des", "env-sensors", profile="sensors"),
        v3(snmp_agent, "duty-sha-aes", "switch-access", profile="interfaces"),
    ]

    async def go() -> list[Result]:
        async with SnmpClient() as client:
            return await asyncio.gather(
                *(probe(SnmpSpec.from_dict(s), NOW, client) for s in specs)
            )

    statuses = [r.status for r in asyncio.run(go())]
    assert statuses == [Status.CRITICAL, Status.OK, Status.WARNING, Status.WARNING,
                        Status.CRITICAL]


def test_probe_borrows_a_client_from_a_context_with_an_snmp_attribute(
    snmp_agent: SnmpAgent,
) -> None:
    class Context:  # stands in for the scheduler's per-loop ProbeContext
        snmp: SnmpClient

    async def go() -> Result:
        ctx = Context()
        async with SnmpClient() as ctx.snmp:
            return await probe(SnmpSpec.from_dict(v2c(snmp_agent, "ups-healthy",
                                                      get=[SYS_NAME])), NOW, ctx)

    assert asyncio.run(go()).status is Status.OK


# ---------------------------------------------------------------------------------------------
# Failed targets: clear words, never an exception


def test_wrong_community_is_critical_and_mentions_the_community(
    run: Runner,
    snmp_agent: SnmpAgent,
) -> None:
    result = run(v2c(snmp_agent, "public", get=[SYS_NAME], timeout="500ms"))
    assert result.status is Status.CRITICAL
    assert result.message == (
        f"no SNMP response from 127.0.0.1:{snmp_agent.port} within 0.5 s (1 try): agent down, "
        "host unreachable, or wrong community (agents ignore those silently)"
    )


def test_agent_that_never_answers_times_out_with_a_critical_result(
    run: Runner,
    silent_snmp_port: int,
) -> None:
    result = run({"host": "127.0.0.1", "port": silent_snmp_port, "community": "public",
                  "timeout": "500ms", "retries": 1, "profile": "interfaces"})
    assert result.status is Status.CRITICAL
    assert result.message.startswith(
        f"no SNMP response from 127.0.0.1:{silent_snmp_port} within 0.5 s (2 tries)"
    )


def test_closed_port_is_reported_like_a_dead_agent(run: Runner, silent_snmp_port: int) -> None:
    # a port nobody listens on: take the silent one's number after it is closed
    with silent_udp_port() as port:
        pass
    result = run({"host": "127.0.0.1", "port": port, "community": "public",
                  "timeout": "500ms", "retries": 0, "get": [SYS_NAME]})
    assert result.status is Status.CRITICAL
    assert "no SNMP response" in result.message


def test_unknown_oid_is_unknown_and_named(run: Runner, snmp_agent: SnmpAgent) -> None:
    result = run(v2c(snmp_agent, "ups-healthy", get=[SYS_NAME, "1.3.6.1.2.1.33.1.9.99.0"]))
    assert result.status is Status.UNKNOWN
    assert result.message.startswith("SNMP: no such object at 1.3.6.1.2.1.33.1.9.99.0 (")


def test_walk_of_a_subtree_the_device_lacks_is_unknown(run: Runner, snmp_agent: SnmpAgent) -> None:
    result = run(v2c(snmp_agent, "ups-healthy", walk="1.3.6.1.2.1.99"))
    assert result.status is Status.UNKNOWN
    assert "nothing under 1.3.6.1.2.1.99" in result.message


def test_walk_larger_than_max_rows_is_refused_not_truncated(
    run: Runner,
    snmp_agent: SnmpAgent,
) -> None:
    result = run(v2c(snmp_agent, "switch-access", walk="1.3.6.1.2.1.2.2.1", max_rows=20))
    assert result.status is Status.UNKNOWN
    assert "returned more than 20 rows" in result.message


def test_host_name_that_does_not_resolve_is_unknown(run: Runner) -> None:
    result = run({"host": "ups-z9.invalid", "community": "public", "get": [SYS_NAME],
                  "timeout": "500ms", "retries": 0})
    assert result.status is Status.UNKNOWN
    assert result.message == "cannot resolve the host name 'ups-z9.invalid'"


def test_probe_refuses_a_naive_now() -> None:
    spec = SnmpSpec.from_dict({"host": "127.0.0.1", "community": "x", "get": [SYS_NAME]})
    with pytest.raises(ValueError, match="timezone-aware"):
        asyncio.run(probe(spec, datetime(2025, 1, 1)))


# ---------------------------------------------------------------------------------------------
# Spec validation (no agent needed)

BASE = {"host": "10.20.0.15", "community": "public", "profile": "ups"}
V3_BASE = {"host": "10.20.0.15", "version": 3, "user": "monitor", "auth_key": "auth-key-1",
           "priv_key": "priv-key-1", "profile": "ups"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({**BASE, "version": "1"}, "version must be 2c or 3 (SNMPv1 is not supported)",
                     id="v1"),
        pytest.param({**BASE, "community": ""}, "community must not be empty", id="no-community"),
        pytest.param({k: v for k, v in BASE.items() if k != "community"},
                     "community is required", id="missing-community"),
        pytest.param({**BASE, "comunity": "x"}, "comunity is not a field of a snmp check",
                     id="typo"),
        pytest.param({**BASE, "port": 0}, "port must be between 1 and 65535, got 0", id="port-0"),
        pytest.param({**BASE, "timeout": 0}, "timeout must be at least 100ms, got 0",
                     id="timeout-0"),
        pytest.param({**BASE, "retries": 9}, "retries must be between 0 and 5, got 9",
                     id="too-many-retries"),
        pytest.param({**BASE, "host": "udp://10.0.0.1"}, "host must be a bare host name",
                     id="url-as-host"),
        pytest.param({**BASE, "get": [SYS_NAME]},
                     "get/walk/profile must set exactly one of get, walk or profile, "
                     "got ['get', 'profile']",
                     id="get-and-profile"),
        pytest.param({"host": "10.0.0.1", "community": "x"},
                     "must set exactly one of get, walk or profile, got []",
                     id="nothing-to-do"),
        pytest.param({"host": "10.0.0.1", "community": "x", "get": ["IF-MIB::ifDescr.1"]},
                     "get[0] must be a numeric OID such as 1.3.6.1.2.1.1.3.0", id="mib-name"),
        pytest.param({"host": "10.0.0.1", "community": "x", "get": []},
                     "get must list at least one OID", id="empty-get"),
        pytest.param({"host": "10.0.0.1", "community": "x", "walk": "1.3.6.1.2.1",
                      "options": {}}, "options only apply together with a profile",
                     id="options-without-profile"),
        pytest.param({**BASE, "options": {"output_load": {"warn_above": -1}}},
                     "options.output_load.warn_above must be at least 0, got -1",
                     id="negative-limit"),
        pytest.param({**BASE, "user": "monitor"}, "user only applies to version 3",
                     id="v3-field-on-v2c"),
        pytest.param({**BASE, "auth_key": "k3y-on-v2c"},
                     "auth_key only applies to version 3, got '<hidden>'", id="key-hidden"),
        pytest.param({**V3_BASE, "community": "public"}, "community only applies to version 2c",
                     id="community-on-v3"),
        pytest.param({**V3_BASE, "auth_key": "short"},
                     "auth_key must be at least 8 characters (RFC 3414), got 5", id="short-key"),
        pytest.param({k: v for k, v in V3_BASE.items() if k != "priv_key"},
                     "priv_key is required at security_level authPriv", id="authpriv-no-priv"),
        pytest.param({**V3_BASE, "security_level": "authNoPriv"},
                     "priv_key is not used at security_level authNoPriv; remove it",
                     id="unused-priv-key"),
        pytest.param({**V3_BASE, "auth_protocol": "SHA1"},
                     "auth_protocol must be one of MD5, SHA, SHA256, SHA512", id="auth-proto"),
        pytest.param({**V3_BASE, "priv_protocol": "3DES"},
                     "priv_protocol must be one of DES, AES, AES256", id="priv-proto"),
        pytest.param({**V3_BASE, "security_level": "authpriv"},
                     "security_level must be one of noAuthNoPriv, authNoPriv, authPriv",
                     id="level-case"),
    ],
)
def test_bad_specs_are_refused_naming_field_value_and_rule(
    spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        SnmpSpec.from_dict(spec)
    assert message in str(caught.value)


def test_spec_repr_never_shows_community_or_keys() -> None:
    v2 = SnmpSpec.from_dict({**BASE, "community": "s3cret-community"})
    v3_spec = SnmpSpec.from_dict(V3_BASE)
    assert "s3cret-community" not in repr(v2)
    assert "auth-key-1" not in repr(v3_spec) and "priv-key-1" not in repr(v3_spec)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({**BASE, "options": {"minutes_remaining": {"warn_below": 20}}}, id="v2c"),
        pytest.param({**V3_BASE, "context_name": "ups-b1", "priv_protocol": "DES"}, id="v3"),
        pytest.param({"host": "10.0.0.1", "community": "x", "walk": ".1.3.6.1.2.1.2"},
                     id="walk"),
        pytest.param({"host": "fd00::15", "community": "x", "get": [SYS_NAME], "timeout": "3s"},
                     id="ipv6-get"),
    ],
)
def test_spec_round_trips_through_to_dict_for_export(spec: dict[str, Any]) -> None:
    built = SnmpSpec.from_dict(spec)
    assert SnmpSpec.from_dict(built.to_dict()) == built


def test_v3_defaults_to_sha_and_aes_at_authpriv() -> None:
    credentials = SnmpSpec.from_dict(V3_BASE).target.credentials
    assert (credentials.security_level, credentials.auth_protocol, credentials.priv_protocol) \
        == ("authPriv", "SHA", "AES")


def test_recorded_device_files_are_in_numeric_oid_order() -> None:
    """snmpsim answers GETNEXT by position in the file: an unsorted file breaks walks."""
    files = sorted(DATA_DIR.glob("*.snmprec"))
    assert [f.stem for f in files] == [
        "env-sensors", "pdu-apc", "switch-access", "ups-healthy", "ups-on-battery"
    ]
    for path in files:
        oids = [oid_tuple(line.split("|", 1)[0]) for line in _lines(path)]
        assert oids == sorted(oids) and len(set(oids)) == len(oids), path.name


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


# ---------------------------------------------------------------------------------------------
# Through the engine's entry point


def test_the_registry_runs_snmp_checks_with_the_shared_context_client(
    snmp_agent: SnmpAgent,
) -> None:
    from checks.probes import CHECK_TYPES, ProbeContext, build_spec, run_probe

    assert CHECK_TYPES["snmp"].wants_previous
    spec = build_spec("snmp", v2c(snmp_agent, "ups-on-battery", profile="ups"))

    async def go() -> tuple[Result, Any]:
        async with ProbeContext() as ctx:
            result = await run_probe("snmp", spec, NOW, timeout=10, ctx=ctx)
            return result, ctx.snmp

    result, client = asyncio.run(go())
    assert result.status is Status.CRITICAL
    assert "battery" in result.message.lower()
    assert isinstance(client, SnmpClient)
