"""Incidents and everything around them: timeline, received alerts, silences, integrations,
per-user contact methods and notification rules, escalation policies.

Rules the schema enforces (so concurrent writers cannot break them):

- ``incidents.open_key`` equals ``dedup_key`` while the incident is open and is NULL once it is
  resolved; it is UNIQUE, so two identical alerts arriving at once cannot open two incidents
  (the loser gets an IntegrityError and attaches to the winner's incident).
- ``incidents.version`` grows by one on every change; writers update with
  ``WHERE id = :id AND version = :seen`` (compare-and-set), so of two concurrent
  acknowledgements exactly one wins.
- Integration keys are never stored: only their SHA-256 and an 8-character prefix to recognise
  them in the UI (PagerDuty routing keys travel in the request body, so they are secrets).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.core.db import Base, utcnow

#: ``incidents.clock_due_at`` of an incident that changed: due for the clock job at once.
CLOCK_DUE_NOW = datetime(1970, 1, 1, tzinfo=UTC)

INCIDENT_STATUSES = ("triggered", "acknowledged", "pending", "resolved")
INTEGRATION_TYPES = ("alertmanager", "pagerduty", "redfish")
CONTACT_KINDS = ("email", "webhook", "slack", "telegram")


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status_created", "status", "created_at"),
        Index("ix_incidents_group_key", "group_key"),
        Index("ix_incidents_created_at", "created_at"),  # reports select a period's incidents
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(255), index=True)
    open_key: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    group_key: Mapped[str] = mapped_column(String(300), default="")
    title: Mapped[str] = mapped_column(String(1024))
    source: Mapped[str] = mapped_column(String(20))  # check, alertmanager, pagerduty, manual
    severity: Mapped[str] = mapped_column(String(10), default="warning")
    priority: Mapped[str] = mapped_column(String(2))  # P1..P4
    impact: Mapped[int] = mapped_column(default=2)
    urgency: Mapped[int] = mapped_column(default=2)
    status: Mapped[str] = mapped_column(String(12), default="triggered")
    line: Mapped[str] = mapped_column(String(12), default="first_line")
    lines_seen: Mapped[list[Any]] = mapped_column(default=list)
    assignee: Mapped[str | None] = mapped_column(String(200), default=None)
    service: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    check_id: Mapped[int | None] = mapped_column(default=None, index=True)
    #: The data center the incident is about (its check's or probe's site); NULL: not one site.
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), index=True, default=None)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    pending_reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(200), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_note: Mapped[str | None] = mapped_column(Text, default=None)
    ping_pong_count: Mapped[int] = mapped_column(default=0)
    reopen_count: Mapped[int] = mapped_column(default=0)
    # How often the problem came back within the re-open window after an automatic resolve
    # (``dutydesk.incidents.returns``): shown on the incident page and the wall.
    returns_count: Mapped[int] = mapped_column(default=0)
    # The check behind it is flapping: pages are held until it settles (one page each way).
    flapping: Mapped[bool] = mapped_column(default=False)
    # Which senders fire this alert (``dutydesk.incidents.sources``): source id -> state.
    alert_sources: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    alert_count: Mapped[int] = mapped_column(default=1)
    last_alert_at: Mapped[datetime] = mapped_column(default=utcnow)
    # SLA targets as they were when the incident opened (a config change does not rewrite them).
    sla_targets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    escalation_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)
    # When the incident clock job must look at this incident next: the next SLA warning or
    # breach, escalation step or acknowledgement timeout (``dutydesk.incidents.clock_due``).
    # CLOCK_DUE_NOW (the epoch) marks "changed, look now"; NULL: resolved, never.
    clock_due_at: Mapped[datetime | None] = mapped_column(default=CLOCK_DUE_NOW, index=True)
    # What the timeline adds up to, stored when the incident is resolved and cleared when it is
    # reopened (dutydesk.incidents.summary), so reports need not replay a month of timelines.
    first_ack_at: Mapped[datetime | None] = mapped_column(default=None)
    first_ack_by: Mapped[str | None] = mapped_column(String(200), default=None)
    sla_ack_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    sla_ack_target_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    sla_ack_breached: Mapped[bool | None] = mapped_column(default=None)
    sla_resolve_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    sla_resolve_target_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    sla_resolve_breached: Mapped[bool | None] = mapped_column(default=None)
    line_moves: Mapped[int | None] = mapped_column(default=None)
    moves_to_second_line: Mapped[int | None] = mapped_column(default=None)

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"


class IncidentEventRow(Base):
    """One timeline entry (see ``dutydesk.incidents.events`` for kinds and their data)."""

    __tablename__ = "incident_events"
    __table_args__ = (
        Index("ix_incident_events_incident_at", "incident_id", "at"),
        # One kind across all incidents (the /metrics figures); the first acknowledgements are
        # read from the index alone.
        Index("ix_incident_events_kind", "kind", "incident_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AlertReceived(Base):
    """Every alert as it arrived (audit and dedup); ``muted_reason`` when the pipeline muted it."""

    __tablename__ = "alerts_received"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    dedup_key: Mapped[str] = mapped_column(String(255), index=True)
    fingerprint: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[str] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(String(1024), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    integration_id: Mapped[int | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="SET NULL"), default=None
    )
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None, index=True
    )
    muted_reason: Mapped[str | None] = mapped_column(String(120), default=None)
    raw: Mapped[dict[str, Any] | None] = mapped_column(default=None)


class SilenceRow(Base):
    """A silence: ``matchers`` is the matcher text (``service="mail", severity=~"crit.*"``)."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(primary_key=True)
    matchers: Mapped[str] = mapped_column(String(2000))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Integration(Base):
    """An inbound alert source: an Alertmanager receiver or a PagerDuty-style routing key."""

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    key_prefix: Mapped[str] = mapped_column(String(8))
    # Alertmanager sends the key as a Bearer token; only its receiver accepts it (it is no API
    # token: dutydesk.web.auth refuses it everywhere else).
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    service: Mapped[str | None] = mapped_column(String(200), default=None)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ContactMethod(Base):
    """How to reach one person: an email address, a webhook URL, a Slack hook, a Telegram chat."""

    __tablename__ = "contact_methods"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    target: Mapped[str] = mapped_column(String(1000))
    secret: Mapped[str | None] = mapped_column(String(200), default=None)  # webhook HMAC
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationRule(Base):
    """Use ``contact_method`` for incidents of ``min_priority`` or worse after ``delay_minutes``."""

    __tablename__ = "notification_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    contact_method_id: Mapped[int] = mapped_column(
        ForeignKey("contact_methods.id", ondelete="CASCADE")
    )
    min_priority: Mapped[str] = mapped_column(String(2), default="P4")
    delay_minutes: Mapped[int] = mapped_column(default=0)


