"""`docflow reindex`: a rebuild beside the live indexes, interrupted and resumed from its
checkpoint, while search keeps answering from the old indexes until the swap."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from docflow.config import Settings
from docflow.pipeline.classify.embeddings import ENCODER_VERSION
from docflow.search import SearchDocument, open_index
from docflow.search.reindex import (
    Checkpoint,
    adopt_rebuilt,
    backfill_new_vector_index,
    rebuild,
)
from docflow.search.vectors import open_vector_index
from docflow.store import Document, Store, open_store
from docflow.store import documents as docs
from docflow.store.embeddings import passages_bytes, vector_bytes
from docflow.store.models import DocumentStatus, utcnow
from docflow.worker.indexer import index_pending
from tests.conftest import put

COUNT = 30


def topic_vector(n: int) -> np.ndarray:
    vector = np.zeros(384, dtype=np.float32)
    vector[n] = 1.0
    return vector


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, Store, dict]:
    """COUNT completed documents ("word<n>", a vector along axis n); the live indexes hold the
    first 20 only, as if damaged or made before passages existed."""
    for name in ("DOCFLOW_BROKER_URL", "DOCFLOW_DATABASE_URL", "DOCFLOW_SEARCH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DOCFLOW_ZERO_SHOT", "true")
    settings = Settings()
    settings.ensure_dirs()
    store = open_store(settings, migrate=True)
    ids = {}
    with store.db.write() as session:
        for n in range(COUNT):
            text = f"document number word{n} of the library"
            (doc,) = docs.register_documents(session, [put(store, text.encode(), f"d{n}.txt")])
            docs.save_extraction(session, doc.sha256, format="txt", mime_type="text/plain",
                                 text=text, pages=[text], page_count=1)
            doc.status = DocumentStatus.COMPLETED
            doc.finished_at = utcnow()
            doc.embedding = vector_bytes(topic_vector(n))
            doc.passages = passages_bytes(np.stack([topic_vector(n), topic_vector(n + 100)]))
            doc.embedding_model = ENCODER_VERSION
            ids[n] = doc.id
    live = open_index(settings.search, settings.index_dir, writer=True)
    vectors = open_vector_index(settings, writer=True)
    assert index_pending(store, live, 20, vectors) == 20
    with store.db.write() as session:  # the rest counts as indexed but is not
        session.execute(update(Document).values(indexed=True))
    live.close()
    vectors.close()
    return settings, store, ids


def found(settings: Settings, keyword, vectors, n: int) -> tuple[bool, bool]:
    """Whether document n is found by its word, and by its passage vector."""
    by_word = keyword.search(f"word{n}").total == 1
    near = vectors.search(topic_vector(n + 100), limit=1, min_similarity=0.5).neighbours
    return by_word, bool(near)


def test_an_interrupted_rebuild_resumes_and_search_answers_from_the_old_index_meanwhile(
        library: tuple[Settings, Store, dict]) -> None:
    settings, store, ids = library
    keyword = open_index(settings.search, settings.index_dir, writer=False)
    vectors = open_vector_index(settings, writer=False)
    assert found(settings, keyword, vectors, 5) == (True, True)
    assert found(settings, keyword, vectors, 25) == (False, False)  # what the rebuild fixes

    chunks = []
    checkpoint = rebuild(settings, store, chunk=7, progress=lambda done, total:
                         chunks.append((done, total)), stop=lambda: len(chunks) == 2)
    assert not checkpoint.built and checkpoint.done == 14 and chunks == [(7, 30), (14, 30)]
    assert Checkpoint.read(settings).after_id == sorted(ids.values())[13]
    # The old indexes still answer, unchanged.
    assert found(settings, keyword, vectors, 5) == (True, True)
    assert found(settings, keyword, vectors, 25) == (False, False)

    chunks.clear()
    checkpoint = rebuild(settings, store, chunk=7, progress=lambda done, total:
                         chunks.append((done, total)))  # resumed: the rest only
    assert checkpoint.built and checkpoint.done == 30
    assert chunks == [(21, 30), (28, 30), (30, 30)]
    assert found(settings, keyword, vectors, 25) == (False, False)  # not swapped in yet

    # A document finishing while the rebuild ran is indexed again after the swap.
    with store.db.write() as session:
        session.get(Document, ids[3]).finished_at = utcnow()
    writer = open_index(settings.search, settings.index_dir, writer=True)
    writer, vector_writer = adopt_rebuilt(settings, store, writer, None)
    assert Checkpoint.read(settings) is None
    with store.db.read() as session:
        assert not session.get(Document, ids[3]).indexed
        assert session.get(Document, ids[4]).indexed
    # Readers opened before the swap now answer from the new indexes.
    for n in (5, 25, 29):
        assert found(settings, keyword, vectors, n) == (True, True), n
    assert keyword.count() == COUNT and vectors.count() == COUNT
    assert not list(settings.resolved_data_dir.glob("*.next"))
    assert not list(settings.resolved_data_dir.glob("*.old-*"))
    writer.close()
    keyword.close()
    vectors.close()


def test_the_reindex_command_rebuilds_and_swaps_when_no_housekeeper_runs(
        library: tuple[Settings, Store, dict]) -> None:
    from docflow.cli import app

    settings, _store, _ids = library
    result = CliRunner().invoke(app, ["reindex", "--chunk", "8"])
    assert result.exit_code == 0, result.output
    assert "30 documents indexed; the new indexes are live" in result.output
    keyword = open_index(settings.search, settings.index_dir, writer=False)
    vectors = open_vector_index(settings, writer=False)
    assert found(settings, keyword, vectors, 25) == (True, True)
    keyword.close()
    vectors.close()


def test_a_new_vector_index_takes_in_the_documents_embedded_before_it(
        library: tuple[Settings, Store, dict]) -> None:
    """An upgrade: documents kept their embeddings, but there was no vector index yet."""
    settings, store, _ids = library
    shutil.rmtree(settings.vector_dir)
    vectors = open_vector_index(settings, writer=True)
    assert backfill_new_vector_index(store, vectors) == COUNT
    keyword = open_index(settings.search, settings.index_dir, writer=True)
    while index_pending(store, keyword, 8, vectors):
        pass
    assert vectors.count() == COUNT
    keyword.close()
    vectors.close()
    again = open_vector_index(settings, writer=True)  # made before: nothing to take in
    assert backfill_new_vector_index(store, again) == 0
    again.close()


def test_the_housekeeper_swaps_a_finished_rebuild_in_and_keeps_indexing(
        library: tuple[Settings, Store, dict]) -> None:
    import threading
    import time

    from docflow.worker.housekeeper import run_housekeeper

    settings, store, ids = library
    assert rebuild(settings, store, chunk=50).built  # as `docflow reindex` leaves it
    with store.db.write() as session:  # a document completing while the housekeeper runs
        session.get(Document, ids[29]).indexed = False
    keyword = open_index(settings.search, settings.index_dir, writer=False)
    vectors = open_vector_index(settings, writer=False)
    assert found(settings, keyword, vectors, 25) == (False, False)
    stop = threading.Event()
    housekeeper = threading.Thread(target=run_housekeeper, args=(settings, stop))
    housekeeper.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with store.db.read() as session:
                pending = session.get(Document, ids[29]).indexed is False
            if Checkpoint.read(settings) is None and not pending:
                break
            stop.wait(0.05)
        assert Checkpoint.read(settings) is None
        for n in (25, 29):
            assert found(settings, keyword, vectors, n) == (True, True), n
    finally:
        stop.set()
        housekeeper.join(30)
        keyword.close()
        vectors.close()


def _index_before_stemming(path: Path, texts: dict[str, str]) -> None:
    """The tantivy index docflow made before its words were stemmed (default tokenizer)."""
    import tantivy

    from tests.search.test_outdated_index import _old_schema  # the same schema: no tenants yet

    path.mkdir(parents=True)
    index = tantivy.Index(_old_schema(), str(path))
    writer = index.writer(15_000_000, 1)
    for doc_id, text in texts.items():
        writer.add_document(tantivy.Document(id=doc_id, filename=f"{doc_id}.txt", text=text))
    writer.commit()
    writer.wait_merging_threads()


def test_an_index_from_before_stemming_answers_until_a_reindex_rebuilds_it(
        library: tuple[Settings, Store, dict], caplog: pytest.LogCaptureFixture) -> None:
    settings, store, ids = library
    shutil.rmtree(settings.index_dir)
    _index_before_stemming(settings.index_dir, {ids[n]: f"document number word{n} of the "
                                                        "library" for n in range(20)})
    # It opens (the indexer and the API alike), says it is outdated and how to rebuild it...
    live = open_index(settings.search, settings.index_dir, writer=True)
    reader = open_index(settings.search, settings.index_dir, writer=False)
    for handle in (live, reader):
        assert handle.outdated  # type: ignore[attr-defined]
    assert "docflow reindex" in caplog.text
    # ...and answers as it did: words as written, not stemmed.
    live.index([SearchDocument(ids[20], "d20.txt", None, None, "document word20")])
    assert reader.search("word20").total == 1
    assert reader.search("documents").total == 0

    assert rebuild(settings, store, chunk=50).built
    live, _ = adopt_rebuilt(settings, store, live, None)

    assert reader.search("documents").total == COUNT  # stemmed: "documents" finds "document"
    assert not live.outdated and not reader.outdated  # type: ignore[union-attr, attr-defined]
    live.close()  # type: ignore[union-attr]
    reader.close()
