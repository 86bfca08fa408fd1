"""remote probes forward facility events (traps, syslog heard at their site):
``probes.last_event_seq``, the highest event sequence number stored (stored once per probe and
number, like ``last_seq`` for results).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('probes') as batch:
        batch.add_column(sa.Column('last_event_seq', sa.BigInteger(), nullable=False,
                                   server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('probes') as batch:
        batch.drop_column('last_event_seq')
