"""documents are counted by status per batch and per tenant as they change (document_counts)

Revision ID: 0018_batch_counters
Revises: 0017_keyset
Create Date: 2026-12-08

Batch progress, the overview and the live events read these counters instead of counting a
batch's documents on every call (store/counts.py). Triggers on `documents` keep them in the
transaction of every change; they are created before the backfill, whose transaction they
lock writers out of (PostgreSQL), so no change falls between the two.
"""

import sqlalchemy as sa
from alembic import op

from docflow.store.counts import backfill, drop_functions, drop_triggers, install_triggers

revision = "0018_batch_counters"
down_revision = "0017_keyset"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_counts",
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("warning_codes", sa.String(length=200), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "tenant_id", "status", "warning_codes", "shard"),
    )
    conn = op.get_bind()
    install_triggers(conn)
    backfill(conn)


def downgrade() -> None:
    drop_triggers(op.get_bind())
    drop_functions(op.get_bind())
    op.drop_table("document_counts")
