"""Prometheus instant-query probe against a local server that answers like Prometheus."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from checks.probes.prometheus import PrometheusSpec, probe
from checks.result import Status
from checks.specs import SpecError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def run(port: int, query: str, **fields):
    spec = PrometheusSpec.from_dict({"url": f"http://127.0.0.1:{port}", "query": query,
                                     **fields})
    return asyncio.run(probe(spec, NOW))


def test_a_single_series_within_thresholds_is_ok(prometheus_port: int) -> None:
    result = run(prometheus_port, 'up{job="db"}', crit="1:")
    assert result.status is Status.OK
    assert result.message == 'up{instance="db1:9100", job="db"} = 1 (crit 1:)'
    assert result.metrics["value"] == 1.0


@pytest.mark.parametrize(
    ("warn", "crit", "status"),
    [
        ("~:27", "~:32", Status.WARNING),  # 31.5 °C: above 27, below 32
        ("~:27", "~:30", Status.CRITICAL),
        ("~:35", "~:40", Status.OK),
        ("@30:32", None, Status.WARNING),  # inverted range: inside is bad
    ],
)
def test_thresholds_use_nagios_ranges(
    prometheus_port: int, warn: str, crit: str | None, status: Status
) -> None:
    result = run(prometheus_port, 'temperature_celsius{rack="A1"}', warn=warn, crit=crit)
    assert result.status is status
    assert result.message.startswith('temperature_celsius{rack="A1"} = 31.5 (warn ')


def test_numeric_thresholds_are_accepted_as_ranges(prometheus_port: int) -> None:
    result = run(prometheus_port, 'temperature_celsius{rack="A1"}', warn=27, crit=30)
    assert result.status is Status.CRITICAL  # "30" means alert outside 0..30


def test_the_query_is_evaluated_at_the_injected_now(prometheus_port: int) -> None:
    result = run(prometheus_port, "time()")
    assert result.status is Status.OK
    assert result.metrics["value"] == NOW.timestamp()


def test_no_series_is_unknown_by_default_and_configurable(prometheus_port: int) -> None:
    result = run(prometheus_port, 'up{job="gone"}')
    assert result.status is Status.UNKNOWN
    assert result.message == 'the query returned no series: up{job="gone"}'
    assert run(prometheus_port, 'up{job="gone"}', empty="critical").status is Status.CRITICAL


def test_several_series_are_unknown_and_named(prometheus_port: int) -> None:
    result = run(prometheus_port, "up")
    assert result.status is Status.UNKNOWN
    assert result.message.startswith(
        'the query returned 4 series (up{job="db"}, up{job="web"}, up{job="dns"}, …)'
    )
    assert "aggregate it to one" in result.message


def test_a_range_vector_is_unknown_with_a_hint(prometheus_port: int) -> None:
    result = run(prometheus_port, "up[5m]")
    assert result.status is Status.UNKNOWN
    assert "range vector" in result.message


def test_a_bad_query_is_unknown_with_prometheus_error(prometheus_port: int) -> None:
    result = run(prometheus_port, "sum(rate(")
    assert result.status is Status.UNKNOWN
    assert result.message.startswith("query failed (bad_data): 1:1: parse error")


def test_nan_is_unknown(prometheus_port: int) -> None:
    result = run(prometheus_port, "0/0")
    assert result.status is Status.UNKNOWN
    assert result.message == "scalar is NaN"


def test_a_proxy_page_instead_of_json_is_unknown(prometheus_port: int) -> None:
    result = run(prometheus_port, "not json")
    assert result.status is Status.UNKNOWN
    assert result.message.endswith("answered HTTP 502 with something that is not JSON")


def test_an_unreachable_prometheus_is_unknown(refused_port: int) -> None:
    result = run(refused_port, "up")
    assert result.status is Status.UNKNOWN
    assert result.message == f"Prometheus at http://127.0.0.1:{refused_port}: connection refused"


def test_a_hanging_prometheus_times_out(http_target) -> None:
    spec = PrometheusSpec.from_dict({"url": http_target.url("/hang"), "query": "up",
                                     "timeout": 0.3})
    result = asyncio.run(probe(spec, NOW))
    assert result.status is Status.UNKNOWN
    assert "did not answer within 0.3 s" in result.message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"query": "up"}, "url is required"),
        ({"url": "http://p:9090"}, "query is required"),
        ({"url": "http://p:9090", "query": "up", "warn": "10:5"}, "warn must be a Nagios range"),
        ({"url": "http://p:9090", "query": "up", "crit": "high"}, "crit must be a Nagios range"),
        ({"url": "http://p:9090", "query": "up", "empty": "fine"}, "empty must be one of"),
    ],
)
def test_bad_specs_are_rejected(data: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        PrometheusSpec.from_dict(data)


def test_spec_round_trips_through_a_dict() -> None:
    spec = PrometheusSpec.from_dict({"url": "http://p:9090/", "query": "up", "warn": "@1:2",
                                     "crit": 5})
    assert spec.url == "http://p:9090"
    assert PrometheusSpec.from_dict(spec.to_dict()) == spec
