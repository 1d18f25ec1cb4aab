"""The vector index: documents nearest a query embedding, by their closest passage.

One small interface, one module per backend, like the keyword index:
- usearch (`vectors_usearch`): an HNSW graph file in the data dir beside the tantivy index,
  written by the one indexer (the housekeeper), read by every API process;
- pgvector (`vectors_pgvector`): an HNSW index in PostgreSQL, for the scale-out mode; where the
  `vector` extension is missing it logs once and searches exactly (`vectors_exact`);
- exact (`vectors_exact`): brute force over the stored vectors, the reference for recall.

`open_vectors(backend, ...)` is the front door. A document's score is the cosine similarity of
its best passage to the query (max-sim): a contract is found by what its page 40 says.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from docflow.store.embeddings import Nearest, Neighbour, searchable_vectors
from docflow.store.models import Document
from docflow.store.scope import DEFAULT_TENANT, current_scope

if TYPE_CHECKING:
    from docflow.config import Settings

__all__ = ["Nearest", "Neighbour", "VectorDocument", "VectorIndex", "VectorIndexError",
           "best_per_document", "open_vector_index", "open_vectors", "scope_tenant",
           "vector_columns", "vector_documents"]

# A filtered search whose filters leave fewer passages than this compares the query with each
# of them instead of searching the graph and throwing most of its answers away (measured: 2,800
# passages exactly ~19 ms; over-fetching from the graph ~2-5 ms at any selectivity down to 1%).
EXACT_BELOW = 2_000


class VectorIndexError(RuntimeError):
    """A vector index that cannot answer (not written yet, another model); search falls back
    to comparing the stored vectors one by one."""

    code = "vector_index_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class VectorDocument:
    """What the indexer hands to a vector index for one document."""

    id: str
    doc_type: str | None
    batch_id: str | None
    vectors: np.ndarray  # float32 [passages, dim], unit length; no rows: nothing to find
    tenant: str = DEFAULT_TENANT  # whose it is: only a search in that tenant's scope finds it


@runtime_checkable
class VectorIndex(Protocol):
    model: str  # the embedding model whose vectors it holds; others do not compare

    def index(self, docs: Sequence[VectorDocument]) -> None:
        """Add or replace (by id) every document's passages, visible to readers on return."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Forget these documents (unknown ids are ignored)."""
        ...

    def search(self, query: np.ndarray, *, doc_type: str | None = None,
               batch_id: str | None = None, limit: int = 20,
               min_similarity: float = 0.0) -> Nearest:
        """The documents whose best passage is closest to `query`, best first: of the tenant
        in scope (docflow.store.scope) only, every tenant's outside a scope."""
        ...

    def count(self) -> int:
        """How many documents the index holds (the tenant's, within a scope)."""
        ...

    def close(self) -> None:
        ...


def best_per_document(document_ids: Sequence[str], scores: np.ndarray, limit: int,
                      min_similarity: float) -> Nearest:
    """Passages' scores folded into documents (each keeps its best), the best `limit` first."""
    best: dict[str, float] = {}
    for ident, score in zip(document_ids, scores.tolist(), strict=True):
        if score >= min_similarity and score > best.get(ident, -2.0):
            best[ident] = score
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
    return Nearest(len(best), [Neighbour(i, s) for i, s in ranked[:limit]])


def scope_tenant() -> str | None:
    """The tenant whose vectors a search may find: the request's, None outside a scope (the
    system: every tenant's)."""
    scope = current_scope()
    return scope.tenant if scope is not None else None


def vector_columns() -> tuple:
    """The columns `vector_documents` reads, to add to the indexer's select."""
    return (Document.embedding.label("embedding"), Document.passages.label("passages"),
            Document.embedding_model.label("embedding_model"))


def vector_documents(rows: Sequence, model: str) -> list[VectorDocument]:
    """Rows with id, doc_type, batch_id, tenant_id and `vector_columns()` as documents for the
    index; a document without vectors of `model` has none (so a stale entry of it is dropped)."""
    return [VectorDocument(r.id, r.doc_type, r.batch_id,
                           searchable_vectors(r.embedding, r.passages)
                           if r.embedding_model == model else np.zeros((0, 0), np.float32),
                           tenant=r.tenant_id)
            for r in rows]


def _open_usearch(path: pathlib.Path, writer: bool, model: str, dimension: int,
                  database_url: str | None) -> VectorIndex:
    from docflow.search.vectors_usearch import UsearchVectors

    return UsearchVectors(path, writer=writer, model=model, dimension=dimension)


def _open_pgvector(path: pathlib.Path, writer: bool, model: str, dimension: int,
                   database_url: str | None) -> VectorIndex:
    from docflow.search.vectors_pgvector import open_pgvector

    return open_pgvector(database_url or "", writer=writer, model=model, dimension=dimension)


# Backends are imported lazily so one backend's dependencies never load for another.
_BACKENDS: dict[str, Callable[[pathlib.Path, bool, str, int, str | None], VectorIndex]] = {
    "usearch": _open_usearch,
    "pgvector": _open_pgvector,
}


def open_vectors(backend: str, path: pathlib.Path, *, writer: bool, model: str,
                 dimension: int = 384, database_url: str | None = None) -> VectorIndex:
    """Open the vector index; `writer=True` only in the process that indexes (the
    housekeeper). `path` is a file-based backend's folder, `database_url` pgvector's database."""
    try:
        opener = _BACKENDS[backend]
    except KeyError:
        valid = ", ".join(sorted(_BACKENDS))
        raise ValueError(f"unknown vector backend {backend!r}; valid backends: {valid}") from None
    return opener(pathlib.Path(path), writer, model, dimension, database_url)


def open_vector_index(settings: Settings, *, writer: bool) -> VectorIndex | None:
    """The configured vector index of the workers' embedding model, or None when documents
    get no embeddings (DOCFLOW_SEMANTIC_SEARCH and DOCFLOW_ZERO_SHOT off)."""
    if not settings.makes_embeddings:
        return None
    from docflow.pipeline.classify.embeddings import ENCODER_VERSION

    return open_vectors(settings.vector_backend, settings.vector_dir, writer=writer,
                        model=ENCODER_VERSION, database_url=settings.sqlalchemy_url)
