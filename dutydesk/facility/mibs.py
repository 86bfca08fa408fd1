"""OID → name translation: built-in names for the traps facility equipment sends, plus MIB
files the operator adds (compiled by pysmi into pysnmp's MIB builder).

``translate(oid)`` returns ``"MIB::name"`` with the instance suffix (``"IF-MIB::ifIndex.3"``)
or the dotted OID unchanged when no MIB knows it — an unknown OID is shown raw, never dropped.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

log = logging.getLogger("dutydesk.facility")
BASE_MIBS = Path(__file__).with_name("base_mibs")

_UPS = "1.3.6.1.2.1.33"
_WELL_KNOWN_ALARMS = (
    "upsAlarmBatteryBad", "upsAlarmOnBattery", "upsAlarmLowBattery", "upsAlarmDepletedBattery",
    "upsAlarmTempBad", "upsAlarmInputBad", "upsAlarmOutputBad", "upsAlarmOutputOverload",
    "upsAlarmOnBypass", "upsAlarmBypassBad", "upsAlarmOutputOffAsRequested",
    "upsAlarmUpsOffAsRequested", "upsAlarmChargerFailed", "upsAlarmUpsOutputOff",
    "upsAlarmUpsSystemOff", "upsAlarmFanFailure", "upsAlarmFuseFailure", "upsAlarmGeneralFault",
    "upsAlarmDiagnosticTestFailed", "upsAlarmCommunicationsLost", "upsAlarmAwaitingPower",
    "upsAlarmShutdownPending", "upsAlarmShutdownImminent", "upsAlarmTestInProgress",
)  # RFC 1628 upsWellKnownAlarms, numbered 1..24 in this order
_APC_TRAPS = (
    "communicationLost", "upsOverload", "upsDiagnosticsFailed", "upsDischarged", "upsOnBattery",
    "smartBoostOn", "lowBattery", "communicationEstablished", "powerRestored",
    "upsDiagnosticsPassed", "returnFromLowBattery",
)  # PowerNet-MIB enterprise 318 specific traps 1..11

BUILTIN: Mapping[str, str] = {
    # SNMPv2-MIB and the generic traps
    "1.3.6.1.2.1.1.1": "SNMPv2-MIB::sysDescr",
    "1.3.6.1.2.1.1.3": "SNMPv2-MIB::sysUpTime",
    "1.3.6.1.2.1.1.5": "SNMPv2-MIB::sysName",
    "1.3.6.1.2.1.1.6": "SNMPv2-MIB::sysLocation",
    "1.3.6.1.6.3.1.1.4.1": "SNMPv2-MIB::snmpTrapOID",
    "1.3.6.1.6.3.1.1.4.3": "SNMPv2-MIB::snmpTrapEnterprise",
    "1.3.6.1.6.3.18.1.3": "SNMP-COMMUNITY-MIB::snmpTrapAddress",
    "1.3.6.1.6.3.18.1.4": "SNMP-COMMUNITY-MIB::snmpTrapCommunity",
    "1.3.6.1.6.3.1.1.5.1": "SNMPv2-MIB::coldStart",
    "1.3.6.1.6.3.1.1.5.2": "SNMPv2-MIB::warmStart",
    "1.3.6.1.6.3.1.1.5.3": "IF-MIB::linkDown",
    "1.3.6.1.6.3.1.1.5.4": "IF-MIB::linkUp",
    "1.3.6.1.6.3.1.1.5.5": "SNMPv2-MIB::authenticationFailure",
    # IF-MIB objects carried by linkDown/linkUp
    "1.3.6.1.2.1.2.2.1.1": "IF-MIB::ifIndex",
    "1.3.6.1.2.1.2.2.1.2": "IF-MIB::ifDescr",
    "1.3.6.1.2.1.2.2.1.7": "IF-MIB::ifAdminStatus",
    "1.3.6.1.2.1.2.2.1.8": "IF-MIB::ifOperStatus",
    "1.3.6.1.2.1.31.1.1.1.1": "IF-MIB::ifName",
    "1.3.6.1.2.1.31.1.1.1.18": "IF-MIB::ifAlias",
    # UPS-MIB (RFC 1628)
    f"{_UPS}.2.1": "UPS-MIB::upsTrapOnBattery",
    f"{_UPS}.2.2": "UPS-MIB::upsTrapTestCompleted",
    f"{_UPS}.2.3": "UPS-MIB::upsTrapAlarmEntryAdded",
    f"{_UPS}.2.4": "UPS-MIB::upsTrapAlarmEntryRemoved",
    f"{_UPS}.1.2.1": "UPS-MIB::upsBatteryStatus",
    f"{_UPS}.1.2.2": "UPS-MIB::upsSecondsOnBattery",
    f"{_UPS}.1.2.3": "UPS-MIB::upsEstimatedMinutesRemaining",
    f"{_UPS}.1.2.4": "UPS-MIB::upsEstimatedChargeRemaining",
    f"{_UPS}.1.6.1": "UPS-MIB::upsAlarmsPresent",
    f"{_UPS}.1.6.2.1.1": "UPS-MIB::upsAlarmId",
    f"{_UPS}.1.6.2.1.2": "UPS-MIB::upsAlarmDescr",
    f"{_UPS}.1.6.2.1.3": "UPS-MIB::upsAlarmTime",
    f"{_UPS}.1.7.1": "UPS-MIB::upsTestId",
    f"{_UPS}.1.7.3": "UPS-MIB::upsTestResultsSummary",
    f"{_UPS}.1.7.4": "UPS-MIB::upsTestResultsDetail",
    f"{_UPS}.1.9.7": "UPS-MIB::upsConfigLowBattTime",
    **{f"{_UPS}.1.6.3.{i}": f"UPS-MIB::{n}" for i, n in enumerate(_WELL_KNOWN_ALARMS, 1)},
    # APC PowerNet-MIB
    "1.3.6.1.4.1.318": "PowerNet-MIB::apc",
    **{f"1.3.6.1.4.1.318.0.{i}": f"PowerNet-MIB::{n}" for i, n in enumerate(_APC_TRAPS, 1)},
}


def _split_builtin(oid: str) -> tuple[str, str] | None:
    """The longest built-in prefix of ``oid`` and the instance suffix after it."""
    parts = oid.split(".")
    for cut in range(len(parts), 0, -1):
        name = BUILTIN.get(".".join(parts[:cut]))
        if name is not None:
            return name, ".".join(parts[cut:])
    return None


class MibTranslator:
    """Built-in names first, then the operator's compiled MIB modules, else the raw OID.

    ``mib_dirs``/``modules``: directories of MIB source files and the module names in them to
    load (pysmi compiles them once into ``cache_dir``). A MIB that fails to compile is logged
    and reported by ``problems``; translation keeps working with what did load.
    """

    def __init__(
        self,
        mib_dirs: Iterable[str] = (),
        modules: Iterable[str] = (),
        cache_dir: str | None = None,
    ) -> None:
        self.problems: list[str] = []
        self._view = None
        self._cache: dict[str, str] = {}
        modules = list(modules)
        if modules:
            self._load(list(mib_dirs), modules, cache_dir)

    def _load(self, mib_dirs: list[str], modules: list[str], cache_dir: str | None) -> None:

        with warnings.catch_warnings():  # pysnmp's own glue still calls pysmi's old names
            warnings.simplefilter("ignore", DeprecationWarning)
            self._compile(mib_dirs, modules, cache_dir)

    def _compile(self, mib_dirs: list[str], modules: list[str], cache_dir: str | None) -> None:
        from pysnmp.smi import builder, compiler, view

        mib_builder = builder.MibBuilder()
        # The operator's directories first; our stand-ins for the SMI base modules last, so a
        # vendor MIB compiles without the operator installing the IETF MIB collection.
        sources = [Path(d).resolve().as_uri() for d in [*mib_dirs, str(BASE_MIBS)]]
        kwargs = {"destination": cache_dir} if cache_dir else {}
        compiler.add_mib_compiler(mib_builder, sources=sources, **kwargs)
        for name in modules:
            try:
                mib_builder.load_modules(name)
            except Exception as exc:  # pysmi/pysnmp raise many kinds; one bad MIB is not fatal
                self.problems.append(f"MIB {name}: {exc}")
                log.warning("MIB module not loaded", extra={"mib": name, "error": str(exc)})
        self._view = view.MibViewController(mib_builder)

    def translate(self, oid: str) -> str:
        """``"1.3.6.1.2.1.2.2.1.1.3"`` → ``"IF-MIB::ifIndex.3"``; unknown OIDs come back as is."""
        cached = self._cache.get(oid)
        if cached is not None:
            return cached
        found = _split_builtin(oid)
        if found is not None:
            name, suffix = found
            result = f"{name}.{suffix}" if suffix else name
        else:
            result = self._from_view(oid) or oid
        if len(self._cache) < 10_000:  # bounded: a sender inventing OIDs cannot grow memory
            self._cache[oid] = result
        return result

    def _from_view(self, oid: str) -> str | None:
        if self._view is None:
            return None
        try:
            numbers = tuple(int(p) for p in oid.split("."))
            node_oid, _label, suffix = self._view.get_node_name(numbers)
            module, symbol, _ = self._view.get_node_location(node_oid)
        except Exception:  # (not in any loaded MIB: shown raw)
            return None
        if module in ("SNMPv2-SMI", "") or len(node_oid) < 7:
            return None  # only the tree's skeleton matched: raw OID is more honest
        tail = ".".join(str(n) for n in suffix)
        return f"{module}::{symbol}.{tail}" if tail else f"{module}::{symbol}"


def base_name(name: str) -> str:
    """``"IF-MIB::ifIndex.3"`` → ``"ifIndex"``; a raw OID stays as it is."""
    if "::" not in name:
        return name
    return name.split("::", 1)[1].split(".", 1)[0]


def names_match(wanted: str, name: str) -> bool:
    """A rule's trap name (``linkDown``, ``IF-MIB::linkDown`` or a dotted OID) against a
    translated name."""
    if wanted == name:
        return True
    if "::" in wanted:
        return name.split(".", 1)[0] == wanted if "::" in name else False
    return base_name(name) == wanted
