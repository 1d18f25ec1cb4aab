"""The vector index in PostgreSQL: pgvector's HNSW, for the scale-out mode.

Passages live in `passage_vectors` (one row per passage, with the document's tenant, type and
batch for filters), a table partitioned by tenant: one partition per tenant, each with its own
HNSW index on inner product. A search in a tenant's scope names its tenant, the planner reads
that partition alone, and its graph holds no other tenant's passage: a small tenant beside a
big one is searched as if it were alone, and another tenant's documents cannot come back.
Type and batch filters use pgvector's iterative index scan (0.8+: `hnsw.iterative_scan =
relaxed_order`), which keeps walking the graph until enough rows pass the WHERE clause. Every
host writes and reads the same table: no file to share, no swap (a rebuild replaces rows by
document in place). The writer adds a tenant's partition the first time it indexes one of its
documents.

A table written before tenants (not partitioned, no tenant column) is upgraded by the writer
when it opens: a partitioned copy is filled with each passage's tenant from `documents` (in the
same database), indexed, and put in the old one's place, in one transaction; readers decline
meanwhile (VectorIndexError) and search compares the stored vectors one by one.

Where the `vector` extension is not installed (and cannot be created), `open_pgvector` logs
once and returns an index that declines every search: semantic search then compares the stored
vectors one by one (docflow.search.modes), as it did before there was an index.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import numpy as np
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from docflow.search.vectors import (
    VectorDocument,
    VectorIndex,
    VectorIndexError,
    best_per_document,
    scope_tenant,
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


UPGRADING = ("The vector table was written by an older docflow, without the tenant of each "
             "passage; the housekeeper upgrades it when it starts.")
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('docflow-vectors'))"


def _literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in np.asarray(vector, dtype=np.float32)) + "]"


def partition_name(tenant: str) -> str:
    """The table holding `tenant`'s passages (a digest: tenant names are not identifiers)."""
    return "passage_vectors_" + hashlib.sha256(tenant.encode()).hexdigest()[:20]


def _create_table(conn: Connection, table: str, dimension: int) -> None:
    conn.execute(text(
        f"CREATE TABLE IF NOT EXISTS {table} ("
        " id bigserial, document_id varchar(32) NOT NULL, model varchar(100) NOT NULL,"
        " tenant_id varchar(100) NOT NULL, doc_type varchar(100), batch_id varchar(32),"
        f" embedding vector({dimension}) NOT NULL, PRIMARY KEY (id, tenant_id))"
        " PARTITION BY LIST (tenant_id)"))


def _create_indexes(conn: Connection, table: str) -> None:
    """Declared on the parent, made on every partition (one HNSW graph per tenant)."""
    conn.execute(text(f"CREATE INDEX IF NOT EXISTS ix_{table}_document "
                      f"ON {table} (document_id)"))
    conn.execute(text(f"CREATE INDEX IF NOT EXISTS ix_{table}_hnsw ON {table} "
                      "USING hnsw (embedding vector_ip_ops)"))


def _exists(conn: Connection, table: str) -> bool:
    return conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": table}).scalar_one()


def _add_partition(conn: Connection, table: str, tenant: str) -> None:
    quoted = tenant.replace("'", "''")  # DDL takes no bound parameters
    conn.execute(text(f"CREATE TABLE IF NOT EXISTS {partition_name(tenant)} PARTITION OF "
                      f"{table} FOR VALUES IN ('{quoted}')"))


