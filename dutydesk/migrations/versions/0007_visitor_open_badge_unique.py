"""visitor log: a badge number is unique among on-site visits (partial unique index)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ON_SITE_ONLY = "status = 'on_site'"


def upgrade() -> None:
    op.create_index(
        "uq_visitor_visits_open_badge",
        "visitor_visits",
        ["badge_number"],
        unique=True,
        sqlite_where=sa.text(ON_SITE_ONLY),
        postgresql_where=sa.text(ON_SITE_ONLY),
    )


def downgrade() -> None:
    op.drop_index("uq_visitor_visits_open_badge", table_name="visitor_visits")
