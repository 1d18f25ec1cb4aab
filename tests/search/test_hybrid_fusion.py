"""Hybrid search fuses the keyword and the semantic rankings by their scores, on every keyword
backend: how far apart two documents are counts, not only which is ahead."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from docflow.config import Settings
from docflow.search import SearchDocument, SearchIndex, SearchMode, modes
from docflow.store import documents as docs
from docflow.store import open_store
from docflow.store.embeddings import passages_bytes, vector_bytes
from docflow.store.models import DocumentStatus, utcnow
from tests.conftest import put
from tests.search.test_hybrid_pages import MODEL, QueryVectors, axis

OpenIndex = Callable[..., SearchIndex]


def _library(tmp_path: Path, open_search_index: OpenIndex,
             library: dict[str, tuple[str, np.ndarray, np.ndarray | None]]):
    """Completed documents (text, embedding, passages or None) stored and indexed:
    (store, index, {id: name})."""
    settings = Settings(data_dir=tmp_path)
    settings.ensure_dirs()
    store = open_store(settings, migrate=True)
    names = {}
    with store.db.write() as session:
        for name, (text, vector, passages) in library.items():
            (doc,) = docs.register_documents(session, [put(store, text.encode(), name)])
            docs.save_extraction(session, doc.sha256, format="txt", mime_type="text/plain",
                                 text=text, pages=[text], page_count=1)
            doc.status, doc.finished_at = DocumentStatus.COMPLETED, utcnow()
            doc.embedding, doc.embedding_model = vector_bytes(vector), MODEL
            if passages is not None:
                doc.passages = passages_bytes(passages)
            names[doc.id] = name
    index = open_search_index(writer=True)
    index.index([SearchDocument(doc_id, f"{name}.txt", None, None, library[name][0])
                 for doc_id, name in names.items()])
    return store, index, names


def test_close_by_words_and_far_closest_by_meaning_beats_first_by_words_alone(
        tmp_path: Path, open_search_index: OpenIndex):
    # By words the three are nearly level (a longer text scores a little lower); by meaning
    # "atlas" is the query's own subject and "notes" barely passes the floor. Fused by rank,
    # "notes" (1st + 2nd) beat "atlas" (3rd + 1st); fused by score, "atlas" is far ahead.
    store, index, names = _library(tmp_path, open_search_index, {
        "notes": ("zeta one", axis(0.25, 0.968), None),
        "memo": ("zeta one two", axis(0.0, 1.0), None),
        "atlas": ("zeta one two three", axis(1.0), None),
    })
    found = modes.search(index, store.db, "zeta", SearchMode.HYBRID, limit=3, zero_shot=True,
                         encoder=QueryVectors)

    assert [names[h.id] for h in found.hits] == ["atlas", "notes", "memo"]
    assert all(0.0 <= h.score <= 1.0 for h in found.hits)
    store.db.dispose()


def test_a_long_document_is_judged_by_its_opening_as_well_as_its_closest_passage(
        tmp_path: Path, open_search_index: OpenIndex):
    # Neither holds the word searched for. "report" opens on the query's subject and keeps to
    # it; "digest" has one passage slightly closer, among others about something else.
    report_passages = np.stack([axis(0.8, 0.6), axis(0.8, 0.6)])
    digest_passages = np.stack([axis(0.0, 1.0), axis(0.85, 0.527)])
    store, index, names = _library(tmp_path, open_search_index, {
        "report": ("alpha beta", report_passages[0], report_passages),
        "digest": ("gamma delta", digest_passages[0], digest_passages),
    })
    found = modes.search(index, store.db, "zeta", SearchMode.HYBRID, limit=2, zero_shot=True,
                         encoder=QueryVectors)
    semantic = modes.search(index, store.db, "zeta", SearchMode.SEMANTIC, limit=2,
                            zero_shot=True, encoder=QueryVectors)

    assert [names[h.id] for h in semantic.hits] == ["digest", "report"]  # best passage alone
    assert [names[h.id] for h in found.hits] == ["report", "digest"]
    store.db.dispose()
