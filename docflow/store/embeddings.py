"""Documents' sentence embeddings in the database, and the documents nearest a query vector.

A worker stores the vector it computed to classify a document (DOCFLOW_ZERO_SHOT) once, as
float32 bytes beside the model that made it, and the vectors of the text's passages (float16,
[n, dim]); search reads them back, never embedding a document again. A document's similarity
to a query is that of its closest passage (its one vector when it has no passages: processed
before migration 0011). `nearest` is brute force: it streams every candidate that passes the
filters (by `chunk` rows) and keeps the best `limit`, so memory stays bounded but time grows
with the number of passages; the vector index (docflow.search.vectors) is the fast path, and
this is its exact fallback and its reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from docflow.store.documents import DOCUMENTS, by_ids_in_scope, path_prefix_conditions
from docflow.store.models import Document, DocumentStatus, Extraction
from docflow.store.tenants import in_scope

VECTOR_DTYPE = np.dtype("<f4")  # little-endian float32 on every host that reads the database
PASSAGE_DTYPE = np.dtype("<f2")  # half the bytes; a cosine moves by < 1e-3


def vector_bytes(vector: Sequence[float] | np.ndarray) -> bytes:
    return np.asarray(vector, dtype=VECTOR_DTYPE).tobytes()


def vector_of(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=VECTOR_DTYPE)


def passages_bytes(matrix: np.ndarray) -> bytes:
    return np.asarray(matrix, dtype=PASSAGE_DTYPE).tobytes()


def searchable_vectors(embedding: bytes | None, passages: bytes | None,
                       dim: int = 384) -> np.ndarray:
    """float32 [n, dim]: a document's passages, else its one embedding, else no rows."""
    if passages:
        dim = len(embedding) // VECTOR_DTYPE.itemsize if embedding else dim
        return np.frombuffer(passages, dtype=PASSAGE_DTYPE).reshape(-1, dim).astype(np.float32)
    if embedding:
        return vector_of(embedding).reshape(1, -1).astype(np.float32)
    return np.zeros((0, dim), dtype=np.float32)


@dataclass(frozen=True)
class Neighbour:
    document_id: str
    similarity: float  # cosine similarity to the query (vectors are unit length)


@dataclass(frozen=True)
class Nearest:
    total: int  # candidates at least `min_similarity` close, not only those returned
    neighbours: list[Neighbour]  # best first, at most `limit`


def nearest(
    session: Session,
    query: np.ndarray,
    model: str,
    *,
    doc_type: str | None = None,
    batch_id: str | None = None,
    path_prefix: str | None = None,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
    limit: int = 20,
    min_similarity: float = 0.0,
    chunk: int = 5000,
) -> Nearest:
    """The completed documents whose stored `model` embedding is closest to `query`; the
    filters mean what the search index's do (docflow.search.SearchFilters)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    statement = select(Document.id, Document.embedding, Document.passages).where(
        Document.status == DocumentStatus.COMPLETED, Document.embedding_model == model,
        Document.embedding.is_not(None), in_scope(Document.tenant_id))
    if doc_type is not None:
        statement = statement.where(Document.doc_type == doc_type)
    if batch_id is not None:
        statement = statement.where(Document.batch_id == batch_id)
    if path_prefix is not None:
        statement = statement.where(*path_prefix_conditions(path_prefix))
    if created_from is not None:
        statement = statement.where(Document.created_at >= created_from)
    if created_before is not None:
        statement = statement.where(Document.created_at < created_before)
    query = np.asarray(query, dtype=np.float32)
    best_ids: list[str] = []
    best_scores = np.empty(0, dtype=np.float32)
    total = 0
    # Core rows streamed by chunks (a server-side cursor on PostgreSQL): no ORM objects, and
    # memory bounded by `chunk`; measured ~1.5x less CPU than an ORM select with yield_per.
    rows = session.connection().execute(
        statement, execution_options={"stream_results": True, "max_row_buffer": chunk})
    for part in rows.partitions(chunk):
        ids = [row[0] for row in part]
        blocks = [searchable_vectors(row[1], row[2]) for row in part]
        counts = np.array([len(b) for b in blocks])
        passage_scores = np.concatenate(blocks) @ query
        scores = np.maximum.reduceat(passage_scores, np.cumsum(counts) - counts)  # best passage
        close = np.flatnonzero(scores >= min_similarity)
        total += len(close)
        best_ids += [ids[i] for i in close]
        best_scores = np.concatenate([best_scores, scores[close]])
        if len(best_ids) > limit:  # keep only the best `limit` between chunks
            keep = np.argpartition(-best_scores, limit - 1)[:limit]
            best_ids = [best_ids[i] for i in keep]
            best_scores = best_scores[keep]
    order = sorted(range(len(best_ids)), key=lambda i: (-best_scores[i], best_ids[i]))
    return Nearest(total, [Neighbour(best_ids[i], float(best_scores[i])) for i in order])


def first_passage_similarities(session: Session, ids: Sequence[str], query: np.ndarray,
                               model: str) -> dict[str, float]:
    """Each document's cosine similarity to `query` by its stored `model` embedding (its first
    passage: the first ~256 tokens), by id; documents without one are left out."""
    if not ids:
        return {}
    rows = session.execute(
        by_ids_in_scope([DOCUMENTS.c.id, DOCUMENTS.c.embedding], ids)
        .where(DOCUMENTS.c.embedding_model == model, DOCUMENTS.c.embedding.is_not(None))).all()
    if not rows:
        return {}
    vectors = np.stack([vector_of(row[1]) for row in rows])
    similarities = vectors @ np.asarray(query, dtype=np.float32)
    return {row[0]: float(s) for row, s in zip(rows, similarities.tolist(), strict=True)}


@dataclass(frozen=True)
class DocumentHead:
    """What a search hit shows of a document: its name, type and the start of its text."""

    filename: str
    doc_type: str | None
    text_start: str


def document_heads(session: Session, ids: Sequence[str], chars: int) -> dict[str, DocumentHead]:
    """Each document's name, type and first `chars` characters of text, by id."""
    if not ids:
        return {}
    rows = session.execute(
        by_ids_in_scope([DOCUMENTS.c.id, DOCUMENTS.c.filename, DOCUMENTS.c.doc_type,
                         func.substr(Extraction.text, 1, chars)], ids)
        .join_from(DOCUMENTS, Extraction, Extraction.sha256 == DOCUMENTS.c.sha256))
    return {row[0]: DocumentHead(row[1], row[2], row[3] or "") for row in rows}
