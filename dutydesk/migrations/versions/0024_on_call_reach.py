"""on-call reach: single-use page tokens, quiet hours, keep paging

- ``page_token_uses``: one row per use of a page's signed action link or mail reply token, so
  each works once (the primary key refuses the second use);
- ``quiet_hours``: per person, when P3/P4 pages wait (minutes after midnight, own time zone);
- ``escalation_policies.repage_minutes``: how often an unacknowledged P1/P2 is paged again once
  its policy's steps ran out.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dutydesk.core.db import UTCDateTime

revision = '0024'
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'page_token_uses',
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('incident_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=12), nullable=False),
        sa.Column('via', sa.String(length=12), nullable=False),
        sa.Column('used_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index('ix_page_token_uses_used_at', 'page_token_uses', ['used_at'])
    op.create_table(
        'quiet_hours',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('start_minute', sa.Integer(), nullable=False),
        sa.Column('end_minute', sa.Integer(), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id'),
    )
    op.add_column('escalation_policies',
                  sa.Column('repage_minutes', sa.Integer(), nullable=False, server_default='15'))


def downgrade() -> None:
    # A plain drop (no batch rebuild: other tables reference escalation_policies).
    op.drop_column('escalation_policies', 'repage_minutes')
    op.drop_table('quiet_hours')
    op.drop_index('ix_page_token_uses_used_at', table_name='page_token_uses')
    op.drop_table('page_token_uses')
