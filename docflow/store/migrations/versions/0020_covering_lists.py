"""counts and pages read from their index alone: the review, warned and path indexes cover

Revision ID: 0020_covering_lists
Revises: 0019_status_finished
Create Date: 2026-12-10

At 500,000 documents (bench/api_p95.py) the review queue's count read each document to review
to check its status (0.4-0.9 s); a first page of a folder read every document of the folder to
sort them by date (0.2-0.4 s); a first page of one warning code on PostgreSQL read every warned
document (0.5 s). Each index now holds the column that was read from the row.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_covering_lists"
down_revision = "0019_status_finished"
branch_labels = None
depends_on = None

WARNED = sa.text("warning_codes IS NOT NULL")
BEFORE = {
    "ix_documents_tenant_review_created": ["tenant_id", "needs_review", "created_at", "id"],
    "ix_documents_tenant_warned_created": ["tenant_id", "created_at", "id"],
    "ix_documents_tenant_path": ["tenant_id", "source_path", "id"],
}
AFTER = {
    "ix_documents_tenant_review_created": [*BEFORE["ix_documents_tenant_review_created"],
                                           "status"],
    "ix_documents_tenant_warned_created": [*BEFORE["ix_documents_tenant_warned_created"],
                                           "warning_codes"],
    "ix_documents_tenant_path": [*BEFORE["ix_documents_tenant_path"], "created_at"],
}


def _replace(columns: dict[str, list[str]]) -> None:
    for name, cols in columns.items():
        where = WARNED if name == "ix_documents_tenant_warned_created" else None
        op.drop_index(name, table_name="documents")
        op.create_index(name, "documents", cols, sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    _replace(AFTER)


def downgrade() -> None:
    _replace(BEFORE)
