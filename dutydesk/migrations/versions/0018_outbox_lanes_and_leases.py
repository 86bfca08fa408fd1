"""outbox: priority, delivery lane and lease owner; who is told when an incident is acknowledged

The sender delivers concurrently with a bound per lane (destination), P1 first, and leases each
message to one sender (renewed while it works, released on shutdown). Escalation policies say
whom to tell when a person acknowledges or resolves an incident (``tell_paged``).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch rebuild): nothing on these tables needs copying.
    op.add_column('outbox', sa.Column('priority', sa.Integer(), server_default=sa.text('3'),
                                      nullable=False))
    op.add_column('outbox', sa.Column('lane', sa.String(length=300), nullable=True))
    op.add_column('outbox', sa.Column('lease_owner', sa.String(length=120), nullable=True))
    op.add_column('escalation_policies',
                  sa.Column('tell_paged', sa.String(length=20), server_default='ack_resolve',
                            nullable=False))


def downgrade() -> None:
    op.drop_column('escalation_policies', 'tell_paged')
    op.drop_column('outbox', 'lease_owner')
    op.drop_column('outbox', 'lane')
    op.drop_column('outbox', 'priority')
