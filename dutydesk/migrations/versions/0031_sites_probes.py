"""sites and remote probes: ``sites`` (with the one default site existing data belongs to),
``probes`` (hashed credential, one-time enrolment token, last sequence stored) and
``check_probes`` (the checks a probe runs instead of the central workers).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 18:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dutydesk.core.db import UTCDateTime

revision = '0031'
down_revision = "0030"  # the brief says 0023; chained after this worktree's head so it has one
branch_labels = None
depends_on = None


def upgrade() -> None:
    sites = op.create_table(
        'sites',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('slug', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('time_zone', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('slug'),
    )
    op.create_table(
        'probes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('credential_hash', sa.String(length=64), nullable=True),
        sa.Column('enrol_token_hash', sa.String(length=64), nullable=True),
        sa.Column('enrol_expires_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('version', sa.String(length=40), nullable=False),
        sa.Column('last_contact_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_seq', sa.BigInteger(), nullable=False),
        sa.Column('dropped_total', sa.Integer(), nullable=False),
        sa.Column('buffer_depth', sa.Integer(), nullable=False),
        sa.Column('grace_seconds', sa.Float(), nullable=False),
        sa.Column('revoked_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('enrol_token_hash'),
        sa.UniqueConstraint('site_id', 'name', name='uq_probes_site_name'),
    )
    op.create_index(op.f('ix_probes_site_id'), 'probes', ['site_id'], unique=False)
    op.create_table(
        'check_probes',
        sa.Column('check_id', sa.Integer(), nullable=False),
        sa.Column('probe_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['check_id'], ['checks.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['probe_id'], ['probes.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('check_id'),
    )
    op.create_index(op.f('ix_check_probes_probe_id'), 'check_probes', ['probe_id'],
                    unique=False)
    from datetime import UTC, datetime
    op.bulk_insert(sites, [{'slug': 'default', 'name': 'Default site', 'time_zone': 'UTC',
                            'created_at': datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_index(op.f('ix_check_probes_probe_id'), table_name='check_probes')
    op.drop_table('check_probes')
    op.drop_index(op.f('ix_probes_site_id'), table_name='probes')
    op.drop_table('probes')
    op.drop_table('sites')
