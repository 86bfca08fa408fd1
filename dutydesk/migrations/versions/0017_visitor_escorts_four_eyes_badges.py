"""visitor log: "escort required" on clients and authorised persons, who entered an access
request (four eyes), badge numbers in their one form

- ``visitor_clients.escort_required`` and ``visitor_authorised_persons.escort_required``
  (false for everyone already there: nothing changes at the desk until a lead ticks it);
- ``visitor_access_requests.created_by``: who entered the request. Old requests get their
  ``requested_by`` (which was the author's label unless a client contact was named);
- ``visitor_visits.badge_number`` rewritten to its one form (``B001`` for "b-001", " B-001 ").
  The unique index of open badges would refuse two on-site visits whose badges become the same
  number; such a pair is real (one badge handed out twice) and is left for the desk: the later
  visit keeps its badge text as typed, and the upgrade prints which visits those are;
- ``status_subscribers.secret``: status webhooks are signed like contact-method webhooks
  (webhooks added before stay unsigned until staff add them again with a secret).

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-07 13:40:00
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from shifts.visitors.badges import normalise_badge

revision = '0017'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('visitor_clients') as batch:
        batch.add_column(sa.Column('escort_required', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table('visitor_authorised_persons') as batch:
        batch.add_column(sa.Column('escort_required', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table('visitor_access_requests') as batch:
        batch.add_column(sa.Column('created_by', sa.String(length=300), nullable=True))
    op.execute("UPDATE visitor_access_requests SET created_by = requested_by "
               "WHERE created_by IS NULL")
    normalise_badges(op.get_bind())
    with op.batch_alter_table('status_subscribers') as batch:
        batch.add_column(sa.Column('secret', sa.String(length=200), nullable=True))


def normalise_badges(bind: sa.engine.Connection) -> list[int]:
    """Rewrite every stored badge number to its one form; return the on-site visits left as
    typed because another on-site visit already holds the same badge."""
    visits = sa.table('visitor_visits', sa.column('id', sa.Integer),
                      sa.column('badge_number', sa.String), sa.column('status', sa.String),
                      sa.column('checked_in_at', sa.DateTime))
    rows = bind.execute(sa.select(visits.c.id, visits.c.badge_number, visits.c.status)
                        .where(visits.c.badge_number.is_not(None))
                        .order_by(visits.c.checked_in_at, visits.c.id)).all()
    held: set[str] = set()
    clashes: list[int] = []
    for visit_id, badge, status in rows:
        wanted = normalise_badge(badge)
        if status == 'on_site':
            if wanted in held:
                clashes.append(visit_id)
                continue
            held.add(wanted)
        if wanted != badge:
            bind.execute(sa.update(visits).where(visits.c.id == visit_id)
                         .values(badge_number=wanted))
    if clashes:
        logging.getLogger("alembic.runtime.migration").warning(
            "visitor log: on-site visits %s hold a badge another on-site visit holds (after "
            "normalising); their badge text is kept as typed, check them out at the desk", clashes)
    return clashes


def downgrade() -> None:
    with op.batch_alter_table('status_subscribers') as batch:
        batch.drop_column('secret')
    with op.batch_alter_table('visitor_access_requests') as batch:
        batch.drop_column('created_by')
    with op.batch_alter_table('visitor_authorised_persons') as batch:
        batch.drop_column('escort_required')
    with op.batch_alter_table('visitor_clients') as batch:
        batch.drop_column('escort_required')
