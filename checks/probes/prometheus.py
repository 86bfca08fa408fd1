"""Prometheus instant query: one number out of PromQL, judged with Nagios threshold ranges.

``GET <url>/api/v1/query?query=...&time=<now>``. The query must return exactly one sample
(a scalar or a one-series vector); none or several is UNKNOWN unless ``empty`` says otherwise,
because a threshold on "some of these series" is ambiguous.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime

import aiohttp

from checks.nagios import NagiosRange, judge
from checks.probes.base import ProbeContext, Stopwatch, borrowed, describe_error, make_result
from checks.result import Result, Status
from checks.specs import SpecReader, check_http_url, read_range

EMPTY_STATUSES = {"unknown": Status.UNKNOWN, "ok": Status.OK, "warning": Status.WARNING,
                  "critical": Status.CRITICAL}


@dataclass(frozen=True, slots=True)
class PrometheusSpec:
    url: str  # base URL of the Prometheus server, e.g. http://prometheus:9090
    query: str
    warn: NagiosRange | None = None
    crit: NagiosRange | None = None
    empty: str = "unknown"  # status when the query returns no series
    headers: tuple[tuple[str, str], ...] = ()
    verify_tls: bool = True
    timeout: float = 10.0

    @classmethod
    def from_dict(cls, d: dict) -> PrometheusSpec:
        r = SpecReader(d, "prometheus check")
        spec = cls(
            url=check_http_url("url", r.string("url")).rstrip("/"),
            query=r.string("query"),
            warn=read_range("warn", r.raw("warn", None)),
            crit=read_range("crit", r.raw("crit", None)),
            empty=r.string("empty", "unknown", choices=tuple(EMPTY_STATUSES)),
            headers=r.string_map("headers", ()),
            verify_tls=r.boolean("verify_tls", True),
            timeout=r.duration("timeout", 10.0, minimum=0.1, maximum=300),
        )
        r.finish()
        return spec

    def to_dict(self) -> dict:
        return {
            "url": self.url, "query": self.query,
            "warn": self.warn.text if self.warn else None,
            "crit": self.crit.text if self.crit else None,
            "empty": self.empty, "headers": dict(self.headers), "verify_tls": self.verify_tls,
            "timeout": self.timeout,
        }


def pick_sample(payload: object) -> tuple[str, float]:
    """From a /api/v1/query answer, the single sample as (series description, value).

    Raises ``QueryProblem`` for errors, empty or ambiguous results.
    """
    if not isinstance(payload, dict):
        raise QueryProblem("the answer is not a Prometheus API response")
    if payload.get("status") != "success":
        kind = payload.get("errorType", "error")
        raise QueryProblem(f"query failed ({kind}): {payload.get('error', 'no reason given')}")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise QueryProblem("the answer has no data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return "scalar", _to_float(result[1])
    if kind == "vector" and isinstance(result, list):
        if not result:
            raise QueryProblem("the query returned no series", empty=True)
        if len(result) > 1:
            names = ", ".join(_series_name(s.get("metric", {})) for s in result[:3])
            more = ", …" if len(result) > 3 else ""
            raise QueryProblem(f"the query returned {len(result)} series ({names}{more}); "
                               "aggregate it to one, e.g. max(...)")
        sample = result[0]
        return _series_name(sample.get("metric", {})), _to_float(sample.get("value", [0, None])[1])
    if kind == "matrix":
        raise QueryProblem("the query returned a range vector; use an instant query "
                           "(no [5m] selector at the end)")
    raise QueryProblem(f"the query returned a {kind} result; expected a number")


class QueryProblem(Exception):
    def __init__(self, message: str, *, empty: bool = False) -> None:
        super().__init__(message)
        self.empty = empty


def _to_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise QueryProblem(f"the sample value {value!r} is not a number") from None


def _series_name(labels: dict) -> str:
    name = labels.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}" if rest or not name else name


async def probe(spec: PrometheusSpec, now: datetime, ctx: ProbeContext | None = None) -> Result:
    """Run the instant query at ``now`` and judge the value. Never raises for a failed server."""
    watch = Stopwatch()
    params = {"query": spec.query, "time": f"{now.timestamp():.3f}",
              "timeout": f"{spec.timeout:g}s"}
    async with borrowed(ctx) as c:
        session = await c.http_session()
        https = spec.url.startswith("https:")
        try:
            async with session.get(
                f"{spec.url}/api/v1/query", params=params, headers=dict(spec.headers),
                ssl=c.ssl_context(spec.verify_tls) if https else True,
                timeout=aiohttp.ClientTimeout(total=spec.timeout),
            ) as response:
                raw = await response.read()
                code = response.status
        except TimeoutError:
            return make_result(Status.UNKNOWN, f"Prometheus at {spec.url} did not answer within "
                               f"{spec.timeout:g} s", now, watch)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return make_result(Status.UNKNOWN, f"Prometheus at {spec.url}: "
                               f"{describe_error(exc)}", now, watch)
    try:
        payload = json.loads(raw)
    except ValueError:
        return make_result(Status.UNKNOWN, f"Prometheus at {spec.url} answered HTTP {code} "
                           "with something that is not JSON", now, watch)
    try:
        series, value = pick_sample(payload)
    except QueryProblem as exc:
        status = EMPTY_STATUSES[spec.empty] if exc.empty else Status.UNKNOWN
        return make_result(status, f"{exc}: {spec.query}", now, watch)
    if math.isnan(value):
        return make_result(Status.UNKNOWN, f"{series} is NaN", now, watch)
    status = judge(value, spec.warn, spec.crit)
    limits = ", ".join(f"{n} {r.text}" for n, r in (("warn", spec.warn), ("crit", spec.crit))
                       if r is not None)
    message = f"{series} = {value:g}" + (f" ({limits})" if limits else "")
    return make_result(status, message, now, watch, value=value,
                       response_time=watch.elapsed())
