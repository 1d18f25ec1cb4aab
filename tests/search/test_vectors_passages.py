"""Long documents are embedded passage by passage: a contract is found by what it says far
into it, through the real worker task, the indexer writing the vector index, and the API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from docflow.api.app import create_app
from docflow.config import Settings
from docflow.pipeline.classify.embeddings import SentenceEncoder
from docflow.search import SearchMode, modes, open_index
from docflow.search.vectors import open_vector_index
from docflow.store import Document, open_store
from docflow.store import documents as docs
from docflow.store.embeddings import searchable_vectors, vector_of
from docflow.worker import runtime as runtime_module
from docflow.worker import tasks
from docflow.worker.classifier import ClassifierCache
from docflow.worker.indexer import index_pending
from tests.conftest import put

BOILERPLATE = ("The parties agree that this agreement is governed by the laws of the state and "
               "that each clause shall be read in good faith by both parties to the contract. ")
FAR_IN = ("Section 40. The landlord shall repair the leaking roof of the warehouse and replace "
          "the broken gutters before the winter storms arrive. ")
QUERY = "who fixes the roof leak of the storage building"


def test_encoder_cuts_a_long_text_into_overlapping_passages(minilm_dir: Path) -> None:
    encoder = SentenceEncoder(minilm_dir)
    short = "A short note about a garage invoice."
    whole = encoder.embed_one(short)
    np.testing.assert_allclose(encoder.embed_passages(short)[0], whole, atol=1e-5)
    assert encoder.embed_passages("   ").shape == (0, 384)
    long_text = BOILERPLATE * 200 + FAR_IN + BOILERPLATE * 10
    passages = encoder.embed_passages(long_text)
    assert 40 < len(passages) <= 64  # ~6,000 tokens: capped, spread to the end
    assert np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-4)
    query = encoder.embed_one(QUERY)
    whole = encoder.embed_one(long_text)
    reused = encoder.embed_passages(long_text, whole=whole)  # the worker's way: one run fewer
    assert len(reused) == len(passages) and np.array_equal(reused[0], whole)
    assert abs((reused @ query).max() - (passages @ query).max()) < 0.05
    first_lines = float(whole @ query)
    assert (passages @ query).max() > max(0.25, first_lines + 0.15), first_lines


def test_semantic_search_and_hybrid_by_default_for_a_new_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DOCFLOW_SEMANTIC_SEARCH", "DOCFLOW_ZERO_SHOT", "DOCFLOW_SEARCH"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.semantic_search and not settings.zero_shot and settings.makes_embeddings
    assert modes.default_mode(settings.makes_embeddings) is SearchMode.HYBRID
    assert modes.default_mode(False) is SearchMode.KEYWORD


@pytest.mark.parametrize("switch", ["DOCFLOW_SEMANTIC_SEARCH", "DOCFLOW_ZERO_SHOT"])
def test_a_contract_is_found_by_a_passage_far_into_it(
        minilm_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, switch: str) -> None:
    for name in ("DOCFLOW_BROKER_URL", "DOCFLOW_DATABASE_URL", "DOCFLOW_ZERO_SHOT",
                 "DOCFLOW_SEARCH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DOCFLOW_SEMANTIC_SEARCH", "false")
    monkeypatch.setenv(switch, "true")
    settings = Settings()
    models = settings.resolved_data_dir / "models"
    models.mkdir(parents=True)
    (models / "embeddings").symlink_to(minilm_dir)
    runtime_module._current = None
    monkeypatch.setattr(tasks, "classifiers", ClassifierCache(refresh_seconds=0))
    store = open_store(settings, migrate=True)
    texts = {"lease.txt": BOILERPLATE * 120 + FAR_IN + BOILERPLATE * 5,
             "recipe.txt": "Whisk four eggs with sugar and bake the sponge for half an hour.",
             "match.txt": "The striker missed a penalty and the final ended goalless."}
    with store.db.write() as session:
        ids = {}
        for name, body in texts.items():
            (doc,) = docs.register_documents(session, [put(store, body.encode(), name)])
            ids[name] = doc.id
    for doc_id in ids.values():
        assert tasks.process_document(doc_id) == "processed"
    with store.db.read() as session:
        lease = session.get(Document, ids["lease.txt"])
        deciders = {session.get(Document, i).classifier for i in ids.values()}
        if switch == "DOCFLOW_SEMANTIC_SEARCH":  # embedded for search: types are not guessed
            assert "zero_shot" not in deciders
        vectors = searchable_vectors(lease.embedding, lease.passages)
        assert len(vectors) > 20 and lease.embedding_model == "all-MiniLM-L6-v2/onnx-1"
        first_window = vector_of(lease.embedding)
    query = SentenceEncoder(minilm_dir).embed_one(QUERY)
    assert float(first_window @ query) < 0.2  # the first lines alone would never find it

    vector_index = open_vector_index(settings, writer=True)
    assert vector_index is not None
    with open_index(settings.search, settings.index_dir, writer=True,
                    database_url=settings.sqlalchemy_url) as index:
        assert index_pending(store, index, 100, vector_index) == 3
    assert vector_index.count() == 3
    with TestClient(create_app(settings, configure_logs=False)) as client:
        reply = client.get("/api/search", params={"q": QUERY, "mode": "semantic"})
        default = client.get("/api/search", params={"q": QUERY}).json()
    assert reply.status_code == 200, reply.text
    hits = reply.json()["hits"]
    assert default["mode"] == "hybrid" and default["hits"][0]["id"] == ids["lease.txt"]
    assert [h["id"] for h in hits][:1] == [ids["lease.txt"]]
    assert hits[0]["score"] == pytest.approx(float((vectors @ query).max()), abs=0.01)
    vector_index.close()
    store.db.dispose()
    runtime_module._current = None
