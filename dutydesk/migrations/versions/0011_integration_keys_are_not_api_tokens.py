"""Alertmanager integration keys are no longer viewer API tokens (integrations.api_token_id)

Until now each Alertmanager key was also stored as a viewer-role API token (same SHA-256), so the
key in an Alertmanager config could read every viewer API. The receiver now checks the key
against ``integrations.key_hash`` itself and the token authentication refuses integration keys,
so those shadow tokens are deleted and the link column goes. Existing keys keep working: their
hash is already in ``integrations.key_hash``.

Downgrade recreates the shadow tokens from the integrations (same hash, prefix, times).

SQLite cannot drop (or add) a foreign-key column in place, so there ``integrations`` is rebuilt;
dropping the old table would run ``alerts_received.integration_id``'s ON DELETE SET NULL and
forget which integration sent every stored alert, so those links are kept aside and restored.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 12:40:00
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


@contextmanager
def keeping_alert_links() -> Iterator[None]:
    """Around a rebuild of ``integrations``: restore ``alerts_received.integration_id``."""
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        op.execute(
            "CREATE TEMP TABLE keep_alert_integrations AS SELECT id, integration_id "
            "FROM alerts_received WHERE integration_id IS NOT NULL"
        )
    yield
    if sqlite:
        op.execute(
            "UPDATE alerts_received SET integration_id = (SELECT k.integration_id FROM "
            "keep_alert_integrations k WHERE k.id = alerts_received.id) "
            "WHERE id IN (SELECT id FROM keep_alert_integrations)"
        )
        op.execute("DROP TABLE keep_alert_integrations")


def upgrade() -> None:
    op.execute(
        "DELETE FROM api_tokens WHERE id IN "
        "(SELECT api_token_id FROM integrations WHERE api_token_id IS NOT NULL)"
    )
    with keeping_alert_links(), op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_integrations_api_token_id_api_tokens'),
                                 type_='foreignkey')
        batch_op.drop_column('api_token_id')


def downgrade() -> None:
    with keeping_alert_links(), op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('api_token_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_integrations_api_token_id_api_tokens'),
                                    'api_tokens', ['api_token_id'], ['id'], ondelete='SET NULL')
    op.execute(
        "INSERT INTO api_tokens (name, role, prefix, token_hash, created_at, revoked_at) "
        "SELECT substr('integration:' || name, 1, 120), 'viewer', key_prefix, key_hash, "
        "created_at, revoked_at FROM integrations WHERE type = 'alertmanager'"
    )
    op.execute(
        "UPDATE integrations SET api_token_id = "
        "(SELECT id FROM api_tokens WHERE api_tokens.token_hash = integrations.key_hash) "
        "WHERE type = 'alertmanager'"
    )
