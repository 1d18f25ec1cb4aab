"""failed documents counted by error code from an index of the failed ones alone

Revision ID: 0021_failed_codes
Revises: 0020_covering_lists
Create Date: 2026-12-11

GET /metrics counts failed documents by error code. At 500,000 documents (bench/api_p95.py)
that read every document (357-466 ms); a partial index holds only the failed ones' codes, so
the count reads as many entries as there are failed documents. The status and the tenant (a
request counts its tenant's) are in the index too, since SQLite reads a row to check a column
of the WHERE that the index does not hold; after the code: led by the status or the tenant,
SQLite without statistics sought into it for a batch's failures too, and read every failed
document (400 ms at 500,000) instead of the batch's. Only the documents with a code, so that
only a query saying so may read it: SQLite with statistics read all the failed ones for the
last hour's failures. Those without a code are the failed documents' counter less these.
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_failed_codes"
down_revision = "0020_covering_lists"
branch_labels = None
depends_on = None

FAILED = sa.text("status = 'failed' AND error_code IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_documents_failed_code", "documents", ["error_code", "status", "tenant_id"],
                    sqlite_where=FAILED, postgresql_where=FAILED)


def downgrade() -> None:
    op.drop_index("ix_documents_failed_code", table_name="documents")
