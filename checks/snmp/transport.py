"""SNMP GET and WALK over pysnmp 7's asyncio API: the only module here that does I/O.

``SnmpClient`` owns pysnmp engines. Creating an engine costs ~70 ms of CPU (it builds a MIB
view), a GET on a warm engine well under 5 ms, so a poller keeps one client per event loop and
passes it to every SNMP probe (``async with SnmpClient() as client``). v2c targets share one
engine; SNMPv3 targets share one engine per distinct credential set, because pysnmp keys its
USM user table by user name and two devices may use the same user name with different keys.

Every failure becomes ``SnmpFailure(status, reason)`` with words for the duty engineer:
a target that does not answer is CRITICAL, a rejected credential or a protocol-level refusal is
UNKNOWN (we cannot see the device, but it is not known to be down).
"""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass, field
from typing import Any

from pyasn1.type import univ

with warnings.catch_warnings():
    # pysnmp 7.1 imports pysmi's old camelCase names when pysmi is installed (snmpsim, used in
    # the tests, pulls it in) and pysmi warns at import time; there is nothing for us to act on.
    warnings.filterwarnings(
        "ignore", message=r".* is deprecated\. Please use .* instead\.",
        category=DeprecationWarning,
    )
    from pysnmp.error import PySnmpError
    from pysnmp.hlapi.v3arch.asyncio import (
        USM_AUTH_HMAC96_MD5,
        USM_AUTH_HMAC96_SHA,
        USM_AUTH_HMAC192_SHA256,
        USM_AUTH_HMAC384_SHA512,
        USM_PRIV_CBC56_DES,
        USM_PRIV_CFB128_AES,
        USM_PRIV_CFB256_AES,
        CommunityData,
        ContextData,
        SnmpEngine,
        Udp6TransportTarget,
        UdpTransportTarget,
        UsmUserData,
        bulk_cmd,
        get_cmd,
    )
    from pysnmp.proto import errind, rfc1902, rfc1905

from checks.result import Status
from checks.snmp.values import SnmpValue, oid_tuple

AUTH_PROTOCOLS: dict[str, Any] = {
    "MD5": USM_AUTH_HMAC96_MD5,
    "SHA": USM_AUTH_HMAC96_SHA,
    "SHA256": USM_AUTH_HMAC192_SHA256,
    "SHA512": USM_AUTH_HMAC384_SHA512,
}
PRIV_PROTOCOLS: dict[str, Any] = {
    "DES": USM_PRIV_CBC56_DES,
    "AES": USM_PRIV_CFB128_AES,
    "AES256": USM_PRIV_CFB256_AES,
}
SECURITY_LEVELS = ("noAuthNoPriv", "authNoPriv", "authPriv")
GET_CHUNK = 20  # varbinds per GET request: keeps responses well under a 1,472-byte UDP packet


class SnmpFailure(Exception):
    """An SNMP exchange failed; ``status`` and ``reason`` go straight into the Result."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class V2cCredentials:
    community: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class V3Credentials:
    """USM credentials; keys are hidden from repr so they never reach a log line."""

    user: str
    security_level: str = "authPriv"
    auth_protocol: str | None = None
    auth_key: str | None = field(default=None, repr=False)
    priv_protocol: str | None = None
    priv_key: str | None = field(default=None, repr=False)
    context_name: str = ""


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how to ask: UDP host/port, per-request timeout (s) and retries."""

    host: str
    port: int
    credentials: V2cCredentials | V3Credentials
    timeout: float = 2.0
    retries: int = 1

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def patience(self) -> float:
        """Longest a single request may take: every try waits ``timeout``."""
        return self.timeout * (self.retries + 1)


