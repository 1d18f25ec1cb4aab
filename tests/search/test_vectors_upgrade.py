"""A vector index written before tenants (one usearch graph of everyone's passages; a pgvector
table without a tenant column) is never searched for a tenant as it is: its readers decline
(search then compares the stored vectors through the store's tenant filter) until the writer
upgrades it with each document's tenant from the store, and the passages of documents the
store no longer has are dropped on the way."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from usearch.index import Index

from docflow.config import Settings
from docflow.search import vectors_pgvector, vectors_usearch
from docflow.search.reindex import upgrade_vector_tenants
from docflow.search.vectors import VectorIndex, VectorIndexError, open_vectors
from docflow.store import Store, open_store
from docflow.store import documents as docs
from docflow.store.scope import tenant_scope
from docflow.store.tenants import create_tenant
from tests.conftest import empty_postgres, put
from tests.search.test_vectors import DIM, MODEL, unit

# The catalog's schema before tenants (docflow up to the tenants merge).
OLD_CATALOG = """
CREATE TABLE passages (key INTEGER PRIMARY KEY AUTOINCREMENT, document_id TEXT NOT NULL,
    doc_type TEXT, batch_id TEXT, vector BLOB, in_graph INTEGER NOT NULL DEFAULT 0);
CREATE INDEX ix_passages_document ON passages(document_id);
CREATE INDEX ix_passages_type ON passages(doc_type, batch_id);
CREATE INDEX ix_passages_batch ON passages(batch_id);
CREATE INDEX ix_passages_recent ON passages(in_graph, key);
CREATE TABLE dropped (key INTEGER PRIMARY KEY);
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

GONE = "f" * 32  # a document the old index holds and the store no longer has


def documents_of_two_tenants(store: Store) -> dict[str, np.ndarray]:
    """Six documents, three of acme's and three of globex's, each with one vector; globex's
    are acme's twins (the same vector), so a search that mixes tenants shows at once."""
    rng = np.random.default_rng(7)
    topics = unit(rng.standard_normal((3, DIM)))
    vectors: dict[str, np.ndarray] = {}
    with store.db.write() as session:
        create_tenant(session, "acme")
        create_tenant(session, "globex")
    for tenant in ("acme", "globex"):
        with tenant_scope(tenant), store.db.write() as session:
            for n in range(3):
                (doc,) = docs.register_documents(
                    session, [put(store, f"{tenant} {n}".encode(), f"{tenant}-{n}.txt")])
                doc.embedding_model = MODEL
                vectors[doc.id] = topics[n]
    vectors[GONE] = topics[0]
    return vectors


def tenant_of(store: Store) -> dict[str, str]:
    from docflow.store.models import Document

    with store.db.read() as session:
        return dict(session.query(Document.id, Document.tenant_id).all())


def found_by(reader: VectorIndex, tenant: str, query: np.ndarray) -> set[str]:
    with tenant_scope(tenant):
        return {n.document_id for n in reader.search(query, limit=10,
                                                     min_similarity=-1.0).neighbours}


def assert_upgraded(reader: VectorIndex, store: Store, vectors: dict[str, np.ndarray]) -> None:
    tenants = tenant_of(store)
    for tenant in ("acme", "globex"):
        own = {i for i, t in tenants.items() if t == tenant}
        for query in vectors.values():
            assert found_by(reader, tenant, query) == own
        with tenant_scope(tenant):
            assert reader.count() == 3
    assert reader.count() == 6  # the document gone from the store was dropped


