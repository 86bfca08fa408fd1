"""Profile registry: from a name and an options mapping to "what to fetch" and "how to judge".

A profile never does I/O. The probe asks the agent for ``profile.plan`` (GETs and WALKs), puts
every answer into one ``{oid: value}`` dict and calls ``profile.judge(varbinds, ...)``.

Profiles: ``ups`` (RFC 1628), ``sensors`` (ENTITY-SENSOR-MIB), ``interfaces`` (IF-MIB),
``pdu`` (per-phase load, preset ``apc-rpdu``), ``value`` (any numeric OIDs with scale/limits).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from checks.result import Status
from checks.snmp import interfaces, pdu, sensors, ups
from checks.snmp.values import Judgement, Varbinds
from checks.specs import SpecError

PROFILE_NAMES = ("ups", "sensors", "interfaces", "pdu", "value")


@dataclass(frozen=True, slots=True)
class FetchPlan:
    """OIDs to GET (exact instances) and subtrees to WALK."""

    gets: tuple[str, ...] = ()
    walks: tuple[str, ...] = ()


_Judge = Callable[[Varbinds, Mapping[str, float] | None, float | None], Judgement]


@dataclass(frozen=True, slots=True)
class Profile:
    """A ready-to-run profile: its name, validated options, fetch plan and judge function.

    Two profiles are equal when name and options are, so specs compare by configuration.
    """

    name: str
    options: Any
    plan: FetchPlan = field(compare=False)
    _judge: _Judge = field(compare=False, repr=False)
    raw_options: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def judge(
        self,
        varbinds: Varbinds,
        previous: Mapping[str, float] | None = None,
        elapsed_seconds: float | None = None,
    ) -> Judgement:
        """Judge fetched varbinds; ``previous``/``elapsed_seconds`` feed rate-based profiles."""
        return self._judge(varbinds, previous, elapsed_seconds)


def build_profile(name: str, options: Mapping[str, Any] | None = None) -> Profile:
    """Validate ``options`` for profile ``name``; SpecError fields are prefixed ``options.``."""
    if name not in PROFILE_NAMES:
        raise SpecError("profile", name, f"must be one of {', '.join(PROFILE_NAMES)}")
    raw = {} if options is None else options
    if not isinstance(raw, Mapping):
        raise SpecError("options", raw, f"must be a mapping of {name} profile settings")
    try:
        profile = _BUILDERS[name](raw)
    except SpecError as exc:
        field_name = "options" if exc.field.endswith(" profile") else f"options.{exc.field}"
        raise SpecError(field_name, exc.value, exc.rule) from None
    # kept verbatim for export (``SnmpSpec.to_dict``): what the config said, defaults unspelled
    return replace(profile, raw_options=copy.deepcopy(dict(raw)))


def _ups(raw: Mapping[str, Any]) -> Profile:
    opts = ups.UpsOptions.from_dict(raw)
    return Profile(
        "ups", opts, FetchPlan(walks=(ups.UPS_OBJECTS,)),
        lambda vb, _prev, _elapsed: ups.judge_ups(vb, opts),
    )


def _sensors(raw: Mapping[str, Any]) -> Profile:
    opts = sensors.SensorOptions.from_dict(raw)
    plan = FetchPlan(
        walks=(sensors.SENSOR_ENTRY, sensors.PHYSICAL_DESCR, sensors.PHYSICAL_NAME)
    )
    return Profile(
        "sensors", opts, plan, lambda vb, _prev, _elapsed: sensors.judge_sensors(vb, opts)
    )


def _interfaces(raw: Mapping[str, Any]) -> Profile:
    opts = interfaces.InterfaceOptions.from_dict(raw)
    plan = FetchPlan(gets=(interfaces.SYS_UPTIME,), walks=interfaces.COLUMNS)
    return Profile(
        "interfaces", opts, plan,
        lambda vb, prev, elapsed: interfaces.judge_interfaces(vb, opts, prev, elapsed),
    )


def _pdu(raw: Mapping[str, Any]) -> Profile:
    opts = pdu.PduOptions.from_dict(raw)
    table = opts.table
    walks = tuple(
        oid for oid in (table.current_column, table.state_column, table.phase_column,
                        table.bank_column) if oid
    )
    gets = (table.rating_oid,) if table.rating_oid and opts.rated_amps is None else ()
    return Profile(
        "pdu", opts, FetchPlan(gets=gets, walks=walks),
        lambda vb, _prev, _elapsed: pdu.judge_pdu(vb, opts),
    )


def _value(raw: Mapping[str, Any]) -> Profile:
    opts = pdu.ValueOptions.from_dict(raw)
    return Profile(
        "value", opts, FetchPlan(gets=tuple(item.oid for item in opts.items)),
        lambda vb, _prev, _elapsed: pdu.judge_values(vb, opts),
    )


_BUILDERS: dict[str, Callable[[Mapping[str, Any]], Profile]] = {
    "ups": _ups,
    "sensors": _sensors,
    "interfaces": _interfaces,
    "pdu": _pdu,
    "value": _value,
}


# ---------------------------------------------------------------------------------------------
# Plain GET / WALK without a profile


def judge_get(varbinds: Varbinds, oids: tuple[str, ...]) -> Judgement:
    """Every requested OID must exist; numbers become metrics keyed by OID."""
    missing = [oid for oid in oids if oid not in varbinds]
    metrics = {
        oid: float(value)
        for oid, value in varbinds.items()
        if isinstance(value, int) and not isinstance(value, bool)
    }
    if missing:
        return Judgement(
            Status.UNKNOWN,
            f"SNMP: no such object at {', '.join(missing)} (the agent does not implement "
            "it, the instance does not exist, or the view hides it)",
            metrics,
        )
    shown = "; ".join(f"{oid} = {_show(varbinds[oid])}" for oid in oids)
    return Judgement(Status.OK, f"SNMP: {shown}", metrics)


def judge_walk(varbinds: Varbinds, root: str) -> Judgement:
    """A walk is fine when the subtree has at least one object."""
    if not varbinds:
        return Judgement(
            Status.UNKNOWN,
            f"SNMP: nothing under {root} (the agent does not implement it or the view hides it)",
            {"rows": 0.0},
        )
    noun = "object" if len(varbinds) == 1 else "objects"
    return Judgement(Status.OK, f"SNMP: {len(varbinds)} {noun} under {root}",
                     {"rows": float(len(varbinds))})


def _show(value: object, limit: int = 80) -> str:
    text = value.hex(":") if isinstance(value, bytes) else str(value)
    text = " ".join(text.split())  # one line on the wall
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text) if isinstance(value, str) else text
