"""Several locations per check: ``check_probes`` becomes many-to-many (primary key
(check_id, probe_id)); ``checks.run_at_centre`` (also run on the central workers when it has
probes) and ``checks.min_locations_down`` (k of n, default 1); ``check_location_states`` (the
latest result of each location of a check with several). Existing rows keep their meaning: a
check with one probe runs there only, a check without runs at the centre.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 21:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dutydesk.core.db import UTCDateTime

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('checks') as batch:
        batch.add_column(sa.Column('run_at_centre', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column('min_locations_down', sa.Integer(), nullable=False,
                                   server_default='1'))
    with op.batch_alter_table('check_probes', recreate='always') as batch:
        batch.drop_constraint('pk_check_probes', type_='primary')
        batch.create_primary_key('pk_check_probes', ['check_id', 'probe_id'])
    op.create_table(
        'check_location_states',
        sa.Column('check_id', sa.Integer(), nullable=False),
        sa.Column('location', sa.String(length=40), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('message', sa.String(length=2000), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['check_id'], ['checks.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('check_id', 'location'),
    )


def downgrade() -> None:
    op.drop_table('check_location_states')
    # A check with several probes keeps its first (the primary key allows one again).
    op.execute("DELETE FROM check_probes WHERE probe_id NOT IN (SELECT MIN(p.probe_id) FROM "
               "check_probes p WHERE p.check_id = check_probes.check_id)")
    with op.batch_alter_table('check_probes', recreate='always') as batch:
        batch.drop_constraint('pk_check_probes', type_='primary')
        batch.create_primary_key('pk_check_probes', ['check_id'])
    with op.batch_alter_table('checks') as batch:
        batch.drop_column('min_locations_down')
        batch.drop_column('run_at_centre')
