"""Semantic and hybrid search on a server with tenants answer from the vector index (usearch on
SQLite, pgvector on PostgreSQL), each tenant finding its own documents only: never another
tenant's, even its twins with the very same vectors, and never by comparing every stored
vector one by one."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from docflow.api.app import create_app
from docflow.api.state import ApiState
from docflow.config import AuthMode, Settings
from docflow.pipeline.classify.embeddings import ENCODER_VERSION
from docflow.search import open_index
from docflow.search.vectors import open_vector_index
from docflow.store import Document, DocumentStatus, Store, embeddings, open_store
from docflow.store.documents import save_extraction
from docflow.store.embeddings import passages_bytes, vector_bytes
from docflow.store.models import utcnow
from docflow.worker.indexer import index_pending
from tests.conftest import empty_postgres
from tests.tenants.conftest import _client_of


def topic(n: int) -> np.ndarray:
    vector = np.zeros(384, dtype=np.float32)
    vector[n] = 1.0
    return vector


class TopicEncoder:
    """The query encoder, standing in for MiniLM: "topic<n>" is the unit vector along n."""

    version = ENCODER_VERSION

    def embed_one(self, text: str) -> np.ndarray:
        return topic(int(text.removeprefix("topic")))


@pytest.fixture(params=["usearch", pytest.param("pgvector", marks=pytest.mark.postgres)])
def vector_store(request: pytest.FixtureRequest, settings: Settings,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A server requiring credentials, with the vector backend (pgvector: on PostgreSQL with
    its full-text search)."""
    if request.param == "pgvector":
        url = request.getfixturevalue("pgvector_url")
        empty_postgres(url)
        settings.database_url, settings.search = url, "postgres"
    settings.auth, settings.semantic_search = AuthMode.REQUIRED, True
    monkeypatch.setattr(ApiState, "query_encoder", lambda self: TopicEncoder())

    def one_by_one(*args: object, **kwargs: object) -> None:
        raise AssertionError("semantic search compared the stored vectors one by one")

    monkeypatch.setattr(embeddings, "nearest", one_by_one)
    store = open_store(settings, migrate=True)
    yield store
    store.db.dispose()


def test_each_tenant_finds_its_own_documents_through_the_vector_index(
        settings: Settings, vector_store: Store) -> None:
    assert settings.vector_backend in ("usearch", "pgvector")
    with TestClient(create_app(settings, configure_logs=False)) as api:
        clients = {name: _client_of(api, vector_store, name) for name in ("acme", "globex")}
        for name, client in clients.items():
            for n in range(4):
                r = client.post("/api/upload", files={
                    "file": (f"{name}-{n}.txt", f"{name} {n}".encode(), "text/plain")})
                assert r.status_code == 202, r.text
        with vector_store.db.write() as session:  # what the workers do, in short
            for doc in session.query(Document).all():
                n = int(doc.filename[-5])
                save_extraction(session, doc.sha256, format="text", mime_type="text/plain",
                                text=f"quarterly report {doc.filename}", pages=[],
                                page_count=1)
                doc.status, doc.doc_type, doc.finished_at = (DocumentStatus.COMPLETED,
                                                             "letter", utcnow())
                doc.embedding = vector_bytes(topic(n))
                doc.passages = passages_bytes(np.stack([topic(n), topic(n + 100)]))
                doc.embedding_model = ENCODER_VERSION
        index = open_index(settings.search, settings.index_dir, writer=True,
                           database_url=settings.sqlalchemy_url)
        vectors = open_vector_index(settings, writer=True)
        try:
            assert index_pending(vector_store, index, 100, vectors) == 8
        finally:
            index.close()
            vectors.close()  # type: ignore[union-attr]

        ids = {}
        for name, client in clients.items():
            for mode in ("semantic", "hybrid"):
                r = client.get("/api/search", params={"q": "topic102", "mode": mode})
                assert r.status_code == 200, r.text
                hits = r.json()["hits"]
                assert hits[0]["filename"] == f"{name}-2.txt", hits
                assert {h["filename"].split("-")[0] for h in hits} == {name}, hits
            ids[name] = hits[0]["id"]
        # And the other tenant's document itself is not there for it.
        assert clients["acme"].get(f"/api/documents/{ids['globex']}").status_code == 404
        assert clients["globex"].get(f"/api/documents/{ids['acme']}").status_code == 404
