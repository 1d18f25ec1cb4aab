"""The indexer commits by size or age: a burst costs a few commits, a lone document is still
searchable within seconds, and the writer never reloads a reader it does not use."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence

import pytest
import redis
from sqlalchemy import func, insert, select

from docflow.config import Settings
from docflow.search import SearchDocument, SearchIndex, open_index
from docflow.search.tantivy_index import TantivyIndex
from docflow.store import Document, DocumentStatus, Extraction, Store
from docflow.store.models import utcnow
from docflow.worker.housekeeper import run_housekeeper
from docflow.worker.indexer import CommitPolicy, Indexer


def _completed(store: Store, count: int, word: str = "wombat") -> list[str]:
    """`count` completed documents with their text, as workers leave them."""
    ids = [uuid.uuid4().hex for _ in range(count)]
    shas = [uuid.uuid4().hex + uuid.uuid4().hex for _ in range(count)]
    with store.db.write() as session:
        session.execute(insert(Extraction), [
            {"sha256": sha, "format": "text", "mime_type": "text/plain", "pages": [],
             "page_count": 1, "text": f"A note about the {word} number {i}."}
            for i, sha in enumerate(shas)])
        session.execute(insert(Document), [
            {"id": doc_id, "filename": f"{word}-{i}.txt", "sha256": sha, "size": 30,
             "status": DocumentStatus.COMPLETED, "finished_at": utcnow()}
            for i, (doc_id, sha) in enumerate(zip(ids, shas, strict=True))])
    return ids


def _unindexed(store: Store) -> int:
    with store.db.read() as session:
        return session.execute(select(func.count()).select_from(Document)
                               .where(Document.indexed.is_(False))).scalar_one()


class CountingIndex:
    """The real index, counting its commits (one per `index` call, as SearchIndex promises)."""

    def __init__(self, inner: SearchIndex) -> None:
        self.inner = inner
        self.commits: list[int] = []

    def index(self, docs: Sequence[SearchDocument]) -> None:
        self.inner.index(docs)
        self.commits.append(len(docs))

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def writer(settings: Settings):
    index = open_index("tantivy", settings.index_dir, writer=True)
    yield index
    index.close()


def test_a_burst_of_two_thousand_documents_is_indexed_in_two_commits(
        store: Store, writer: SearchIndex) -> None:
    counting = CountingIndex(writer)
    indexer = Indexer(store, counting, CommitPolicy(batch_size=1000, commit_seconds=60.0),
                      clock=FakeClock())
    _completed(store, 2000)
    assert indexer.poll() == 2000
    assert counting.commits == [1000, 1000]
    assert _unindexed(store) == 0 and writer.count() == 2000


def test_a_trickle_waits_for_its_time_and_is_committed_at_once(
        store: Store, writer: SearchIndex) -> None:
    counting = CountingIndex(writer)
    clock = FakeClock()
    indexer = Indexer(store, counting, CommitPolicy(batch_size=1000, commit_seconds=2.0),
                      clock=clock)
    for _ in range(10):  # ten documents in under two seconds: nothing is committed yet
        _completed(store, 1)
        assert indexer.poll() == 0
        clock.now += 0.1
    clock.now += 0.5
    assert indexer.poll() == 0 and counting.commits == []
    clock.now += 0.5  # the first one has now waited two seconds: all ten go in one commit
    assert indexer.poll() == 10
    assert counting.commits == [10]
    assert indexer.poll() == 0 and counting.commits == [10]


def test_the_writer_does_not_reload_a_reader_after_its_commits(
        store: Store, writer: TantivyIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    reloads: list[int] = []
    real_reload = TantivyIndex._reload
    monkeypatch.setattr(TantivyIndex, "_reload",
                        lambda self: (reloads.append(1), real_reload(self))[1])
    _completed(store, 30, word="numbat")
    Indexer(store, writer, CommitPolicy(batch_size=10, commit_seconds=0.0)).poll()
    assert _unindexed(store) == 0 and reloads == []
    # A search in the writer's own process still sees what was committed.
    assert writer.search("numbat", limit=0).total == 30


def test_a_completed_document_is_searchable_within_seconds_with_the_housekeeper_running(
        settings: Settings, store: Store, broker: redis.Redis) -> None:
    settings.index_interval_seconds = 0.05
    settings.index_commit_seconds = 0.5
    stop = threading.Event()
    housekeeper = threading.Thread(target=run_housekeeper, args=(settings, stop), daemon=True)
    housekeeper.start()
    try:
        (doc_id,) = _completed(store, 1, word="quokka")
        reader = open_index("tantivy", settings.index_dir, writer=False)
        deadline = time.monotonic() + 60  # generous: it takes index_commit_seconds here
        while not [h.id for h in reader.search("quokka").hits]:
            assert time.monotonic() < deadline, "the document never became searchable"
            stop.wait(0.05)
        assert [h.id for h in reader.search("quokka").hits] == [doc_id]
        reader.close()
    finally:
        stop.set()
        housekeeper.join(timeout=30)


@pytest.mark.postgres
def test_on_postgresql_a_burst_is_indexed_in_two_commits_as_well(
        settings: Settings, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from docflow.search import postgres_index
    from docflow.store import open_store
    from tests.conftest import empty_postgres

    monkeypatch.setattr(postgres_index, "RANKED_MATCHES", 5000)  # count all 2,000 matches

    settings.database_url = postgres_url
    empty_postgres(postgres_url)
    store = open_store(settings, migrate=True)
    index = open_index("postgres", settings.index_dir, writer=True, database_url=postgres_url)
    try:
        counting = CountingIndex(index)
        _completed(store, 2000, word="bilby")
        indexer = Indexer(store, counting, CommitPolicy(batch_size=1000, commit_seconds=60.0))
        assert indexer.poll() == 2000 and counting.commits == [1000, 1000]
        assert _unindexed(store) == 0 and index.search("bilby", limit=0).total == 2000
    finally:
        index.close()
        store.db.dispose()
