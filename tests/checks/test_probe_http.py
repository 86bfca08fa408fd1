"""HTTP(S) probe against real servers on 127.0.0.1 (see conftest.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from checks.probes import ProbeContext
from checks.probes.http import HttpSpec, probe
from checks.result import Status
from checks.specs import SpecError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def run(spec_dict: dict, now: datetime = NOW, ctx: ProbeContext | None = None):
    return asyncio.run(probe(HttpSpec.from_dict(spec_dict), now, ctx))


def test_a_healthy_page_is_ok_with_status_and_response_time(http_target) -> None:
    result = run({"url": http_target.url("/ok")})
    assert result.status is Status.OK
    assert result.message.startswith("HTTP 200 OK in ")
    assert result.metrics["status_code"] == 200
    assert result.metrics["response_time"] > 0
    assert "cert_expiry_days" not in result.metrics
    assert result.started_at == NOW


def test_a_503_is_critical_and_says_what_was_expected(http_target) -> None:
    result = run({"url": http_target.url("/status/503")})
    assert result.status is Status.CRITICAL
    assert result.message == "HTTP 503 Service Unavailable, expected 2xx or 3xx"
    assert result.metrics["status_code"] == 503


def test_expected_status_can_list_codes_and_classes(http_target) -> None:
    assert run({"url": http_target.url("/status/404"), "expected_status": [404]}).ok
    assert run({"url": http_target.url("/status/418"), "expected_status": ["4xx"]}).ok
    result = run({"url": http_target.url("/ok"), "expected_status": [204]})
    assert result.status is Status.CRITICAL
    assert result.message == "HTTP 200 OK, expected 204"


def test_a_status_condition_alone_says_which_status_is_expected(http_target) -> None:
    # no expected_status needed to monitor that a retired endpoint stays gone
    assert run({"url": http_target.url("/status/410"), "conditions": ["status == 410"]}).ok
    result = run({"url": http_target.url("/ok"), "conditions": ["status == 410"]})
    assert result.status is Status.CRITICAL
    assert result.message == "status (200) == 410"


def test_conditions_all_pass_on_a_healthy_json_api(http_target) -> None:
    result = run({
        "url": http_target.url("/json"),
        "conditions": [
            "status == 200",
            'json $.state == "up"',
            "json $.items[0].count >= 3",
            'json $.tags contains "prod"',
            'header Content-Type contains "json"',
            "response_time < 30s",
        ],
    })
    assert result.status is Status.OK, result.message


def test_failing_conditions_are_all_listed_with_the_values_seen(http_target) -> None:
    result = run({
        "url": http_target.url("/json-down"),
        "conditions": ['json $.state == "up"', 'body contains "OK"', "status == 200"],
    })
    assert result.status is Status.CRITICAL
    assert result.message == (
        'json $.state ("down") == "up"; body ("{\\"state\\": \\"down\\"}") contains "OK"'
    )


def test_keyword_present_and_absent(http_target) -> None:
    assert run({"url": http_target.url("/ok"), "keyword": "OK"}).ok
    missing = run({"url": http_target.url("/error-page"), "keyword": "OK"})
    assert missing.status is Status.CRITICAL
    assert missing.message == 'body ("Internal error: database unavailable") contains "OK"'
    present = run({"url": http_target.url("/error-page"), "keyword_absent": "error"})
    assert present.status is Status.CRITICAL
    assert 'not contains "error"' in present.message


def test_json_path_and_value_fields(http_target) -> None:
    assert run({"url": http_target.url("/json"), "json_path": "$.state", "json_value": "up"}).ok
    result = run({"url": http_target.url("/json-down"), "json_path": "state", "json_value": "up"})
    assert result.status is Status.CRITICAL
    assert result.message == 'json $.state ("down") == "up"'
    not_json = run({"url": http_target.url("/ok"), "json_path": "$.state", "json_value": "up"})
    assert not_json.message == 'json $.state (body is not JSON) == "up"'


def test_max_response_time_makes_a_slow_page_critical(http_target) -> None:
    # the server waits 50 ms; 1 ms can never be met, 30 s always is
    result = run({"url": http_target.url("/slow?delay=0.05"), "max_response_time": "1ms"})
    assert result.status is Status.CRITICAL
    assert result.message.startswith("response_time (")
    assert result.message.endswith(") < 1ms")
    assert run({"url": http_target.url("/slow?delay=0.05"), "max_response_time": "30s"}).ok


def test_warn_response_time_makes_a_slow_page_warning(http_target) -> None:
    result = run({"url": http_target.url("/slow?delay=0.05"), "warn_response_time": "1ms"})
    assert result.status is Status.WARNING
    assert result.message.endswith("slower than 1ms")


def test_redirects_are_followed_unless_told_not_to(http_target) -> None:
    followed = run({"url": http_target.url("/redirect"), "keyword": "all systems OK"})
    assert followed.ok
    assert followed.metrics["status_code"] == 200
    not_followed = run({"url": http_target.url("/redirect"), "follow_redirects": False,
                        "expected_status": [302]})
    assert not_followed.ok
    assert not_followed.metrics["status_code"] == 302


def test_a_redirect_loop_is_critical(http_target) -> None:
    result = run({"url": http_target.url("/loop"), "max_redirects": 3})
    assert result.status is Status.CRITICAL
    assert "too many redirects" in result.message


def test_method_headers_and_body_are_sent(http_target) -> None:
    result = run({
        "url": http_target.url("/echo"), "method": "post",
        "headers": {"X-Duty": "night", "Content-Type": "text/plain"},
        "body": "ping from dutydesk",
        "conditions": ['json $.method == "POST"', 'json $.body == "ping from dutydesk"',
                       'json $.headers["X-Duty"] == "night"'],
    })
    assert result.ok, result.message


def test_a_hanging_server_times_out_as_critical(http_target) -> None:
    result = run({"url": http_target.url("/hang"), "timeout": 0.3})
    assert result.status is Status.CRITICAL
    assert result.message == "no response within 0.3 s"


def test_a_refused_port_is_critical(refused_port: int) -> None:
    result = run({"url": f"http://127.0.0.1:{refused_port}/"})
    assert result.status is Status.CRITICAL
    assert result.message == "connection refused"


def test_an_unresolvable_name_is_critical() -> None:
    result = run({"url": "http://no-such-host.invalid/", "timeout": 5})
    assert result.status is Status.CRITICAL
    assert "cannot resolve the host name" in result.message


def test_a_big_body_is_read_only_up_to_the_limit(http_target) -> None:
    # the keyword sits after 3 MiB; with the default 1 MiB limit it cannot be seen, and the
    # check says so instead of failing without a reason
    limited = run({"url": http_target.url("/big"), "keyword": "NEEDLE-AT-THE-END"})
    assert limited.status is Status.UNKNOWN
    assert "longer than max_body_bytes (1,048,576 bytes)" in limited.message
    assert 'body contains "NEEDLE-AT-THE-END" could not be judged' in limited.message
    whole = run({"url": http_target.url("/big"), "keyword": "NEEDLE-AT-THE-END",
                 "max_body_bytes": 4 * 1024 * 1024})
    assert whole.ok


def test_a_forbidden_word_beyond_the_cut_is_never_a_false_ok(http_target) -> None:
    # "the page must not say NEEDLE": the word is there, after the first MiB
    result = run({"url": http_target.url("/big"), "keyword_absent": "NEEDLE-AT-THE-END"})
    assert result.status is Status.UNKNOWN
    assert 'body not contains "NEEDLE-AT-THE-END" could not be judged' in result.message
    whole = run({"url": http_target.url("/big"), "keyword_absent": "NEEDLE-AT-THE-END",
                 "max_body_bytes": 4 * 1024 * 1024})
    assert whole.status is Status.CRITICAL


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        # what the first 16 bytes ("Internal error: ") already settle is judged as usual
        ({"keyword": "Internal"}, Status.OK),
        ({"keyword_absent": "Internal"}, Status.CRITICAL),
        ({"conditions": ['body ~= "^Internal err"']}, Status.OK),
        # what needs the rest of the body cannot be judged
        ({"keyword": "database"}, Status.UNKNOWN),
        ({"keyword_absent": "database"}, Status.UNKNOWN),
        ({"conditions": ['body == "Internal error: database unavailable"']}, Status.UNKNOWN),
        ({"conditions": ["json $.state == \"up\""]}, Status.UNKNOWN),
    ],
)
def test_a_small_per_check_body_limit_judges_only_what_the_cut_body_settles(
    http_target, fields: dict, status: Status
) -> None:
    result = run({"url": http_target.url("/error-page"),
                  "max_body_bytes": 16, **fields})
    assert result.status is status, result.message


def test_a_body_matches_a_regular_expression(http_target) -> None:
    ok = run({"url": http_target.url("/ok"), "conditions": ['body ~= "systems (OK|GOOD)$"']})
    assert ok.ok
    bad = run({"url": http_target.url("/ok"), "conditions": ['body ~= "^maintenance"']})
    assert bad.status is Status.CRITICAL
    assert bad.message == 'body ("all systems OK") ~= "^maintenance"'


def test_a_catastrophic_pattern_cannot_hang_the_probe_on_a_big_body(http_target) -> None:
    # (x+)+y backtracks exponentially in Python's re; RE2 answers in linear time
    result = run({"url": http_target.url("/big"), "max_body_bytes": 3 * 1024 * 1024,
                  "conditions": ['body ~= "(x+x+)+y"']})
    assert result.status is Status.UNKNOWN  # 3 MiB of x, cut before the end: no y seen


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ('body ~= "(unclosed"', "invalid regular expression: missing ): (unclosed"),
        ('body ~= "(a)\\1"', "invalid regular expression"),  # no backreferences in RE2
        ('body ~= "' + "a" * 600 + '"', "at most 512 are allowed"),
    ],
)
def test_a_bad_regular_expression_is_refused_with_a_clear_reason(pattern: str, says: str) -> None:
    with pytest.raises(SpecError, match="conditions") as raised:
        HttpSpec.from_dict({"url": "http://127.0.0.1/", "conditions": [pattern]})
    assert says in str(raised.value)


def test_a_shared_context_serves_many_probes(http_target) -> None:
    async def many() -> list:
        async with ProbeContext() as ctx:
            spec = HttpSpec.from_dict({"url": http_target.url("/ok")})
            bad = HttpSpec.from_dict({"url": http_target.url("/status/500")})
            return await asyncio.gather(*(probe(s, NOW, ctx) for s in [spec, bad] * 25))

    results = asyncio.run(many())
    assert [r.status for r in results] == [Status.OK, Status.CRITICAL] * 25


def test_a_spec_built_by_hand_with_a_broken_url_is_unknown_not_an_exception() -> None:
    result = asyncio.run(probe(HttpSpec(url="http://[::1/nope"), NOW))
    assert result.status is Status.UNKNOWN
    assert result.message == "invalid URL 'http://[::1/nope'"


# --- HTTPS ------------------------------------------------------------------------------------


def test_https_reports_certificate_expiry_days(tls_ports, certs) -> None:
    url = f"https://localhost:{tls_ports['good']}/ok"
    result = run({"url": url, "ca_file": str(certs.ca)}, now=datetime.now(UTC))
    assert result.ok, result.message
    assert 89 < result.metrics["cert_expiry_days"] <= 90


def test_https_cert_expiry_condition_uses_the_injected_now(tls_ports, certs) -> None:
    url = f"https://localhost:{tls_ports['good']}/ok"
    later = datetime.now(UTC) + timedelta(days=80)  # ten days left at that point
    result = run({"url": url, "ca_file": str(certs.ca), "conditions": ["cert_expiry > 14d"]},
                 now=later)
    assert result.status is Status.CRITICAL
    assert result.message.startswith("cert_expiry (")
    assert result.message.endswith("d) > 14d")
    assert 9 < result.metrics["cert_expiry_days"] < 11


def test_https_with_an_untrusted_certificate_is_critical(tls_ports) -> None:
    result = run({"url": f"https://localhost:{tls_ports['selfsigned']}/ok"})
    assert result.status is Status.CRITICAL
    assert result.message.startswith("TLS certificate not valid: ")
    assert "self-signed" in result.message


def test_https_without_verification_accepts_the_certificate_but_still_measures_it(
    tls_ports,
) -> None:
    result = run({"url": f"https://localhost:{tls_ports['expired']}/ok", "verify_tls": False},
                 now=datetime(2020, 2, 1, tzinfo=UTC))
    assert result.ok, result.message
    assert result.metrics["cert_expiry_days"] == pytest.approx(29.0)  # 2020-03-01 00:00 UTC


def test_https_with_a_missing_ca_file_is_unknown(tls_ports, tmp_path) -> None:
    result = run({"url": f"https://localhost:{tls_ports['good']}/ok",
                  "ca_file": str(tmp_path / "missing-ca.pem")})
    assert result.status is Status.UNKNOWN
    assert "cannot load ca_file" in result.message
    assert "No such file" in result.message


# --- spec validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "url is required for a http check"),
        ({"url": "ftp://example.org/"}, "url must start with http:// or https://"),
        ({"url": "http:///path"}, "url must name a host"),
        ({"url": "http://example.org:99999/"}, "url must be a valid http:// or https:// URL"),
        ({"url": "http://exa mple.org/"}, "url must not contain spaces"),
        ({"url": "http://x/", "method": "FETCH"}, "method must be one of GET, HEAD"),
        ({"url": "http://x/", "timeout": 0}, "timeout must be at least 100ms, got 0"),
        ({"url": "http://x/", "timeout": "fast"}, "timeout must be a duration"),
        ({"url": "http://x/", "expected_status": [700]}, "expected_status must list status"),
        ({"url": "http://x/", "conditions": ["status = 200"]},
         "conditions[0] cannot be read: column 8: use '=='"),
        ({"url": "http://x/", "json_value": "up"}, "json_value needs json_path"),
        ({"url": "http://x/", "json_path": "$.a..b"}, "json_path is not a JSON path"),
        ({"url": "http://x/", "timout": 5}, "timout is not a field of a http check"),
        ({"url": "http://x/", "verify_tls": "yes"}, "verify_tls must be true or false"),
        ({"url": "http://x/", "headers": ["X-A: 1"]}, "headers must be a mapping"),
    ],
)
def test_bad_specs_are_rejected_naming_field_and_value(data: dict, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        HttpSpec.from_dict(data)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_spec_round_trips_through_a_dict() -> None:
    spec = HttpSpec.from_dict({
        "url": "https://example.org/health", "method": "HEAD", "headers": {"X-A": "1"},
        "expected_status": ["2xx", 301], "keyword": "OK", "json_path": "$.state",
        "json_value": "up", "max_response_time": "300ms", "timeout": "5s",
        "conditions": ["status == 200"],
    })
    status_only = HttpSpec.from_dict({"url": "http://x/", "conditions": ["status == 404"]})
    assert HttpSpec.from_dict(status_only.to_dict()) == status_only
    again = HttpSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert spec.timeout == 5.0
    assert spec.max_response_time == pytest.approx(0.3)
