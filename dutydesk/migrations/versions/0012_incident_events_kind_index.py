"""incident timeline events by kind (ix_incident_events_kind), for the /metrics figures

The incident figures on /metrics are read from the timeline at scrape time: events of one kind
(``triggered``, ``acknowledged``, ``sla_breached``) across all incidents. Without this index each
reading scanned the whole ``incident_events`` table; with it the first acknowledgements come from
the index alone (kind, incident_id, at).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 13:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_incident_events_kind', 'incident_events', ['kind', 'incident_id', 'at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_incident_events_kind', table_name='incident_events')
