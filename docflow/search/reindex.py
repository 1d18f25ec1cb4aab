"""Rebuild the keyword and vector indexes from the database, beside the live ones.

`rebuild` reads completed documents in id order, `chunk` at a time (memory stays bounded), and
writes them into `index.next/` and `vectors.next/` (a file-based backend) or in place (the
postgres and pgvector backends replace rows by id, so search answers throughout). After every
chunk it records the last id in `reindex.json`: an interrupted rebuild resumes from there.
Meanwhile the housekeeper keeps indexing new results into the live indexes, and search keeps
answering from them. Once the rebuild is complete, `adopt_rebuilt` (the housekeeper calls it
every round, `docflow reindex` itself when no housekeeper runs) swaps the folders, and every
document that finished since the rebuild started is indexed again by the normal indexer path.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from docflow.search import IndexLocked, SearchIndex, open_index
from docflow.search.rows import search_columns, search_documents
from docflow.search.vectors import (
    VectorIndex,
    open_vector_index,
    open_vectors,
    vector_columns,
    vector_documents,
)
from docflow.store.models import Document, DocumentStatus, Extraction

if TYPE_CHECKING:
    from docflow.config import Settings
    from docflow.store import Store

log = logging.getLogger(__name__)

CHECKPOINT = "reindex.json"
NEXT = ".next"
FILE_BACKENDS = {"tantivy", "usearch"}  # rebuilt in a folder of their own, then swapped


@dataclass
class Checkpoint:
    """How far a rebuild got: documents are read in id order, after `after_id`."""

    started_at: str  # ISO time the rebuild began: documents finished later are redone
    after_id: str = ""
    done: int = 0
    built: bool = False  # every document is in the new indexes; waiting to be swapped in
    vectors: bool = True  # the vector index is rebuilt too (not for a keyword schema change)

    @classmethod
    def read(cls, settings: Settings) -> Checkpoint | None:
        try:
            return cls(**json.loads((settings.resolved_data_dir / CHECKPOINT).read_text()))
        except FileNotFoundError:
            return None

    def write(self, settings: Settings) -> None:
        path = settings.resolved_data_dir / CHECKPOINT
        part = path.with_suffix(".part")
        part.write_text(json.dumps(asdict(self)))
        os.replace(part, path)  # a crash leaves the previous checkpoint, never half of one


def _next(path: Path) -> Path:
    return path.with_name(path.name + NEXT)


def rebuild(settings: Settings, store: Store, *, chunk: int = 500,
            progress: Callable[[int, int], None] | None = None,
            stop: Callable[[], bool] | None = None, vectors: bool = True) -> Checkpoint:
    """Index every completed document into the new indexes, resuming a checkpoint if any
    (`vectors=False`: the keyword index alone; a resumed rebuild keeps the choice it began
    with). Returns the checkpoint: `built` once complete, else where `stop()` interrupted it."""
    checkpoint = Checkpoint.read(settings)
    if checkpoint is None or checkpoint.built:
        if checkpoint is None:  # a fresh start: no half-built folder of an older attempt
            for path in (settings.index_dir, settings.vector_dir):
                shutil.rmtree(_next(path), ignore_errors=True)
        checkpoint = checkpoint or Checkpoint(started_at=datetime.now(UTC).isoformat(),
                                              vectors=vectors)
        checkpoint.write(settings)
    if checkpoint.built:
        return checkpoint
    keyword_dir = (_next(settings.index_dir) if settings.search in FILE_BACKENDS
                   else settings.index_dir)
    keyword = open_index(settings.search, keyword_dir, writer=True,
                         database_url=settings.sqlalchemy_url, pool=settings.search_pool)
    vector_index = _open_next_vectors(settings) if checkpoint.vectors else None
    with store.db.read() as session:
        total = session.execute(select(func.count()).select_from(Document).where(
            Document.status == DocumentStatus.COMPLETED)).scalar_one()
    try:
        while not (stop and stop()):
            with store.db.read() as session:
                rows = session.execute(
                    select(Document.id, Document.filename, Document.doc_type, Document.batch_id,
                           Extraction.text, *search_columns(), *vector_columns())
                    .join(Extraction, Extraction.sha256 == Document.sha256)
                    .where(Document.status == DocumentStatus.COMPLETED,
                           Document.id > checkpoint.after_id)
                    .order_by(Document.id).limit(chunk)).all()
            if not rows:
                if vector_index is not None and hasattr(vector_index, "flush"):
                    vector_index.flush()  # readers get one graph, none left to compare one by one
                checkpoint.built = True
                checkpoint.write(settings)
                break
            keyword.index(search_documents(rows))
            if vector_index is not None:
                vector_index.index(vector_documents(rows, vector_index.model))
            checkpoint.after_id = rows[-1].id
            checkpoint.done += len(rows)
            checkpoint.write(settings)
            if progress:
                progress(checkpoint.done, max(total, checkpoint.done))
    finally:
        keyword.close()
        if vector_index is not None:
            vector_index.close()
    return checkpoint


def rebuild_outdated(settings: Settings, store: Store, index: SearchIndex,
                     stop: Callable[[], bool]) -> threading.Thread | None:
    """Start rebuilding, in a thread, a keyword index written by an older docflow (without the
    fields filters and tenants need); search answers from it meanwhile where it can, and the
    housekeeper swaps the new one in (adopt_rebuilt) once complete. None when it is current."""
    if not getattr(index, "outdated", False):
        return None
    log.warning("the search index at %s was written by an older docflow (no tenant, path or "
                "date per document): rebuilding it in the background", settings.index_dir)
    thread = threading.Thread(target=_rebuild_quietly, args=(settings, store, stop),
                              name="search-rebuild", daemon=True)
    thread.start()
    return thread


def _rebuild_quietly(settings: Settings, store: Store, stop: Callable[[], bool]) -> None:
    try:
        checkpoint = rebuild(settings, store, stop=stop, vectors=False)
    except IndexLocked:
        log.info("a rebuild of the search index runs elsewhere (docflow reindex); its result "
                 "is swapped in when complete")
    except Exception:
        log.exception("rebuilding the outdated search index failed; `docflow reindex` resumes it")
    else:
        log.info("search index rebuild: %d documents%s", checkpoint.done,
                 ", complete" if checkpoint.built else " so far (resumes at the next start)")


def _open_next_vectors(settings: Settings) -> VectorIndex | None:
    if not settings.zero_shot:
        return None
    if settings.vector_backend not in FILE_BACKENDS:
        return open_vector_index(settings, writer=True)
    from docflow.pipeline.classify.embeddings import ENCODER_VERSION

    vectors = open_vectors(settings.vector_backend, _next(settings.vector_dir), writer=True,
                           model=ENCODER_VERSION, database_url=settings.sqlalchemy_url)
    if hasattr(vectors, "recent_limit"):
        vectors.recent_limit = sys.maxsize  # no reader yet: build the graph once, at the end
    return vectors


def backfill_new_vector_index(store: Store, vectors: VectorIndex | None) -> int:
    """A vector index made just now (an upgrade, a first start with embeddings on) lacks the
    documents indexed before it: hand those with embeddings back to the indexer, which adds
    them as it adds new ones. Returns how many."""
    if vectors is None or not getattr(vectors, "created", False):
        return 0
    with store.db.write() as session:
        count = session.execute(update(Document).where(
            Document.status == DocumentStatus.COMPLETED, Document.indexed.is_(True),
            Document.embedding_model == vectors.model).values(indexed=False)).rowcount
    if count:
        log.info("new vector index: %d documents embedded before are indexed again", count)
    return count


def upgrade_vector_tenants(store: Store, vectors: VectorIndex | None) -> int:
    """A vector index written before tenants (the usearch catalog) gets each passage's tenant
    from the store and its graphs rebuilt per tenant; its readers decline every search until
    then (pgvector's table upgrades itself in the database, as its writer opens). Returns the
    passages kept (0: nothing to upgrade)."""
    if vectors is None or not getattr(vectors, "lacks_tenants", False):
        return 0
    log.warning("the vector index was written before tenants: upgrading it")
    return vectors.upgrade_tenants(_tenants_of_embedded(store))  # type: ignore[attr-defined]


def _tenants_of_embedded(store: Store, chunk: int = 5000) -> Iterator[tuple[str, str]]:
    """(document id, tenant) of every document with an embedding, in id order, by chunks."""
    after = ""
    while True:
        with store.db.read() as session:
            rows = session.execute(
                select(Document.id, Document.tenant_id)
                .where(Document.id > after, Document.embedding_model.is_not(None))
                .order_by(Document.id).limit(chunk)).all()
        if not rows:
            return
        yield from ((row[0], row[1]) for row in rows)
        after = rows[-1][0]


def rebuilt_waiting(settings: Settings) -> bool:
    """Whether a complete rebuild waits to be swapped in (cheap: one small file read)."""
    checkpoint = Checkpoint.read(settings)
    return checkpoint is not None and checkpoint.built


def adopt_rebuilt(settings: Settings, store: Store, index: SearchIndex | None,
                  vectors: VectorIndex | None) -> tuple[SearchIndex | None, VectorIndex | None]:
    """Swap a complete rebuild in, if one waits; returns the writers to go on with (the same
    ones when nothing waited). Called by the one process that writes the live indexes."""
    checkpoint = Checkpoint.read(settings)
    if checkpoint is None or not checkpoint.built:
        return index, vectors
    reopen_index = index is not None
    reopen_vectors = vectors is not None
    if index is not None:
        index.close()
    if vectors is not None:
        vectors.close()
    stamp = int(time.time())
    for live in (settings.index_dir, settings.vector_dir):
        new = _next(live)
        if not new.exists():
            continue  # rebuilt in place (a database backend), or no vectors
        old = live.with_name(f"{live.name}.old-{stamp}")
        if live.exists():
            os.rename(live, old)
        os.rename(new, live)  # readers see no index for an instant and keep the one they had
        shutil.rmtree(old, ignore_errors=True)  # open readers keep their mapped files
    started = datetime.fromisoformat(checkpoint.started_at)
    with store.db.write() as session:  # what finished while the rebuild ran: index it again
        redo = session.execute(update(Document).where(
            Document.status == DocumentStatus.COMPLETED, Document.finished_at >= started)
            .values(indexed=False))
    (settings.resolved_data_dir / CHECKPOINT).unlink(missing_ok=True)
    log.info("rebuilt search indexes swapped in; %d documents finished meanwhile are indexed "
             "again", redo.rowcount)
    if reopen_index:
        index = open_index(settings.search, settings.index_dir, writer=True,
                           database_url=settings.sqlalchemy_url, pool=settings.search_pool)
    if reopen_vectors:
        vectors = open_vector_index(settings, writer=True)
    return index, vectors
