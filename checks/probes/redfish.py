"""Redfish probe: a server's BMC health — systems, chassis, temperatures, fans, power supplies.

Spec::

    url: https://10.30.0.21        # the BMC; /redfish/v1 is added
    username: monitor              # a read-only BMC account
    password: ${BMC_PASSWORD}      # never shown on pages, never in a Result message
    verify_tls: true               # the default; BMCs with their own CA: ca_file
    ca_file: /etc/dutydesk/bmc-ca.pem
    timeout: 10s                   # per request
    include: [systems, chassis, thermal, power]   # the default: all of them
    expect_power_on: true          # a system that is Off is CRITICAL (false: just shown)

Plain HTTPS and JSON through the engine's shared aiohttp session (the same TLS contexts as the
HTTP probe): Redfish is a REST API, and an async client obeys the engine's hard timeout, where a
thread running a blocking client would outlive it. ``probe`` never raises for a failed BMC: no
connection is CRITICAL, refused credentials or an answer that is not Redfish is UNKNOWN.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from checks.probes.base import (
    ProbeConfigError,
    ProbeContext,
    Stopwatch,
    borrowed,
    describe_error,
    make_result,
)
from checks.probes.devices import Reading, metrics_of, perfdata_of, summarize
from checks.probes.redfish_judge import (
    chassis_label,
    judge_chassis,
    judge_fan,
    judge_power,
    judge_power_supply,
    judge_system,
    judge_thermal,
    judge_thermal_metrics,
    link,
    members,
)
from checks.result import Result, Status
from checks.specs import SpecError, SpecReader, check_http_url

PARTS = ("systems", "chassis", "thermal", "power")
SECRET_FIELDS = ("password",)
MAX_BODY = 4 * 1024 * 1024
ROOT = "/redfish/v1/"


@dataclass(frozen=True, slots=True)
class RedfishSpec:
    url: str
    username: str
    password: str
    verify_tls: bool = True
    ca_file: str | None = None
    timeout: float = 10.0
    include: tuple[str, ...] = PARTS
    expect_power_on: bool = True

    def __repr__(self) -> str:  # the password must not reach a log line through a repr
        return f"RedfishSpec(url={self.url!r}, username={self.username!r}, password=<hidden>)"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RedfishSpec:
        """Build from a config mapping; raise SpecError (the password is never echoed)."""
        reader = SpecReader(data, "redfish check")
        url = check_http_url("url", reader.string("url")).rstrip("/")
        parts = urlsplit(url)
        if parts.username or parts.password:
            raise SpecError("url", f"{parts.scheme}://<hidden>@{parts.hostname}",
                            "must not hold credentials; use username and password")
        if parts.path.rstrip("/") not in ("", "/redfish/v1"):
            raise SpecError("url", url, "must be the BMC's address, e.g. https://10.30.0.21")
        url = f"{parts.scheme}://{parts.netloc}"
        username = reader.string("username")
        password = reader.raw("password", None)
        if not isinstance(password, str) or not password:
            raise SpecError("password", "<hidden>", "must be a non-empty text")
        include = reader.string_list("include", PARTS, allow_empty=False)
        for part in include:
            if part not in PARTS:
                raise SpecError("include", part, f"must list some of {', '.join(PARTS)}")
        spec = cls(
            url=url, username=username, password=password,
            verify_tls=reader.boolean("verify_tls", True),
            ca_file=reader.string("ca_file", None),
            timeout=reader.duration("timeout", 10.0, minimum=0.1, maximum=120.0),
            include=tuple(p for p in PARTS if p in include),
            expect_power_on=reader.boolean("expect_power_on", True),
        )
        reader.finish()
        return spec

    def to_dict(self) -> dict[str, Any]:
        """The config mapping again, password included: the exporter decides how to hide it."""
        out: dict[str, Any] = {"url": self.url, "username": self.username,
                               "password": self.password, "verify_tls": self.verify_tls,
                               "timeout": self.timeout, "include": list(self.include),
                               "expect_power_on": self.expect_power_on}
        if self.ca_file:
            out["ca_file"] = self.ca_file
        return out


def basic_auth(username: str, password: str) -> str:
    """The ``Authorization`` header value of HTTP Basic (RFC 7617, UTF-8)."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class RedfishFailure(Exception):
    """Talking to the BMC failed as a whole; ``status`` is what the check becomes."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Client:
    """GETs of one probe run: Basic auth, the spec's TLS rules and timeout, JSON only."""

    def __init__(self, spec: RedfishSpec, session: aiohttp.ClientSession, ssl: Any) -> None:
        self.spec = spec
        self.session = session
        self.ssl = ssl
        self.headers = {"Accept": "application/json", "OData-Version": "4.0",
                        "Authorization": basic_auth(spec.username, spec.password)}

    async def get(self, path: str) -> Mapping[str, Any]:
        url = self.spec.url + path.split("#", 1)[0]
        try:
            async with self.session.get(
                url, ssl=self.ssl, allow_redirects=False, headers=self.headers,
                timeout=aiohttp.ClientTimeout(total=self.spec.timeout),
            ) as response:
                body = await response.content.read(MAX_BODY + 1)
                code = response.status
        except TimeoutError:
            raise RedfishFailure(Status.CRITICAL, f"no answer within {self.spec.timeout:g} s "
                                 f"to GET {path}") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise RedfishFailure(Status.CRITICAL, describe_error(exc)) from None
        if code in (401, 403):
            raise RedfishFailure(Status.UNKNOWN, f"the BMC refused the credentials of user "
                                 f"{self.spec.username!r} (HTTP {code})")
        if code != 200:
            raise RedfishFailure(Status.UNKNOWN, f"GET {path} answered HTTP {code}")
        if len(body) > MAX_BODY:
            raise RedfishFailure(Status.UNKNOWN, f"GET {path} answered more than "
                                 f"{MAX_BODY // 1048576} MB")
        try:
            data = json.loads(body)
        except ValueError:
            raise RedfishFailure(Status.UNKNOWN, f"GET {path} did not answer JSON; is this a "
                                 "Redfish service?") from None
        if not isinstance(data, Mapping):
            raise RedfishFailure(Status.UNKNOWN, f"GET {path} did not answer a JSON object")
        return data


