"""workers that fail the way machines fail: incident clock due times, HOT check state updates

- ``incidents.clock_due_at`` (indexed): when the incident clock job must next look at an
  incident (next SLA warning/breach, escalation step, acknowledgement timeout). The job finds
  due incidents by this index instead of walking every open incident oldest first (which never
  reached the newest beyond its batch). Open incidents start due now; resolved ones NULL.
- ``check_states.next_due_at`` loses its index, and on PostgreSQL the table gets
  ``fillfactor=50``: every check run moves ``next_due_at``, and an indexed changing column made
  every update of the row a non-HOT update (0 of 32,721 were HOT). Now both updates of a run
  (claim, result) are heap-only.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 13:30:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import dutydesk.core.db

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE on incidents (a batch rebuild on SQLite would cascade-delete timelines).
    op.add_column('incidents', sa.Column('clock_due_at',
                                         dutydesk.core.db.UTCDateTime(timezone=True),
                                         nullable=True))
    op.create_index(op.f('ix_incidents_clock_due_at'), 'incidents', ['clock_due_at'],
                    unique=False)
    incidents = sa.table('incidents', sa.column('status', sa.String),
                         sa.column('clock_due_at', dutydesk.core.db.UTCDateTime(timezone=True)))
    op.execute(incidents.update().where(incidents.c.status != 'resolved')
               .values(clock_due_at=datetime(1970, 1, 1, tzinfo=UTC)))
    with op.batch_alter_table('check_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_check_states_next_due_at'))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE check_states SET (fillfactor = 50)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE check_states RESET (fillfactor)')
    with op.batch_alter_table('check_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_check_states_next_due_at'), ['next_due_at'],
                              unique=False)
    op.drop_index(op.f('ix_incidents_clock_due_at'), table_name='incidents')
    op.drop_column('incidents', 'clock_due_at')
