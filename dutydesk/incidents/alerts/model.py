"""The alert value object and the shape of the alert pipeline.

An ``Alert`` is one observation from one source ("this problem is firing" / "it has resolved"),
normalised so that every later stage treats a check flip, an Alertmanager alert, a PagerDuty event
and a manual report alike.

The pipeline is a list of *stages*. A stage is any callable
``(alerts: list[Alert], ctx: StageContext) -> list[Alert]`` returning the alerts that go on; an
empty list stops the pipeline (``run_pipeline``). Stages with I/O (incident, route, notify) live
in the shell; the pure ones (dedup, mute) live here.

Muting is one interface (``Muter``) with several implementations (maintenance, silences, parent
down); ``mute_stage`` asks each muter in turn and reports every suppression with its reason
through a callback, which the shell wires to a metrics counter.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from dutydesk.core.timeutil import TimestampError, ensure_utc

MAX_DEDUP_KEY_LENGTH = 255
MAX_SUMMARY_LENGTH = 1024


class AlertError(ValueError):
    """An alert cannot be built from the given values; the message names the field."""


class AlertSource(enum.StrEnum):
    CHECK = "check"
    ALERTMANAGER = "alertmanager"
    PAGERDUTY = "pagerduty"
    MANUAL = "manual"
    SNMP_TRAP = "snmp_trap"  # dutydesk.facility: SNMP traps and informs
    SYSLOG = "syslog"  # dutydesk.facility: syslog messages
    REDFISH = "redfish"  # dutydesk.facility: Redfish EventService events from BMCs


class AlertStatus(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Severity(enum.StrEnum):
    """How bad the sender thinks it is, in PagerDuty's vocabulary (the most widely used one)."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Order for "worst first" sorting: critical 3 > error 2 > warning 1 > info 0."""
        return {Severity.CRITICAL: 3, Severity.ERROR: 2, Severity.WARNING: 1, Severity.INFO: 0}[
            self
        ]

    @classmethod
    def from_label(cls, value: str | None) -> Severity:
        """Map a free-form ``severity`` label (Alertmanager, Grafana, Zabbix habits) to a Severity.

        Unknown or missing values become WARNING: we would rather show an alert than drop it, and
        not page anybody at P1 because of a label we do not understand.

        ====================================================== ==========
        label (case-insensitive)                               severity
        ====================================================== ==========
        critical, crit, page, fatal, emergency, emerg, alert,   critical
        disaster
        error, err, high, major                                 error
        warning, warn, medium, average, minor                   warning
        info, informational, information, low, notice, none,    info
        debug, ok
        anything else, or no label                              warning
        ====================================================== ==========
        """
        if value is None:
            return cls.WARNING
        return _SEVERITY_LABELS.get(value.strip().lower(), cls.WARNING)

    @classmethod
    def from_check_status(cls, status_name: str) -> Severity:
        """Severity of an alert raised by a check in state CRITICAL / WARNING / UNKNOWN.

        UNKNOWN (the probe could not decide, e.g. a plugin timeout) maps to WARNING: it needs a
        look but is not known to be an outage.
        """
        name = status_name.upper()
        if name == "CRITICAL":
            return cls.CRITICAL
        if name in ("WARNING", "UNKNOWN"):
            return cls.WARNING
        if name == "OK":
            return cls.INFO
        raise AlertError(
            f"check status must be OK, WARNING, CRITICAL or UNKNOWN, got {status_name!r}"
        )


_SEVERITY_LABELS: dict[str, Severity] = {
    **dict.fromkeys(
        ("critical", "crit", "page", "fatal", "emergency", "emerg", "alert", "disaster"),
        Severity.CRITICAL,
    ),
    **dict.fromkeys(("error", "err", "high", "major"), Severity.ERROR),
    **dict.fromkeys(("warning", "warn", "medium", "average", "minor"), Severity.WARNING),
    **dict.fromkeys(
        ("info", "informational", "information", "low", "notice", "none", "debug", "ok"),
        Severity.INFO,
    ),
}


