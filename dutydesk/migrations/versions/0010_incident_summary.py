"""incident timeline summary for reports (first ack, SLA outcomes, line moves) + created_at index

Resolved incidents keep what their timeline adds up to (``dutydesk.incidents.summary``), so the
monthly report reads one row per incident instead of replaying every timeline. The backfill
summarises the incidents resolved before this migration, in batches.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 12:10:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import dutydesk.core.db

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BATCH = 1000


def columns() -> list[sa.Column]:
    return [
        sa.Column('first_ack_at', dutydesk.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('first_ack_by', sa.String(length=200), nullable=True),
        sa.Column('sla_ack_seconds', sa.Float(), nullable=True),
        sa.Column('sla_ack_target_seconds', sa.Float(), nullable=True),
        sa.Column('sla_ack_breached', sa.Boolean(), nullable=True),
        sa.Column('sla_resolve_seconds', sa.Float(), nullable=True),
        sa.Column('sla_resolve_target_seconds', sa.Float(), nullable=True),
        sa.Column('sla_resolve_breached', sa.Boolean(), nullable=True),
        sa.Column('line_moves', sa.Integer(), nullable=True),
        sa.Column('moves_to_second_line', sa.Integer(), nullable=True),
    ]


def upgrade() -> None:
    # Plain ALTER TABLE, never a batch "move and copy": on SQLite, rebuilding ``incidents`` drops
    # the old table, and with foreign keys on that deletes every timeline event (ON DELETE
    # CASCADE). Adding nullable columns and an index needs no rebuild.
    for column in columns():
        op.add_column('incidents', column)
    op.create_index('ix_incidents_created_at', 'incidents', ['created_at'], unique=False)
    backfill(op.get_bind(), datetime.now(UTC))


def downgrade() -> None:
    op.drop_index('ix_incidents_created_at', table_name='incidents')
    for column in reversed(columns()):
        op.drop_column('incidents', column.name)  # SQLite >= 3.35 drops a column in place


def backfill(conn: sa.Connection, now: datetime) -> int:
    """Store the summary of every resolved incident that carries SLA targets; returns how many.

    Incidents without an SLA snapshot are left NULL: readers replay those with the configured
    targets, which a migration cannot know.
    """
    from dutydesk.incidents.events import IncidentEvent
    from dutydesk.incidents.summary import policy_of_snapshot, summarise, summary_columns

    utc = dutydesk.core.db.UTCDateTime(timezone=True)
    summary = columns()
    incidents = sa.table('incidents', sa.column('id', sa.Integer()),
                         sa.column('status', sa.String()), sa.column('sla_targets', sa.JSON()),
                         *(sa.column(c.name, c.type) for c in summary))
    events = sa.table('incident_events', sa.column('id', sa.Integer()),
                      sa.column('incident_id', sa.Integer()), sa.column('kind', sa.String()),
                      sa.column('at', utc), sa.column('actor', sa.String()),
                      sa.column('data', sa.JSON()))
    store = (sa.update(incidents).where(incidents.c.id == sa.bindparam('b_id'))
             .values(**{c.name: sa.bindparam(c.name) for c in summary}))
    done, last = 0, 0
    while True:
        rows = conn.execute(
            sa.select(incidents.c.id, incidents.c.sla_targets)
            .where(incidents.c.status == 'resolved', incidents.c.id > last)
            .order_by(incidents.c.id).limit(BATCH)).all()
        if not rows:
            return done
        last = rows[-1].id
        timelines: dict[int, list[IncidentEvent]] = {}
        for incident_id, kind, at, actor, data in conn.execute(
            sa.select(events.c.incident_id, events.c.kind, events.c.at, events.c.actor,
                      events.c.data)
            .where(events.c.incident_id.in_([r.id for r in rows]))
            .order_by(events.c.incident_id, events.c.at, events.c.id)
        ):
            try:
                timelines.setdefault(incident_id, []).append(
                    IncidentEvent(kind, at, actor, data or {}))
            except ValueError:
                continue  # an unreadable event is left out, as the reports do
        updates = []
        for incident_id, snapshot in rows:
            policy = policy_of_snapshot(snapshot)
            if policy is None:
                continue
            values = summary_columns(summarise(timelines.get(incident_id, []), policy, now))
            if values['sla_ack_target_seconds'] is not None:
                updates.append({'b_id': incident_id, **values})
        if updates:
            conn.execute(store, updates)
            done += len(updates)
