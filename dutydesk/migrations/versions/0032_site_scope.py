"""sites as part of the model: ``site_id`` on checks, status services, duty schedules, visitor
access requests and visits (all existing rows move into the default site), on kiosk links
(NULL: every site, as before), on maintenance windows (a third kind of target: a whole site) and
on incidents (NULL: not about one site). An open badge number is unique per site's desk.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None

#: Tables whose every row belongs to one site.
OWNED = ('checks', 'status_services', 'shift_schedules', 'visitor_access_requests',
         'visitor_visits')
ON_SITE_ONLY = "status = 'on_site'"
OLD_TARGET = "(check_id IS NULL) <> (group_id IS NULL)"
NEW_TARGET = ("(CASE WHEN check_id IS NULL THEN 0 ELSE 1 END)"
              " + (CASE WHEN group_id IS NULL THEN 0 ELSE 1 END)"
              " + (CASE WHEN site_id IS NULL THEN 0 ELSE 1 END) = 1")


def _default_site_id() -> int:
    bind = op.get_bind()
    found = bind.execute(sa.text("SELECT id FROM sites WHERE slug = 'default'")).scalar()
    if found is None:
        from datetime import UTC, datetime
        bind.execute(sa.text("INSERT INTO sites (slug, name, time_zone, created_at) "
                             "VALUES ('default', 'Default site', 'UTC', :now)"),
                     {"now": datetime.now(UTC)})
        found = bind.execute(sa.text("SELECT id FROM sites WHERE slug = 'default'")).scalar()
    return int(found)


def upgrade() -> None:
    default = _default_site_id()
    op.drop_index('uq_visitor_visits_open_badge', table_name='visitor_visits')
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('site_id', sa.Integer(), nullable=True))
        op.execute(sa.text(f"UPDATE {table} SET site_id = :site").bindparams(site=default))
        with op.batch_alter_table(table) as batch:
            batch.alter_column('site_id', existing_type=sa.Integer(), nullable=False)
            batch.create_foreign_key(f'fk_{table}_site_id_sites', 'sites', ['site_id'], ['id'],
                                     ondelete='RESTRICT')
            batch.create_index(f'ix_{table}_site_id', ['site_id'], unique=False)
    op.create_index('uq_visitor_visits_open_badge', 'visitor_visits',
                    ['site_id', 'badge_number'], unique=True,
                    sqlite_where=sa.text(ON_SITE_ONLY), postgresql_where=sa.text(ON_SITE_ONLY))
    with op.batch_alter_table('kiosk_links') as batch:
        batch.add_column(sa.Column('site_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_kiosk_links_site_id_sites', 'sites', ['site_id'], ['id'],
                                 ondelete='CASCADE')
        batch.create_index('ix_kiosk_links_site_id', ['site_id'], unique=False)
    with op.batch_alter_table('maintenance_windows') as batch:
        batch.drop_constraint(op.f('ck_maintenance_windows_exactly_one_target'), type_='check')
        batch.add_column(sa.Column('site_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_maintenance_windows_site_id_sites', 'sites', ['site_id'],
                                 ['id'], ondelete='CASCADE')
        batch.create_index('ix_maintenance_windows_site_id', ['site_id'], unique=False)
        batch.create_check_constraint('exactly_one_target', sa.text(NEW_TARGET))
    with op.batch_alter_table('incidents') as batch:
        batch.add_column(sa.Column('site_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_incidents_site_id_sites', 'sites', ['site_id'], ['id'],
                                 ondelete='SET NULL')
        batch.create_index('ix_incidents_site_id', ['site_id'], unique=False)
    # Incidents of checks take their check's site (all of them the default site today).
    op.execute(sa.text("UPDATE incidents SET site_id = :site WHERE check_id IS NOT NULL")
               .bindparams(site=default))


def downgrade() -> None:
    with op.batch_alter_table('incidents') as batch:
        batch.drop_index('ix_incidents_site_id')
        batch.drop_constraint('fk_incidents_site_id_sites', type_='foreignkey')
        batch.drop_column('site_id')
    # Windows of a whole site have no place in the old schema.
    op.execute(sa.text("DELETE FROM maintenance_windows WHERE site_id IS NOT NULL"))
    with op.batch_alter_table('maintenance_windows') as batch:
        batch.drop_constraint(op.f('ck_maintenance_windows_exactly_one_target'), type_='check')
        batch.drop_index('ix_maintenance_windows_site_id')
        batch.drop_constraint('fk_maintenance_windows_site_id_sites', type_='foreignkey')
        batch.drop_column('site_id')
        batch.create_check_constraint('exactly_one_target', sa.text(OLD_TARGET))
    with op.batch_alter_table('kiosk_links') as batch:
        batch.drop_index('ix_kiosk_links_site_id')
        batch.drop_constraint('fk_kiosk_links_site_id_sites', type_='foreignkey')
        batch.drop_column('site_id')
    op.drop_index('uq_visitor_visits_open_badge', table_name='visitor_visits')
    for table in reversed(OWNED):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f'ix_{table}_site_id')
            batch.drop_constraint(f'fk_{table}_site_id_sites', type_='foreignkey')
            batch.drop_column('site_id')
    # Two sites' desks may each have a visitor on site with badge 7: the old index would refuse.
    op.create_index('uq_visitor_visits_open_badge', 'visitor_visits', ['badge_number'],
                    unique=True, sqlite_where=sa.text(ON_SITE_ONLY),
                    postgresql_where=sa.text(ON_SITE_ONLY))
