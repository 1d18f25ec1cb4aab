"""The indexer: the one place that writes the search index, in batches (tantivy has one writer)."""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from docflow.search import SearchDocument, SearchIndex
from docflow.store import Document, DocumentStatus, Extraction, Store

log = logging.getLogger(__name__)


def index_pending(store: Store, index: SearchIndex, batch_size: int) -> int:
    """Index completed documents not yet in the index; returns how many were indexed."""
    with store.db.read() as session:
        rows = session.execute(
            select(Document.id, Document.filename, Document.doc_type, Document.batch_id,
                   Extraction.text)
            .join(Extraction, Extraction.sha256 == Document.sha256)
            .where(Document.status == DocumentStatus.COMPLETED, Document.indexed.is_(False))
            .limit(batch_size)).all()
    if not rows:
        return 0
    index.index([SearchDocument(id=r.id, filename=r.filename, doc_type=r.doc_type,
                                batch_id=r.batch_id, text=r.text) for r in rows])
    with store.db.write() as session:
        session.execute(update(Document).where(Document.id.in_([r.id for r in rows]))
                        .values(indexed=True))
    log.debug("indexed %d documents", len(rows))
    return len(rows)
