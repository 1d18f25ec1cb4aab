"""field labels: the fields people corrected, with the label and issuer each one teaches

Revision ID: 0007_field_hints
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_field_hints"
down_revision = "0005_ocr_parts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "field_labels",
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=False),
        sa.Column("doc_type", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("anchor", sa.String(length=200), nullable=True),
        sa.Column("issuer", sa.String(length=500), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("document_id", "field"),
    )
    op.create_index("ix_field_labels_doc_type", "field_labels", ["doc_type"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_field_labels_doc_type", table_name="field_labels")
    op.drop_table("field_labels")
