"""The PostgreSQL vector index: pgvector's HNSW with filters (on a PostgreSQL that has the
extension: tests/conftest.py `pgvector_url`), and the logged fallback to exact search where
pgvector cannot be used (a user who may not create the extension)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import pytest

from docflow.search import vectors_pgvector
from docflow.search.vectors import VectorDocument, VectorIndexError, open_vectors
from tests.conftest import empty_postgres
from tests.search.test_vectors import DIM, MODEL, corpus, exact, recall, unit

pytestmark = pytest.mark.postgres


def test_hnsw_finds_the_nearest_documents_with_filters(pgvector_url: str) -> None:
    empty_postgres(pgvector_url)
    docs = corpus(1500)
    writer = open_vectors("pgvector", Path("."), writer=True, model=MODEL, dimension=DIM,
                          database_url=pgvector_url)
    assert isinstance(writer, vectors_pgvector.PgvectorIndex)
    for start in range(0, len(docs), 500):
        writer.index(docs[start : start + 500])
    reader = open_vectors("pgvector", Path("."), writer=False, model=MODEL, dimension=DIM,
                          database_url=pgvector_url)
    assert reader.count() == 1500
    rng = np.random.default_rng(3)
    scores: dict[str, list[float]] = {"all": [], "type": [], "type+batch": []}
    for _ in range(20):
        query = unit(rng.standard_normal(DIM))
        for key, filters in (("all", {}), ("type", {"doc_type": "contract"}),
                             ("type+batch", {"doc_type": "letter", "batch_id": "batch3"})):
            found = reader.search(query, limit=10, min_similarity=-1.0, **filters)
            allowed = {d.id for d in docs if all(getattr(d, k) == v for k, v in filters.items())}
            assert {n.document_id for n in found.neighbours} <= allowed
            assert len(found.neighbours) == 10  # the filter never starves the answer
            scores[key].append(recall([n.document_id for n in found.neighbours],
                                      exact(docs, query, 10, **filters)))
    assert {key: np.mean(values) >= 0.95 for key, values in scores.items()} == {
        "all": True, "type": True, "type+batch": True}, scores

    # Replaced and deleted documents are seen at once by the reader.
    other = unit(np.ones(DIM))
    writer.index([VectorDocument("doc00010", "letter", "batch0", other[None, :])])
    writer.delete(["doc00020"])
    assert reader.search(other, limit=1).neighbours[0].document_id == "doc00010"
    assert "doc00020" not in [n.document_id for n in reader.search(
        docs[20].vectors[0], limit=5, min_similarity=-1.0).neighbours]
    assert reader.count() == 1499
    writer.close()
    reader.close()


@pytest.fixture
def without_pgvector(postgres_url: str) -> str:
    """The test database, as a user who may not create extensions: pgvector cannot be used
    there whether or not the server has it (scripts/ensure-pgvector.sh may have built it)."""
    import psycopg

    plain = "docflow_no_extensions"
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("DROP EXTENSION IF EXISTS vector CASCADE")
        with contextlib.suppress(psycopg.errors.DuplicateObject):  # made by another run
            conn.execute(f'CREATE ROLE "{plain}" LOGIN NOSUPERUSER')
    return postgres_url.replace("postgres@", f"{plain}@", 1)


def test_without_pgvector_the_index_says_so_once_and_search_falls_back(
        without_pgvector: str, caplog: pytest.LogCaptureFixture) -> None:
    postgres_url = without_pgvector
    vectors_pgvector._missing_logged.clear()
    with caplog.at_level(logging.WARNING, logger="docflow.search.vectors_pgvector"):
        first = open_vectors("pgvector", Path("."), writer=True, model=MODEL, dimension=DIM,
                             database_url=postgres_url)
        second = open_vectors("pgvector", Path("."), writer=False, model=MODEL, dimension=DIM,
                              database_url=postgres_url)
    assert isinstance(first, vectors_pgvector.MissingPgvector)
    assert [r.message for r in caplog.records].count(vectors_pgvector.MISSING) == 1
    first.index(corpus(3))  # accepted, nothing to do
    with pytest.raises(VectorIndexError, match="CREATE EXTENSION vector"):
        second.search(unit(np.ones(DIM)))
    first.close()
    second.close()
