"""The knowledge base: articles (Markdown, en/ru/uk, public or internal) with versions, one
full-text search over two backends (SQLite FTS5, PostgreSQL tsvector), deflections and uses."""