def test_a_usearch_catalog_from_before_tenants_is_upgraded_by_the_housekeeper(
        store: Store, tmp_path: Path) -> None:
    vectors = documents_of_two_tenants(store)
    folder = tmp_path / "vectors"
    folder.mkdir()
    catalog = sqlite3.connect(folder / vectors_usearch.CATALOG)
    catalog.executescript(OLD_CATALOG)
    catalog.executemany("INSERT INTO settings VALUES (?, ?)", [
        ("model", MODEL), ("dimension", str(DIM)), ("graph", "graph-3.usearch")])
    graph = Index(ndim=DIM, metric="ip", dtype="f16")
    for key, (ident, vector) in enumerate(vectors.items(), start=1):
        catalog.execute("INSERT INTO passages (key, document_id, doc_type, batch_id, vector, "
                        "in_graph) VALUES (?, ?, 'letter', NULL, ?, 1)",
                        (key, ident, vector.astype("<f2").tobytes()))
        graph.add(key, vector)
    graph.save(str(folder / "graph-3.usearch"))
    catalog.commit()
    catalog.close()

    reader = open_vectors("usearch", folder, writer=False, model=MODEL, dimension=DIM)
    with pytest.raises(VectorIndexError, match="older docflow"):
        found_by(reader, "acme", vectors[GONE])  # never every tenant's passages for one
    writer = open_vectors("usearch", folder, writer=True, model=MODEL, dimension=DIM)
    assert writer.lacks_tenants  # type: ignore[attr-defined]
    with pytest.raises(VectorIndexError):  # nothing added without a tenant meanwhile
        writer.index([])
    with pytest.raises(VectorIndexError):
        found_by(reader, "acme", vectors[GONE])  # the columns alone are no upgrade

    assert upgrade_vector_tenants(store, writer) == 6  # what the housekeeper does at start
    assert_upgraded(reader, store, vectors)
    assert sorted(p.name for p in folder.glob("graph-*.usearch")) == [
        "graph-4.usearch", "graph-5.usearch"]  # one per tenant; the old one is gone
    assert upgrade_vector_tenants(store, writer) == 0
    writer.close()
    again = open_vectors("usearch", folder, writer=True, model=MODEL, dimension=DIM)
    assert not again.lacks_tenants  # type: ignore[attr-defined]
    again.close()
    reader.close()


@pytest.fixture
def pgvector_store(settings: Settings, pgvector_url: str) -> Iterator[Store]:
    """The store in the PostgreSQL that has pgvector: the vector table sits beside it."""
    empty_postgres(pgvector_url)
    settings.database_url = pgvector_url
    store = open_store(settings, migrate=True)
    yield store
    store.db.dispose()


@pytest.mark.postgres
def test_a_pgvector_table_from_before_tenants_is_upgraded_by_its_writer(
        pgvector_store: Store, pgvector_url: str) -> None:
    vectors = documents_of_two_tenants(pgvector_store)
    engine = create_engine(pgvector_url)
    with engine.begin() as conn:  # the table as docflow made it before tenants
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        conn.execute(text(
            "CREATE TABLE passage_vectors (id bigserial PRIMARY KEY, document_id varchar(32) "
            "NOT NULL, model varchar(100) NOT NULL, doc_type varchar(100), batch_id varchar(32),"
            f" embedding vector({DIM}) NOT NULL)"))
        conn.execute(text("CREATE INDEX ix_passage_vectors_document ON passage_vectors "
                          "(document_id)"))
        conn.execute(text("CREATE INDEX ix_passage_vectors_hnsw ON passage_vectors USING hnsw "
                          "(embedding vector_ip_ops)"))
        for ident, vector in vectors.items():
            conn.execute(text("INSERT INTO passage_vectors (document_id, model, doc_type, "
                              "embedding) VALUES (:d, :m, 'letter', CAST(:e AS vector))"),
                         {"d": ident, "m": MODEL, "e": vectors_pgvector._literal(vector)})
    engine.dispose()

    reader = open_vectors("pgvector", Path("."), writer=False, model=MODEL, dimension=DIM,
                          database_url=pgvector_url)
    with pytest.raises(VectorIndexError, match="older docflow"):
        found_by(reader, "acme", vectors[GONE])
    writer = open_vectors("pgvector", Path("."), writer=True, model=MODEL, dimension=DIM,
                          database_url=pgvector_url)
    assert not writer.created  # type: ignore[attr-defined]  # upgraded, not made anew
    assert_upgraded(reader, pgvector_store, vectors)
    writer.close()
    again = open_vectors("pgvector", Path("."), writer=True, model=MODEL, dimension=DIM,
                         database_url=pgvector_url)  # upgraded once: opens as it is
    assert_upgraded(reader, pgvector_store, vectors)
    again.close()
    reader.close()
