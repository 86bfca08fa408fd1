"""requests: service_requests, their timeline (request_events), incident followers

The first line's door: numbered requests from people, linked to incidents ("mass incident"),
with a timeline replayed by the SLA clocks, and the people who said "me too" about an incident.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dutydesk.core.db

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

UTC_TIME = dutydesk.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'service_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('requester_email', sa.String(length=254), nullable=False),
        sa.Column('requester_name', sa.String(length=200), nullable=False),
        sa.Column('requester_language', sa.String(length=8), nullable=False),
        sa.Column('requester_user_id', sa.Integer(), nullable=True),
        sa.Column('requester_person_id', sa.Integer(), nullable=True),
        sa.Column('channel', sa.String(length=12), nullable=False),
        sa.Column('service', sa.String(length=200), nullable=False),
        sa.Column('category', sa.String(length=100), nullable=False),
        sa.Column('request_type', sa.String(length=20), nullable=False),
        sa.Column('impact', sa.Integer(), nullable=False),
        sa.Column('urgency', sa.Integer(), nullable=False),
        sa.Column('priority', sa.String(length=2), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('line', sa.String(length=12), nullable=False),
        sa.Column('lines_seen', sa.JSON(), nullable=False),
        sa.Column('assignee', sa.String(length=200), nullable=True),
        sa.Column('responded', sa.Boolean(), nullable=False),
        sa.Column('waiting_reason', sa.String(length=1000), nullable=True),
        sa.Column('incident_id', sa.Integer(), nullable=True),
        sa.Column('ping_pong_count', sa.Integer(), nullable=False),
        sa.Column('reopen_count', sa.Integer(), nullable=False),
        sa.Column('sla_targets', sa.JSON(), nullable=False),
        sa.Column('created_at', UTC_TIME, nullable=False),
        sa.Column('updated_at', UTC_TIME, nullable=False),
        sa.Column('resolved_at', UTC_TIME, nullable=True),
        sa.Column('closed_at', UTC_TIME, nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['requester_person_id'], ['visitor_authorised_persons.id'],
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['requester_user_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_service_requests_status_created', 'service_requests',
                    ['status', 'created_at'])
    op.create_index('ix_service_requests_requester_email', 'service_requests',
                    ['requester_email'])
    op.create_index('ix_service_requests_service', 'service_requests', ['service'])
    op.create_index('ix_service_requests_incident_id', 'service_requests', ['incident_id'])
    op.create_table(
        'request_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('at', UTC_TIME, nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_request_events_request_at', 'request_events', ['request_id', 'at'])
    op.create_table(
        'incident_followers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('created_at', UTC_TIME, nullable=False),
        sa.Column('told_resolved_at', UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('uq_incident_followers', 'incident_followers', ['incident_id', 'email'],
                    unique=True)


def downgrade() -> None:
    op.drop_index('uq_incident_followers', table_name='incident_followers')
    op.drop_table('incident_followers')
    op.drop_index('ix_request_events_request_at', table_name='request_events')
    op.drop_table('request_events')
    for name in ('ix_service_requests_incident_id', 'ix_service_requests_service',
                 'ix_service_requests_requester_email', 'ix_service_requests_status_created'):
        op.drop_index(name, table_name='service_requests')
    op.drop_table('service_requests')
