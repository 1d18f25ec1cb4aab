"""search index: the postgres full-text backend's table, with its tsvector and GIN index

Revision ID: 0008_search_index
Revises: 0006_embeddings
Create Date: 2026-12-02

PostgreSQL only (DOCFLOW_SEARCH=postgres, docflow/search/postgres_index.py); on SQLite the
search index is tantivy's files in the data dir. IF NOT EXISTS: databases from before this
migration already have the table, created then by the backend itself.
"""

from alembic import op

revision = "0008_search_index"
down_revision = "0006_embeddings"
branch_labels = None
depends_on = None

# The tsvector covers the first million characters of the text: one holds at most 1 MB.
DDL = [
    """CREATE TABLE IF NOT EXISTS search_index (
        id text PRIMARY KEY,
        filename text NOT NULL,
        doc_type text,
        batch_id text,
        body text NOT NULL,
        tsv tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('english',
                regexp_replace(filename, '[^[:alnum:]]+', ' ', 'g')), 'A') ||
            setweight(to_tsvector('english', left(body, 1000000)), 'B')
        ) STORED
    )""",
    "CREATE INDEX IF NOT EXISTS search_index_tsv ON search_index USING gin (tsv)",
    "CREATE INDEX IF NOT EXISTS search_index_doc_type ON search_index (doc_type)",
    "CREATE INDEX IF NOT EXISTS search_index_batch_id ON search_index (batch_id)",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # The lock older docflow versions took to create the table: a host not yet upgraded
    # creating it at this moment makes this wait, instead of both creating it.
    op.execute("SELECT pg_advisory_xact_lock(hashtext('search_index'))")
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE IF EXISTS search_index")
