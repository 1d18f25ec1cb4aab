"""A stored document as the search index is fed it: the columns the indexer and a rebuild read
(beside id, filename, type, batch and text), and the rows made into SearchDocuments."""

from __future__ import annotations

from collections.abc import Sequence

from docflow.search import SearchDocument
from docflow.store.models import Document


def search_columns() -> tuple:
    """The columns `search_documents` reads besides id, filename, doc_type, batch_id, text."""
    return (Document.tenant_id, Document.source_path, Document.created_at)


def search_documents(rows: Sequence) -> list[SearchDocument]:
    """Rows with id, filename, doc_type, batch_id, text and `search_columns()` as documents
    for the search index."""
    return [SearchDocument(id=r.id, filename=r.filename, doc_type=r.doc_type,
                           batch_id=r.batch_id, text=r.text, tenant=r.tenant_id,
                           source_path=r.source_path, created_at=r.created_at) for r in rows]
