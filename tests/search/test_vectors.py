"""The embedded vector index (usearch graph + catalog): the right neighbours, with filters,
seen by a reader process's handle as soon as the writer returns, before and after the graph
switch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from docflow.search import vectors_usearch
from docflow.search.vectors import VectorDocument, best_per_document, open_vectors

DIM = 32
MODEL = "test-model"


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def corpus(count: int, seed: int = 0) -> list[VectorDocument]:
    """`count` documents of 1-5 passages each, around 40 topics; types and batches alternate."""
    rng = np.random.default_rng(seed)
    topics = unit(rng.standard_normal((40, DIM)))
    docs = []
    for n in range(count):
        parts = rng.integers(1, 6)
        vectors = unit(topics[rng.integers(0, 40, parts)] + 0.4 * rng.standard_normal(
            (parts, DIM)))
        docs.append(VectorDocument(f"doc{n:05d}", ("invoice", "contract", "letter")[n % 3],
                                   f"batch{n % 7}", vectors))
    return docs


def exact(docs: list[VectorDocument], query: np.ndarray, limit: int, doc_type: str | None = None,
          batch_id: str | None = None) -> list[str]:
    chosen = [d for d in docs if (doc_type is None or d.doc_type == doc_type)
              and (batch_id is None or d.batch_id == batch_id)]
    ids = [d.id for d in chosen for _ in d.vectors]
    scores = np.concatenate([d.vectors @ query for d in chosen])
    return [n.document_id for n in best_per_document(ids, scores, limit, -1.0).neighbours]


def exact_scores(docs: list[VectorDocument], query: np.ndarray, limit: int,
                 doc_type: str, batch_id: str) -> list[float]:
    chosen = [d for d in docs if d.doc_type == doc_type and d.batch_id == batch_id]
    return sorted((float((d.vectors @ query).max()) for d in chosen), reverse=True)[:limit]


def recall(found: list[str], truth: list[str]) -> float:
    return len(set(found) & set(truth)) / len(truth)


@pytest.fixture
def small_exact_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Filters below 50 passages are answered exactly; wider ones go through the graph."""
    monkeypatch.setattr(vectors_usearch, "EXACT_BELOW", 50)


def test_nearest_documents_with_and_without_filters_match_brute_force(
        tmp_path: Path, small_exact_bound: None) -> None:
    docs = corpus(3000)
    writer = open_vectors("usearch", tmp_path / "vectors", writer=True, model=MODEL,
                          dimension=DIM)
    assert isinstance(writer, vectors_usearch.UsearchVectors)
    writer.recent_limit = 1000  # the graph takes the first ~2,000 passages, the rest wait
    for start in range(0, len(docs), 250):
        writer.index(docs[start : start + 250])
    reader = open_vectors("usearch", tmp_path / "vectors", writer=False, model=MODEL,
                          dimension=DIM)
    assert reader.count() == 3000
    rng = np.random.default_rng(1)
    scores = {"all": [], "type": [], "type+batch": []}
    for _ in range(30):
        query = unit(rng.standard_normal(DIM))
        found = reader.search(query, limit=10, min_similarity=-1.0)
        scores["all"].append(recall([n.document_id for n in found.neighbours],
                                    exact(docs, query, 10)))
        found = reader.search(query, doc_type="contract", limit=10, min_similarity=-1.0)
        assert {n.document_id for n in found.neighbours} <= {
            d.id for d in docs if d.doc_type == "contract"}
        scores["type"].append(recall([n.document_id for n in found.neighbours],
                                     exact(docs, query, 10, doc_type="contract")))
        # ~140 documents: above the exact bound set here, so through the graph as well.
        found = reader.search(query, doc_type="letter", batch_id="batch3", limit=10,
                              min_similarity=-1.0)
        assert {n.document_id for n in found.neighbours} <= {
            d.id for d in docs if d.doc_type == "letter" and d.batch_id == "batch3"}
        scores["type+batch"].append(recall([n.document_id for n in found.neighbours],
                                           exact(docs, query, 10, doc_type="letter",
                                                 batch_id="batch3")))
    assert np.mean(scores["all"]) >= 0.95
    assert np.mean(scores["type"]) >= 0.95
    assert np.mean(scores["type+batch"]) >= 0.95
    writer.close()
    reader.close()


def test_a_reader_sees_new_replaced_and_deleted_documents_as_the_writer_returns(
        tmp_path: Path) -> None:
    docs = corpus(400)
    writer = vectors_usearch.UsearchVectors(tmp_path, writer=True, model=MODEL, dimension=DIM,
                                            recent_limit=500)
    writer.index(docs[:300])  # over 500 passages: these went into the graph
    reader = vectors_usearch.UsearchVectors(tmp_path, writer=False, model=MODEL, dimension=DIM)
    target = docs[10].vectors[0]
    assert reader.search(target, limit=1).neighbours[0].document_id == "doc00010"

    writer.index(docs[300:])  # waiting beside the graph, searched exactly
    assert reader.search(docs[350].vectors[0], limit=1).neighbours[0].document_id == "doc00350"

    # doc00010 now says something else; doc00350 is gone.
    other = unit(np.ones(DIM))
    writer.index([VectorDocument("doc00010", "letter", "batch0", other[None, :])])
    writer.delete(["doc00350"])
    assert reader.search(target, limit=5).neighbours[0].document_id != "doc00010"
    assert "doc00350" not in [n.document_id for n in reader.search(
        docs[350].vectors[0], limit=5).neighbours]
    assert reader.search(other, limit=1).neighbours[0].document_id == "doc00010"

    writer.flush()  # the graph switches: the reader maps the new file and still agrees
    assert reader.search(other, limit=1).neighbours[0].document_id == "doc00010"
    assert "doc00350" not in [n.document_id for n in reader.search(
        docs[350].vectors[0], limit=5).neighbours]
    assert sorted(p.name for p in tmp_path.glob("graph-*.usearch")) == ["graph-2.usearch"]
    assert reader.count() == 399


def test_an_index_of_another_model_is_refused(tmp_path: Path) -> None:
    vectors_usearch.UsearchVectors(tmp_path, writer=True, model=MODEL, dimension=DIM).close()
    with pytest.raises(vectors_usearch.VectorIndexError, match="reindex"):
        vectors_usearch.UsearchVectors(tmp_path, writer=True, model="other", dimension=DIM)


def test_the_query_encoder_loads_after_the_vector_index_in_one_process() -> None:
    """usearch's compiled module, loaded before onnxruntime, made onnxruntime's import crash
    the process (SIGSEGV): an API process opens the vector index before the encoder."""
    code = ("import docflow.search.vectors_usearch, onnxruntime, numpy\n"
            "from usearch.index import Index\n"
            "Index(ndim=4, metric='ip').add(1, numpy.ones(4, dtype=numpy.float32))\n"
            "print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr
