"""The SNMP trap and inform listener (v1, v2c, v3 USM) built on pysnmp's notification receiver.

``DUTYDESK_SNMP_TRAP_LISTEN`` (``host:port``, e.g. ``0.0.0.0:162``; off when unset) says where
to listen. Communities and USM users come from the applied rule document (``snmp:`` section);
the listener rebuilds its engine when a new document is applied.

Every datagram is seen before pysnmp decodes it: the per-source flood gate drops a flood
cheaply (a v3 decrypt per packet would not keep up), and a datagram that produced no
notification is counted as *rejected* with pysnmp's own reason (malformed, unknown community,
unknown user, wrong digest, decryption error), never silently.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

from dutydesk.facility.ber import decode_trap
from dutydesk.facility.decide import Trap
from dutydesk.facility.listener import LoopListener
from dutydesk.facility.mibs import MibTranslator, base_name
from dutydesk.facility.receiver import Receiver
from dutydesk.facility.rules import RuleSet, SnmpSettings

log = logging.getLogger("dutydesk.facility")

TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
UPTIME_OID = "1.3.6.1.2.1.1.3.0"
VERSIONS = {1: "1", 2: "2c", 3: "3"}
# pysnmp's counters of refused packets (MIB module, symbol) → the reason we show
REJECTION_COUNTERS = (
    ("__SNMPv2-MIB", "snmpInASNParseErrs", "malformed packet"),
    ("__SNMPv2-MIB", "snmpInBadVersions", "unsupported SNMP version"),
    ("__SNMPv2-MIB", "snmpInBadCommunityNames", "unknown community"),
    ("__SNMP-MPD-MIB", "snmpInvalidMsgs", "invalid message"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownUserNames", "unknown SNMPv3 user"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsWrongDigests", "wrong SNMPv3 authentication"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsDecryptionErrors", "wrong SNMPv3 privacy key"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnsupportedSecLevels", "unsupported security level"),
)


def parse_listen(value: str) -> tuple[str, int]:
    """``"127.0.0.1:1162"`` / ``"[::1]:162"`` → (host, port); ValueError with a clear message."""
    text = value.strip()
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"expected host:port such as 0.0.0.0:162, got {value!r}")
    return host, int(port)


def _auth(name: str) -> Any:
    from pysnmp.entity import config

    return {
        "": config.USM_AUTH_NONE, "MD5": config.USM_AUTH_HMAC96_MD5,
        "SHA": config.USM_AUTH_HMAC96_SHA, "SHA224": config.USM_AUTH_HMAC128_SHA224,
        "SHA256": config.USM_AUTH_HMAC192_SHA256, "SHA384": config.USM_AUTH_HMAC256_SHA384,
        "SHA512": config.USM_AUTH_HMAC384_SHA512,
    }[name]


def _priv(name: str) -> Any:
    from pysnmp.entity import config

    return {
        "": config.USM_PRIV_NONE, "DES": config.USM_PRIV_CBC56_DES,
        "3DES": config.USM_PRIV_CBC168_3DES, "AES": config.USM_PRIV_CFB128_AES,
        "AES192": config.USM_PRIV_CFB192_AES, "AES256": config.USM_PRIV_CFB256_AES,
    }[name]


def describe_trap(trap: Trap) -> tuple[str, str]:
    """(name for the heard counters, a one-line sample) of a trap that became no alert."""
    variables = " ".join(f"{base_name(n)}={v}" for n, v in trap.variables)
    return base_name(trap.trap), f"v{trap.version} {trap.trap} {variables}"[:1024]


def trap_from_var_binds(source: str, version: str, var_binds: Iterable[tuple[str, str, bool]],
                        translate: Callable[[str], str]) -> Trap | None:
    """One notification's variable bindings (``(oid, value text, value is an OID)``, as pysnmp
    or ``ber.py`` read them) → a ``Trap`` with names translated; ``None`` without snmpTrapOID.0.
    Shared by the central listener and the remote probes' forwarded traps
    (``dutydesk.facility.remote``), so both read a trap the same way."""
    trap_oid, variables = "", []
    for oid_text, text, is_oid in var_binds:
        if oid_text == TRAP_OID:
            trap_oid = text
            continue
        if oid_text == UPTIME_OID:
            continue
        if is_oid:
            text = translate(text)
        variables.append((translate(oid_text), text[:1024]))
    if not trap_oid:
        return None
    return Trap(source=source, version=version, trap=translate(trap_oid), trap_oid=trap_oid,
                variables=tuple(variables))


class TrapListener(LoopListener):
    """Owns an asyncio loop in a thread with a pysnmp engine on one UDP address."""

    thread_name, label = "snmp-traps", "SNMP trap listener"
    fast_path = True  # read plain v1/v2c traps with ber.py (False: pysnmp reads everything)

    def __init__(self, host: str, port: int, receiver: Receiver) -> None:
        super().__init__(receiver)
        self.host, self.port = host, port
        receiver.on_rules_changed = self._rules_changed
        self.translator = MibTranslator()
        self._engine: Any = None
        self.settings: SnmpSettings | None = None
        self.fast_decoded = 0  # traps read by the fast path (ber.py), not pysnmp
        self._communities: tuple[str, ...] = ()

    # --- building the engine ----------------------------------------------------------------

    def _build(self, settings: SnmpSettings) -> None:
        from pysnmp.carrier.asyncio.dgram import udp, udp6
        from pysnmp.entity import config, engine
        from pysnmp.entity.rfc3413 import ntfrcv
        from pysnmp.proto.rfc1902 import OctetString

        instance = self.receiver.settings.instance_path or tempfile.gettempdir()
        translator = MibTranslator(settings.mib_dirs, settings.mib_modules,
                                   cache_dir=os.path.join(instance, "compiled-mibs"))
        for problem in translator.problems:
            self.receiver.reject(self.host, "mib", problem)
        eng = engine.SnmpEngine()
        ipv6 = ":" in self.host
        domain, transport = (udp6.DOMAIN_NAME, udp6.Udp6Transport) if ipv6 else (
            udp.DOMAIN_NAME, udp.UdpTransport)
        # Bind here, synchronously: traps sent right after start are not lost to a bind still
        # pending in the loop, a taken port is reported at once, and a large receive buffer
        # absorbs a burst while the loop is busy.
        sock = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        sock.setblocking(False)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        config.add_transport(eng, domain, transport().open_server_mode(sock=sock))
        for i, community in enumerate(settings.communities):
            config.add_v1_system(eng, f"community-{i}", community)
        for user in settings.users:
            args = (eng, user.name, _auth(user.auth_protocol), user.auth_key or None,
                    _priv(user.priv_protocol), user.priv_key or None)
            config.add_v3_user(*args)  # informs: we are the authoritative engine
            for engine_id in user.engine_ids:  # traps: the sender is authoritative
                config.add_v3_user(*args, securityEngineId=OctetString(hexValue=engine_id))
        ntfrcv.NotificationReceiver(eng, self._notification)
        self._communities = settings.communities
        self._wrap_dispatcher(eng)
        self._engine, self.settings, self.translator = eng, settings, translator

    def _counters(self, eng: Any) -> list[tuple[str, Any]]:
        builder = eng.get_mib_builder()
        found = []
        for module, symbol, reason in REJECTION_COUNTERS:
            try:
                (node,) = builder.import_symbols(module, symbol)
            except Exception:  # (a counter this pysnmp does not keep)
                continue
            found.append((reason, node))
        return found

    def _wrap_dispatcher(self, eng: Any) -> None:
        """See each datagram first: flood gate, then decode, then "why was it refused"."""
        dispatcher = eng.message_dispatcher
        original = dispatcher.receive_message
        counters = self._counters(eng)
        state = {"heard": False}
        self._state = state
        # plain v1/v2c traps with a known community skip pyasn1 (see ber.py); ASCII communities
        # only, so the byte comparison is exactly pysnmp's
        fast_communities = {c.encode() for c in self._communities
                            if c.isascii()} if self.fast_path else set()

        def receive(snmp_engine: Any, domain: Any, address: Any, whole: bytes) -> Any:
            source = str(address[0])
            if not self.receiver.admit(source):
                return b""
            fast = decode_trap(whole) if fast_communities else None
            if fast is not None and fast.community in fast_communities:
                self.fast_decoded += 1
                self._deliver(source, fast.version,
                              ((b.oid, b.text, b.is_oid) for b in fast.var_binds))
                return b""
            before = [int(node.syntax) for _, node in counters]
            state["heard"] = False
            try:
                result = original(snmp_engine, domain, address, whole)
            except Exception as exc:  # (a packet pysnmp chokes on: counted)
                self.receiver.reject(source, "malformed packet", f"{type(exc).__name__}: {exc}")
                return b""
            if not state["heard"]:
                for (reason, node), old in zip(counters, before, strict=True):
                    if int(node.syntax) > old:
                        self.receiver.reject(source, reason, f"{len(whole)} bytes: {reason}")
                        break
            return result

        dispatcher.receive_message = receive

    def _notification(self, eng: Any, state_ref: Any, context_engine_id: Any,
                      context_name: Any, var_binds: Any, cb_ctx: Any) -> None:
        self._state["heard"] = True
        context = eng.observer.get_execution_context("rfc3412.receiveMessage:request")
        source = str(context["transportAddress"][0])
        version = VERSIONS.get(int(context.get("securityModel", 2)), "2c")
        self._deliver(source, version, (
            (str(oid), value.prettyPrint(), type(value).__name__ == "ObjectIdentifier")
            for oid, value in var_binds
        ))

    def _deliver(self, source: str, version: str,
                 var_binds: Iterable[tuple[str, str, bool]]) -> None:
        """One notification (from pysnmp or the fast path) → a Trap in the receiver's queue."""
        trap = trap_from_var_binds(source, version, var_binds, self.translator.translate)
        if trap is None:
            self.receiver.reject(source, "no snmpTrapOID", f"v{version} notification without "
                                 "snmpTrapOID.0")
            return
        self.receiver.put(trap)

    # --- lifecycle --------------------------------------------------------------------------

    def _rules_changed(self, rules: RuleSet) -> None:
        if self._loop is None or rules.snmp == self.settings:
            return
        self._loop.call_soon_threadsafe(self._rebuild, rules.snmp)

    def _rebuild(self, settings: SnmpSettings) -> None:
        if self._engine is not None:
            # asyncio closes the old socket on the loop's next turn: bind the new one after it
            self._close_engine()
            assert self._loop is not None
            self._loop.call_later(0.2, self._rebuild, settings)
            return
        try:
            self._build(settings)
        except Exception as exc:  # (port taken etc.: say so, keep the worker up)
            self.error = str(exc)
            self.receiver.reject(self.host, "listener", f"cannot listen: {exc}")
            log.error("SNMP trap listener could not start", extra={"error": str(exc)})
        else:
            self.error = None

    def _close_engine(self) -> None:
        if self._engine is not None:
            self._engine.close_dispatcher()
            self._engine = None

    def _begin(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.call_soon(self._rebuild, self.receiver.rules.snmp)
        loop.call_soon(self._ready.set)

    def _end(self, loop: asyncio.AbstractEventLoop) -> None:
        self._close_engine()  # then pysnmp's timer task is cancelled and awaited (LoopListener)

    def _listening(self) -> str:
        return f"{self.host}:{self.port}"

