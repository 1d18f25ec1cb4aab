"""Stored embeddings and the nearest documents to a query vector, on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest

from docflow.store import Document, DocumentStatus, Store
from docflow.store.batches import create_batch
from docflow.store.embeddings import nearest, vector_bytes, vector_of

MODEL = "test-model/1"


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def _add(store: Store, name: str, vector: np.ndarray | None, *, doc_type: str = "letter",
         batch_id: str | None = None, status: str = DocumentStatus.COMPLETED,
         model: str = MODEL) -> str:
    with store.db.write() as session:
        doc = Document(filename=name, sha256=name.ljust(64, "0"), size=1, status=status,
                       doc_type=doc_type, batch_id=batch_id,
                       embedding=vector_bytes(vector) if vector is not None else None,
                       embedding_model=model if vector is not None else None)
        session.add(doc)
        session.flush()
        return doc.id


def test_a_vector_survives_the_round_trip_bit_for_bit(store: Store) -> None:
    vector = np.random.default_rng(1).normal(size=384).astype(np.float32)
    doc_id = _add(store, "a", vector)
    with store.db.read() as session:
        stored = session.get(Document, doc_id)
        assert len(stored.embedding) == 384 * 4
        np.testing.assert_array_equal(vector_of(stored.embedding), vector)


def test_the_closest_documents_come_first_across_chunks(store: Store) -> None:
    angles = np.linspace(0, np.pi / 2, 7)  # 0 is the query's direction, pi/2 is unrelated
    ids = [_add(store, f"d{n}", _unit(np.cos(a), np.sin(a), 0)) for n, a in enumerate(angles)]
    with store.db.read() as session:
        found = nearest(session, _unit(1, 0, 0), MODEL, limit=3, chunk=2)
        everything = nearest(session, _unit(1, 0, 0), MODEL, limit=10, chunk=2)
        close = nearest(session, _unit(1, 0, 0), MODEL, limit=10, min_similarity=0.5)
    assert [n.document_id for n in found.neighbours] == ids[:3]
    assert found.total == 7 and found.neighbours[0].similarity == pytest.approx(1.0)
    assert [n.document_id for n in everything.neighbours] == ids
    assert close.total == sum(np.cos(angles) >= 0.5) == len(close.neighbours)


def test_filters_other_models_and_unfinished_documents_are_left_out(store: Store) -> None:
    with store.db.write() as session:
        first, second = create_batch(session, "upload").id, create_batch(session, "upload").id
    query = _unit(1, 1, 0)
    invoice = _add(store, "inv", query, doc_type="invoice", batch_id=first)
    letter = _add(store, "let", query, doc_type="letter", batch_id=second)
    _add(store, "queued", query, status=DocumentStatus.QUEUED)
    _add(store, "other-model", query, model="another-model/1")
    _add(store, "no-vector", None)
    with store.db.read() as session:
        def ids(**filters: str) -> list[str]:
            return [n.document_id for n in nearest(session, query, MODEL, **filters).neighbours]

        assert sorted(ids()) == sorted([invoice, letter])
        assert ids(doc_type="invoice") == [invoice]
        assert ids(batch_id=second) == [letter]
        assert ids(doc_type="invoice", batch_id=second) == []
