"""maintenance windows owned by a scheduled-maintenance notice (maintenance_windows.notice_id)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 09:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('maintenance_windows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_maintenance_windows_notice_id'), ['notice_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_maintenance_windows_notice_id_notices'),
                                    'notices', ['notice_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    with op.batch_alter_table('maintenance_windows', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_maintenance_windows_notice_id_notices'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_maintenance_windows_notice_id'))
        batch_op.drop_column('notice_id')
