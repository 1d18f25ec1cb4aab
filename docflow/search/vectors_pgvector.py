"""The vector index in PostgreSQL: pgvector's HNSW, for the scale-out mode.

Passages live in `passage_vectors` (one row per passage, with the document's type and batch for
filters), indexed by HNSW on inner product. Filtered searches use pgvector's iterative index
scan (0.8+: `hnsw.iterative_scan = relaxed_order`), which keeps walking the graph until enough
rows pass the WHERE clause, so a filter never starves the answer. Every host writes and reads
the same table: no file to share, no swap (a rebuild replaces rows by document in place).

Where the `vector` extension is not installed (and cannot be created), `open_pgvector` logs
once and returns an index that declines every search: semantic search then compares the stored
vectors one by one (docflow.search.modes), as it did before there was an index.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from docflow.search.vectors import (
    VectorDocument,
    VectorIndex,
    VectorIndexError,
    best_per_document,
)
from docflow.store.embeddings import Nearest

log = logging.getLogger(__name__)

FETCH_PER_RESULT = 4  # passages read per document asked for (documents have many passages)
EF_SEARCH = 200  # HNSW search beam (pgvector's default is 40: recall ~0.9)
_missing_logged: set[str] = set()

MISSING = ("PostgreSQL has no `vector` extension (pgvector), so semantic search compares every "
           "stored vector one by one: slow past ~100,000 documents. Install it (Debian: "
           "postgresql-NN-pgvector; or the pgvector/pgvector image) and run `CREATE EXTENSION "
           "vector` as a superuser, then `docflow reindex`.")


def open_pgvector(database_url: str, *, writer: bool, model: str,
                  dimension: int = 384) -> VectorIndex:
    """pgvector's index in `database_url`, or the exact fallback where the extension is
    missing (logged once per database)."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1),
                           pool_size=2, max_overflow=4, pool_pre_ping=True)
    if not _has_vector(engine, create=writer):
        if database_url not in _missing_logged:
            _missing_logged.add(database_url)
            log.warning(MISSING)
        return MissingPgvector(engine, model)
    return PgvectorIndex(engine, writer=writer, model=model, dimension=dimension)


def _has_vector(engine: Engine, *, create: bool) -> bool:
    with engine.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")).first():
            return True
        available = conn.execute(text(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first()
    if not (create and available):
        return False
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    except DBAPIError:  # installed on the server, but we may not create it (not superuser)
        return False
    return True


def _literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in np.asarray(vector, dtype=np.float32)) + "]"


class PgvectorIndex:
    def __init__(self, engine: Engine, *, writer: bool, model: str, dimension: int) -> None:
        self._engine = engine
        self.model = model
        self.dimension = dimension
        self.created = False  # this writer made the table: documents indexed before need it
        if writer:
            with engine.begin() as conn:
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('docflow-vectors'))"))
                self.created = conn.execute(text(
                    "SELECT to_regclass('passage_vectors') IS NULL")).scalar_one()
                conn.execute(text(
                    "CREATE TABLE IF NOT EXISTS passage_vectors ("
                    " id bigserial PRIMARY KEY, document_id varchar(32) NOT NULL,"
                    " model varchar(100) NOT NULL, doc_type varchar(100), batch_id varchar(32),"
                    f" embedding vector({dimension}) NOT NULL)"))
                conn.execute(text("CREATE INDEX IF NOT EXISTS ix_passage_vectors_document "
                                  "ON passage_vectors (document_id)"))
                conn.execute(text("CREATE INDEX IF NOT EXISTS ix_passage_vectors_hnsw ON "
                                  "passage_vectors USING hnsw (embedding vector_ip_ops)"))

    def index(self, docs: Sequence[VectorDocument]) -> None:
        if not docs:
            return
        rows = [{"d": d.id, "m": self.model, "t": d.doc_type, "b": d.batch_id,
                 "e": _literal(row)} for d in docs for row in d.vectors]
        with self._engine.begin() as conn:
            conn.execute(text("DELETE FROM passage_vectors WHERE document_id = ANY(:ids)"),
                         {"ids": [d.id for d in docs]})
            if rows:
                conn.execute(text("INSERT INTO passage_vectors (document_id, model, doc_type, "
                                  "batch_id, embedding) VALUES (:d, :m, :t, :b, "
                                  "CAST(:e AS vector))"), rows)

    def delete(self, ids: Sequence[str]) -> None:
        with self._engine.begin() as conn:
            conn.execute(text("DELETE FROM passage_vectors WHERE document_id = ANY(:ids)"),
                         {"ids": list(ids)})

    def search(self, query: np.ndarray, *, doc_type: str | None = None,
               batch_id: str | None = None, limit: int = 20,
               min_similarity: float = 0.0) -> Nearest:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        where = ["model = :m"]
        params: dict[str, object] = {"m": self.model, "q": _literal(query)}
        if doc_type is not None:
            where.append("doc_type = :t")
            params["t"] = doc_type
        if batch_id is not None:
            where.append("batch_id = :b")
            params["b"] = batch_id
        fetch = limit * FETCH_PER_RESULT
        while True:
            with self._engine.begin() as conn:
                conn.execute(text(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, fetch)}"))
                conn.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
                rows = conn.execute(text(
                    "SELECT document_id, -(embedding <#> CAST(:q AS vector)) FROM "
                    f"passage_vectors WHERE {' AND '.join(where)} "
                    "ORDER BY embedding <#> CAST(:q AS vector) LIMIT :k"),
                    {**params, "k": fetch}).all()
            nearest = best_per_document([r[0] for r in rows],
                                        np.array([r[1] for r in rows], dtype=np.float32),
                                        limit, min_similarity)
            exhausted = len(rows) < fetch or (rows and rows[-1][1] < min_similarity)
            if len(nearest.neighbours) >= limit or exhausted:
                return nearest
            fetch *= 4  # most rows were other passages of the same documents

    def count(self) -> int:
        with self._engine.connect() as conn:
            return conn.execute(text("SELECT count(DISTINCT document_id) FROM passage_vectors "
                                     "WHERE model = :m"), {"m": self.model}).scalar_one()

    def close(self) -> None:
        self._engine.dispose()


class MissingPgvector:
    """No pgvector: indexing is a no-op and every search defers to the exact comparison."""

    def __init__(self, engine: Engine, model: str) -> None:
        self._engine = engine
        self.model = model

    def index(self, docs: Sequence[VectorDocument]) -> None:
        return None

    def delete(self, ids: Sequence[str]) -> None:
        return None

    def search(self, query: np.ndarray, *, doc_type: str | None = None,
               batch_id: str | None = None, limit: int = 20,
               min_similarity: float = 0.0) -> Nearest:
        raise VectorIndexError(MISSING)

    def count(self) -> int:
        return 0

    def close(self) -> None:
        self._engine.dispose()
