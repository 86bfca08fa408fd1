"""OpenID Connect accounts

- ``users.oidc_subject``: "<issuer> <subject>" of accounts made on first sign-in with an OpenID
  Connect provider (the provider's stable id of the person; emails change). A plain added column
  and index: no table rebuild.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('users', sa.Column('oidc_subject', sa.String(length=500), nullable=True))
    op.create_index('ix_users_oidc_subject', 'users', ['oidc_subject'])


def downgrade() -> None:
    op.drop_index('ix_users_oidc_subject', table_name='users')
    op.drop_column('users', 'oidc_subject')
