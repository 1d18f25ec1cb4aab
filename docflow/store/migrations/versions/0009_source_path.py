"""each document keeps where it sat in the uploaded folder, indexed for folder filters

Revision ID: 0009_source_path
Revises: 0008_search_index
Create Date: 2026-11-30

On PostgreSQL the column compares in the "C" collation (code point order, as SQLite does), so
`GET /api/documents?path_prefix=` is a range on the plain btree whatever the database's
locale. Documents stored before keep NULL: their folders were never sent.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_source_path"
down_revision = "0008_search_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    collation = "C" if op.get_bind().dialect.name == "postgresql" else None
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_path", sa.String(length=1024, collation=collation),
                                      nullable=True))
        batch_op.create_index("ix_documents_source_path", ["source_path"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_source_path")
        batch_op.drop_column("source_path")