def _utc(value: datetime, name: str) -> datetime:
    try:
        return ensure_utc(value, name)
    except TimestampError as exc:
        raise AlertError(str(exc)) from None


def _frozen_str_map(value: Mapping[str, Any] | None, name: str) -> Mapping[str, str]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise AlertError(f"{name} must be a mapping of strings, got {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise AlertError(f"{name} must map strings to strings, got {key!r}: {item!r}")
    return MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True)
class Alert:
    """One normalised observation of a problem, from any source.

    - ``dedup_key`` identifies *the problem*: a later alert with the same key updates or resolves
      the same incident. It is namespaced by source (``"check:42"``,
      ``"alertmanager:<fingerprint>"``, ``"pagerduty:<integration>:<dedup_key>"``) so sources
      never collide. At most 255 characters.
    - ``group_key`` groups related alerts (Alertmanager's ``groupKey``, PagerDuty's
      ``payload.group``, a check's service); it defaults to ``dedup_key``.
    - ``status`` is firing or resolved; a resolved alert auto-resolves the incident of its key.
    - ``starts_at`` / ``ends_at`` are aware UTC datetimes; ``ends_at`` is ``None`` while unknown.
    - ``labels`` and ``annotations`` are read-only str→str maps (silences match on labels).
    - ``source_ids`` keeps the sender's own identifiers (fingerprint, generatorURL, routing
      integration...), ``details`` keeps structured extras (PagerDuty custom_details, links).
    - ``summary`` is required (non-blank, ≤ 1024 chars) for a firing alert; a resolve may omit it.

    Instances are immutable but not hashable (they hold mappings); use ``dedup_key`` as the key.
    """

    source: AlertSource
    dedup_key: str
    status: AlertStatus
    starts_at: datetime
    summary: str = ""
    severity: Severity = Severity.WARNING
    ends_at: datetime | None = None
    group_key: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    service: str | None = None
    check_id: int | None = None
    source_ids: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)

    __hash__ = None  # type: ignore[assignment]  # holds mappings: compare, never hash

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__  # frozen dataclass: normalise fields once, here
        setattr_(self, "source", _enum_field(AlertSource, self.source, "Alert.source"))
        setattr_(self, "status", _enum_field(AlertStatus, self.status, "Alert.status"))
        setattr_(self, "severity", _enum_field(Severity, self.severity, "Alert.severity"))
        if not isinstance(self.dedup_key, str) or not self.dedup_key.strip():
            raise AlertError("Alert.dedup_key must be a non-empty string")
        if len(self.dedup_key) > MAX_DEDUP_KEY_LENGTH:
            raise AlertError(
                f"Alert.dedup_key must be at most {MAX_DEDUP_KEY_LENGTH} characters, "
                f"got {len(self.dedup_key)}"
            )
        if not isinstance(self.summary, str):
            raise AlertError(f"Alert.summary must be a string, got {type(self.summary).__name__}")
        if self.status is AlertStatus.FIRING and not self.summary.strip():
            raise AlertError("Alert.summary must not be blank for a firing alert")
        if len(self.summary) > MAX_SUMMARY_LENGTH:
            raise AlertError(
                f"Alert.summary must be at most {MAX_SUMMARY_LENGTH} characters, "
                f"got {len(self.summary)}"
            )
        setattr_(self, "starts_at", _utc(self.starts_at, "Alert.starts_at"))
        if self.ends_at is not None:
            setattr_(self, "ends_at", _utc(self.ends_at, "Alert.ends_at"))
        if not self.group_key:
            setattr_(self, "group_key", self.dedup_key)
        setattr_(self, "labels", _frozen_str_map(self.labels, "Alert.labels"))
        setattr_(self, "annotations", _frozen_str_map(self.annotations, "Alert.annotations"))
        setattr_(self, "source_ids", _frozen_str_map(self.source_ids, "Alert.source_ids"))
        setattr_(self, "details", MappingProxyType(dict(self.details or {})))
        if self.check_id is not None and (
            isinstance(self.check_id, bool) or not isinstance(self.check_id, int)
        ):
            raise AlertError(f"Alert.check_id must be an integer or None, got {self.check_id!r}")

    @property
    def firing(self) -> bool:
        return self.status is AlertStatus.FIRING

    @property
    def event_time(self) -> datetime:
        """When this observation happened: ``ends_at`` for a resolve when known, else start."""
        if self.status is AlertStatus.RESOLVED and self.ends_at is not None:
            return self.ends_at
        return self.starts_at


