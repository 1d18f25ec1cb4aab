"""The indexer: the one place that writes the search index, in batches (tantivy has one writer)."""

from __future__ import annotations

import logging

from sqlalchemy import bindparam, select, update

from docflow.search import SearchDocument, SearchIndex
from docflow.search.vectors import VectorIndex, vector_columns, vector_documents
from docflow.store import Document, DocumentStatus, Extraction, Store

log = logging.getLogger(__name__)


def index_pending(store: Store, index: SearchIndex, batch_size: int,
                  vectors: VectorIndex | None = None) -> int:
    """Index completed documents not yet in the index (and their passage embeddings in
    `vectors`); returns how many were indexed."""
    with store.db.read() as session:
        rows = session.execute(
            select(Document.id, Document.filename, Document.doc_type, Document.batch_id,
                   Document.finished_at, Extraction.text, *vector_columns())
            .join(Extraction, Extraction.sha256 == Document.sha256)
            .where(Document.status == DocumentStatus.COMPLETED, Document.indexed.is_(False))
            .limit(batch_size)).all()
    if not rows:
        return 0
    index.index([SearchDocument(id=r.id, filename=r.filename, doc_type=r.doc_type,
                                batch_id=r.batch_id, text=r.text) for r in rows])
    if vectors is not None:
        vectors.index(vector_documents(rows, vectors.model))
    # Only rows unchanged since they were read count as indexed: a type corrected or a document
    # processed again meanwhile set `indexed` back to False and stays pending.
    unchanged = (update(Document).where(
        Document.id == bindparam("b_id"), Document.status == DocumentStatus.COMPLETED,
        Document.doc_type.is_not_distinct_from(bindparam("b_type")),
        Document.finished_at == bindparam("b_finished")).values(indexed=True))
    with store.db.write() as session:
        session.connection().execute(unchanged, [
            {"b_id": r.id, "b_type": r.doc_type, "b_finished": r.finished_at} for r in rows])
    log.debug("indexed %d documents", len(rows))
    return len(rows)