class SnmpClient:
    """Shared pysnmp engines for one event loop; not thread-safe. Close it when done."""

    def __init__(self) -> None:
        self._engines: dict[tuple[Any, ...], SnmpEngine] = {}

    def _engine(self, credentials: V2cCredentials | V3Credentials) -> SnmpEngine:
        key: tuple[Any, ...]
        if isinstance(credentials, V3Credentials):
            key = ("v3", credentials.user, credentials.auth_protocol, credentials.auth_key,
                   credentials.priv_protocol, credentials.priv_key)
        else:
            key = ("v2c",)
        engine = self._engines.get(key)
        if engine is None:
            engine = self._engines[key] = SnmpEngine()
        return engine

    async def get(self, target: Target, oids: tuple[str, ...]) -> dict[str, SnmpValue]:
        """GET ``oids``; OIDs the agent does not have are absent from the returned dict."""
        found: dict[str, SnmpValue] = {}
        transport = await _transport(target)
        for start in range(0, len(oids), GET_CHUNK):
            chunk = oids[start : start + GET_CHUNK]
            varbinds = [(rfc1902.ObjectName(oid), univ.Null("")) for oid in chunk]
            answer = await self._send(target, transport, get_cmd, *varbinds)
            for name, value in answer:
                converted = to_python(value)
                if converted is not None:
                    found[_dotted(tuple(name))] = converted
        return found

    async def walk(
        self, target: Target, root: str, max_rows: int = 10_000, max_repetitions: int = 25
    ) -> dict[str, SnmpValue]:
        """All OIDs under ``root`` via GETBULK, in order; raise SnmpFailure past ``max_rows``.

        Our own loop rather than pysnmp's ``bulk_walk_cmd`` (which carries on after a timeout
        unless its caller stops it): one failure ends the walk, OIDs must increase, rows are
        capped.
        """
        root_t = oid_tuple(root)
        found: dict[str, SnmpValue] = {}
        last: tuple[int, ...] = root_t
        transport = await _transport(target)  # resolve the name once per walk, not per request
        while True:
            cursor = (rfc1902.ObjectName(_dotted(last)), univ.Null(""))
            answer = await self._send(target, transport, bulk_cmd, 0, max_repetitions, cursor)
            if not answer:
                return found
            for name, value in answer:
                oid = tuple(name)
                if oid[: len(root_t)] != root_t or isinstance(value, rfc1905.EndOfMibView):
                    return found
                if oid <= last:
                    raise SnmpFailure(
                        Status.UNKNOWN,
                        f"{target.address} returned OIDs out of order while walking {root} "
                        f"({_dotted(oid)} after {_dotted(last)}); the agent is broken",
                    )
                last = oid
                converted = to_python(value)
                if converted is not None:
                    found[_dotted(oid)] = converted
                if len(found) > max_rows:
                    raise SnmpFailure(
                        Status.UNKNOWN,
                        f"walking {root} on {target.address} returned more than {max_rows} "
                        "rows; narrow the OID or raise max_rows",
                    )

    async def _send(
        self, target: Target, transport: Any, command: Any, *args: Any
    ) -> tuple[Any, ...]:
        engine = self._engine(target.credentials)
        try:
            request = command(
                engine, _auth_data(target.credentials), transport, _context(target.credentials),
                *args, lookupMib=False,
            )
            # pysnmp enforces timeout × retries itself; this guard only catches a lost callback.
            indication, error_status, error_index, answer = await asyncio.wait_for(
                request, timeout=target.patience + 1.0
            )
        except TimeoutError:
            raise _timeout(target) from None
        except PySnmpError as exc:
            raise SnmpFailure(Status.UNKNOWN, f"SNMP error for {target.address}: {exc}") from None
        if indication:
            raise describe_indication(indication, target)
        if error_status:
            raise _error_status(target, error_status, error_index, args)
        return tuple(answer)

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close_dispatcher()
        self._engines.clear()

    async def __aenter__(self) -> SnmpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


async def _transport(target: Target) -> UdpTransportTarget | Udp6TransportTarget:
    kind = Udp6TransportTarget if ":" in target.host else UdpTransportTarget
    try:
        return await kind.create(
            (target.host, target.port), timeout=target.timeout, retries=target.retries
        )
    except PySnmpError:
        raise SnmpFailure(
            Status.UNKNOWN, f"cannot resolve the host name {target.host!r}"
        ) from None


def _auth_data(credentials: V2cCredentials | V3Credentials) -> CommunityData | UsmUserData:
    if isinstance(credentials, V2cCredentials):
        return CommunityData(credentials.community, mpModel=1)
    auth = credentials.security_level != "noAuthNoPriv"
    priv = credentials.security_level == "authPriv"
    return UsmUserData(
        credentials.user,
        authKey=credentials.auth_key if auth else None,
        privKey=credentials.priv_key if priv else None,
        authProtocol=AUTH_PROTOCOLS[credentials.auth_protocol or "SHA"] if auth else None,
        privProtocol=PRIV_PROTOCOLS[credentials.priv_protocol or "AES"] if priv else None,
    )


