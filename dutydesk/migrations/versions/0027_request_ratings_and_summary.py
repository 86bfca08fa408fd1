"""request ratings, the request summary kept for reports, and the index the reports read by

- ``request_ratings``: the requester's one rating (good / bad, an optional comment) of a
  resolved request, given through the signed link in the resolution mail (unique per request:
  a link works once);
- ``service_requests`` summary columns: first response (when, by whom), who resolved, and both
  SLA clock outcomes, stored when a request is resolved (``dutydesk.requests.summary``) so the
  monthly report reads a month of requests without replaying every timeline;
- ``ix_service_requests_created``: the reports select requests by the time they came in.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dutydesk.core.db import UTCDateTime

revision = '0027'
down_revision = "0026"
branch_labels = None
depends_on = None

SUMMARY = (
    ('first_response_at', UTCDateTime(timezone=True)),
    ('first_response_by', sa.String(length=200)),
    ('resolved_by', sa.String(length=200)),
    ('sla_response_seconds', sa.Float()),
    ('sla_response_target_seconds', sa.Float()),
    ('sla_response_breached', sa.Boolean()),
    ('sla_resolve_seconds', sa.Float()),
    ('sla_resolve_target_seconds', sa.Float()),
    ('sla_resolve_breached', sa.Boolean()),
)


def upgrade() -> None:
    op.create_table(
        'request_ratings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('rating', sa.String(length=4), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('rated_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('uq_request_ratings_request', 'request_ratings', ['request_id'],
                    unique=True)
    for name, kind in SUMMARY:
        op.add_column('service_requests', sa.Column(name, kind, nullable=True))
    op.create_index('ix_service_requests_created', 'service_requests', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_service_requests_created', table_name='service_requests')
    # Plain DROP COLUMN (SQLite >= 3.35), never a batch rebuild: request_events and
    # request_ratings reference the table and a rebuild would cascade-delete them.
    for name, _kind in reversed(SUMMARY):
        op.drop_column('service_requests', name)
    op.drop_index('uq_request_ratings_request', table_name='request_ratings')
    op.drop_table('request_ratings')
