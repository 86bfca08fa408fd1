"""mail intake and attachments: the ledger of inbound mail (by Message-ID), the Message-IDs of
each request's conversation (threading replies), the files on a request, and the
outage-notice updates already relayed to the people affected

Revision ID: 0029
Revises: 0027
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dutydesk.core.db

revision = '0029'
down_revision = "0027"
branch_labels = None
depends_on = None

UTC_TIME = dutydesk.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    # the queue sorts by the most urgent running clock's deadline in SQL (filled on every
    # change; the requests' clock job fills it for requests from before this revision)
    op.add_column('service_requests', sa.Column('sla_due_at', UTC_TIME, nullable=True))
    op.create_index('ix_service_requests_status_due', 'service_requests',
                    ['status', 'sla_due_at'])
    op.create_index('ix_service_requests_due_created', 'service_requests',
                    ['sla_due_at', 'created_at'])
    op.create_table(
        'mail_intake',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.String(length=255), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('handler', sa.String(length=100), nullable=False),
        sa.Column('reason', sa.String(length=300), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('from_email', sa.String(length=254), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('received_at', UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('message_id', name='uq_mail_intake_message_id'),
    )
    op.create_index('ix_mail_intake_received_at', 'mail_intake', ['received_at'])
    op.create_table(
        'request_mail_refs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ref', sa.String(length=255), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('created_at', UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('ref', name='uq_request_mail_refs_ref'),
    )
    op.create_index('ix_request_mail_refs_request_id', 'request_mail_refs', ['request_id'])
    op.create_table(
        'request_attachments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('source', sa.String(length=12), nullable=False),
        sa.Column('added_by', sa.String(length=200), nullable=False),
        sa.Column('created_at', UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_request_attachments_request_id', 'request_attachments', ['request_id'])
    op.create_table(
        'request_notice_relays',
        sa.Column('notice_update_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('relayed_at', UTC_TIME, nullable=False),
        sa.Column('mails', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('notice_update_id'),
    )


def downgrade() -> None:
    op.drop_table('request_notice_relays')
    op.drop_index('ix_request_attachments_request_id', table_name='request_attachments')
    op.drop_table('request_attachments')
    op.drop_index('ix_request_mail_refs_request_id', table_name='request_mail_refs')
    op.drop_table('request_mail_refs')
    op.drop_index('ix_mail_intake_received_at', table_name='mail_intake')
    op.drop_table('mail_intake')
    op.drop_index('ix_service_requests_due_created', table_name='service_requests')
    op.drop_index('ix_service_requests_status_due', table_name='service_requests')
    op.drop_column('service_requests', 'sla_due_at')
