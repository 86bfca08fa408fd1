"""The facility inputs inside a remote probe: the same listeners, forwarding instead of deciding.

``dutydesk probe --trap-listen 0.0.0.0:1162 --syslog-listen 0.0.0.0:1514`` runs the central
SNMP trap listener (pysnmp + the ``ber.py`` fast path, v1/v2c/v3, informs acknowledged) and the
syslog listener (UDP, TCP) at the site. Instead of the central ``Receiver`` (rules, database,
pipeline) they talk to a ``ForwardingReceiver``: the per-source flood gate still guards the probe,
and each trap, syslog message, refused packet and flood becomes a *neutral event* (the shapes
are in ``dutydesk.facility.remote``) handed to ``emit`` — the probe's event buffer, which
forwards it to the centre in order. The probe has no database and no rules: the centre decides
(one rule document for every site; see ``dutydesk.facility.remote`` for why).

Secrets. The centre keeps its SNMPv3 keys sealed and never sends them out: a probe accepts the
v1/v2c communities given on its command line or in ``DUTYDESK_PROBE_SNMP_COMMUNITIES`` (comma-
separated; the environment keeps them out of ``ps``) and the v3 users (and more communities) of
a probe-side YAML file (``--snmp-users FILE``), in the rule document's own ``snmp:`` shape::

    communities: [site-secret]
    users:
      - {name: ups, auth_protocol: SHA, auth_key: "...", priv_protocol: AES, priv_key: "...",
         engine_ids: ["0x8000000001020304"]}

The file must not be readable by everyone (like an SSH key). Keys and communities are never
logged or forwarded: a trap's snmpTrapCommunity variable binding is dropped before it leaves the
probe, and a refused packet is described by its size and pysnmp's reason only.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml

from dutydesk.facility.decide import SyslogMessage
from dutydesk.facility.flood import FloodGate
from dutydesk.facility.rules import (
    DEFAULT_RATE_LIMIT,
    RulesError,
    RuleSet,
    SnmpSettings,
    parse_rules,
)
from dutydesk.facility.snmp import TrapListener, parse_listen

Emit = Callable[[dict[str, Any]], None]
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
TRAP_COMMUNITY = "1.3.6.1.6.3.18.1.4.0"  # snmpTrapCommunity (v1 traps): a secret, not sent


class InputsError(ValueError):
    """The probe's inputs cannot start (bad address, unreadable users file, port taken)."""


@dataclass(frozen=True)
class _ProbeSettings:
    """What the listeners read from ``receiver.settings``."""

    instance_path: str


def _now() -> str:
    return datetime.now(UTC).isoformat()


class ForwardingReceiver:
    """Stands where the central ``Receiver`` stands for a listener (``admit``, ``put``,
    ``reject``, ``start``, ``stop``) and turns what it hears into neutral events for ``emit``."""

    def __init__(self, input_name: str, snmp: SnmpSettings, state_dir: str,
                 rate_limit: int = DEFAULT_RATE_LIMIT, flood_every: float = 1.0) -> None:
        self.input = input_name
        self.rules = RuleSet(snmp=snmp)
        self.settings = _ProbeSettings(state_dir)
        self.on_rules_changed: Callable[[RuleSet], None] | None = None
        self.emit: Emit = lambda event: None
        self._gate = FloodGate(rate_limit)
        self._lock = threading.Lock()
        self._flood_every = flood_every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.heard = 0  # events emitted (tests and the probe's log read it)

    def _send(self, kind: str, source: str, **fields: Any) -> None:
        self.heard += 1
        self.emit({"input": self.input, "kind": kind, "source": source, "at": _now(), **fields})

    def admit(self, source: str) -> bool:
        with self._lock:
            return self._gate.admit(source, time.monotonic())

    def put(self, message: Any) -> None:
        if isinstance(message, SyslogMessage):
            self._send("message", message.source, host=message.host, facility=message.facility,
                       level=message.level, app=message.app, text=message.text,
                       structured=dict(message.structured))
        else:  # (source, version, var_binds) from ProbeTrapListener
            source, version, var_binds = message
            self._send("trap", source, version=version, var_binds=var_binds)

    def reject(self, source: str, name: str, sample: str) -> None:
        if name in ("listener", "mib"):
            return  # the probe's own trouble, not a sender's: start() reports it
        try:
            source = str(ipaddress.ip_address(source))
        except ValueError:
            return
        self._send("rejected", source, reason=name[:100], sample=sample[:1024])

    def _floods(self) -> None:
        while not self._stop.wait(self._flood_every):
            self.drain_floods()

    def drain_floods(self) -> None:
        with self._lock:
            floods = self._gate.drain(time.monotonic())
            limit = self._gate.limit
        for flood in floods:
            self._send("flood", flood.source, dropped=flood.dropped, ongoing=flood.ongoing,
                       limit=limit)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._floods, name=f"probe-{self.input}-floods",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.drain_floods()


