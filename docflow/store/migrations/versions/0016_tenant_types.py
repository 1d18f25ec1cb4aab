"""tenants: document types, field labels and classifier models are a tenant's

Revision ID: 0016_tenant_types
Revises: 0015_finished_cursor
Create Date: 2026-12-08

document_types is keyed (tenant_id, name): a name is unique per tenant. The types there go to
the default tenant, and each tenant made before this migration gets a copy of them: until now
every tenant read, and classified with, exactly these rows, so the copy changes no tenant's
classification and shows none of them anything it could not read already. From here on each
tenant's copy is its own; a tenant made later starts from the built-in set.

field_labels take their document's tenant; hints are grouped per (tenant_id, doc_type).
documents get (tenant_id, labeled_at) over labelled documents: the housekeeper counts each
tenant's new labels there.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_tenant_types"
down_revision = "0015_finished_cursor"
branch_labels = None
depends_on = None

_TYPE_COLUMNS = "name, description, keywords, rules, builtin, created_at, updated_at"


def _type_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    # A new table rather than an altered primary key: one path for SQLite and PostgreSQL.
    op.create_table(
        "document_types_0016",
        sa.Column("tenant_id", sa.String(length=100), nullable=False,
                  server_default="default"),
        *_type_columns(),
        sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_document_types"),
    )
    op.execute(f"INSERT INTO document_types_0016 (tenant_id, {_TYPE_COLUMNS}) "
               f"SELECT tenants.tenant_id, {_TYPE_COLUMNS} FROM document_types CROSS JOIN "
               "(SELECT name AS tenant_id FROM tenants UNION SELECT 'default') AS tenants")
    op.drop_table("document_types")
    op.rename_table("document_types_0016", "document_types")

    with op.batch_alter_table("field_labels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant_id", sa.String(length=100), nullable=False,
                                      server_default="default"))
        batch_op.drop_index("ix_field_labels_doc_type")
        batch_op.create_index("ix_field_labels_tenant_doc_type", ["tenant_id", "doc_type"],
                              unique=False)
    op.execute("UPDATE field_labels SET tenant_id = (SELECT documents.tenant_id FROM documents "
               "WHERE documents.id = field_labels.document_id)")
    op.create_index("ix_documents_tenant_labeled", "documents", ["tenant_id", "labeled_at"],
                    unique=False, sqlite_where=sa.text("labeled_at IS NOT NULL"),
                    postgresql_where=sa.text("labeled_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_documents_tenant_labeled", table_name="documents")
    with op.batch_alter_table("field_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_field_labels_tenant_doc_type")
        batch_op.create_index("ix_field_labels_doc_type", ["doc_type"], unique=False)
        batch_op.drop_column("tenant_id")
    # The default tenant's types become everyone's again; the other tenants' copies go.
    op.create_table("document_types_0004", *_type_columns(),
                    sa.PrimaryKeyConstraint("name", name="pk_document_types_0004"))
    op.execute(f"INSERT INTO document_types_0004 ({_TYPE_COLUMNS}) SELECT {_TYPE_COLUMNS} "
               "FROM document_types WHERE tenant_id = 'default'")
    op.drop_table("document_types")
    op.rename_table("document_types_0004", "document_types")
