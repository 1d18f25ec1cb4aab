"""each document keeps its passage embeddings, so search finds a passage far into it

Revision ID: 0013_passages
Revises: 0012_auth
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_passages"
down_revision = "0012_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("passages", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("passages")
