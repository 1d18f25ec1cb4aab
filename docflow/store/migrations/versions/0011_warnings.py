"""documents keep their warnings (no_text, truncated), counted per batch from one index

Revision ID: 0011_warnings
Revises: 0010_sha256_status_index
Create Date: 2026-12-07

`warnings` holds [{code, message}]; `warning_codes` their codes sorted and comma-joined. The
batch progress index grows from (batch_id, status) to (batch_id, status, warning_codes): one
GROUP BY over it gives both the status counts and the warning counts without reading a row,
and every query the old index served uses the new one's prefix. Documents finished before
keep NULL: they were processed without warnings being recorded.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_warnings"
down_revision = "0010_sha256_status_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warnings", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("warning_codes", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_documents_batch_status_warnings",
                              ["batch_id", "status", "warning_codes"], unique=False)
        batch_op.drop_index("ix_documents_batch_status")


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index("ix_documents_batch_status", ["batch_id", "status"], unique=False)
        batch_op.drop_index("ix_documents_batch_status_warnings")
        batch_op.drop_column("warning_codes")
        batch_op.drop_column("warnings")