async def collect(client: _Client) -> list[Reading]:
    """Walk the service root's systems and chassis and judge what the spec includes."""
    spec = client.spec
    root = await client.get(ROOT)
    readings: list[Reading] = []
    systems_link, chassis_link = link(root, "Systems"), link(root, "Chassis")
    if "systems" in spec.include and systems_link:
        systems = await asyncio.gather(*(client.get(m) for m in
                                         members(await client.get(systems_link))))
        for system in systems:
            readings += judge_system(system, spec.expect_power_on)
    if set(spec.include) & {"chassis", "thermal", "power"} and chassis_link:
        every = await asyncio.gather(*(client.get(m) for m in
                                       members(await client.get(chassis_link))))
        for chassis in every:
            readings += await _chassis_readings(client, chassis,
                                                chassis_label(chassis, len(every) == 1))
    if not readings:
        raise RedfishFailure(Status.UNKNOWN, "the BMC lists no systems or chassis to judge")
    return readings


async def _chassis_readings(
    client: _Client, chassis: Mapping[str, Any], name: str,
) -> list[Reading]:
    include = client.spec.include
    readings = judge_chassis(chassis) if "chassis" in include else []
    for part, judge in (("thermal", judge_thermal), ("power", judge_power)):
        if part not in include:
            continue
        target = link(chassis, part.capitalize())
        if target:
            readings += judge(await client.get(target), name)
        else:  # a newer BMC: ThermalSubsystem / PowerSubsystem instead
            readings += await _subsystem_readings(client, chassis, part, name)
    return readings


async def _subsystem_readings(
    client: _Client, chassis: Mapping[str, Any], part: str, name: str,
) -> list[Reading]:
    subsystem_link = link(chassis, "ThermalSubsystem" if part == "thermal" else "PowerSubsystem")
    if not subsystem_link:
        return []
    subsystem = await client.get(subsystem_link)
    readings: list[Reading] = []
    collection, judge = (("Fans", judge_fan) if part == "thermal"
                         else ("PowerSupplies", judge_power_supply))
    member_link = link(subsystem, collection)
    if member_link:
        for member in await asyncio.gather(*(client.get(m) for m in
                                             members(await client.get(member_link)))):
            readings += judge(member, name)
    metrics_link = link(subsystem, "ThermalMetrics") if part == "thermal" else None
    if metrics_link:
        readings += judge_thermal_metrics(await client.get(metrics_link), name)
    return readings


async def probe(spec: RedfishSpec, now: datetime, ctx: ProbeContext | None = None) -> Result:
    """Ask the BMC and judge every component. Never raises for a failed BMC."""
    watch = Stopwatch()
    try:
        async with borrowed(ctx) as c:
            ssl = c.ssl_context(spec.verify_tls, spec.ca_file) \
                if spec.url.startswith("https:") else None
            readings = await collect(_Client(spec, await c.http_session(), ssl))
    except ProbeConfigError as exc:
        return make_result(Status.UNKNOWN, f"Redfish {spec.url}: {exc}", now, watch)
    except RedfishFailure as failure:
        return make_result(failure.status, f"Redfish {spec.url}: {failure.reason}", now, watch)
    status, message = summarize(readings, f"{spec.url}: ")
    return make_result(status, message, now, watch, perfdata=perfdata_of(readings),
                       **metrics_of(readings), response_time=watch.elapsed())
