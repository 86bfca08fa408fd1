"""service catalog and knowledge base: catalog_items, kb_* tables, the search index per backend,
service_requests.catalog_item_id / catalog_fields / approval_state

The knowledge-base search index is backend-specific (``dutydesk.requests.kb.search``):
- SQLite: an FTS5 table ``kb_fts`` (rowid = kb_article_texts.id) kept in step by triggers;
- PostgreSQL: generated ``fts`` (title weighted A, body B) and ``fts_title`` tsvector columns on
  kb_article_texts (English/Russian stemming by the text's language, 'simple' for Ukrainian)
  with the GIN indexes ``kb_fts_gin`` and ``kb_fts_title_gin``.
Neither is described by the models; ``dutydesk.migrate.include_object`` tells the schema
comparison to leave them out.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dutydesk.core.db import UTCDateTime

revision = '0026'
down_revision = "0025"
branch_labels = None
depends_on = None

UTC_TIME = UTCDateTime(timezone=True)

PG_CONFIG = ("CASE language WHEN 'en' THEN 'english'::regconfig "
             "WHEN 'ru' THEN 'russian'::regconfig ELSE 'simple'::regconfig END")

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE kb_fts USING fts5(title, body, "
    "tokenize = 'porter unicode61 remove_diacritics 2')",
    "INSERT INTO kb_fts(kb_fts, rank) VALUES ('rank', 'bm25(5.0, 1.0)')",
    "CREATE TRIGGER kb_fts_insert AFTER INSERT ON kb_article_texts BEGIN "
    "INSERT INTO kb_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER kb_fts_update AFTER UPDATE ON kb_article_texts BEGIN "
    "DELETE FROM kb_fts WHERE rowid = old.id; "
    "INSERT INTO kb_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER kb_fts_delete AFTER DELETE ON kb_article_texts BEGIN "
    "DELETE FROM kb_fts WHERE rowid = old.id; END",
]


def upgrade() -> None:
    op.create_table(
        'catalog_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('service', sa.String(length=200), nullable=False),
        sa.Column('slug', sa.String(length=100), nullable=False),
        sa.Column('names', sa.JSON(), nullable=False),
        sa.Column('descriptions', sa.JSON(), nullable=False),
        sa.Column('request_type', sa.String(length=20), nullable=False),
        sa.Column('default_priority', sa.String(length=2), nullable=True),
        sa.Column('default_line', sa.String(length=12), nullable=False),
        sa.Column('first_response_minutes', sa.Integer(), nullable=True),
        sa.Column('resolve_minutes', sa.Integer(), nullable=True),
        sa.Column('fields', sa.JSON(), nullable=False),
        sa.Column('approval_role', sa.String(length=20), nullable=True),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', UTC_TIME, nullable=False),
        sa.Column('updated_at', UTC_TIME, nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('uq_catalog_items_service_slug', 'catalog_items', ['service', 'slug'],
                    unique=True)
    op.add_column('service_requests', sa.Column('catalog_item_id', sa.Integer(), nullable=True))
    op.add_column('service_requests', sa.Column('catalog_fields', sa.JSON(), nullable=True))
    op.add_column('service_requests', sa.Column('approval_state', sa.String(length=10),
                                                nullable=True))
    op.create_index('ix_service_requests_catalog_item_id', 'service_requests',
                    ['catalog_item_id'])
    op.create_table(
        'kb_articles',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('slug', sa.String(length=100), nullable=False),
        sa.Column('visibility', sa.String(length=10), nullable=False),
        sa.Column('services', sa.JSON(), nullable=False),
        sa.Column('catalog_item_ids', sa.JSON(), nullable=False),
        sa.Column('archived', sa.Boolean(), nullable=False),
        sa.Column('use_count', sa.Integer(), nullable=False),
        sa.Column('deflection_count', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', UTC_TIME, nullable=False),
        sa.Column('updated_at', UTC_TIME, nullable=False),
        sa.Column('updated_by', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('slug'),
    )
    op.create_table(
        'kb_article_texts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['kb_articles.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('uq_kb_article_texts_lang', 'kb_article_texts', ['article_id', 'language'],
                    unique=True)
    op.create_table(
        'kb_article_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('snapshot', sa.JSON(), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('at', UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['kb_articles.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('uq_kb_article_versions', 'kb_article_versions', ['article_id', 'version'],
                    unique=True)
    op.create_table(
        'kb_article_uses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('at', UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['kb_articles.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_kb_article_uses_at', 'kb_article_uses', ['at'])
    op.create_index('ix_kb_article_uses_article_id', 'kb_article_uses', ['article_id'])
    op.create_index('ix_kb_article_uses_request_id', 'kb_article_uses', ['request_id'])
    op.create_table(
        'kb_deflections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('service', sa.String(length=200), nullable=False),
        sa.Column('catalog_item_id', sa.Integer(), nullable=True),
        sa.Column('query', sa.String(length=300), nullable=False),
        sa.Column('at', UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['kb_articles.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_kb_deflections_at', 'kb_deflections', ['at'])
    op.create_index('ix_kb_deflections_article_id', 'kb_deflections', ['article_id'])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE kb_article_texts ADD COLUMN fts tsvector GENERATED ALWAYS AS "
                   f"(setweight(to_tsvector({PG_CONFIG}, title), 'A') || "
                   f"setweight(to_tsvector({PG_CONFIG}, body), 'B')) STORED")
        op.execute(f"ALTER TABLE kb_article_texts ADD COLUMN fts_title tsvector GENERATED ALWAYS "
                   f"AS (to_tsvector({PG_CONFIG}, title)) STORED")
        op.execute("CREATE INDEX kb_fts_gin ON kb_article_texts USING gin (fts)")
        op.execute("CREATE INDEX kb_fts_title_gin ON kb_article_texts USING gin (fts_title)")
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS kb_fts_title_gin")
        op.execute("DROP INDEX IF EXISTS kb_fts_gin")
    else:
        for name in ("kb_fts_insert", "kb_fts_update", "kb_fts_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS kb_fts")
    for table in ('kb_deflections', 'kb_article_uses', 'kb_article_versions',
                  'kb_article_texts', 'kb_articles'):
        op.drop_table(table)
    op.drop_index('ix_service_requests_catalog_item_id', table_name='service_requests')
    for column in ('approval_state', 'catalog_fields', 'catalog_item_id'):
        op.drop_column('service_requests', column)  # SQLite >= 3.35 drops a column in place
    op.drop_index('uq_catalog_items_service_slug', table_name='catalog_items')
    op.drop_table('catalog_items')