def _enum_field(enum_type: type[enum.StrEnum], value: object, name: str) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_type)
        raise AlertError(f"{name} must be one of {allowed}, got {value!r}") from None


def labels_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable 16-hex-digit fingerprint of a label set (order-independent).

    Used when a sender gives no fingerprint of its own; it is *not* Alertmanager's algorithm,
    only stable across our processes and releases.
    """
    digest = hashlib.sha256()
    for key in sorted(labels):
        digest.update(key.encode())
        digest.update(b"\xff")
        digest.update(labels[key].encode())
        digest.update(b"\xff")
    return digest.hexdigest()[:16]


def check_alert(
    *,
    check_id: int,
    check_name: str,
    status_name: str,
    message: str,
    at: datetime,
    service: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> Alert:
    """Build the alert for a check's state change (a flip) to ``status_name``.

    OK resolves (``ends_at = at``); WARNING, CRITICAL and UNKNOWN fire. The dedup key is
    ``"check:<id>"`` so every flip of one check lands on the same open incident; the group key is
    the service when known. Labels always carry ``check``, ``status`` and ``service`` (when set)
    so silences can match on them.
    """
    severity = Severity.from_check_status(status_name)
    resolved = status_name.upper() == "OK"
    all_labels = {"check": check_name, "status": status_name.upper(), **(labels or {})}
    if service:
        all_labels.setdefault("service", service)
    status_word = status_name.upper()
    summary = f"{check_name} is {status_word}"
    if message.startswith(f"{status_word} "):
        # The flip's reason already opens with the status ("CRITICAL (HARD, attempt 2/2): ..."):
        # "UPS B is CRITICAL (HARD, attempt 2/2): ..." rather than "is CRITICAL: CRITICAL (...".
        summary = f"{check_name} is {message}"
    elif message:
        summary = f"{summary}: {message}"
    return Alert(
        source=AlertSource.CHECK,
        dedup_key=f"check:{check_id}",
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        starts_at=at,
        ends_at=at if resolved else None,
        summary=summary[:MAX_SUMMARY_LENGTH],
        severity=severity,
        group_key=f"service:{service}" if service else f"check:{check_id}",
        labels=all_labels,
        service=service,
        check_id=check_id,
    )


# --- the pipeline -------------------------------------------------------------------------------


@runtime_checkable
class StageContext(Protocol):
    """What every stage may rely on: the current time. Shell stages use a richer context."""

    @property
    def now(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class PipelineContext:
    """The minimal ``StageContext``; ``extras`` carries whatever shell stages need."""

    now: datetime
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "now", _utc(self.now, "PipelineContext.now"))


Stage = Callable[[list[Alert], Any], list[Alert]]
"""A pipeline stage: takes the alerts and a context, returns the alerts that go on."""


def run_pipeline(stages: Sequence[Stage], alerts: Iterable[Alert], ctx: Any) -> list[Alert]:
    """Run ``alerts`` through ``stages`` in order; stop early when a stage returns nothing.

    Returns what the last stage returned (an empty list if the pipeline stopped).
    """
    current = list(alerts)
    for stage in stages:
        if not current:
            break
        current = list(stage(current, ctx))
    return current


def dedup_stage(alerts: list[Alert], ctx: Any) -> list[Alert]:
    """Collapse alerts with the same ``dedup_key`` within one batch; the last one wins.

    A sender may repeat an alert inside one payload (or a batch may gather a firing and a later
    resolve of the same problem); only the latest observation matters. The survivors keep the
    order of their last occurrence. Dedup *across* batches (attach to the open incident) is the
    incident stage's job.
    """
    latest: dict[str, tuple[int, Alert]] = {}
    for index, alert in enumerate(alerts):
        latest[alert.dedup_key] = (index, alert)
    return [alert for _, alert in sorted(latest.values(), key=lambda pair: pair[0])]


# --- muting -------------------------------------------------------------------------------------


@runtime_checkable
class Muter(Protocol):
    """Something that can silence an alert. ``mutes`` returns the reason, or ``None``.

    Reasons are short stable strings used as a metrics label and shown in the audit log:
    ``"maintenance"``, ``"silence:<id>"``, ``"parent_down"``.
    """

    def mutes(self, alert: Alert, now: datetime) -> str | None: ...


MutedCallback = Callable[[Alert, str], None]


def mute_stage(muters: Sequence[Muter], on_muted: MutedCallback | None = None) -> Stage:
    """Build the mute stage: drop firing alerts some muter mutes, report each with its reason.

    Muters are asked in order and the first reason wins (so list maintenance before silences if
    you want maintenance to be what the metrics count). Resolved alerts are never muted: a
    recovery must always be able to close an incident that was opened before the silence began.
    ``on_muted(alert, reason)`` is called once per suppressed alert (metrics, audit).
    """
    muters = tuple(muters)

    def stage(alerts: list[Alert], ctx: Any) -> list[Alert]:
        now = ensure_utc(ctx.now, "ctx.now")
        kept: list[Alert] = []
        for alert in alerts:
            reason = None
            if alert.status is AlertStatus.FIRING:
                for muter in muters:
                    reason = muter.mutes(alert, now)
                    if reason:
                        break
            if reason:
                if on_muted is not None:
                    on_muted(alert, reason)
            else:
                kept.append(alert)
        return kept

    return stage


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """Planned work: alerts of these services / checks are muted in ``[starts_at, ends_at)``.

    Empty ``services`` and ``check_ids`` would mute everything; that is refused.
    """

    id: str
    starts_at: datetime
    ends_at: datetime
    services: frozenset[str] = frozenset()
    check_ids: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts_at", _utc(self.starts_at, "Maintenance.starts_at"))
        object.__setattr__(self, "ends_at", _utc(self.ends_at, "Maintenance.ends_at"))
        if self.ends_at <= self.starts_at:
            raise AlertError(
                f"maintenance {self.id!r}: ends_at ({self.ends_at.isoformat()}) must be after "
                f"starts_at ({self.starts_at.isoformat()})"
            )
        object.__setattr__(self, "services", frozenset(self.services))
        object.__setattr__(self, "check_ids", frozenset(self.check_ids))
        if not self.services and not self.check_ids:
            raise AlertError(
                f"maintenance {self.id!r} must name at least one service or check; "
                "an empty scope would mute every alert"
            )

    def covers(self, alert: Alert, now: datetime) -> bool:
        if not self.starts_at <= now < self.ends_at:
            return False
        if alert.check_id is not None and alert.check_id in self.check_ids:
            return True
        return alert.service is not None and alert.service in self.services


@dataclass(frozen=True, slots=True)
class MaintenanceMuter:
    """Mutes alerts covered by an active maintenance window (reason ``"maintenance"``)."""

    windows: tuple[MaintenanceWindow, ...]

    def mutes(self, alert: Alert, now: datetime) -> str | None:
        if any(window.covers(alert, now) for window in self.windows):
            return "maintenance"
        return None


@dataclass(frozen=True, slots=True)
class ParentDownMuter:
    """Mutes a check's alert while one of its parents (dependencies) is down.

    ``parents`` maps a check id to the ids it depends on (the switch in front of a server);
    ``down`` is the set of check ids currently in a hard problem state. Only direct parents are
    consulted: a grandparent being down makes the parent down too, and the checks engine already
    knows that. Reason ``"parent_down"``.
    """

    parents: Mapping[int, Collection[int]]
    down: frozenset[int]

    def mutes(self, alert: Alert, now: datetime) -> str | None:
        if alert.check_id is None:
            return None
        if any(parent in self.down for parent in self.parents.get(alert.check_id, ())):
            return "parent_down"
        return None