class PgvectorIndex:
    def __init__(self, engine: Engine, *, writer: bool, model: str, dimension: int) -> None:
        self._engine = engine
        self.model = model
        self.dimension = dimension
        self.created = False  # this writer made the table: documents indexed before need it
        self._partitions: set[str] = set()  # tenants whose partition this writer saw
        if writer:
            with engine.begin() as conn:
                conn.execute(text(_LOCK))
                kind = conn.execute(text(
                    "SELECT relkind FROM pg_class WHERE oid = to_regclass('passage_vectors')"
                )).scalar_one_or_none()
                self.created = kind is None
                if kind is not None and kind != "p":  # a table from before tenants
                    _upgrade(conn, dimension)
                _create_table(conn, "passage_vectors", dimension)
                _create_indexes(conn, "passage_vectors")

    def index(self, docs: Sequence[VectorDocument]) -> None:
        if not docs:
            return
        self._add_partitions({d.tenant for d in docs if len(d.vectors)})
        rows = [{"d": d.id, "m": self.model, "n": d.tenant, "t": d.doc_type, "b": d.batch_id,
                 "e": _literal(row)} for d in docs for row in d.vectors]
        with self._engine.begin() as conn:
            conn.execute(text("DELETE FROM passage_vectors WHERE document_id = ANY(:ids)"),
                         {"ids": [d.id for d in docs]})
            if rows:
                conn.execute(text("INSERT INTO passage_vectors (document_id, model, tenant_id, "
                                  "doc_type, batch_id, embedding) VALUES (:d, :m, :n, :t, :b, "
                                  "CAST(:e AS vector))"), rows)

    def _add_partitions(self, tenants: set[str]) -> None:
        """A partition (with its HNSW index) for each tenant that has none yet, in a short
        transaction of its own: making one locks the whole table for a moment."""
        new = tenants - self._partitions
        if not new:
            return
        with self._engine.begin() as conn:
            missing = [t for t in sorted(new) if not _exists(conn, partition_name(t))]
            if missing:
                conn.execute(text(_LOCK))  # another writer (a rebuild) may add it as well
                for tenant in missing:
                    _add_partition(conn, "passage_vectors", tenant)
        self._partitions |= new

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
        tenant = scope_tenant()
        # A tenant's search reads its own partition, by name: its graph holds no other
        # tenant's passage. (A tenant_id condition on the parent prunes the same way, but with
        # a fresh partition's missing statistics the planner may sort the whole partition.)
        table = "passage_vectors" if tenant is None else partition_name(tenant)
        if doc_type is not None:
            where.append("doc_type = :t")
            params["t"] = doc_type
        if batch_id is not None:
            where.append("batch_id = :b")
            params["b"] = batch_id
        fetch = limit * FETCH_PER_RESULT
        while True:
            try:
                with self._engine.begin() as conn:
                    conn.execute(text(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, fetch)}"))
                    conn.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
                    if tenant is not None:
                        layout, mine = conn.execute(text(
                            "SELECT (SELECT relkind FROM pg_class WHERE oid = "
                            "to_regclass('passage_vectors')), to_regclass(:t) IS NOT NULL"),
                            {"t": table}).one()
                        if layout != "p":  # not partitioned: a table from before tenants
                            raise VectorIndexError(UPGRADING)
                        if not mine:
                            return Nearest(0, [])  # a tenant without vectors yet
                    rows = conn.execute(text(
                        "SELECT document_id, -(embedding <#> CAST(:q AS vector)) FROM "
                        f"{table} WHERE {' AND '.join(where)} "
                        "ORDER BY embedding <#> CAST(:q AS vector) LIMIT :k"),
                        {**params, "k": fetch}).all()
            except ProgrammingError as exc:  # no tenant_id column: the writer upgrades it
                if "tenant_id" not in str(exc.orig):
                    raise
                raise VectorIndexError(UPGRADING) from exc
            nearest = best_per_document([r[0] for r in rows],
                                        np.array([r[1] for r in rows], dtype=np.float32),
                                        limit, min_similarity)
            exhausted = len(rows) < fetch or (rows and rows[-1][1] < min_similarity)
            if len(nearest.neighbours) >= limit or exhausted:
                return nearest
            fetch *= 4  # most rows were other passages of the same documents

    def count(self) -> int:
        tenant = scope_tenant()
        table = "passage_vectors" if tenant is None else partition_name(tenant)
        with self._engine.connect() as conn:
            if not _exists(conn, table):
                return 0
            return conn.execute(text(f"SELECT count(DISTINCT document_id) FROM {table} "
                                     "WHERE model = :m"), {"m": self.model}).scalar_one()

    def close(self) -> None:
        self._engine.dispose()


def _upgrade(conn: Connection, dimension: int) -> None:
    """Put a partitioned copy of the table from before tenants in its place, each passage with
    its document's tenant (passages of documents gone are left out). Readers of the old table
    go on until the swap at the end, which holds its lock for a moment only."""
    log.warning("the vector table was written before tenants: copying it by tenant")
    conn.execute(text("DROP TABLE IF EXISTS passage_vectors_next CASCADE"))
    _create_table(conn, "passage_vectors_next", dimension)
    tenants = conn.execute(text(
        "SELECT DISTINCT d.tenant_id FROM passage_vectors p JOIN documents d "
        "ON d.id = p.document_id")).scalars().all()
    for tenant in tenants:
        _add_partition(conn, "passage_vectors_next", tenant)
    moved = conn.execute(text(
        "INSERT INTO passage_vectors_next (document_id, model, tenant_id, doc_type, batch_id, "
        "embedding) SELECT p.document_id, p.model, d.tenant_id, p.doc_type, p.batch_id, "
        "p.embedding FROM passage_vectors p JOIN documents d ON d.id = p.document_id")).rowcount
    _create_indexes(conn, "passage_vectors_next")  # after the rows: a faster build
    conn.execute(text("DROP TABLE passage_vectors"))
    conn.execute(text("ALTER TABLE passage_vectors_next RENAME TO passage_vectors"))
    for kind in ("document", "hnsw"):
        conn.execute(text(f"ALTER INDEX ix_passage_vectors_next_{kind} "
                          f"RENAME TO ix_passage_vectors_{kind}"))
    log.warning("vector table upgraded: %d passages of %d tenants", moved, len(tenants))


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