class ProbeTrapListener(TrapListener):
    """The central trap listener, handing each notification's raw variable bindings on."""

    def _deliver(self, source: str, version: str,
                 var_binds: Iterable[tuple[str, str, bool]]) -> None:
        binds = [[oid, text, is_oid] for oid, text, is_oid in var_binds
                 if oid not in (SYS_UPTIME, TRAP_COMMUNITY)]
        self.receiver.put((source, version, binds))


def load_snmp_settings(communities: Iterable[str], users_file: str | None) -> SnmpSettings:
    """The probe's SNMP credentials: ``communities`` plus what ``users_file`` holds (see the
    module docstring). ``InputsError`` names the problem, never a secret."""
    section: dict[str, Any] = {"communities": [c for c in communities if c]}
    if users_file:
        try:
            mode = os.stat(users_file).st_mode
            with open(users_file, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise InputsError(f"cannot read the SNMP users file {users_file}: "
                              f"{exc.strerror}") from None
        if mode & stat.S_IROTH:
            raise InputsError(f"the SNMP users file {users_file} is readable by everyone: it "
                              f"holds SNMPv3 keys (chmod 600 {users_file})")
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            raise InputsError(f"the SNMP users file {users_file} is not valid YAML") from None
        if not isinstance(data, dict) or set(data) - {"communities", "users"}:
            raise InputsError(f"the SNMP users file {users_file} may hold 'communities' and "
                              "'users' only")
        extra = data.get("communities") or []
        section = {"communities": [*section["communities"],
                                   *(extra if isinstance(extra, list) else [extra])],
                   "users": data.get("users")}
    try:
        return parse_rules(yaml.safe_dump({"snmp": section})).snmp
    except RulesError as exc:
        raise InputsError("; ".join(exc.problems)) from None


class ProbeInputs:
    """The listeners a probe runs; ``start(emit)`` / ``stop()`` (the agent's event source)."""

    def __init__(self, state_dir: str, *, trap_listen: str = "", syslog_udp: str = "",
                 syslog_tcp: str = "", snmp: SnmpSettings | None = None,
                 rate_limit: int = DEFAULT_RATE_LIMIT) -> None:
        from dutydesk.facility.syslog import SyslogListener

        self.listeners: list[Any] = []
        try:
            if trap_listen:
                if snmp is None or not (snmp.communities or snmp.users):
                    raise InputsError("--trap-listen needs a community (--snmp-community or "
                                      "DUTYDESK_PROBE_SNMP_COMMUNITIES) or SNMPv3 users "
                                      "(--snmp-users FILE)")
                receiver = ForwardingReceiver("snmp", snmp, state_dir, rate_limit)
                self.listeners.append(ProbeTrapListener(*parse_listen(trap_listen), receiver))
            if syslog_udp or syslog_tcp:
                receiver = ForwardingReceiver("syslog", SnmpSettings(), state_dir, rate_limit)
                self.listeners.append(SyslogListener(receiver, udp=syslog_udp, tcp=syslog_tcp))
        except ValueError as exc:
            raise InputsError(str(exc)) from None
        self.describe = ", ".join(filter(None, [
            trap_listen and f"SNMP traps on {trap_listen}",
            syslog_udp and f"syslog on udp {syslog_udp}",
            syslog_tcp and f"syslog on tcp {syslog_tcp}"]))

    def start(self, emit: Emit) -> None:
        """Start every listener; ``InputsError`` (and nothing left running) when one cannot."""
        for listener in self.listeners:
            listener.receiver.emit = emit
            listener.start()
            if listener.error:
                self.stop()
                raise InputsError(f"{listener.label} cannot listen: {listener.error}")

    def stop(self) -> None:
        for listener in self.listeners:
            listener.stop()
