"""two-factor sign-in for local accounts (TOTP secrets, recovery codes); directory accounts

- ``user_two_factor``: one row per user who started enrolment (encrypted TOTP secret, when the
  first code confirmed it, the time step of the last accepted code so a code is never replayed);
- ``user_recovery_codes``: SHA-256 of each single-use recovery code, and when it was used;
- ``users.directory_dn``/``users.directory_disabled_at``: accounts made from the company
  directory (LDAP/AD) on first sign-in, and when the directory took their access away.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dutydesk.core.db import UTCDateTime

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'user_two_factor',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('secret', sa.String(length=300), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('confirmed_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_step', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id'),
    )
    op.create_table(
        'user_recovery_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('used_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_user_recovery_codes_user_id', 'user_recovery_codes', ['user_id'])
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('directory_dn', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('directory_disabled_at', UTCDateTime(timezone=True),
                                   nullable=True))
        batch.create_index('ix_users_directory_dn', ['directory_dn'])


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_index('ix_users_directory_dn')
        batch.drop_column('directory_disabled_at')
        batch.drop_column('directory_dn')
    op.drop_index('ix_user_recovery_codes_user_id', table_name='user_recovery_codes')
    op.drop_table('user_recovery_codes')
    op.drop_table('user_two_factor')
