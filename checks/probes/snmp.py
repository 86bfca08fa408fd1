"""SNMP probe: GET, WALK or a ready-made profile (ups, sensors, interfaces, pdu, value).

Spec (YAML or dict)::

    host: 10.20.0.15
    port: 161
    version: 2c                # or 3
    community: ${UPS_COMMUNITY}
    # version 3 instead:  user, security_level (noAuthNoPriv|authNoPriv|authPriv),
    #                     auth_protocol (MD5|SHA|SHA256|SHA512), auth_key,
    #                     priv_protocol (DES|AES|AES256), priv_key, context_name
    timeout: 2s                # per request; retries: 1 → at most 4 s without an answer
    retries: 1
    profile: ups               # or:  get: [1.3.6.1.2.1.1.3.0]   or:  walk: 1.3.6.1.2.1.2.2
    options: {minutes_remaining: {warn_below: 20, crit_below: 8}}

``probe(spec, now)`` never raises for a failed target: no answer → CRITICAL, rejected
credentials or missing objects → UNKNOWN, each with the reason in words.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from time import perf_counter
from typing import Any

from checks.result import Result, Status
from checks.snmp.profiles import Profile, build_profile, judge_get, judge_walk
from checks.snmp.transport import (
    AUTH_PROTOCOLS,
    PRIV_PROTOCOLS,
    SECURITY_LEVELS,
    SnmpClient,
    SnmpFailure,
    Target,
    V2cCredentials,
    V3Credentials,
)
from checks.snmp.values import Judgement, SnmpValue, normalize_oid
from checks.specs import SpecError, SpecReader, check_host

MIN_KEY_LENGTH = 8  # RFC 3414 section 11.2: USM pass phrases shorter than 8 octets are refused
_VERSIONS = {"2c": "2c", "v2c": "2c", "2": "2c", "3": "3", "v3": "3"}


@dataclass(frozen=True, slots=True)
class SnmpSpec:
    """A validated SNMP check: where to ask, how to authenticate, and what to ask and judge.

    Exactly one of ``get`` (OIDs), ``walk`` (a subtree) or ``profile`` is set.
    """

    target: Target
    get: tuple[str, ...] = ()
    walk: str | None = None
    profile: Profile | None = None
    max_rows: int = 10_000

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SnmpSpec:
        """Build from a config mapping; raise SpecError naming field, value and what is allowed."""
        reader = SpecReader(data, "snmp check")
        host = check_host("host", reader.string("host"))
        port = reader.integer("port", 161, minimum=1, maximum=65535)
        version = _version(reader.raw("version", "2c"))
        credentials = _v2c(reader) if version == "2c" else _v3(reader)
        target = Target(
            host=host,
            port=port,
            credentials=credentials,
            timeout=reader.duration("timeout", 2.0, minimum=0.1, maximum=60.0),
            retries=reader.integer("retries", 1, minimum=0, maximum=5),
        )
        max_rows = reader.integer("max_rows", 10_000, minimum=1, maximum=1_000_000)

        raw_get, raw_walk = reader.raw("get", None), reader.raw("walk", None)
        profile_name = reader.string("profile", None)
        options = reader.raw("options", None)
        chosen = [n for n, v in (("get", raw_get), ("walk", raw_walk),
                                 ("profile", profile_name)) if v is not None]
        if len(chosen) != 1:
            raise SpecError(
                "get/walk/profile", chosen, "must set exactly one of get, walk or profile"
            )
        if options is not None and profile_name is None:
            raise SpecError("options", options, "only apply together with a profile")
        reader.finish()

        if raw_get is not None:
            oids = raw_get if isinstance(raw_get, list | tuple) else [raw_get]
            if not oids:
                raise SpecError("get", raw_get, "must list at least one OID")
            get = tuple(normalize_oid(f"get[{i}]", oid) for i, oid in enumerate(oids))
            return cls(target=target, get=get, max_rows=max_rows)
        if raw_walk is not None:
            return cls(target=target, walk=normalize_oid("walk", raw_walk), max_rows=max_rows)
        return cls(target=target, profile=build_profile(profile_name, options), max_rows=max_rows)

    def to_dict(self) -> dict[str, Any]:
        """The config mapping again (``from_dict(spec.to_dict()) == spec``), for export.

        It contains the community / USM keys in clear: the exporter decides how to hide them.
        """
        target = self.target
        out: dict[str, Any] = {"host": target.host, "port": target.port}
        credentials = target.credentials
        if isinstance(credentials, V2cCredentials):
            out.update(version="2c", community=credentials.community)
        else:
            out.update(version="3", user=credentials.user,
                       security_level=credentials.security_level)
            optional = {
                "auth_protocol": credentials.auth_protocol, "auth_key": credentials.auth_key,
                "priv_protocol": credentials.priv_protocol, "priv_key": credentials.priv_key,
                "context_name": credentials.context_name or None,
            }
            out.update({k: v for k, v in optional.items() if v is not None})
        out.update(timeout=target.timeout, retries=target.retries, max_rows=self.max_rows)
        if self.profile is not None:
            out["profile"] = self.profile.name
            if self.profile.raw_options:
                out["options"] = copy.deepcopy(dict(self.profile.raw_options))
        elif self.walk is not None:
            out["walk"] = self.walk
        else:
            out["get"] = list(self.get)
        return out


def _version(raw: Any) -> str:
    key = str(raw).strip().lower() if isinstance(raw, str | int) else None
    if isinstance(raw, bool) or key not in _VERSIONS:
        raise SpecError("version", raw, "must be 2c or 3 (SNMPv1 is not supported)")
    return _VERSIONS[key]


def _v2c(reader: SpecReader) -> V2cCredentials:
    community = reader.text("community")
    if not community:
        raise SpecError("community", community, "must not be empty")
    for name in ("user", "security_level", "auth_protocol", "auth_key", "priv_protocol",
                 "priv_key", "context_name"):
        if reader.raw(name, None) is not None:
            shown = "<hidden>" if name.endswith("_key") else reader.data[name]
            raise SpecError(name, shown, "only applies to version 3")
    return V2cCredentials(community)


def _v3(reader: SpecReader) -> V3Credentials:
    if reader.raw("community", None) is not None:
        raise SpecError("community", "<hidden>", "only applies to version 2c; use user/keys")
    level = reader.string("security_level", "authPriv", choices=SECURITY_LEVELS)
    auth_protocol = reader.string("auth_protocol", None, choices=tuple(AUTH_PROTOCOLS))
    priv_protocol = reader.string("priv_protocol", None, choices=tuple(PRIV_PROTOCOLS))
    auth_key = reader.text("auth_key", None)
    priv_key = reader.text("priv_key", None)
    uses_auth = level != "noAuthNoPriv"
    uses_priv = level == "authPriv"
    for name, value, used in (
        ("auth_protocol", auth_protocol, uses_auth),
        ("auth_key", auth_key, uses_auth),
        ("priv_protocol", priv_protocol, uses_priv),
        ("priv_key", priv_key, uses_priv),
    ):
        if value is not None and not used:
            shown = "<hidden>" if name.endswith("_key") else value
            raise SpecError(name, shown, f"is not used at security_level {level}; remove it")
    for name, key, used in (("auth_key", auth_key, uses_auth), ("priv_key", priv_key, uses_priv)):
        if used and key is None:
            raise SpecError(name, None, f"is required at security_level {level}")
        if used and key is not None and len(key) < MIN_KEY_LENGTH:
            raise SpecError(
                name, "<hidden>",
                f"must be at least {MIN_KEY_LENGTH} characters (RFC 3414), got {len(key)}",
            )
    return V3Credentials(
        user=reader.string("user"),
        security_level=level,
        auth_protocol=(auth_protocol or "SHA") if uses_auth else None,
        auth_key=auth_key,
        priv_protocol=(priv_protocol or "AES") if uses_priv else None,
        priv_key=priv_key,
        context_name=reader.text("context_name", ""),
    )


# ---------------------------------------------------------------------------------------------


async def probe(
    spec: SnmpSpec,
    now: datetime,
    ctx: Any = None,
    *,
    previous: Result | None = None,
) -> Result:
    """Ask the agent and judge the answer. Never raises for a failed target.

    ``ctx`` may be an ``SnmpClient`` or any object with an ``snmp`` attribute holding one (the
    scheduler's per-loop context); without one a temporary client is used (~70 ms extra CPU).
    ``previous`` is this check's previous Result: rate-based profiles (interfaces) turn
    counters into rates over ``now - previous.started_at``.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("probe(now=...) must be timezone-aware UTC, got a naive datetime")
    started = perf_counter()
    try:
        async with _client_from(ctx) as client:
            varbinds = await fetch(client, spec)
    except SnmpFailure as failure:
        return _result(failure.status, failure.reason, now, started)
    except Exception as exc:  # a probe must not take the engine down; say what happened
        return _result(
            Status.UNKNOWN, f"SNMP probe failed unexpectedly: {type(exc).__name__}: {exc}",
            now, started,
        )
    judgement = judge(spec, varbinds, now, previous)
    return Result(
        status=judgement.status,
        message=judgement.message,
        started_at=now,
        duration=max(0.0, perf_counter() - started),
        metrics=judgement.metrics,
        perfdata=judgement.perfdata,
    )


async def fetch(client: SnmpClient, spec: SnmpSpec) -> dict[str, SnmpValue]:
    """Everything the spec needs from the agent, merged into one ``{oid: value}`` dict."""
    target = spec.target
    if spec.profile is None:
        if spec.walk is not None:
            return await client.walk(target, spec.walk, spec.max_rows)
        return await client.get(target, spec.get)
    plan = spec.profile.plan
    varbinds: dict[str, SnmpValue] = {}
    if plan.gets:
        varbinds.update(await client.get(target, plan.gets))
    for root in plan.walks:  # one after the other: gentle on small agents (UPS cards)
        varbinds.update(await client.walk(target, root, spec.max_rows))
    return varbinds


def judge(
    spec: SnmpSpec,
    varbinds: Mapping[str, SnmpValue],
    now: datetime,
    previous: Result | None = None,
) -> Judgement:
    """The pure part of the probe: judge fetched varbinds as the spec says."""
    if spec.profile is None:
        return judge_walk(varbinds, spec.walk) if spec.walk else judge_get(varbinds, spec.get)
    elapsed = None
    previous_metrics = None
    if previous is not None and previous.started_at < now:
        elapsed = (now - previous.started_at).total_seconds()
        previous_metrics = previous.metrics
    return spec.profile.judge(varbinds, previous_metrics, elapsed)


@asynccontextmanager
async def _client_from(ctx: Any) -> AsyncIterator[SnmpClient]:
    if isinstance(ctx, SnmpClient):
        yield ctx
        return
    shared = getattr(ctx, "snmp", None)
    if isinstance(shared, SnmpClient):
        yield shared
        return
    async with SnmpClient() as temporary:
        yield temporary


def _result(status: Status, message: str, now: datetime, started: float) -> Result:
    return Result(
        status=status, message=message, started_at=now,
        duration=max(0.0, perf_counter() - started),
    )
