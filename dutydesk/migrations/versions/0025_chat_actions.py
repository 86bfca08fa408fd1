"""chat actions: Telegram / Slack / Mattermost buttons on pages

- ``chat_messages``: chat messages that paged an incident (edited when it changes);
- ``chat_links``: chat accounts linked to DutyDesk users;
- ``chat_link_codes``: one-time link codes (SHA-256 only);
- ``chat_state``: the Telegram update offset and the poller's lease.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dutydesk.core.db import UTCDateTime

revision = '0025'
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'chat_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('provider', sa.String(length=12), nullable=False),
        sa.Column('chat_id', sa.String(length=200), nullable=False),
        sa.Column('message_id', sa.String(length=100), nullable=False),
        sa.Column('response_url', sa.String(length=1000), nullable=True),
        sa.Column('response_url_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('provider', 'chat_id', 'message_id', name='uq_chat_messages_message'),
    )
    op.create_index('ix_chat_messages_incident_id', 'chat_messages', ['incident_id'])
    op.create_table(
        'chat_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('provider', sa.String(length=12), nullable=False),
        sa.Column('external_id', sa.String(length=200), nullable=False),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('provider', 'external_id', name='uq_chat_links_account'),
    )
    op.create_index('ix_chat_links_user_id', 'chat_links', ['user_id'])
    op.create_table(
        'chat_link_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('used_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code_hash'),
    )
    op.create_index('ix_chat_link_codes_user_id', 'chat_link_codes', ['user_id'])
    op.create_table(
        'chat_state',
        sa.Column('key', sa.String(length=60), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('owner', sa.String(length=120), nullable=True),
        sa.Column('lease_until', UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade() -> None:
    op.drop_table('chat_state')
    op.drop_index('ix_chat_link_codes_user_id', table_name='chat_link_codes')
    op.drop_table('chat_link_codes')
    op.drop_index('ix_chat_links_user_id', table_name='chat_links')
    op.drop_table('chat_links')
    op.drop_index('ix_chat_messages_incident_id', table_name='chat_messages')
    op.drop_table('chat_messages')
