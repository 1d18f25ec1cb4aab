"""A tantivy index written by an older docflow (no tenant, path or date per document) keeps
answering plain searches, refuses what it cannot answer, and is rebuilt in the background and
swapped in, after which every reader answers the new filters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tantivy
from sqlalchemy import insert, update

from docflow.config import Settings
from docflow.search import IndexOutdated, SearchFilters, SearchSort, open_index
from docflow.search.reindex import Checkpoint, adopt_rebuilt, rebuild_outdated
from docflow.store import Document, DocumentStatus, Extraction, Store
from docflow.store.scope import tenant_scope
from docflow.worker.indexer import index_pending

PATHS = ["2019/a.txt", "2019/q1/b.txt", "2020/c.txt"]


def _old_schema() -> tantivy.Schema:
    """The schema docflow wrote before search filters and tenants."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("filename", stored=True)
    builder.add_text_field("doc_type", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("batch_id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("text", stored=True, index_option="position")
    return builder.build()


def _write_old_index(path: Path, ids: list[str]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(_old_schema(), str(path))
    writer = index.writer(50_000_000, 1)
    for doc_id, source in zip(ids, PATHS, strict=True):
        writer.add_document(tantivy.Document(id=doc_id, filename=source.rsplit("/")[-1],
                                             doc_type="letter", text="a quarterly report"))
    writer.commit()
    writer.wait_merging_threads()


@pytest.fixture
def upgraded(settings: Settings, store: Store) -> list[str]:
    """Three completed documents, indexed long ago into an index of the old schema."""
    ids = [uuid.uuid4().hex for _ in PATHS]
    with store.db.write() as session:
        session.execute(insert(Extraction), [
            {"sha256": i * 2, "format": "text", "mime_type": "text/plain", "pages": [],
             "page_count": 1, "text": "a quarterly report"} for i in ids])
        session.execute(insert(Document), [
            {"id": i, "filename": p.rsplit("/")[-1], "source_path": p, "sha256": i * 2,
             "size": 20, "status": DocumentStatus.COMPLETED, "doc_type": "letter",
             "indexed": True, "finished_at": datetime(2020, 1, 1, tzinfo=UTC)}
            for i, p in zip(ids, PATHS, strict=True)])
    _write_old_index(settings.index_dir, ids)
    return ids


def test_an_old_index_answers_plain_searches_and_refuses_the_rest(
        settings: Settings, upgraded: list[str]) -> None:
    reader = open_index("tantivy", settings.index_dir, writer=False)
    try:
        assert not reader.keeps_tenants
        plain = reader.search("report", facets=True)
        assert (plain.total, plain.doc_types) == (3, {"letter": 3})
        for asked in ({"filters": SearchFilters(path_prefix="2019/")},
                      {"sort": SearchSort.DATE}):
            with pytest.raises(IndexOutdated, match="being rebuilt"):
                reader.search("report", **asked)
        with tenant_scope("acme"), pytest.raises(IndexOutdated):
            reader.search("report")  # it could not tell acme's documents apart
    finally:
        reader.close()


def test_the_housekeeper_keeps_an_old_index_live_and_rebuilds_it_in_the_background(
        settings: Settings, store: Store, upgraded: list[str]) -> None:
    reader = open_index("tantivy", settings.index_dir, writer=False)
    writer = open_index("tantivy", settings.index_dir, writer=True)  # used to fail: schema
    try:
        assert writer.outdated and not reader.keeps_tenants
        late = upgraded[-1]
        with store.db.write() as session:  # a document finished again: indexed the old way
            session.execute(update(Document).where(Document.id == late).values(
                indexed=False, finished_at=datetime.now(UTC)))
        assert index_pending(store, writer, 10) == 1
        assert reader.search("report").total == 3

        rebuilding = rebuild_outdated(settings, store, writer, stop=lambda: False)
        assert rebuilding is not None
        rebuilding.join(timeout=120)
        checkpoint = Checkpoint.read(settings)
        assert checkpoint is not None and checkpoint.built and not checkpoint.vectors

        writer, _ = adopt_rebuilt(settings, store, writer, None)
        assert not writer.outdated  # type: ignore[union-attr]
        assert writer.search("report").total == 3  # type: ignore[union-attr]
        assert reader.keeps_tenants  # notices the swap (a stat of meta.json)
        in_folder = reader.search("report", filters=SearchFilters(path_prefix="2019/"))
        assert sorted(h.id for h in in_folder.hits) == sorted(upgraded[:2])
        with tenant_scope("acme"):
            assert reader.search("report").total == 0
        assert rebuild_outdated(settings, store, writer, stop=lambda: False) is None
    finally:
        reader.close()
        writer.close()  # type: ignore[union-attr]
