"""facility inputs: the SNMP trap / syslog rule document and the counts of what was heard but
not turned into an alert (unknown senders, unmatched, rejected, rate-limited)

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-07 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dutydesk.core.db import UTCDateTime

revision = '0021'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'facility_rules',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('document', sa.Text(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(200), nullable=False),
    )
    op.create_table(
        'facility_heard',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('input', sa.String(10), nullable=False),
        sa.Column('source', sa.String(64), nullable=False),
        sa.Column('reason', sa.String(20), nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.Column('first_seen', UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_seen', UTCDateTime(timezone=True), nullable=False),
        sa.Column('sample', sa.String(1024), nullable=False),
        sa.UniqueConstraint('input', 'source', 'reason', 'name', name='uq_facility_heard'),
    )
    op.create_index('ix_facility_heard_last_seen', 'facility_heard', ['last_seen'])


def downgrade() -> None:
    op.drop_index('ix_facility_heard_last_seen', table_name='facility_heard')
    op.drop_table('facility_heard')
    op.drop_table('facility_rules')
