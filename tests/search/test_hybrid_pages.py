"""Hybrid search pages: the fused order does not depend on the page size, so walking the pages
shows every hit once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from docflow.config import Settings
from docflow.search import SearchDocument, SearchMode, modes, open_index
from docflow.store import documents as docs
from docflow.store import open_store
from docflow.store.embeddings import vector_bytes
from docflow.store.models import DocumentStatus, utcnow
from tests.conftest import put

MODEL = "test-vectors"


def axis(*weights: float) -> np.ndarray:
    vector = np.zeros(384, dtype=np.float32)
    vector[:len(weights)] = weights
    return vector / np.linalg.norm(vector)


class QueryVectors:
    """Stands in for the embedding model: the query means axis 0."""

    version = MODEL

    def embed_one(self, text: str) -> np.ndarray:
        return axis(1.0)


def test_walking_hybrid_pages_one_by_one_shows_the_first_page_in_order(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    settings.ensure_dirs()
    store = open_store(settings, migrate=True)
    # "by-words": the keyword ranking's first; "by-meaning": the semantic ranking's first;
    # "both": second in each, so fused it is first.
    library = {"by-words": ("zeta zeta zeta", axis(0.0, 1.0)),
               "both": ("zeta, and other words about it", axis(1.0, 1.0)),
               "by-meaning": ("nothing of the sort", axis(1.0))}
    ids = {}
    with store.db.write() as session:
        for name, (text, vector) in library.items():
            (doc,) = docs.register_documents(session, [put(store, text.encode(), name)])
            docs.save_extraction(session, doc.sha256, format="txt", mime_type="text/plain",
                                 text=text, pages=[text], page_count=1)
            doc.status, doc.finished_at = DocumentStatus.COMPLETED, utcnow()
            doc.embedding, doc.embedding_model = vector_bytes(vector), MODEL
            ids[doc.id] = name
    index = open_index("tantivy", settings.index_dir, writer=True)
    index.index([SearchDocument(doc_id, name, None, None, library[name][0])
                 for doc_id, name in ids.items()])

    def page(limit: int, offset: int = 0) -> list[str]:
        found = modes.search(index, store.db, "zeta", SearchMode.HYBRID, limit=limit,
                             offset=offset, zero_shot=True, encoder=QueryVectors)
        return [ids[hit.id] for hit in found.hits]

    whole = page(3)
    assert whole[0] == "both"
    assert [name for offset in range(3) for name in page(1, offset)] == whole
    index.close()
    store.db.dispose()
