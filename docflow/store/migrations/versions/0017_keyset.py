"""keyset pages: every listing filter reads an index range already in the listing's order

Revision ID: 0017_keyset
Revises: 0016_tenant_types
Create Date: 2026-12-08

GET /api/documents and GET /api/batches resume each page after the sort key of the last row
(a cursor) instead of skipping rows. That costs the same at any depth only when the filter's
index holds the sort key right after the filter: (filter..., created_at, id) for the oldest and
newest orders, (tenant_id, source_path, id) for the path order. The one-column indexes on
doc_type, needs_review, source_path and parent_id go: each new index starts with that column
(after the tenant), so what read them reads these. Documents with warnings get a partial index,
since the warning filter matches codes inside a list and cannot be a range itself.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_keyset"
down_revision = "0016_tenant_types"
branch_labels = None
depends_on = None

WARNED = sa.text("warning_codes IS NOT NULL")
NEW_INDEXES = (
    ("ix_documents_tenant_status_created", ["tenant_id", "status", "created_at", "id"]),
    ("ix_documents_tenant_type_created", ["tenant_id", "doc_type", "created_at", "id"]),
    ("ix_documents_tenant_review_created", ["tenant_id", "needs_review", "created_at", "id"]),
    ("ix_documents_tenant_path", ["tenant_id", "source_path", "id"]),
    ("ix_documents_batch_created", ["batch_id", "created_at", "id"]),
    ("ix_documents_batch_status_created", ["batch_id", "status", "created_at", "id"]),
    ("ix_documents_parent_created", ["parent_id", "created_at", "id"]),
)
REPLACED = (
    ("ix_documents_doc_type", ["doc_type"]),
    ("ix_documents_needs_review", ["needs_review"]),
    ("ix_documents_source_path", ["source_path"]),
    ("ix_documents_parent_id", ["parent_id"]),
)


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        for name, columns in NEW_INDEXES:
            batch_op.create_index(name, columns, unique=False)
        batch_op.create_index("ix_documents_tenant_warned_created",
                              ["tenant_id", "created_at", "id"], unique=False,
                              sqlite_where=WARNED, postgresql_where=WARNED)
        for name, _ in REPLACED:
            batch_op.drop_index(name)
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index("ix_batches_tenant_created", ["tenant_id", "created_at", "id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index("ix_batches_tenant_created")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        for name, columns in REPLACED:
            batch_op.create_index(name, columns, unique=False)
        batch_op.drop_index("ix_documents_tenant_warned_created")
        for name, _ in reversed(NEW_INDEXES):
            batch_op.drop_index(name)
