"""what finished lately: an index on (tenant_id, status, finished_at, id)

Revision ID: 0019_status_finished
Revises: 0018_batch_counters
Create Date: 2026-12-09

The overview's throughput (completed in the last ten minutes), its failures of the last hour
and the live events read documents of a status that finished after a moment. Without it,
SQLite (no statistics) seeks the (status, ...) index and reads every completed document: 1.5 s
at 500,000 (bench/api_p95.py). With it, each reads the window's range.
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_status_finished"
down_revision = "0018_batch_counters"
branch_labels = None
depends_on = None

NAME = "ix_documents_tenant_status_finished"
# Partial, so that only queries bounding finished_at can use it: a full one won SQLite's tie
# (no statistics) for a batch's failures and the review queue's count, which have their own.
FINISHED = sa.text("finished_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(NAME, ["tenant_id", "status", "finished_at", "id"], unique=False,
                              sqlite_where=FINISHED, postgresql_where=FINISHED)


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(NAME)
