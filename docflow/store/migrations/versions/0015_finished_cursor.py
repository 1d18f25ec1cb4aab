"""documents are read in the order they finished, per batch and overall (live events)

Revision ID: 0015_finished_cursor
Revises: 0014_tenants
Create Date: 2026-12-07

The live event streams (GET /api/events, /api/batches/{id}/events) and the overview's
throughput read "documents finished after (finished_at, id)"; without these indexes each poll
scans every document.
"""

from alembic import op

revision = "0015_finished_cursor"
down_revision = "0014_tenants"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index("ix_documents_finished", ["finished_at", "id"], unique=False)
        batch_op.create_index("ix_documents_batch_finished", ["batch_id", "finished_at", "id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_batch_finished")
        batch_op.drop_index("ix_documents_finished")
