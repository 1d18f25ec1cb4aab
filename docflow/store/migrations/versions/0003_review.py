"""needs_review flag and the model version of each classification

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_version", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("needs_review", sa.Boolean(), nullable=False,
                                      server_default="0"))
        batch_op.create_index("ix_documents_needs_review", ["needs_review"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_needs_review")
        batch_op.drop_column("needs_review")
        batch_op.drop_column("model_version")
