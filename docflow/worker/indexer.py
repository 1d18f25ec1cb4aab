"""The indexer: the one place that writes the search index, in batches (tantivy has one writer).

A commit costs the same for one document as for a thousand, so the indexer waits for a batch:
it commits when `batch_size` documents are pending, or when the oldest pending one has waited
`commit_seconds`, whichever comes first. The faster documents complete, the fuller each commit
and the less each document costs; a lone document is still searchable within seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.orm import Session

from docflow.search import SearchIndex
from docflow.search.rows import search_columns, search_documents
from docflow.search.vectors import VectorIndex, vector_columns, vector_documents
from docflow.store import Document, DocumentStatus, Extraction, Store

log = logging.getLogger(__name__)


def pending_query(limit: int) -> Select:
    """Up to `limit` completed documents not yet indexed, with their text and vectors: one
    query that reads the (status, indexed) index, so its cost follows the pending rows."""
    return (select(Document.id, Document.filename, Document.doc_type, Document.batch_id,
                   Document.finished_at, Extraction.text, *search_columns(),
                   *vector_columns())
            .join(Extraction, Extraction.sha256 == Document.sha256)
            .where(Document.status == DocumentStatus.COMPLETED, Document.indexed.is_(False))
            .limit(limit))


def count_pending(session: Session, up_to: int) -> int:
    """How many documents wait for the index, counting no further than `up_to`."""
    pending = (select(Document.id)
               .join(Extraction, Extraction.sha256 == Document.sha256)
               .where(Document.status == DocumentStatus.COMPLETED, Document.indexed.is_(False))
               .limit(up_to).subquery())
    return int(session.execute(select(func.count()).select_from(pending)).scalar_one())


def index_pending(store: Store, index: SearchIndex, batch_size: int,
                  vectors: VectorIndex | None = None,
                  on_indexed: Callable[[int, float], None] | None = None) -> int:
    """Index up to `batch_size` completed documents not yet in the index, in one commit (and
    their passage embeddings in `vectors`); returns how many were indexed.
    `on_indexed(documents, seconds)` hears of each batch (docflow.observability)."""
    with store.db.read() as session:
        rows = session.execute(pending_query(batch_size)).all()
    if not rows:
        return 0
    started = time.perf_counter()
    index.index(search_documents(rows))
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
    if on_indexed is not None:
        on_indexed(len(rows), time.perf_counter() - started)
    return len(rows)


@dataclass(frozen=True)
class CommitPolicy:
    """When pending documents are committed: `batch_size` of them, or the oldest has waited
    `commit_seconds`, whichever comes first."""

    batch_size: int
    commit_seconds: float


class Indexer:
    """Polled by the housekeeper; indexes pending documents when the commit policy says so."""

    def __init__(self, store: Store, index: SearchIndex, policy: CommitPolicy,
                 clock: Callable[[], float] = time.monotonic,
                 on_indexed: Callable[[int, float], None] | None = None,
                 vectors: VectorIndex | None = None) -> None:
        self.store = store
        self.index = index
        self.vectors = vectors
        self.policy = policy
        self.on_indexed = on_indexed
        self._clock = clock
        self._waiting_since: float | None = None  # when the oldest pending document was seen
        self.commits = 0

    def poll(self, stop: threading.Event | None = None) -> int:
        """Commit the pending documents whose time has come; returns how many were indexed."""
        done = 0
        while stop is None or not stop.is_set():
            with self.store.db.read() as session:
                pending = count_pending(session, self.policy.batch_size)
            now = self._clock()
            if pending == 0:
                self._waiting_since = None
                break
            if self._waiting_since is None:
                self._waiting_since = now
            due = now - self._waiting_since >= self.policy.commit_seconds
            if pending < self.policy.batch_size and not due:
                break
            indexed = index_pending(self.store, self.index, self.policy.batch_size,
                                    self.vectors, self.on_indexed)
            self.commits += indexed > 0
            done += indexed
            # What is left came in while this batch was written: its wait starts now.
            self._waiting_since = None
            if indexed == 0:
                break
        return done
