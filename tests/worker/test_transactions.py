"""What small documents cost the database: the real task, on a real SQLite store, opens two
transactions for a document alone (the claim, which also reads what the work needs, and the
result, which also hands the document to the indexer) and one for each of a task of several
(whose result also claims the next), and no new connection."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from docflow.config import Settings
from docflow.store import Document, DocumentStatus, Store
from docflow.store import documents as docs
from docflow.worker import results
from docflow.worker import runtime as runtime_module
from docflow.worker.runtime import runtime
from docflow.worker.tasks import process_document
from tests.conftest import put

# The claim (with what the work reads) and the result (with the index hand-off). Raising this
# is a cost every document pays: say why in the commit.
TRANSACTIONS_PER_DOCUMENT = 2


@pytest.fixture(autouse=True)
def fresh_runtime(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime_module._current = None
    # The classifier and the learned hints are looked at again every 15 s per process; keep
    # that out of one document's count however slow the machine is.
    monkeypatch.setattr(results.classifiers, "refresh_seconds", 1e9)
    monkeypatch.setattr(results.learned_fields, "refresh_seconds", 1e9)


def _register(store: Store, content: bytes, name: str) -> str:
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, content, name)])
        return doc.id


class Counts:
    def __init__(self) -> None:
        self.begin = self.commit = self.connect = 0

    def on_begin(self, *_: Any) -> None:
        self.begin += 1

    def on_commit(self, *_: Any) -> None:
        self.commit += 1

    def on_connect(self, *_: Any) -> None:
        self.connect += 1


def test_a_small_document_costs_two_transactions_on_one_open_connection(
        store: Store) -> None:
    engine = runtime().store.db.engine
    # The process's first document loads the classifier; the next ones are what we measure.
    first = _register(store, b"Dear Sir, thank you for your letter of May 3. Sincerely, Ann",
                      "first.txt")
    assert process_document(first) == "processed"
    doc_id = _register(store, b"Invoice 2024-77. Total due: $1,250.00 by 2024-04-30.",
                       "inv.txt")
    counts = Counts()
    event.listen(engine, "begin", counts.on_begin)
    event.listen(engine, "commit", counts.on_commit)
    event.listen(engine, "connect", counts.on_connect)
    try:
        assert process_document(doc_id) == "processed"
    finally:
        event.remove(engine, "begin", counts.on_begin)
        event.remove(engine, "commit", counts.on_commit)
        event.remove(engine, "connect", counts.on_connect)
    with store.db.read() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None and doc.status == DocumentStatus.COMPLETED
        assert doc.indexed is False  # handed to the indexer in the result's transaction
    assert (counts.begin, counts.commit) == (TRANSACTIONS_PER_DOCUMENT,
                                             TRANSACTIONS_PER_DOCUMENT)
    assert counts.connect == 0


def test_a_copy_of_a_finished_document_costs_two_transactions_too(store: Store) -> None:
    engine = runtime().store.db.engine
    content = b"Agreement between the parties; governing law is that of Utopia."
    first = _register(store, content, "a.txt")
    assert process_document(first) == "processed"
    copy = _register(store, content + b"", "b.txt")
    with store.db.write() as session:  # registered while the first was queued: no copy yet
        row = session.get(Document, copy)
        assert row is not None
        row.status, row.reused_from = DocumentStatus.QUEUED, None
    counts = Counts()
    event.listen(engine, "begin", counts.on_begin)
    event.listen(engine, "commit", counts.on_commit)
    try:
        assert process_document(copy) == "processed"
    finally:
        event.remove(engine, "begin", counts.on_begin)
        event.remove(engine, "commit", counts.on_commit)
    with store.db.read() as session:
        doc = session.get(Document, copy)
        assert doc is not None and doc.status == DocumentStatus.COMPLETED
        assert doc.reused_from == first
    assert (counts.begin, counts.commit) == (2, 2)


@pytest.mark.usefixtures("broker")
def test_a_task_of_sixteen_small_documents_commits_once_per_document_and_once_more(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each document's result (or failure) is written in the transaction that claims the next
    one: sixteen documents, one of them empty, cost seventeen commits, not thirty-two."""
    from docflow.worker.groups import process_documents

    monkeypatch.setattr(results, "_dispatchers", {})  # the broker the fixture started
    engine = runtime().store.db.engine
    first = _register(store, b"Dear Sir, thank you for your letter of May 3. Sincerely, Ann",
                      "first.txt")
    assert process_document(first) == "processed"
    ids = [_register(store, f"Invoice 2024-{i}. Total due: ${i},250.00 by 2024-04-30.".encode(),
                     f"inv-{i}.txt") for i in range(15)]
    ids.insert(7, _register(store, b"", "empty.txt"))  # fails with its reason, at its turn
    counts = Counts()
    event.listen(engine, "begin", counts.on_begin)
    event.listen(engine, "commit", counts.on_commit)
    try:
        assert process_documents.apply(args=[ids]).result == "16 processed"
    finally:
        event.remove(engine, "begin", counts.on_begin)
        event.remove(engine, "commit", counts.on_commit)
    with store.db.read() as session:
        rows = [session.get(Document, doc_id) for doc_id in ids]
    assert [(d.status, d.attempts) for d in rows if d is not None] == (
        [(DocumentStatus.COMPLETED, 1)] * 7 + [(DocumentStatus.FAILED, 1)]
        + [(DocumentStatus.COMPLETED, 1)] * 8)
    assert rows[7] is not None and rows[7].error_code == "empty"
    assert (counts.begin, counts.commit) == (len(ids) + 1, len(ids) + 1)