def _context(credentials: V2cCredentials | V3Credentials) -> ContextData:
    if isinstance(credentials, V3Credentials) and credentials.context_name:
        return ContextData(contextName=credentials.context_name.encode())
    return ContextData()


def _dotted(oid: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in oid)


def to_python(value: Any) -> SnmpValue | None:
    """pyasn1 value → int / str / bytes; None for noSuchObject, noSuchInstance, endOfMibView."""
    if isinstance(
        value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance | rfc1905.EndOfMibView | univ.Null
    ):
        return None
    if isinstance(value, rfc1902.IpAddress):
        return ".".join(str(b) for b in value.asOctets())
    if isinstance(value, univ.ObjectIdentifier):
        return _dotted(tuple(value))
    if isinstance(value, univ.Integer):  # Integer32, Counter32/64, Gauge32, TimeTicks
        return int(value)
    if isinstance(value, univ.OctetString):
        return octets_to_python(value.asOctets())
    return str(value.prettyPrint())


def octets_to_python(raw: bytes) -> str | bytes:
    """Printable UTF-8 (trailing NULs dropped, as some agents pad names) → str; else bytes."""
    trimmed = raw.rstrip(b"\x00")
    try:
        text = trimmed.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    if all(ch.isprintable() or ch in "\t\r\n" for ch in text):
        return text
    return raw


def _timeout(target: Target) -> SnmpFailure:
    credentials = target.credentials
    if isinstance(credentials, V2cCredentials):
        hint = "agent down, host unreachable, or wrong community (agents ignore those silently)"
    else:
        hint = "agent down, host unreachable, or an SNMPv3 context the agent does not serve"
    tries = target.retries + 1
    return SnmpFailure(
        Status.CRITICAL,
        f"no SNMP response from {target.address} within {target.timeout:g} s "
        f"({tries} {'try' if tries == 1 else 'tries'}): {hint}",
    )


def describe_indication(indication: Any, target: Target) -> SnmpFailure:
    """Map a pysnmp error indication to a status and plain words."""
    credentials = target.credentials
    user = credentials.user if isinstance(credentials, V3Credentials) else ""
    if isinstance(indication, errind.RequestTimedOut):
        return _timeout(target)
    if isinstance(indication, errind.UnknownUserName):
        return SnmpFailure(
            Status.UNKNOWN, f"{target.address} does not know the SNMPv3 user {user!r}"
        )
    if isinstance(
        indication,
        errind.WrongDigest | errind.AuthenticationFailure | errind.AuthenticationError,
    ):
        return SnmpFailure(
            Status.UNKNOWN,
            f"SNMPv3 authentication failed on {target.address} for user {user!r}: "
            "wrong auth key or auth protocol",
        )
    if isinstance(indication, errind.DecryptionError):
        return SnmpFailure(
            Status.UNKNOWN,
            f"SNMPv3 decryption failed on {target.address} for user {user!r}: "
            "wrong privacy key or privacy protocol",
        )
    if isinstance(indication, errind.UnsupportedSecurityLevel):
        level = getattr(credentials, "security_level", "")
        return SnmpFailure(
            Status.UNKNOWN,
            f"{target.address} does not accept security level {level} for user {user!r}",
        )
    if isinstance(indication, errind.NotInTimeWindow):
        return SnmpFailure(
            Status.UNKNOWN,
            f"SNMPv3 time window error with {target.address} (agent restarted?); retry later",
        )
    return SnmpFailure(Status.UNKNOWN, f"SNMP error from {target.address}: {indication}")


def _error_status(target: Target, status: Any, index: Any, args: tuple[Any, ...]) -> SnmpFailure:
    name = status.prettyPrint() if hasattr(status, "prettyPrint") else str(status)
    position = int(index) - 1 if index else -1
    varbinds = [a for a in args if isinstance(a, tuple)]
    where = ""
    if 0 <= position < len(varbinds):
        where = f" for {_dotted(tuple(varbinds[position][0]))}"
    if name in ("noAccess", "authorizationError"):
        return SnmpFailure(
            Status.UNKNOWN,
            f"{target.address} refused access{where} ({name}): the SNMP view excludes it",
        )
    return SnmpFailure(Status.UNKNOWN, f"{target.address} answered {name}{where}")
