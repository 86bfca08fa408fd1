"""Storage of the check engine: definitions, runtime state, bounded history and the flip spine.

Tables
------
``check_groups``        hall/system nesting ("Hall A / UPS"): ``path`` is the unique full name.
``checks``              a check definition (config): type, spec JSON, policy, group, tags, owner.
``check_dependencies``  child -> parent edges (a sensor behind its switch).
``check_states``        one row per check: the persisted ``CheckState`` plus the latest result,
                        ``next_due_at`` (the claim column) and ``version`` (compare-and-set).
``check_results``       the last N results per check (trimmed on every write; default 100).
``flips``               every state change leaving checks/; ``processed_at`` is set by the alert
                        pipeline (the index ``ix_flips_unprocessed`` finds the work).
``check_rollups``       per check and bucket: ``resolution`` minute (kept 24 h), hour (90 days),
                        day (2 years); counts, uptime and a latency histogram (``h0``..``h9``, the
                        bounds in ``LATENCY_BUCKETS``) so buckets merge by addition.
``maintenance_windows`` one-off/weekly/monthly/cron windows for a check or a group; ``notice_id``
                        marks a one-off window owned by a maintenance notice.
``heartbeats``          the signals a push check received (/ping/<key>, /start, /fail).

Runtime state lives here, definitions in ``checks``; YAML config only ever writes definitions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.core.db import Base, utcnow
from dutydesk.core.sites import optional_site_column, site_column

#: Upper bounds (seconds) of the latency histogram columns h0..h8; h9 counts the rest.
LATENCY_BUCKETS: tuple[float, ...] = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HISTOGRAM_COLUMNS: tuple[str, ...] = tuple(f"h{i}" for i in range(len(LATENCY_BUCKETS) + 1))
ROLLUP_RESOLUTIONS = ("minute", "hour", "day")
MAINTENANCE_KINDS = ("one_off", "weekly", "monthly", "cron")


class CheckGroup(Base):
    __tablename__ = "check_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(1000), unique=True)  # "Hall A / UPS"
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("check_groups.id", ondelete="CASCADE"), index=True, default=None
    )
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Check(Base):
    __tablename__ = "checks"
    __table_args__ = (
        CheckConstraint("impact BETWEEN 1 AND 3", name="impact_range"),
        CheckConstraint("urgency BETWEEN 1 AND 3", name="urgency_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    type: Mapped[str] = mapped_column(String(20), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Policy (see checks.policy.CheckPolicy); timeout is the engine's hard per-run limit.
    interval: Mapped[float] = mapped_column(Float, default=60.0)
    retry_interval: Mapped[float | None] = mapped_column(Float, default=None)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    timeout: Mapped[float] = mapped_column(Float, default=30.0)
    flap_detection: Mapped[bool] = mapped_column(Boolean, default=True)
    flap_low_threshold: Mapped[float] = mapped_column(Float, default=25.0)
    flap_high_threshold: Mapped[float] = mapped_column(Float, default=30.0)
    flap_history_states: Mapped[int] = mapped_column(Integer, default=21)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("check_groups.id", ondelete="SET NULL"), index=True, default=None
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    service: Mapped[str] = mapped_column(String(200), default="")
    impact: Mapped[int] = mapped_column(Integer, default=2)
    urgency: Mapped[int] = mapped_column(Integer, default=2)
    #: A probe-guard reference target (see checks.guard): its failure hints at our own outage.
    guard_reference: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Push checks: the secret part of /ping/<key>; period and grace live in ``spec``.
    heartbeat_key: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    #: Parent statuses in which this check's parents count as up (``checks.dependencies``);
    #: NULL means the default, OK and WARNING (Icinga's dependency ``states``).
    parent_up_states: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    #: The data center the check watches (its wall, its maintenance, its reports).
    site_id: Mapped[int] = site_column()
    #: Also run on the central workers when it has probes (``checks.locations``); a check
    #: without a probe runs there anyway.
    run_at_centre: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Down only when at least this many of its locations with fresh results see it down.
    min_locations_down: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckDependency(Base):
    __tablename__ = "check_dependencies"
    __table_args__ = (CheckConstraint("child_id <> parent_id", name="not_self"),)

    child_id: Mapped[int] = mapped_column(
        ForeignKey("checks.id", ondelete="CASCADE"), primary_key=True
    )
    parent_id: Mapped[int] = mapped_column(
        ForeignKey("checks.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CheckStateRow(Base):
    """The runtime state of one check. ``state`` is ``CheckState.to_dict()``; the flat columns
    copy what the wall and the API filter on. Claimers compare-and-set on ``next_due_at`` and
    ``version`` and bump ``version`` (the claim's fencing token); writers compare-and-set on it.

    ``next_due_at`` is deliberately NOT indexed: every run moves it, and an indexed column that
    changes makes every update of this wide, hot row a non-HOT update on PostgreSQL (a new tuple
    plus an entry in every index). Unindexed (and with ``fillfactor=50`` on PostgreSQL, set by
    migration 0019), the engine's two updates per run are heap-only; the claim query reads the
    table sequentially, which for thousands of rows costs less than the index upkeep did."""

    __tablename__ = "check_states"

    check_id: Mapped[int] = mapped_column(
        ForeignKey("checks.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="PENDING", index=True)  # display
    state_type: Mapped[str] = mapped_column(String(4), default="HARD")
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    in_maintenance: Mapped[bool] = mapped_column(Boolean, default=False)
    last_result_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status: Mapped[str | None] = mapped_column(String(8), default=None)
    last_message: Mapped[str] = mapped_column(Text, default="")
    last_duration: Mapped[float | None] = mapped_column(Float, default=None)
    last_metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The last result's perfdata kept whole (label, value, uom, warn, crit, min, max) and the
    #: plugin's long output (lines 2+), for the check page and the API.
    last_perfdata: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    last_long_output: Mapped[str | None] = mapped_column(Text, default=None)
    next_due_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckResultRow(Base):
    __tablename__ = "check_results"
    __table_args__ = (Index("ix_check_results_check_recent", "check_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text, default="")
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FlipRow(Base):
    """One state change of a check (``checks.state.Flip``), the input of the alert pipeline."""

    __tablename__ = "flips"
    __table_args__ = (
        Index("ix_flips_unprocessed", "processed_at", "id"),
        Index("ix_flips_check_at", "check_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    old_status: Mapped[str | None] = mapped_column(String(8), default=None)
    new_status: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column()
    muted_by: Mapped[str | None] = mapped_column(String(40), default=None)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)


class CheckRollup(Base):
    """Aggregated results of one check over one bucket (minute, hour or day, UTC-aligned).

    ``up_count`` counts OK and WARNING (the service answered); uptime = up_count / count.
    """

    __tablename__ = "check_rollups"
    __table_args__ = (Index("ix_check_rollups_retention", "resolution", "bucket_start"),)

    check_id: Mapped[int] = mapped_column(
        ForeignKey("checks.id", ondelete="CASCADE"), primary_key=True
    )
    resolution: Mapped[str] = mapped_column(String(6), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    up_count: Mapped[int] = mapped_column(Integer, default=0)
    ok_count: Mapped[int] = mapped_column(Integer, default=0)
    duration_sum: Mapped[float] = mapped_column(Float, default=0.0)
    duration_min: Mapped[float | None] = mapped_column(Float, default=None)
    duration_max: Mapped[float | None] = mapped_column(Float, default=None)
    h0: Mapped[int] = mapped_column(Integer, default=0)
    h1: Mapped[int] = mapped_column(Integer, default=0)
    h2: Mapped[int] = mapped_column(Integer, default=0)
    h3: Mapped[int] = mapped_column(Integer, default=0)
    h4: Mapped[int] = mapped_column(Integer, default=0)
    h5: Mapped[int] = mapped_column(Integer, default=0)
    h6: Mapped[int] = mapped_column(Integer, default=0)
    h7: Mapped[int] = mapped_column(Integer, default=0)
    h8: Mapped[int] = mapped_column(Integer, default=0)
    h9: Mapped[int] = mapped_column(Integer, default=0)


class MaintenanceWindowRow(Base):
    """A maintenance window for one check, one group (and the groups below it) or a whole site.

    ``definition`` holds the kind's fields as in YAML: one_off {start, end} (ISO 8601 with
    offset), weekly {weekdays, start_time, duration}, monthly {start_time, duration, day | nth +
    weekday}, cron {expression, duration}; durations in seconds.
    """

    __tablename__ = "maintenance_windows"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN check_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN group_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN site_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="exactly_one_target",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(10))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    zone: Mapped[str] = mapped_column(String(64), default="UTC")
    check_id: Mapped[int | None] = mapped_column(
        ForeignKey("checks.id", ondelete="CASCADE"), index=True, default=None
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("check_groups.id", ondelete="CASCADE"), index=True, default=None
    )
    #: Every check of the site (power work in a whole data center).
    site_id: Mapped[int | None] = optional_site_column()
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when a scheduled-maintenance notice owns the window (shifts.notices.check_windows
    # creates, moves and removes it); such windows are not part of the checks-as-code YAML.
    notice_id: Mapped[int | None] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), index=True, default=None
    )


class HeartbeatRow(Base):
    """Signals received by a push check; the engine judges freshness from these times."""

    __tablename__ = "heartbeats"

    check_id: Mapped[int] = mapped_column(
        ForeignKey("checks.id", ondelete="CASCADE"), primary_key=True
    )
    last_ping_at: Mapped[datetime | None] = mapped_column(default=None)
    last_start_at: Mapped[datetime | None] = mapped_column(default=None)
    last_fail_at: Mapped[datetime | None] = mapped_column(default=None)
    pings: Mapped[int] = mapped_column(Integer, default=0)
    last_source: Mapped[str] = mapped_column(String(100), default="")
    last_body: Mapped[str] = mapped_column(String(1000), default="")
    #: The exit status the job reported with /ping/<key>/<exit-status> (0 success).
    last_exit_status: Mapped[int | None] = mapped_column(Integer, default=None)


class HeartbeatLogRow(Base):
    """What a cron job reported, newest kept (``HEARTBEAT_LOG_KEEP`` per check): pings, exit
    statuses, and /ping/<key>/log lines that change nothing but are there to read."""

    __tablename__ = "heartbeat_log"
    __table_args__ = (Index("ix_heartbeat_log_check_at", "check_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(10))  # success, fail, start, log
    exit_status: Mapped[int | None] = mapped_column(Integer, default=None)
    body: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(100), default="")
