"""alerts a duty team can trust at night: held alerts, parent states, whole plugin results

- ``held_alerts``: a firing alert the pipeline muted (maintenance, silence, parent down) and
  that has not resolved since; released once when nothing mutes it any more.
- ``checks.parent_up_states``: the parent statuses in which a check's parents count as up
  (NULL = the default, OK and WARNING, as Icinga's dependency ``states``).
- ``check_states.last_perfdata`` / ``last_long_output``: the plugin's perfdata kept whole and
  its long output (lines 2+).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dutydesk.db

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
        sa.Column('since', dutydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('alert', sa.JSON(), nullable=False),
        sa.Column('updated_at', dutydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('dedup_key', name=op.f('pk_held_alerts')),
    )
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_up_states', sa.JSON(), nullable=True))
    with op.batch_alter_table('check_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_perfdata', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('last_long_output', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('check_states', schema=None) as batch_op:
        batch_op.drop_column('last_long_output')
        batch_op.drop_column('last_perfdata')
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.drop_column('parent_up_states')
    op.drop_table('held_alerts')
