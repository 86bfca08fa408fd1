"""alerts a duty team can trust at night: held alerts, parent states, whole plugin results

- ``held_alerts``: a firing alert the pipeline muted (maintenance, silence, parent down) and
  that has not resolved since; released once when nothing mutes it any more.
- ``checks.parent_up_states``: the parent statuses in which a check's parents count as up
  (NULL = the default, OK and WARNING, as Icinga's dependency ``states``).
- ``check_states.last_perfdata`` / ``last_long_output``: the plugin's perfdata kept whole and
  its long output (lines 2+).
- ``heartbeats.last_exit_status`` and ``heartbeat_log``: cron jobs reporting their exit status
  (``/ping/<key>/<exit-status>``) and log lines (``/ping/<key>/log``), the last ones per check.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dutydesk.core.db

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'held_alerts',
        sa.Column('dedup_key', sa.String(length=255), nullable=False),
        sa.Column('check_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(length=120), nullable=False),
        sa.Column('since', dutydesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('alert', sa.JSON(), nullable=False),
        sa.Column('updated_at', dutydesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('dedup_key', name=op.f('pk_held_alerts')),
    )
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_up_states', sa.JSON(), nullable=True))
    with op.batch_alter_table('check_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_perfdata', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('last_long_output', sa.Text(), nullable=True))
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_exit_status', sa.Integer(), nullable=True))
    op.create_table(
        'heartbeat_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('check_id', sa.Integer(), nullable=False),
        sa.Column('at', dutydesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('exit_status', sa.Integer(), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('source', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['check_id'], ['checks.id'],
                                name=op.f('fk_heartbeat_log_check_id_checks'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_heartbeat_log')),
    )
    with op.batch_alter_table('heartbeat_log', schema=None) as batch_op:
        batch_op.create_index('ix_heartbeat_log_check_at', ['check_id', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('heartbeat_log', schema=None) as batch_op:
        batch_op.drop_index('ix_heartbeat_log_check_at')
    op.drop_table('heartbeat_log')
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.drop_column('last_exit_status')
    with op.batch_alter_table('check_states', schema=None) as batch_op:
        batch_op.drop_column('last_long_output')
        batch_op.drop_column('last_perfdata')
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.drop_column('parent_up_states')
    op.drop_table('held_alerts')