class EscalationPolicyRow(Base):
    """Steps as JSON: ``[{"targets": ["first_line"], "delay_minutes": 10}, ...]``."""

    __tablename__ = "escalation_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    steps: Mapped[list[Any]] = mapped_column(default=list)
    repeat: Mapped[int] = mapped_column(default=0)
    ack_timeout_minutes: Mapped[int | None] = mapped_column(default=None)
    is_default: Mapped[bool] = mapped_column(default=False)
    # Who hears that a person acknowledged or resolved the incident: everybody who was paged
    # for it, on the channels they were paged on ("ack_resolve", "resolve") or nobody ("none").
    tell_paged: Mapped[str] = mapped_column(String(20), default="ack_resolve",
                                            server_default="ack_resolve")
    # Keep paging (``dutydesk.incidents.keep_paging``): an unacknowledged P1/P2 whose steps ran
    # out is paged again every this many minutes until someone acknowledges or resolves it.
    repage_minutes: Mapped[int] = mapped_column(default=15, server_default="15")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HeldAlert(Base):
    """A firing alert the pipeline muted and that has not resolved since (``dutydesk.held``).

    Released exactly once, when no muter mutes it any more (maintenance over, silence expired,
    parent back): it then goes through the pipeline again with "was failing during ... since".
    ``alert`` holds what rebuilds the ``Alert``; ``since`` is when it was first muted.
    """

    __tablename__ = "held_alerts"

    dedup_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    check_id: Mapped[int | None] = mapped_column(default=None)
    reason: Mapped[str] = mapped_column(String(120))
    since: Mapped[datetime] = mapped_column()
    alert: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PageLedgerRow(Base):
    """Storm control's ledger (``dutydesk.incidents.storm``): one row per page to one person's
    channel. ``held`` pages went out folded into one digest message (``folded_at`` set then),
    never dropped; the others count against the channel's limit. Rows older than a day go."""

    __tablename__ = "page_ledger"
    __table_args__ = (Index("ix_page_ledger_channel", "channel", "target", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(1000))
    channel_ref: Mapped[str | None] = mapped_column(String(80), default=None)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None
    )
    priority: Mapped[str] = mapped_column(String(2), default="P3")
    subject: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
    held: Mapped[bool] = mapped_column(default=False)
    folded_at: Mapped[datetime | None] = mapped_column(default=None, index=True)


class PageTokenUse(Base):
    """One use of a page's signed token (``dutydesk.incidents.action_tokens``): a link clicked
    and confirmed, or a reply by mail. The primary key (token nonce and action) makes a token
    work once: a second use of it fails to insert. Rows older than the longest link life go."""

    __tablename__ = "page_token_uses"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), default=None
    )
    action: Mapped[str] = mapped_column(String(12))
    via: Mapped[str] = mapped_column(String(12))  # "link" or "mail"
    used_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class QuietHoursRow(Base):
    """A person's quiet hours (``dutydesk.incidents.quiet``): P3/P4 pages falling between
    ``start_minute`` and ``end_minute`` (minutes after midnight in the person's time zone; the
    span may cross midnight) are held back until the quiet hours end. P1/P2 always go."""

    __tablename__ = "quiet_hours"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    start_minute: Mapped[int] = mapped_column()
    end_minute: Mapped[int] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
