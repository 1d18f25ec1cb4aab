"""tenants: batches and documents belong to one

Revision ID: 0014_tenants
Revises: 0013_passages
Create Date: 2026-12-07

Every existing batch and document goes to the default tenant ("default"), as do tokens and
users without a tenant, so an install that never creates a tenant works as before. The
listing's (created_at) index becomes (tenant_id, created_at, id): every listing is a tenant's.
Batch progress and the duplicate check keep reading their own index, with tenant_id at its
end. Idempotency keys become unique per tenant: two tenants may pick the same key without
learning of each other.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0014_tenants"
down_revision = "0013_passages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tenants = op.create_table(
        "tenants",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.bulk_insert(tenants, [{"name": "default", "created_at": datetime.now(UTC)}])
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant_id", sa.String(length=100), nullable=False,
                                      server_default="default"))
        batch_op.drop_index("ix_batches_idempotency_key")
        batch_op.create_index("ix_batches_idempotency_key", ["idempotency_key", "tenant_id"],
                              unique=True)
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant_id", sa.String(length=100), nullable=False,
                                      server_default="default"))
        batch_op.drop_index("ix_documents_idempotency_key")
        batch_op.create_index("ix_documents_idempotency_key", ["idempotency_key", "tenant_id"],
                              unique=True)
        batch_op.drop_index("ix_documents_batch_status_warnings")
        batch_op.create_index("ix_documents_batch_status_warnings",
                              ["batch_id", "status", "warning_codes", "tenant_id"], unique=False)
        batch_op.create_index("ix_documents_tenant_created", ["tenant_id", "created_at", "id"],
                              unique=False)
        batch_op.drop_index("ix_documents_created_at")
        batch_op.drop_index("ix_documents_sha256_status")
        batch_op.create_index("ix_documents_sha256_status", ["sha256", "status", "tenant_id"],
                              unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # The PostgreSQL search index (0008): what is in it now is the default tenant's.
        op.execute("ALTER TABLE search_index ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL "
                   "DEFAULT 'default'")
        op.execute("CREATE INDEX IF NOT EXISTS search_index_tenant ON search_index (tenant_id)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE search_index DROP COLUMN IF EXISTS tenant_id")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_sha256_status")
        batch_op.create_index("ix_documents_sha256_status", ["sha256", "status"], unique=False)
        batch_op.drop_index("ix_documents_tenant_created")
        batch_op.create_index("ix_documents_created_at", ["created_at"], unique=False)
        batch_op.drop_index("ix_documents_batch_status_warnings")
        batch_op.create_index("ix_documents_batch_status_warnings",
                              ["batch_id", "status", "warning_codes"], unique=False)
        batch_op.drop_index("ix_documents_idempotency_key")
        batch_op.create_index("ix_documents_idempotency_key", ["idempotency_key"], unique=True)
        batch_op.drop_column("tenant_id")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index("ix_batches_idempotency_key")
        batch_op.create_index("ix_batches_idempotency_key", ["idempotency_key"], unique=True)
        batch_op.drop_column("tenant_id")
    op.drop_table("tenants")
