"""alerts a duty team can trust at night: returns, flapping, alert sources, page ledger

- ``incidents.returns_count``: how often a problem came back after an automatic resolve and
  re-opened its incident instead of opening a new one;
- ``incidents.flapping``: the check behind the incident is flapping (pages held until it settles);
- ``incidents.alert_sources``: which senders (Alertmanager instances) fire the alert;
- ``page_ledger``: storm control's pages per person and channel; held ones go out folded into
  a digest message (never dropped).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dutydesk.core.db

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE (no batch rebuild: on SQLite that would cascade-delete the timelines).
    op.add_column('incidents', sa.Column('returns_count', sa.Integer(), nullable=False,
                                         server_default='0'))
    op.add_column('incidents', sa.Column('flapping', sa.Boolean(), nullable=False,
                                         server_default=sa.false()))
    op.add_column('incidents', sa.Column('alert_sources', sa.JSON(), nullable=True))
    op.create_table(
        'page_ledger',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('target', sa.String(length=1000), nullable=False),
        sa.Column('channel_ref', sa.String(length=80), nullable=True),
        sa.Column('incident_id', sa.Integer(), nullable=True),
        sa.Column('priority', sa.String(length=2), nullable=False),
        sa.Column('subject', sa.String(length=500), nullable=False),
        sa.Column('at', dutydesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('held', sa.Boolean(), nullable=False),
        sa.Column('folded_at', dutydesk.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_page_ledger_channel', 'page_ledger', ['channel', 'target', 'at'],
                    unique=False)
    op.create_index(op.f('ix_page_ledger_folded_at'), 'page_ledger', ['folded_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_page_ledger_folded_at'), table_name='page_ledger')
    op.drop_index('ix_page_ledger_channel', table_name='page_ledger')
    op.drop_table('page_ledger')
    op.drop_column('incidents', 'alert_sources')
    op.drop_column('incidents', 'flapping')
    op.drop_column('incidents', 'returns_count')
