"""HTTP(S) check: status codes, keywords, JSON values, response time, conditions.

The request goes through :mod:`checks.probes.http_client` (a new connection per request,
parsed in C); redirects are followed here.

The convenience fields ``keyword``, ``keyword_absent``, ``json_path``/``json_value`` and
``max_response_time`` are compiled into conditions, so every rule is judged (and explained) the
same way: ``body ("Service down") contains "OK"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any

from yarl import URL

from checks.conditions import (
    NOT_JSON,
    Condition,
    ConditionError,
    evaluate_conditions,
    parse_condition,
)
from checks.probes.base import (
    ProbeConfigError,
    ProbeContext,
    Stopwatch,
    borrowed,
    describe_error,
    make_result,
)
from checks.probes.http_client import (
    HttpError,
    InvalidURL,
    Response,
    build_request,
    exchange,
    parse_url,
)
from checks.probes.tls import cert_days_left
from checks.result import Result, Status
from checks.specs import SpecError, SpecReader, check_http_url, format_duration

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


@dataclass(frozen=True, slots=True)
class HttpSpec:
    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    # codes ("204") or classes ("2xx"); empty = any status, judged by the conditions alone
    expected_status: tuple[str, ...] = ("2xx", "3xx")
    keyword: str | None = None
    keyword_absent: str | None = None
    json_path: str | None = None
    json_value: str | int | float | bool | None = None
    max_response_time: float | None = None  # seconds; slower is CRITICAL
    warn_response_time: float | None = None  # seconds; slower is WARNING
    follow_redirects: bool = True
    max_redirects: int = 10
    verify_tls: bool = True
    ca_file: str | None = None
    timeout: float = 10.0
    max_body_bytes: int = 1_048_576
    conditions: tuple[Condition, ...] = ()
    # user conditions + those compiled from the convenience fields; parsed once, not per probe
    all_conditions: tuple[Condition, ...] = field(default=(), init=False, repr=False,
                                                  compare=False)
    # the URL parsed once (None when it cannot be: the probe says so as UNKNOWN)
    parsed_url: URL | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "all_conditions", (*self.conditions, *self._compile()))
        with contextlib.suppress(InvalidURL):
            object.__setattr__(self, "parsed_url", parse_url(self.url))

    @classmethod
    def from_dict(cls, d: dict) -> HttpSpec:
        r = SpecReader(d, "http check")
        url = check_http_url("url", r.string("url"))
        method = r.string("method", "GET").upper()
        if method not in METHODS:
            raise SpecError("method", d.get("method"), f"must be one of {', '.join(METHODS)}")
        conditions = _read_conditions(r.string_list("conditions", ()))
        raw_expected = r.raw("expected_status", None)
        if raw_expected is None and any(c.subject == "status" for c in conditions):
            expected_status: tuple[str, ...] = ()  # "status == 404" alone says what is expected
        else:
            expected_status = _read_status_codes(raw_expected)
        spec = cls(
            url=url,
            method=method,
            headers=r.string_map("headers", ()),
            body=r.text("body", None),
            expected_status=expected_status,
            keyword=r.text("keyword", None),
            keyword_absent=r.text("keyword_absent", None),
            json_path=r.string("json_path", None),
            json_value=_read_json_value(r.raw("json_value", None)),
            max_response_time=r.duration("max_response_time", None, minimum=0.001),
            warn_response_time=r.duration("warn_response_time", None, minimum=0.001),
            follow_redirects=r.boolean("follow_redirects", True),
            max_redirects=r.integer("max_redirects", 10, minimum=1, maximum=50),
            verify_tls=r.boolean("verify_tls", True),
            ca_file=r.string("ca_file", None),
            timeout=r.duration("timeout", 10.0, minimum=0.1, maximum=300),
            max_body_bytes=r.integer("max_body_bytes", 1_048_576, minimum=0,
                                     maximum=64 * 1_048_576),
            conditions=conditions,
        )
        r.finish()
        if spec.json_value is not None and spec.json_path is None:
            raise SpecError("json_value", spec.json_value, "needs json_path to say where to look")
        return spec

    def to_dict(self) -> dict:
        return {
            "url": self.url, "method": self.method, "headers": dict(self.headers),
            "body": self.body, "expected_status": list(self.expected_status) or None,
            "keyword": self.keyword, "keyword_absent": self.keyword_absent,
            "json_path": self.json_path, "json_value": self.json_value,
            "max_response_time": self.max_response_time,
            "warn_response_time": self.warn_response_time,
            "follow_redirects": self.follow_redirects, "max_redirects": self.max_redirects,
            "verify_tls": self.verify_tls, "ca_file": self.ca_file, "timeout": self.timeout,
            "max_body_bytes": self.max_body_bytes,
            "conditions": [c.text for c in self.conditions],
        }

    def _compile(self) -> list[Condition]:
        """Conditions equivalent to the convenience fields (keyword, json_path, ...)."""
        extra = []
        if self.keyword is not None:
            extra.append(parse_condition(f"body contains {_quote(self.keyword)}"))
        if self.keyword_absent is not None:
            extra.append(parse_condition(f"body not contains {_quote(self.keyword_absent)}"))
        if self.json_path is not None:
            extra.append(_json_condition(self.json_path, self.json_value, field="json_path"))
        if self.max_response_time is not None:
            extra.append(parse_condition(
                f"response_time < {self.max_response_time * 1000:g}ms"))
        return extra


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _read_status_codes(value: object) -> tuple[str, ...]:
    if value is None:
        return ("2xx", "3xx")
    items = value if isinstance(value, list | tuple) else [value]
    codes = []
    for item in items:
        text = str(item).strip().lower() if not isinstance(item, bool) else ""
        if text in _STATUS_CLASSES or (text.isdigit() and 100 <= int(text) <= 599):
            codes.append(text)
        else:
            raise SpecError("expected_status", value,
                            "must list status codes 100-599 or classes such as 2xx")
    if not codes:
        raise SpecError("expected_status", value, "must not be empty")
    return tuple(codes)


def _read_json_value(value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise SpecError("json_value", value, "must be text, a number, true or false")


def _read_conditions(texts: tuple[str, ...]) -> tuple[Condition, ...]:
    conditions = []
    for i, text in enumerate(texts):
        try:
            conditions.append(parse_condition(text))
        except ConditionError as exc:
            raise SpecError(f"conditions[{i}]", text,
                            f"cannot be read: column {exc.column}: {exc.reason}") from None
    return tuple(conditions)


def _json_condition(path: str, value: object, *, field: str) -> Condition:
    path = path if path.startswith("$") else f"$.{path}"
    if value is None:
        text = f"json {path} != null"
    else:
        text = f"json {path} == {json.dumps(value, ensure_ascii=False)}"
    try:
        return parse_condition(text)
    except ConditionError as exc:
        raise SpecError(field, path, f"is not a JSON path ({exc.reason})") from None


def status_expected(code: int, expected: tuple[str, ...]) -> bool:
    if not expected:
        return True
    text = str(code)
    return any(e == text or (e.endswith("xx") and e[0] == text[0]) for e in expected)


def _status_words(code: int) -> str:
    try:
        return f"HTTP {code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"


REDIRECTS = (301, 302, 303, 307, 308)


async def probe(spec: HttpSpec, now: datetime, ctx: ProbeContext | None = None) -> Result:
    """Request ``spec.url`` and judge the response. Never raises for a failed target."""
    watch = Stopwatch()
    conditions = spec.all_conditions
    async with borrowed(ctx) as c:
        try:
            async with asyncio.timeout(spec.timeout):
                response = await _fetch(spec, c)
            response_time = watch.elapsed()
        except TimeoutError:
            return make_result(Status.CRITICAL, f"no response within {spec.timeout:g} s", now,
                               watch)
        except (ProbeConfigError, InvalidURL) as exc:
            return make_result(Status.UNKNOWN, str(exc), now, watch)
        except HttpError as exc:
            return make_result(Status.CRITICAL, str(exc), now, watch)
        except OSError as exc:  # refused, unreachable, TLS, name resolution
            return make_result(Status.CRITICAL, describe_error(exc), now, watch)
        except ValueError as exc:  # e.g. a header value with a line break
            return make_result(Status.UNKNOWN, f"invalid request: {exc}", now, watch)

    code, headers, body = response.status, response.headers, response.body
    charset = response.charset or "utf-8"
    cert_days = cert_days_left(response.peer_cert_der, now)  # None for plain http
    metrics = {"status_code": code, "response_time": response_time,
               "cert_expiry_days": cert_days}
    if not status_expected(code, spec.expected_status):
        expected = " or ".join(spec.expected_status)
        return make_result(Status.CRITICAL, f"{_status_words(code)}, expected {expected}", now,
                           watch, **metrics)
    text = _decode(body, charset)
    context = {
        "status": code,
        "response_time": response_time,
        "body": text,
        "headers": headers,
        "cert_expiry": cert_days * 86400 if cert_days is not None else None,
    }
    if any(cond.uses_json for cond in conditions):
        context["json"] = _parse_json(text)
    failures, unjudged = judge_conditions(conditions, context, cut=response.truncated)
    if failures:
        return make_result(Status.CRITICAL, "; ".join(failures), now, watch, **metrics)
    if unjudged:
        return make_result(
            Status.UNKNOWN,
            f"the body is longer than max_body_bytes ({spec.max_body_bytes:,} bytes) and was "
            f"cut there, so {'; '.join(unjudged)} could not be judged (raise max_body_bytes)",
            now, watch, **metrics)
    summary = f"{_status_words(code)} in {format_duration(response_time)}"
    if spec.warn_response_time is not None and response_time >= spec.warn_response_time:
        return make_result(
            Status.WARNING,
            f"{summary}, slower than {format_duration(spec.warn_response_time)}",
            now, watch, **metrics,
        )
    return make_result(Status.OK, summary, now, watch, **metrics)


async def _fetch(spec: HttpSpec, ctx: ProbeContext) -> Response:
    """The final response for ``spec``, following redirects as browsers do: 303 (and 301/302
    after a POST) turn into a GET without body, 307/308 repeat the request."""
    url = spec.parsed_url or parse_url(spec.url)  # the second raises InvalidURL
    method = spec.method
    body = spec.body.encode() if spec.body is not None else None
    redirects = 0
    while True:
        # The TLS context also for http:// URLs, which may redirect to https://
        ssl_context = (ctx.ssl_context(spec.verify_tls, spec.ca_file)
                       if url.scheme == "https" else None)
        request = build_request(url, method, spec.headers, body, ctx.user_agent)
        response = await exchange(url, request, resolver=ctx.resolver, ssl_context=ssl_context,
                                  limit=spec.max_body_bytes, head_only=method == "HEAD")
        location = response.headers.get("Location")
        if not spec.follow_redirects or response.status not in REDIRECTS or not location:
            return response
        redirects += 1
        if redirects >= spec.max_redirects:
            raise HttpError(f"too many redirects (gave up after {redirects})")
        try:
            target = url.join(URL(location))
        except ValueError:
            raise HttpError(f"redirected to an invalid URL {location!r}") from None
        if target.scheme not in ("http", "https"):
            raise HttpError(f"redirected to a non-HTTP URL {location!r}")
        try:
            url = parse_url(target.with_fragment(None))
        except InvalidURL:
            raise HttpError(f"redirected to an invalid URL {location!r}") from None
        if (response.status == 303 and method != "HEAD") or (
                response.status in (301, 302) and method == "POST"):
            method, body = "GET", None


def judge_conditions(conditions: tuple[Condition, ...], context: dict[str, Any], *,
                     cut: bool) -> tuple[list[str], list[str]]:
    """The failures, and the conditions that could not be judged because the body was cut at
    ``max_body_bytes``. On a cut body only what the first part already settles counts: a text
    found (``contains``, ``~=``) holds, a forbidden text found (``not contains``) fails; the
    rest of the body and JSON conditions are unjudged: never a false OK from the missing tail.
    """
    if not cut:
        return evaluate_conditions(conditions, context), []
    failures: list[str] = []
    unjudged: list[str] = []
    for condition in conditions:
        failure = condition.failure(context)
        if condition.subject in ("body", "json"):
            settled = condition.subject == "body" and (
                (failure is None and condition.op in ("contains", "~="))
                or (failure is not None and condition.op == "not contains"))
            if not settled:
                unjudged.append(condition.text)
                continue
        if failure is not None:
            failures.append(failure)
    return failures, unjudged


def _decode(body: bytes, charset: str) -> str:
    try:
        return body.decode(charset, errors="replace")
    except LookupError:  # the server named a charset Python does not know
        return body.decode("utf-8", errors="replace")


def _parse_json(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return NOT_JSON
